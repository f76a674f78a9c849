#!/usr/bin/env bash
# pulumi-preview.yml, for a pull request that gets no secrets (from a fork, or opened by
# Dependabot): says why there is no preview, as a notice and in the job summary. Env: ACTOR, STACK.

if [ "${ACTOR}" = "dependabot[bot]" ]; then
  why="GitHub gives pull requests opened by Dependabot no Actions secrets"
else
  why="GitHub gives pull requests from forks no secrets"
fi
echo "::notice::no pulumi preview of ${STACK}: ${why}. A maintainer can preview the change from a branch of this repository."
{
  echo "### No pulumi preview"
  echo ""
  echo "${why}, so the ${STACK} stack cannot be previewed here. A maintainer can push the change to a branch of this repository and open a pull request from it."
} >> "${GITHUB_STEP_SUMMARY}"
