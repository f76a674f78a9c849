#!/usr/bin/env bash
# The CD workflows, after a push: the version's tag must point to the digest this job pushed. Another
# push of the same version in between (the registry has no "create only") fails the job instead of
# deploying an image nobody built here. Env: IMAGE, VERSION, PUSHED.

ref="${IMAGE}:${VERSION}"
if ! manifest="$(docker buildx imagetools inspect "${ref}" --format '{{json .Manifest}}')"; then
  echo "::error::cannot read ${ref} back from the registry"
  exit 1
fi
tagged="$(jq -r '.digest' <<<"${manifest}")"
if [ "${tagged}" != "${PUSHED}" ]; then
  echo "::error::${ref} points to ${tagged}, not to ${PUSHED} pushed by this run: someone else published the version; nothing is deployed"
  exit 1
fi
