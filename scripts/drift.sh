#!/usr/bin/env bash
# drift.sh: reports hosts of a stack that no longer serve what the stack's last release put there
# (switched or released by hand): `bluegreen status` of every host, through its gate with the
# pinned host key, against the stack's outputs (version, digest, liveColours).
#
#   scripts/drift.sh <stack>        # e.g. scripts/drift.sh production; scripts/drift.sh local
#
# Needs the pulumi CLI logged in to the stack's backend (PULUMI_CONFIG_PASSPHRASE for a passphrase
# stack) and the deploy key: $BLUEGREEN_SSH_KEY, else the stack's deploySshKey config. The key is
# used for `status` only. The local stack runs through scripts/local-pulumi.sh.
# Exit codes: 0 no drift; 1 drift (each host named); 2 bad input; 9 a host could not be checked.
set -euo pipefail

die() {
    printf 'drift: error: %s\n' "$*" >&2
    exit "${2:-2}"
}

readonly RE_STACK='^[A-Za-z0-9_.-]{1,100}(/[A-Za-z0-9_.-]{1,100}){0,2}$'
(($# == 1)) || die "usage: scripts/drift.sh <stack>   (e.g. scripts/drift.sh production)"
stack="$1"
[[ "$stack" =~ $RE_STACK ]] ||
    die "invalid stack name $(printf '%q' "$stack"): letters, digits, . _ - (optionally org/project/stack)"

cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ "$stack" == local ]]; then
    pulumi=(scripts/local-pulumi.sh)
    on_stack=()
else
    command -v pulumi >/dev/null || die "the pulumi CLI is not on PATH"
    pulumi=(pulumi)
    on_stack=(--stack "$stack")
fi

outputs="$("${pulumi[@]}" stack output --json "${on_stack[@]}")" || die "cannot read the outputs of stack $stack"
config="$("${pulumi[@]}" config --json "${on_stack[@]}")" || die "cannot read the config of stack $stack"
if [[ -z "${BLUEGREEN_SSH_KEY:-}" ]]; then
    BLUEGREEN_SSH_KEY="$("${pulumi[@]}" config get deploySshKey "${on_stack[@]}")" ||
        die "no deploy key: set BLUEGREEN_SSH_KEY, or the stack's deploySshKey (pulumi config set --secret -s $stack deploySshKey)"
fi
export BLUEGREEN_SSH_KEY

printf '{"config": %s, "outputs": %s}\n' "$config" "$outputs" |
    node --require esbuild-register scripts/drift.ts "$stack"
