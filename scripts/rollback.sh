#!/usr/bin/env bash
# Rolls a stack back to an earlier version: scripts/rollback.sh <stack> <version> [<digest>]
#
# A rollback is a release of the earlier version through `pulumi up`, so Pulumi's state (the
# stack's version config, the release command's record, the live-version outputs) stays the truth.
# On each host, when the retained colour still runs that version's digest, the release is an
# instant switch back to it (no pull, no start); otherwise it is a normal blue-green release.
#
# If the stack pins a digest in its config, the digest of <version> is the one this stack released
# it with last (from `pulumi stack history`); give it as <digest> for a version the stack never
# released. Otherwise the digest is resolved from the registry.
#
# The `local` stack runs through scripts/local-pulumi.sh, which holds its per-machine config and
# state outside the checkout.
set -euo pipefail

usage() {
    echo "usage: scripts/rollback.sh <stack> <version> [<digest>]" >&2
    echo "  e.g. scripts/rollback.sh production 1.0.0" >&2
    exit 2
}
die() {
    printf 'rollback: error: %s\n' "$*" >&2
    exit "${2:-1}"
}

# The patterns of components/deploy/patterns.ts (stackReference, hostPatterns.version and .digest);
# test/unit/host-facts.test.ts fails if these differ. Nothing else reaches pulumi's command line.
readonly RE_STACK='^[A-Za-z0-9_.-]{1,100}(/[A-Za-z0-9_.-]{1,100}){0,2}$'
readonly RE_TAG='^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$'
readonly RE_DIGEST='^sha256:[a-f0-9]{64}$'

(($# == 2 || $# == 3)) || usage
stack="$1"
version="$2"
digest="${3:-}"
[[ "$stack" =~ $RE_STACK ]] ||
    die "invalid stack name $(printf '%q' "$stack"): letters, digits, . _ - (optionally org/project/stack)" 2
[[ "$version" =~ $RE_TAG ]] ||
    die "invalid version $(printf '%q' "$version"): must be an image tag such as 1.4.2" 2
[[ -z "$digest" || "$digest" =~ $RE_DIGEST ]] ||
    die "invalid digest $(printf '%q' "$digest"): must be sha256: and 64 lowercase hex digits" 2

cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ "$stack" == local ]]; then
    pulumi=(scripts/local-pulumi.sh)
else
    command -v pulumi >/dev/null || die "the pulumi CLI is not on PATH"
    pulumi=(pulumi)
fi

# The digest of the newest successful update of the stack that released $version, or nothing.
released_digest() {
    "${pulumi[@]}" stack history --stack "$stack" --json 2>/dev/null | node -e '
        let text = "";
        process.stdin.on("data", (d) => (text += d)).on("end", () => {
            let updates = [];
            try { updates = JSON.parse(text); } catch { return; }
            const value = (u, k) => ((u.config || {})["cicd-pipeline:" + k] || {}).value;
            const found = updates
                .filter((u) => u.kind === "update" && u.result === "succeeded" && value(u, "version") === process.argv[1])
                .sort((a, b) => String(b.startTime).localeCompare(String(a.startTime)))[0];
            const d = found && value(found, "digest");
            if (new RegExp(process.argv[2]).test(d || "")) process.stdout.write(d);
        });' "$version" "$RE_DIGEST" || true
}

config=(--config "version=$version")
if [[ -n "$digest" ]]; then
    config+=(--config "digest=$digest")
elif pinned="$("${pulumi[@]}" config get --stack "$stack" digest 2>/dev/null)" && [[ -n "$pinned" ]]; then
    digest="$(released_digest)"
    [[ -n "$digest" ]] ||
        die "stack $stack pins digest $pinned and never released $version; give the digest of $version: scripts/rollback.sh $stack $version sha256:..." 2
    echo "rollback: $version was released with digest $digest" >&2
    config+=(--config "digest=$digest")
fi

echo "rollback: releasing $version on stack $stack" >&2
if [[ "$stack" == local ]]; then
    # The local stack's config is a per-machine copy outside the checkout; it keeps the version.
    exec "${pulumi[@]}" up --stack "$stack" --yes --skip-preview "${config[@]}"
fi
# `--config` also writes version and digest into Pulumi.<stack>.yaml. Left there, they would pin
# this version for every later `pulumi up` by hand and every preview, over newer CD releases; the
# stack reads back what it released instead. So they go again, whatever the update's outcome.
unpin() {
    "${pulumi[@]}" config rm --stack "$stack" version >/dev/null 2>&1 || true
    "${pulumi[@]}" config rm --stack "$stack" digest >/dev/null 2>&1 || true
}
trap unpin EXIT
"${pulumi[@]}" up --stack "$stack" --yes --skip-preview "${config[@]}"
