#!/usr/bin/env bash
# security-scan.yml: finds the image an environment serves, from its last successful deployment's
# URL and the version that URL answers. Env: GH_TOKEN, ENVIRONMENT, IMAGE, VERSION_PATH; writes ref
# to GITHUB_OUTPUT.

url=""
for id in $(gh api "repos/${GITHUB_REPOSITORY}/deployments?environment=${ENVIRONMENT}&per_page=30" --jq '.[].id'); do
  url="$(gh api "repos/${GITHUB_REPOSITORY}/deployments/${id}/statuses?per_page=100" --jq '[.[] | select(.state == "success" and (.environment_url // "") != "")][0].environment_url // ""')"
  [ -n "${url}" ] && break
done
if [ -z "${url}" ]; then
  echo "::notice::${ENVIRONMENT} has no successful deployment with a URL; nothing to scan"
  exit 0
fi
if ! [[ "${url}" =~ ^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$ ]]; then
  echo "::error::${ENVIRONMENT}'s deployment URL is not a plain http(s) URL: ${url}"
  exit 1
fi
body="$(curl --fail --silent --show-error --max-time 10 --retry 3 "${url%/}${VERSION_PATH}")"
if ! version="$(jq -er '.version | strings' <<<"${body}")"; then
  echo "::error::${url%/}${VERSION_PATH} does not answer JSON with a version string"
  exit 1
fi
if ! [[ "${version}" =~ @VERSION_PATTERN@ ]]; then
  echo "::error::${ENVIRONMENT} reports a version that is no image tag: ${version}"
  exit 1
fi
echo "ref=${IMAGE}:${version}" >> "${GITHUB_OUTPUT}"
echo "${ENVIRONMENT} serves ${version}"
