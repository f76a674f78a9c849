#!/usr/bin/env bash
# Runs every test of the project on a Debian machine, as root: installs what the tests need (Node.js 24
# among them, scripts/provide-node.sh), then
# `npm test` (type check, lint, unit, integration and end-to-end tests). The integration and
# end-to-end tests start their own services (Docker Engine, a registry, sshd, HAProxy) on loopback
# and build the Pulumi engine when none is installed. CI runs exactly this script.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Debian packages the unit tests use: the example app's linters and tests, shellcheck for the
# generated workflows' scripts and the host tools, and Go and a Python venv for the analysers below.
packages=(flake8 black python3-pytest python3-pytest-cov shellcheck python3-venv)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]} > 0)); then
    [[ "$(id -u)" == 0 ]] || {
        echo "test.sh: missing Debian packages: ${missing[*]} (run as root, or apt-get install them)" >&2
        exit 1
    }
    echo "test.sh: installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Node.js 24 (package.json "engines") first on PATH for all that follows: npm ci, npm test, and the
# Pulumi language host the end-to-end tests start; installed once per machine when the machine's
# Node.js is older.
node_dir="$(scripts/provide-node.sh)"
export PATH="$node_dir:$PATH"

# Exactly the locked dependencies.
npm ci --no-audit --no-fund

# zizmor and actionlint at their pinned versions, in a cache outside the checkout (fast when present);
# the unit tests run them over the rendered workflows.
scripts/install-analysers.sh

# npm test, with one closing line that counts the tests mocha ran.
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
npm test 2>&1 | tee "$log" || status=$?
count() { grep -Eo "^ +[0-9]+ $1" "$log" | awk '{ n += $1 } END { print n + 0 }'; }
echo "tests: $(count passing) passed, $(count failing) failed, $(count pending) skipped"
exit "$status"
