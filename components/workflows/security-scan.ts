/**
 * security-scan.yml: daily and on demand, Trivy scans of the image each environment runs and of the
 * repository's dependencies, with the results in code scanning (SARIF).
 *
 * The scan holds no credential: it asks GitHub's deployments API (deployments: read) for the URL of
 * each environment's last successful deployment, asks the app there which version it serves, and
 * scans that version's image, whose tag a release never overwrites. The image is pulled without
 * registry credentials.
 */
import { hostPatterns } from "../deploy/patterns";
import { checkout, trivy, uploadSarif } from "./actions";
import { bashDefaults, expr, Permissions, PermissionReasons, runner, Workflow } from "./model";
import { scriptText } from "./scripts";
import { deployStacks, WorkflowRenderSettings } from "./settings";

/** upload-sarif needs actions: read in private repositories to read the run it belongs to. */
const sarifPermissions: Permissions = { contents: "read", "security-events": "write", actions: "read" };
const sarifReasons: PermissionReasons = {
    "security-events": "upload the SARIF results to code scanning",
    actions: "upload-sarif reads the run it belongs to (private repositories)",
};

/** The app's endpoint that answers JSON with its version (the smoke tests check it too). */
export const versionPath = "/version";

/** Finds the version an environment serves, from its last successful deployment's URL. */
export function deployedImageScript(): string {
    return scriptText("deployed-image.sh", { VERSION_PATTERN: hostPatterns.version.source });
}

export function securityScanWorkflow(s: WorkflowRenderSettings): Workflow {
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
                permissions: { ...sarifPermissions, deployments: "read" },
                permissionReasons: {
                    ...sarifReasons,
                    deployments: "find each environment's last successful deployment and its URL",
                },
                strategy: {
                    "fail-fast": false,
                    matrix: { stack: [deployStacks.staging, deployStacks.production] },
                },
                steps: [
                    {
                        name: "Find the deployed image",
                        id: "deployed",
                        env: {
                            GH_TOKEN: expr("github.token"),
                            ENVIRONMENT: expr("matrix.stack"),
                            IMAGE: s.image,
                            VERSION_PATH: versionPath,
                        },
                        run: deployedImageScript(),
                    },
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
                permissionReasons: sarifReasons,
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
