#!/usr/bin/env bash
# cd-production.yml: after its approval, the deploy job waits until no earlier-started deploy job
# of the workflow is still running (ordered by start time, then run id); see turnstile in cd.ts.
# Env: GH_TOKEN, WORKFLOW, DEPLOY_JOB, POLL_SECONDS; GITHUB_REPOSITORY and GITHUB_RUN_ID from the runner.
# An API error fails the job: better than deploying beside a deploy it could not see.

jobs_of() { gh api --paginate "repos/${GITHUB_REPOSITORY}/actions/runs/$1/jobs?filter=latest&per_page=100" --jq '.jobs[] | select(.name == env.DEPLOY_JOB) | "\(.status) \(.started_at)"'; }
mine="$(jobs_of "${GITHUB_RUN_ID}" || true)"
mine="${mine%%$'\n'*}"
mine="${mine#* }"
if ! [[ "${mine}" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$ ]]; then
  echo "::error::cannot read when this deploy job started: ${mine}"
  exit 1
fi
while :; do
  earlier=""
  for run in $(gh api --paginate "repos/${GITHUB_REPOSITORY}/actions/workflows/${WORKFLOW}/runs?status=in_progress&per_page=100" --jq '.workflow_runs[].id'); do
    [ "${run}" = "${GITHUB_RUN_ID}" ] && continue
    jobs="$(jobs_of "${run}")"
    while read -r status started; do
      if [ "${status}" = "in_progress" ] && { [[ "${started}" < "${mine}" ]] || { [ "${started}" = "${mine}" ] && [ "${run}" -lt "${GITHUB_RUN_ID}" ]; }; }; then
        earlier="${run}"
      fi
    done <<<"${jobs}"
  done
  [ -z "${earlier}" ] && break
  echo "Run ${earlier} is deploying to production; waiting for it to finish"
  sleep "${POLL_SECONDS}"
done
echo "No earlier production deploy is running"
