#!/usr/bin/env bash
# The CD workflows' "Find the image published as this version", the part both variants share
# (find-image-commit.sh, find-image-release.sh include it as @REGISTRY_LOOKUP@): checks the version
# against ${pattern}, then looks up ${IMAGE}:${version} in the registry. Only the registry's "not
# found" lets a build go ahead; any other lookup error fails the job. Sets ref and published (the
# digest, or "" when the version is not published); containerd's resolver says "<ref>: not found" only
# when the registry answered 404. @DIGEST_PATTERN@: an image digest.
# The variables cross the include, so each file is checked with SC2034/SC2154 off; the composed
# run: scripts are checked whole (test/unit/workflows.test.ts, shellcheck).
# shellcheck disable=SC2034,SC2154

if ! [[ "${version}" =~ ${pattern} ]]; then
  echo "::error::not a version to deploy: '${version}' (must match ${pattern})"
  exit 1
fi
ref="${IMAGE}:${version}"
errors="${RUNNER_TEMP}/imagetools-inspect.err"
published=""
if manifest="$(docker buildx imagetools inspect "${ref}" --format '{{json .Manifest}}' 2>"${errors}")"; then
  published="$(jq -r '.digest' <<<"${manifest}")"
  if ! [[ "${published}" =~ @DIGEST_PATTERN@ ]]; then
    echo "::error::the registry reports an invalid digest for ${ref}: ${published}"
    exit 1
  fi
elif ! [[ "$(<"${errors}")" == *":${version}: not found" ]]; then
  echo "::error::cannot look up ${ref} in the registry: $(<"${errors}")"
  exit 1
fi
