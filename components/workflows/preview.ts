/** pulumi-preview.yml: `pulumi preview` of both stacks on each pull request, commented on it. */
import { checkout, pulumiAction } from "./actions";
import { pulumiEnv, pulumiProgramSetup } from "./common";
import { bashDefaults, expr, runner, Workflow } from "./model";
import { deployStacks, WorkflowSettings } from "./settings";

export function previewWorkflow(s: WorkflowSettings): Workflow {
    return {
        name: "Pulumi preview",
        on: { pull_request: null },
        permissions: { contents: "read" },
        concurrency: {
            group: `pulumi-preview-${expr("github.event.pull_request.number")}`,
            "cancel-in-progress": true,
        },
        defaults: bashDefaults,
        jobs: {
            preview: {
                name: `Preview (${expr("matrix.stack")})`,
                // Pull requests from forks get no secrets, so there is no backend to preview against.
                if: expr("github.event.pull_request.head.repo.full_name == github.repository"),
                "runs-on": runner,
                "timeout-minutes": 20,
                permissions: { contents: "read", "pull-requests": "write" },
                strategy: {
                    "fail-fast": false,
                    matrix: { stack: [deployStacks.staging, deployStacks.production] },
                },
                steps: [
                    checkout(),
                    ...pulumiProgramSetup(s),
                    pulumiAction({
                        name: "pulumi preview",
                        env: pulumiEnv(),
                        with: {
                            command: "preview",
                            "stack-name": expr("matrix.stack"),
                            "work-dir": s.pulumiDir,
                            "cloud-url": expr("env.PULUMI_BACKEND_URL"),
                            "comment-on-pr": true,
                            diff: true,
                        },
                    }),
                ],
            },
        },
    };
}
