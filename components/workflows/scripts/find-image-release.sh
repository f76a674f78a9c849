#!/usr/bin/env bash
# cd-production.yml's "Find the image published as this version". The production stack's history
# is the record of what was released (only a job holding production's Pulumi credentials writes
# it, unlike a GitHub release or a registry tag):
# - a tag push whose version is published already is deployed only when production recorded that
#   very digest for the version (a re-run); otherwise someone else pushed the tag, and the job
#   refuses it;
# - a manual run (workflow_dispatch) redeploys a version released before: the digest of
#   production's newest successful update of that version, not whatever the tag points to today.
# Env: IMAGE, TAG_VERSION, REQUESTED_VERSION, STACK and the Pulumi login; writes version and digest
# ("" to build) to GITHUB_OUTPUT. @VERSION_PATTERN@: a semantic version; @HISTORY_RELEASED@ and
# @HISTORY_ATTEMPTED@: the jq that reads a version's digest from the history (historyDigest in
# cd.ts); @REGISTRY_LOOKUP@ is registry-lookup.sh, whose variables cross the include (see there).
# shellcheck disable=SC2034,SC2154

pattern='@VERSION_PATTERN@'
if [ "${GITHUB_EVENT_NAME}" = "workflow_dispatch" ]; then
  version="${REQUESTED_VERSION#v}"
else
  version="${TAG_VERSION}"
fi
@REGISTRY_LOOKUP@
if ! history="$(pulumi stack history --stack "${STACK}" --json)"; then
  echo "::error::cannot read the history of stack ${STACK} (see above): it is the record of what was released"
  exit 1
fi
if [ "${GITHUB_EVENT_NAME}" = "workflow_dispatch" ]; then
  # The digest production released the version with, not what its tag points to now.
  digest="$(jq -r --arg v "${version}" '@HISTORY_RELEASED@' <<<"${history}")"
  if ! [[ "${digest}" =~ @DIGEST_PATTERN@ ]]; then
    echo "::error::stack ${STACK} never released ${version}: only a version it released can be deployed again here; scripts/rollback.sh ${STACK} ${version} sha256:... deploys another by hand"
    exit 1
  fi
  if [ -n "${published}" ] && [ "${published}" != "${digest}" ]; then
    echo "::warning::${ref} now points to ${published}; deploying ${digest}, which ${STACK} released as ${version}"
  fi
  echo "::notice::deploying ${IMAGE}@${digest}, which ${STACK} released as ${version}"
elif [ -n "${published}" ]; then
  attempted="$(jq -r --arg v "${version}" '@HISTORY_ATTEMPTED@' <<<"${history}")"
  if [ "${attempted}" != "${published}" ]; then
    echo "::error::${ref} exists already (${published}), but ${STACK} never deployed it: it was not pushed by this workflow. Check who pushed it; to release the version, delete the tag in the registry (or tag a new version) and run again"
    exit 1
  fi
  digest="${published}"
  echo "::notice::${ref} is already published as ${digest}; deploying that image, not building it again"
else
  digest=""
  echo "${ref} is not published yet; building it"
fi
{ echo "version=${version}"; echo "digest=${digest}"; } >> "${GITHUB_OUTPUT}"
