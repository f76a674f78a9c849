#!/usr/bin/env bash
# Installs the GitHub Actions analysers the unit tests run over the rendered workflows, at the
# versions scripts/analysers.json pins, into a cache outside the checkout (fast when present):
#   zizmor     from PyPI, in its own virtualenv:   $DIR/zizmor-<version>/bin/zizmor
#   actionlint built from the Go module proxy:     $DIR/actionlint-<version>/actionlint
# actionlint checks run: scripts with shellcheck (Debian package shellcheck, installed by test.sh).
# DIR is $CICD_ANALYSERS_DIR, or ~/.cache/cicd-pipeline/tools.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

dir="${CICD_ANALYSERS_DIR:-${HOME}/.cache/cicd-pipeline/tools}"
pin() { node -p "require('./scripts/analysers.json').$1"; }
zizmor_version="$(pin zizmor.version)"
actionlint_version="$(pin actionlint.version)"
actionlint_module="$(pin actionlint.module)"
mkdir -p "${dir}"

zizmor="${dir}/zizmor-${zizmor_version}/bin/zizmor"
if ! "${zizmor}" --version 2>/dev/null | grep -qx "zizmor ${zizmor_version}"; then
    echo "install-analysers: zizmor ${zizmor_version} from PyPI into ${dir}" >&2
    rm -rf "${dir}/zizmor-${zizmor_version}"
    python3 -m venv "${dir}/zizmor-${zizmor_version}"
    "${dir}/zizmor-${zizmor_version}/bin/pip" install --quiet "zizmor==${zizmor_version}"
fi

actionlint="${dir}/actionlint-${actionlint_version}/actionlint"
if ! "${actionlint}" -version 2>/dev/null | head -1 | grep -qx "v${actionlint_version}"; then
    command -v go >/dev/null || {
        echo "install-analysers: building actionlint needs Go (Debian package golang-go, or go.dev/dl)" >&2
        exit 1
    }
    echo "install-analysers: actionlint ${actionlint_version} from the Go module proxy into ${dir}" >&2
    GOBIN="${dir}/actionlint-${actionlint_version}" go install "${actionlint_module}@v${actionlint_version}"
fi
echo "install-analysers: zizmor ${zizmor_version} and actionlint ${actionlint_version} in ${dir}" >&2
