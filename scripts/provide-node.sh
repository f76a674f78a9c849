#!/usr/bin/env bash
# provide-node.sh: provides the Node.js the project runs on (package.json "engines": Node 24 LTS).
#
#   PATH="$(scripts/provide-node.sh):$PATH"
#
# Prints, as its only stdout line, the directory to put first on PATH: the directory of the `node`
# on PATH when it is new enough, else that of Node.js $NODE_VERSION installed once per machine from
# the npm registry (the package node-linux-<arch>, which holds the official binary) into
#   ${CICD_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cicd-pipeline/node-$NODE_VERSION}
# outside the checkout. The package's integrity is pinned below and checked against what npm
# installed. A warm cache costs one `node --version`. Progress and errors go to stderr.
# Needs: npm (any version; it runs under the node it finds first on PATH), flock.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE_VERSION="24.22.3"
# `npm view node-linux-<arch>@$NODE_VERSION dist.integrity`
declare -A INTEGRITY=(
    [x64]="sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA=="
)

die() {
    printf 'provide-node: error: %s\n' "$*" >&2
    exit 1
}

# The oldest major the project supports: package.json's "engines": { "node": ">=N" }.
required="$(sed -n 's/^ *"node": *">= *\([0-9][0-9]*\).*/\1/p' "$ROOT/package.json")"
[[ "$required" =~ ^[0-9]+$ ]] || die 'package.json must hold "engines": { "node": ">=N" }'
[[ "${NODE_VERSION%%.*}" -ge "$required" ]] ||
    die "NODE_VERSION $NODE_VERSION is older than package.json's engines (>=$required)"

# The node on PATH, when it is recent enough.
if current="$(node --version 2>/dev/null)" && [[ "$current" =~ ^v([0-9]+)\. ]] &&
    ((BASH_REMATCH[1] >= required)); then
    dirname "$(command -v node)"
    exit 0
fi

case "$(uname -m)" in
    x86_64) arch=x64 ;;
    *) die "no pinned Node.js $NODE_VERSION package for $(uname -m); install Node.js $required or newer" ;;
esac
package="node-linux-$arch"
cache="${CICD_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cicd-pipeline/node-$NODE_VERSION}"
bin="$cache/node_modules/$package/bin"

if [[ "$("$bin/node" --version 2>/dev/null || true)" != "v$NODE_VERSION" ]]; then
    command -v npm >/dev/null || die "Node.js $required+ is needed (found ${current:-none}) and npm is missing to install it"
    mkdir -p "$(dirname "$cache")"
    exec 9>"$cache.lock"
    flock 9
    if [[ "$("$bin/node" --version 2>/dev/null || true)" != "v$NODE_VERSION" ]]; then
        printf 'provide-node: installing Node.js %s (%s) into %s\n' "$NODE_VERSION" "$package" "$cache" >&2
        tmp="$(mktemp -d "$cache.XXXXXX")"
        trap 'rm -rf "$tmp"' EXIT
        npm install --prefix "$tmp" --no-audit --no-fund --no-save --loglevel=error \
            "$package@$NODE_VERSION" >&2 || die "npm install $package@$NODE_VERSION failed"
        # npm records the integrity it verified the tarball against (no lock file with --no-save).
        got="$(sed -n 's/^ *"integrity": *"\(sha512-[^"]*\)".*/\1/p' "$tmp/node_modules/.package-lock.json" 2>/dev/null || true)"
        [[ "$got" == "${INTEGRITY[$arch]}" ]] ||
            die "$package@$NODE_VERSION has integrity ${got:-unknown}, expected ${INTEGRITY[$arch]}"
        [[ "$("$tmp/node_modules/$package/bin/node" --version)" == "v$NODE_VERSION" ]] ||
            die "$package@$NODE_VERSION does not run here"
        rm -rf "$cache"
        mv "$tmp" "$cache"
        trap - EXIT
    fi
    exec 9>&-
fi
printf '%s\n' "$bin"
