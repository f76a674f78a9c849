#!/usr/bin/env bash
# drift.yml: one issue per stack. Drift opens the issue, or replaces the open one's body with the
# latest report; a run without drift closes it. A stack whose check did not run (DRIFTED empty)
# is left as it is. Env: STACK, DRIFTED, REPORT, REPO, RUN_URL, GH_TOKEN.
set -euo pipefail

title="Drift: stack ${STACK}"
number="$(gh issue list --repo "${REPO}" --state open --search "in:title ${title}" --json number,title \
  --jq ".[] | select(.title == \"${title}\") | .number" | head -n 1)"
if [ "${DRIFTED}" = "true" ]; then
  if [ -n "${number}" ]; then
    gh issue edit "${number}" --repo "${REPO}" --body "${REPORT}"
    echo "updated issue #${number}: ${title}"
  else
    gh issue create --repo "${REPO}" --title "${title}" --body "${REPORT}"
  fi
elif [ "${DRIFTED}" = "false" ] && [ -n "${number}" ]; then
  gh issue close "${number}" --repo "${REPO}" --comment "No drift any more: ${RUN_URL}"
  echo "closed issue #${number}: ${title}"
else
  echo "stack ${STACK}: nothing to do (drifted: ${DRIFTED:-not checked})"
fi
