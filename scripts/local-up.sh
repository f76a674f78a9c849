#!/usr/bin/env bash
# local-up.sh: brings up the `local` stack on this machine and releases the test app with
# blue-green, through the real Pulumi engine:
#
#   scripts/local-up.sh [VERSION]        # default: what the stack serves, else 1.0.0; npm run local:up
#
# 1. testkit/rig-setup.sh: Docker Engine, the loopback registry, the test host's sshd and the
#    test app images (1.0.0, 2.0.0, 3.0.0-unhealthy, ...). Needs root on Debian.
# 2. `pulumi up` of the local stack (scripts/local-pulumi.sh: engine, state and config outside
#    the checkout) with version=VERSION and its digest in the loopback registry.
# 3. Prints the stack's URL and what it serves.
# Idempotent: run again with the same version, it changes nothing. Take it down with
# `scripts/local-pulumi.sh destroy --yes` (npm run local:down).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RIG_JSON="${BG_RIG_DIR:-/var/lib/bluegreen-rig}/rig.json"
version="${1:-}"

die() {
    printf 'local-up: error: %s\n' "$*" >&2
    exit 1
}

# Node.js 24 (package.json "engines") for npm, the scripts and the Pulumi language host, which runs
# the `node` on PATH; installed once per machine when the machine's Node.js is older.
node_dir="$("$ROOT/scripts/provide-node.sh")" || die "cannot provide Node.js (see the messages above)"
export PATH="$node_dir:$PATH"

# The program's dependencies, exactly as locked, on a fresh checkout.
[[ -d "$ROOT/node_modules/@pulumi/pulumi" ]] || (cd "$ROOT" && npm ci --no-audit --no-fund)

bash "$ROOT/testkit/rig-setup.sh"

# Without a version, keep what the stack serves (a first run releases 1.0.0).
if [[ -z "$version" ]]; then
    version="$("$ROOT/scripts/local-pulumi.sh" stack output version 2>/dev/null || true)"
    version="${version:-1.0.0}"
fi

# The version's digest is looked up as data here, and judged by the program's config validation
# (config/release.ts, with patterns.ts's pattern) before anything is released. The URL is the one
# the stack declares (environment.url, which the stack outputs as environmentUrl).
# shellcheck disable=SC2016 # JavaScript, not shell
facts="$(cd "$ROOT" && node -e '
    const fs = require("fs");
    const [rigFile, version, stackFile] = process.argv.slice(1);
    const rig = JSON.parse(fs.readFileSync(rigFile, "utf8"));
    const digest = rig.appDigests[version];
    if (!digest) {
        console.error(`no test image ${version}; the rig has: ${Object.keys(rig.appDigests).join(", ")}`);
        process.exit(1);
    }
    const stack = require("yaml").parse(fs.readFileSync(stackFile, "utf8"));
    console.log(digest, stack.config["cicd-pipeline:environment"].url);
' "$RIG_JSON" "$version" "$ROOT/Pulumi.local.yaml")" || die "cannot find the digest of $version"
read -r digest url <<<"$facts"

# --skip-preview: with --yes nobody reads a preview, and the update runs the same program and
# checks; skipping it saves a whole program run. `scripts/local-pulumi.sh preview` shows one.
"$ROOT/scripts/local-pulumi.sh" up --yes --skip-preview --config "version=$version" --config "digest=$digest"

served="$(curl -fsS -m 5 "$url/version")" || die "$url/version does not answer"
printf 'local stack: %s serves %s\n' "$url" "$served"
