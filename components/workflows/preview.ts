/**
 * pulumi-preview.yml: `pulumi preview` of the staging stack on each pull request from the
 * repository, commented on it. Production is never previewed from a pull request: its preview runs
 * inside the approval-gated production deploy job (cd-production.yml), with production's
 * credentials, on a reviewed tag.
 *
 * The preview job is bound to the preview environment, which the staging stack declares with only
 * staging's Pulumi token and passphrase, and which admits only pull-request runs: GitHub matches an
 * environment's deployment branch rules against GITHUB_REF, refs/pull/<n>/merge for a pull_request
 * run (https://docs.github.com/en/actions/reference/workflows-and-actions/deployments-and-environments#deployment-branches-and-tags:
 * a branch rule for the pull-request merge refs "would also allow workflows triggered by
 * pull_request events"; a refused run reads 'Branch "refs/pull/5439/merge" is not allowed to deploy
 * to beta due to environment protection rules', actions/action-versions#119).
 * A pull request's code runs with those credentials, so whoever can open a pull request from a
 * branch of the repository can read what the staging stack holds (README: who can read which
 * credential).
 *
 * Pull requests from forks and from Dependabot get no secrets at all
 * (https://docs.github.com/en/actions/security-for-github-actions/security-guides/using-secrets-in-github-actions,
 * https://docs.github.com/en/code-security/dependabot/troubleshooting-dependabot/troubleshooting-dependabot-on-github-actions):
 * they get a notice saying so instead of a preview that fails.
 */
import { deployStacks, previewEnvironment } from "../credentials";
import { checkout, pulumiAction } from "./actions";
import { backendPermissions, pulumiEnv, pulumiLogin, pulumiProgramSetup } from "./common";
import { bashDefaults, expr, runner, Workflow } from "./model";
import { policyPackDir, workflowFileNames } from "./names";
import { scriptText } from "./scripts";
import { WorkflowRenderSettings } from "./settings";

/** Whether the pull request's run gets the repository's secrets: same repository, not Dependabot. */
export const previewCondition =
    "github.event.pull_request.head.repo.full_name == github.repository && github.actor != 'dependabot[bot]'";

export function previewWorkflow(s: WorkflowRenderSettings): Workflow {
    return {
        name: "Pulumi preview",
        description: [
            ` Previews the ${deployStacks.staging} stack on pull requests, with the ${previewEnvironment.name} environment's`,
            ` credentials (${deployStacks.staging}'s only). Production is previewed in ${workflowFileNames.cdProduction},`,
            " after approval, never from a pull request.",
        ].join("\n"),
        on: { pull_request: null },
        permissions: { contents: "read" },
        concurrency: {
            group: `pulumi-preview-${expr("github.event.pull_request.number")}`,
            "cancel-in-progress": true,
        },
        defaults: bashDefaults,
        jobs: {
            preview: {
                name: `Preview (${deployStacks.staging})`,
                if: expr(previewCondition),
                "runs-on": runner,
                "timeout-minutes": 20,
                permissions: {
                    contents: "read",
                    "pull-requests": "write",
                    ...backendPermissions(s).permissions,
                },
                permissionReasons: {
                    "pull-requests": "comment the preview on the pull request",
                    ...backendPermissions(s).permissionReasons,
                },
                environment: { name: previewEnvironment.name },
                steps: [
                    checkout(),
                    ...pulumiProgramSetup(s, { cache: true }),
                    pulumiAction({
                        name: "pulumi preview",
                        env: {
                            ...pulumiEnv(s),
                            // The GitHub provider reads the repository with the run's own token.
                            GITHUB_TOKEN: expr("github.token"),
                        },
                        with: {
                            command: "preview",
                            "stack-name": deployStacks.staging,
                            "work-dir": s.pulumiDir,
                            ...pulumiLogin(s),
                            "comment-on-pr": true,
                            diff: true,
                            policyPacks: policyPackDir,
                        },
                    }),
                ],
            },
            "no-preview": {
                name: "Preview (not available)",
                if: expr(`!(${previewCondition})`),
                "runs-on": runner,
                "timeout-minutes": 5,
                permissions: {},
                steps: [
                    {
                        name: "Explain why there is no preview",
                        env: { ACTOR: expr("github.actor"), STACK: deployStacks.staging },
                        run: scriptText("no-preview.sh"),
                    },
                ],
            },
        },
    };
}
