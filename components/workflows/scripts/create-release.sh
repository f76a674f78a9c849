#!/usr/bin/env bash
# cd-production.yml: creates the GitHub release of the pushed tag, naming the image it was released
# as; a re-run leaves an existing release as it is. Env: GH_TOKEN, TAG, IMAGE, DIGEST.
# @DIGEST_PATTERN@: an image digest; @RELEASE_NOTES@: releaseImageLine in cd.ts.

if ! [[ "${DIGEST}" =~ @DIGEST_PATTERN@ ]]; then
  echo "::error::the deploy job reports no digest: ${DIGEST}"
  exit 1
fi
if gh release view "${TAG}" --repo "${GITHUB_REPOSITORY}" >/dev/null 2>&1; then
  echo "::notice::the release ${TAG} exists already (a re-run); left as it is"
  exit 0
fi
gh release create "${TAG}" --repo "${GITHUB_REPOSITORY}" --verify-tag --generate-notes --notes "@RELEASE_NOTES@"
