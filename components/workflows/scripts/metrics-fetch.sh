#!/usr/bin/env bash
# pipeline-metrics.yml: fetches the ci.yml and cd-production.yml runs of the window, and the jobs of
# each finished cd-production.yml run, with `gh api`, as newline-delimited JSON for metrics.py
# (which runs next, in the same step, on "${data}" and "${days}").
# Env: GH_TOKEN, DAYS, MAIN_BRANCH, DEVELOP_BRANCH, CI_WORKFLOW, CD_WORKFLOW; GITHUB_REPOSITORY and
# RUNNER_TEMP from the runner.

days="${DAYS:-30}"
if ! [[ "${days}" =~ ^[1-9][0-9]{0,2}$ ]] || [ "${days}" -gt 400 ]; then
  echo "::error::days must be a whole number from 1 to 400 (GitHub keeps runs for 400 days at most), not '${days}'"
  exit 1
fi
since="$(date -u -d "${days} days ago" +%Y-%m-%dT%H:%M:%SZ)"
data="${RUNNER_TEMP}/pipeline-metrics"
mkdir -p "${data}/jobs"
# The runs of one workflow created in the window, one JSON object a line.
runs() {
  gh api --paginate -X GET "repos/${GITHUB_REPOSITORY}/actions/workflows/$1/runs" \
    -f per_page=100 -f created=">=${since}" "${@:2}" --jq '.workflow_runs[]'
}
for branch in "${MAIN_BRANCH}" "${DEVELOP_BRANCH}"; do
  runs "${CI_WORKFLOW}" -f event=push -f branch="${branch}"
done >"${data}/ci-runs.ndjson"
runs "${CD_WORKFLOW}" >"${data}/cd-runs.ndjson"
jq -r 'select(.status == "completed") | .id' "${data}/cd-runs.ndjson" | while read -r id; do
  gh api --paginate -X GET "repos/${GITHUB_REPOSITORY}/actions/runs/${id}/jobs" \
    -f filter=latest -f per_page=100 --jq '.jobs[]' >"${data}/jobs/${id}.ndjson"
done
