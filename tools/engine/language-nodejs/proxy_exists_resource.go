// Copied by scripts/provide-engine.sh into the Node.js language host v3.259.0's unpacked source
// (package main of sdk/nodejs/cmd/pulumi-language-nodejs), next to its proxy.go.
//
// The resource monitor of pkg/sdk v3.274.1 (the CLI's) has a method that v3.259.0 predates,
// ExistsResource, so its monitorProxy no longer implements pulumirpc.ResourceMonitorServer
// ("missing method ExistsResource"). Like every other method of monitorProxy, it forwards the call
// to the engine's resource monitor unchanged.

package main

import (
	"context"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func (p *monitorProxy) ExistsResource(
	ctx context.Context, req *pulumirpc.ExistsResourceRequest,
) (*pulumirpc.ExistsResourceResponse, error) {
	return p.target.ExistsResource(ctx, req)
}
