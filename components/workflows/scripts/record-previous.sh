#!/usr/bin/env bash
# cd-production.yml: records the version and digest the stack serves, so that a failed release can be
# rolled back. A stack without a version output has never released (nothing to roll back to); a
# stack whose outputs cannot be read (credentials, network, a missing stack) fails the job before
# anything changes: the JSON tells the two apart, not a hidden error. Env: STACK and the Pulumi
# login; writes version and digest to GITHUB_OUTPUT. @DIGEST_PATTERN@: an image digest.

if ! outputs="$(pulumi stack output --json --stack "${STACK}")"; then
  echo "::error::cannot read the outputs of stack ${STACK} (see above); without them a failed release could not be rolled back"
  exit 1
fi
version="$(jq -r '.version // ""' <<<"${outputs}")"
digest="$(jq -r '.digest // ""' <<<"${outputs}")"
if [ -z "${version}" ]; then
  echo "::notice::stack ${STACK} has no version output: a first release, with nothing to roll back to"
elif ! [[ "${version}" =~ @VERSION_PATTERN@ ]] || ! [[ "${digest}" =~ @DIGEST_PATTERN@ ]]; then
  echo "::error::stack ${STACK} reports an invalid version or digest: ${version} ${digest}"
  exit 1
fi
{ echo "version=${version}"; echo "digest=${digest}"; } >> "${GITHUB_OUTPUT}"
echo "In production before this release: ${version:-nothing}"
