#!/usr/bin/env bash
# cd-production.yml: only reviewed code is released, so the pushed tag's commit must be on the main
# branch (the checkout has the whole history). Env: MAIN_BRANCH, TAG; GITHUB_SHA from the runner.

if ! git merge-base --is-ancestor "${GITHUB_SHA}" "refs/remotes/origin/${MAIN_BRANCH}"; then
  echo "::error::tag ${TAG} is on commit ${GITHUB_SHA}, which is not on ${MAIN_BRANCH}: only reviewed code is released. Tag a commit of ${MAIN_BRANCH}."
  exit 1
fi
echo "${TAG} (${GITHUB_SHA}) is on ${MAIN_BRANCH}"
