/**
 * The machine's copy of Pulumi.local.yaml (scripts/local-stack-config.ts): the proxy image the rig
 * built from this machine's haproxy is pinned by its digest, per machine, like the host key.
 */
import * as assert from "assert";
import * as fs from "fs";
import * as path from "path";
import { machineStackFile } from "../../scripts/local-stack-config";

const committed = fs.readFileSync(path.join(__dirname, "..", "..", "Pulumi.local.yaml"), "utf8");
const digest = `sha256:${"9".repeat(64)}`;
const rig = {
    hosts: [{ address: "127.0.0.1", port: 2222, hostKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIRIG" }],
    proxyImage: `127.0.0.1:5555/bluegreen-test/haproxy@${digest}`,
};

describe("deploy: the local stack's machine config", () => {
    it("pins the rig's proxy image digest in place of the committed placeholder", () => {
        assert.match(committed, /proxyImage: 127\.0\.0\.1:5555\/bluegreen-test\/haproxy:2\.6@sha256:0{64}/);
        const file = machineStackFile(committed, rig);
        const deploy = file.config!["cicd-pipeline:deploy"] as {
            proxyImage: string;
            hosts: { hostKey: string }[];
        };
        assert.strictEqual(deploy.proxyImage, `127.0.0.1:5555/bluegreen-test/haproxy:2.6@${digest}`);
        assert.strictEqual(deploy.hosts[0].hostKey, rig.hosts[0].hostKey);
    });

    it("refuses a rig whose proxy image is another repository", () => {
        assert.throws(
            () =>
                machineStackFile(committed, { ...rig, proxyImage: `127.0.0.1:5555/other/haproxy@${digest}` }),
            /is not the rig's proxy image 127\.0\.0\.1:5555\/other\/haproxy/,
        );
    });
});
