#!/usr/bin/env bash
# The CD workflows: writes the target of the release (hosts, user, image) to the job summary, before
# any change. Env: ENVIRONMENT, IMAGE, VERSION, DIGEST, DEPLOY_USER, DEPLOY_HOSTS.

{
  echo "### Release ${VERSION} to ${ENVIRONMENT}"
  echo ""
  echo "- image: \`${IMAGE}@${DIGEST}\`"
  echo "- hosts: ${DEPLOY_HOSTS:-(the DEPLOY_HOST_* variable is not set)}, as ${DEPLOY_USER:-(DEPLOY_USER is not set)}"
} >> "${GITHUB_STEP_SUMMARY}"
