#!/usr/bin/env bash
# The CD workflows: requests each smoke path of the environment (retrying while the release
# settles) and, for /version, checks that its JSON `version` field is exactly the expected version
# (a substring match would take 1.0.10 for 1.0.1). Env: ENVIRONMENT_URL, EXPECTED_VERSION.
# @SMOKE_PATHS@: deploy.health.path and deploy.smokePaths of the stack's config, validated URL paths.

if [ -z "${ENVIRONMENT_URL}" ]; then
  echo "::error::the stack has no environmentUrl output to smoke-test"
  exit 1
fi
base="${ENVIRONMENT_URL%/}"
paths=(@SMOKE_PATHS@)
for path in "${paths[@]}"; do
  url="${base}${path}"
  echo "GET ${url}"
  body="$(curl --fail --silent --show-error --max-time 10 --retry 10 --retry-delay 3 --retry-all-errors "${url}")"
  if [ "${path}" = "/version" ]; then
    if ! served="$(jq -er '.version | strings' <<<"${body}")"; then
      echo "::error::${url} does not answer JSON with a version string: ${body}"
      exit 1
    fi
    if [ "${served}" != "${EXPECTED_VERSION}" ]; then
      echo "::error::${url} serves version ${served}, not ${EXPECTED_VERSION}"
      exit 1
    fi
  fi
done
echo "Smoke tests passed against ${base}"
