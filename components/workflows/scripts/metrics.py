#!/usr/bin/env python3
# The pipeline metrics of pipeline-metrics.yml, Python 3 standard library only; definitions in
# components/workflows/metrics.ts. Arguments: the directory of fetched runs and jobs (newline-
# delimited JSON, as `gh api --paginate --jq` prints them), the window in days and the path of
# metrics.json; the Markdown table goes to stdout. Env: DEPLOY_JOB, UP_STEP, ROLLBACK_STEP (the
# names in cd-production.yml that the runs are read by).
# The table of rows keeps its long lines (fmt: off): the rendered workflow is pinned by the golden files.

import json
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
# fmt: off
rows = [
    ("Build success rate", show(metrics["build_success_rate_percent"], " %"), "%d of %d CI runs" % (c["successful_builds"], c["builds"])),
    ("Average build time", show(metrics["average_build_minutes"], " min"), "successful CI runs"),
    ("Time to deploy", show(metrics["average_time_to_deploy_minutes"], " min"), "trigger to deployed, mean"),
    ("Deployment frequency", show(metrics["deployments_per_week"], " / week"), "%d successful deploys" % (c["deploys"] - c["failed_deploys"])),
    ("Mean time to recovery", show(metrics["mean_time_to_recovery_minutes"], " min"), "%d recoveries, %d unrecovered" % (c["recoveries"], c["unrecovered_failures"])),
    ("Change failure rate", show(metrics["change_failure_rate_percent"], " %"), "%d of %d deploys failed or rolled back" % (c["failed_deploys"], c["deploys"])),
]
# fmt: on
print("### Pipeline metrics, last %d days" % days)
print("")
print("| metric | value | based on |")
print("| --- | --- | --- |")
for row in rows:
    print("| %s | %s | %s |" % row)
