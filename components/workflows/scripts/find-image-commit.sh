#!/usr/bin/env bash
# cd-staging.yml's "Find the image published as this version": the version is the commit (its
# full SHA, @VERSION_PATTERN@); a published tag is deployed as it is (a re-run), otherwise the job
# builds it. Env: IMAGE, TAG_VERSION; writes version and digest ("" to build) to GITHUB_OUTPUT.
# @REGISTRY_LOOKUP@ is registry-lookup.sh; the variables cross the include (see there).
# shellcheck disable=SC2034,SC2154

pattern='@VERSION_PATTERN@'
version="${TAG_VERSION}"
@REGISTRY_LOOKUP@
if [ -n "${published}" ]; then
  digest="${published}"
  echo "::notice::${ref} is already published as ${digest}; deploying that image, not building it again"
else
  digest=""
  echo "${ref} is not published yet; building it"
fi
{ echo "version=${version}"; echo "digest=${digest}"; } >> "${GITHUB_OUTPUT}"
