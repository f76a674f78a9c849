/**
 * security-scan.yml: daily and on demand, Trivy scans of the image each environment runs and of the
 * repository's dependencies, with the results in code scanning (SARIF).
 */
import { checkout, trivy, uploadSarif } from "./actions";
import { installPulumi, pulumiEnv, readStackOutputs, registryLogin } from "./common";
import { bashDefaults, expr, Permissions, runner, Workflow } from "./model";
import { deployStacks, WorkflowSettings } from "./settings";

/** upload-sarif needs actions: read in private repositories to read the run it belongs to. */
const sarifPermissions: Permissions = { contents: "read", "security-events": "write", actions: "read" };

export function securityScanWorkflow(s: WorkflowSettings): Workflow {
    const deployed = expr("steps.deployed.outputs.ref != ''");
    return {
        name: "Security scan",
        on: { schedule: [{ cron: "23 5 * * *" }], workflow_dispatch: null },
        permissions: { contents: "read" },
        concurrency: { group: "security-scan", "cancel-in-progress": false },
        defaults: bashDefaults,
        jobs: {
            image: {
                name: `Scan the deployed image (${expr("matrix.stack")})`,
                "runs-on": runner,
                "timeout-minutes": 20,
                permissions: sarifPermissions,
                strategy: {
                    "fail-fast": false,
                    matrix: { stack: [deployStacks.staging, deployStacks.production] },
                },
                steps: [
                    checkout(),
                    installPulumi(),
                    {
                        name: "Find the deployed image",
                        id: "deployed",
                        "working-directory": s.pulumiDir,
                        env: { ...pulumiEnv(), STACK: expr("matrix.stack"), IMAGE: s.image },
                        run: [
                            // A stack that never released has no digest; an unreadable stack fails.
                            ...readStackOutputs("STACK", "the scan cannot tell which image it runs"),
                            'digest="$(jq -r \'.digest // ""\' <<<"${outputs}")"',
                            'if [ -z "${digest}" ]; then',
                            '  echo "::notice::stack ${STACK} reports no deployed digest; nothing to scan"',
                            'elif [[ "${digest}" =~ ^sha256:[a-f0-9]{64}$ ]]; then',
                            '  echo "ref=${IMAGE}@${digest}" >> "${GITHUB_OUTPUT}"',
                            "else",
                            '  echo "::error::stack ${STACK} reports an invalid digest: ${digest}"',
                            "  exit 1",
                            "fi",
                            "",
                        ].join("\n"),
                    },
                    registryLogin(s, { if: deployed }),
                    trivy({
                        name: "Scan the image",
                        if: deployed,
                        with: {
                            "scan-type": "image",
                            "image-ref": expr("steps.deployed.outputs.ref"),
                            format: "sarif",
                            output: "trivy-image.sarif",
                            severity: "CRITICAL,HIGH,MEDIUM",
                        },
                    }),
                    uploadSarif({
                        name: "Upload to code scanning",
                        if: deployed,
                        with: {
                            sarif_file: "trivy-image.sarif",
                            category: `trivy-image-${expr("matrix.stack")}`,
                        },
                    }),
                ],
            },
            dependencies: {
                name: "Scan the dependencies",
                "runs-on": runner,
                "timeout-minutes": 15,
                permissions: sarifPermissions,
                steps: [
                    checkout(),
                    trivy({
                        name: "Scan the dependencies",
                        with: {
                            "scan-type": "fs",
                            "scan-ref": ".",
                            scanners: "vuln",
                            format: "sarif",
                            output: "trivy-dependencies.sarif",
                            severity: "CRITICAL,HIGH,MEDIUM",
                        },
                    }),
                    uploadSarif({
                        name: "Upload to code scanning",
                        with: { sarif_file: "trivy-dependencies.sarif", category: "trivy-dependencies" },
                    }),
                ],
            },
        },
    };
}
