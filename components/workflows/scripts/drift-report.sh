#!/usr/bin/env bash
# drift.yml, after a stack's checks: whether the stack drifted, and the report the issue carries
# (the preview's diff and the hosts' check), as step outputs `drifted` and `report` and in the job
# summary. Env: STACK, PREVIEW_OUTCOME, PREVIEW_OUTPUT, HOSTS_OUTCOME, HOSTS_FILE, RUN_URL.

drifted=false
if [ "${PREVIEW_OUTCOME}" != "success" ] || [ "${HOSTS_OUTCOME}" != "success" ]; then
  drifted=true
fi
report="$(
  echo "Run: ${RUN_URL}"
  echo ""
  echo "### pulumi preview --refresh --expect-no-changes (${PREVIEW_OUTCOME})"
  echo ""
  echo '```'
  printf '%s\n' "${PREVIEW_OUTPUT}" | tail -c 40000
  echo '```'
  echo ""
  echo "### scripts/drift.sh ${STACK} (${HOSTS_OUTCOME})"
  echo ""
  echo '```'
  tail -c 15000 "${HOSTS_FILE}" 2>/dev/null || echo "(no output)"
  echo '```'
)"
delimiter="drift-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
{
  echo "drifted=${drifted}"
  echo "report<<${delimiter}"
  printf '%s\n' "${report}"
  echo "${delimiter}"
} >> "${GITHUB_OUTPUT}"
{
  echo "## Drift of stack ${STACK}: ${drifted}"
  echo ""
  printf '%s\n' "${report}"
} >> "${GITHUB_STEP_SUMMARY}"
