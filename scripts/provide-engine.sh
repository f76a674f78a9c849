#!/usr/bin/env bash
# provide-engine.sh: provides the Pulumi engine that the tests and the local stack run: the `pulumi`
# CLI, the Node.js language host `pulumi-language-nodejs` and the command provider plugin
# `pulumi-resource-command`, without downloading any plugin at run time.
#
#   PATH="$(scripts/provide-engine.sh):$PATH"
#   scripts/provide-engine.sh --versions      # the CLI, language host, command plugin and npm SDKs in use
#
# Prints, as its last stdout line, the directory to put on PATH; progress goes to stderr.
#
# 1. If a Pulumi CLI is installed (`pulumi` on PATH, v3.274.1 or newer, with
#    `pulumi-language-nodejs` beside it or on PATH), it is used, with the command plugin of the
#    pinned @pulumi/command version: the one on PATH or in the plugin cache, else installed by
#    `pulumi plugin install resource command <version>` (a user's machine reaches get.pulumi.com).
# 2. Otherwise the three are built with `go` into a cache outside the repository, once per machine:
#      ${PULUMI_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cicd-pipeline/pulumi-engine/<cli>-<host>-<command>}
#        bin/pulumi          (the directory printed; a wrapper that runs libexec/pulumi with
#                             PULUMI_HOME=<cache>/home)
#        libexec/pulumi, libexec/pulumi-language-nodejs
#        plugins/pulumi-resource-command, home/plugins/resource-command-v<version>/
#        src/                (the vendored source snapshots, unpacked for a build)
#    - the CLI from the Go module proxy, through the wrapper module tools/engine/pulumi;
#    - the language host and the command provider from the unmodified upstream source snapshots in
#      the vendor directory (the proxy refuses their modules), checked against tools/engine/vendor.sha256,
#      with the go.mod/go.sum in tools/engine/language-nodejs and tools/engine/pulumi-command and the two source
#      changes described where they are applied below.
#    A warm cache rebuilds nothing and needs no vendor directory; a changed input rebuilds that
#    binary only. An installed command plugin of the pinned version in the user's
#    ${PULUMI_HOME:-~/.pulumi}/plugins or on PATH is preferred to the one built here.
#
# Versions: @pulumi/pulumi and @pulumi/command from package-lock.json (else package.json); the CLI
# from tools/engine/pulumi/go.mod; the language host and the command provider from the snapshots named in
# tools/engine/vendor.sha256. The command provider's snapshot must be the version @pulumi/command pins.
#
# Environment: PULUMI_ENGINE_CACHE (cache directory), CICD_VENDOR_DIR (the vendored snapshots;
# default: shared/vendor beside the repository, <repo>/../shared/vendor), PULUMI_HOME (where a real
# install keeps its plugins), GOCACHE/GOMODCACHE/GOPROXY (as for any go build). Needs: go (the
# version in tools/engine/*/go.mod or newer), tar, node (to read the lock file), flock, sha256sum.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ENGINE="$ROOT/tools/engine"
VENDOR="$(realpath -m "${CICD_VENDOR_DIR:-$ROOT/../shared/vendor}")"

log() { printf 'provide-engine: %s\n' "$*" >&2; }
die() {
    printf 'provide-engine: error: %s\n' "$*" >&2
    exit 1
}

versions=false
case "${1:-}" in
    "") ;;
    --versions) versions=true ;;
    *) die "unknown argument $(printf '%q' "$1"); usage: scripts/provide-engine.sh [--versions]" ;;
esac

# npm_versions NAME...: the version of each npm package NAME that the project pins, one line each
# (empty when unknown); one node for all.
npm_versions() {
    command -v node >/dev/null || return 0
    (cd "$ROOT" && node -e '
        const fs = require("fs");
        const read = (file) => {
            try {
                return JSON.parse(fs.readFileSync(file, "utf8"));
            } catch (e) {
                return {};
            }
        };
        const lock = read("package-lock.json").packages || {};
        const pkg = read("package.json");
        for (const name of process.argv.slice(1)) {
            let v = (lock["node_modules/" + name] || {}).version || "";
            if (!v) {
                v = ({ ...pkg.devDependencies, ...pkg.dependencies })[name] || "";
                v = /^[~^=]?\d+\.\d+\.\d+$/.test(v) ? v.replace(/^[~^=]/, "") : "";
            }
            console.log(v);
        }
    ' "$@" 2>/dev/null) || true
}

# gomod_version MODULE_DIR MODULE: the version of MODULE required in MODULE_DIR/go.mod.
gomod_version() {
    awk -v m="$2" '$1 == m { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$1/go.mod"
}

# snapshot NAME: the file name of the vendored snapshot of NAME (NAME-<version>.tar.gz) listed in
# tools/engine/vendor.sha256.
snapshot() {
    local f
    f="$(awk -v n="$1" '$2 ~ "^" n "-[0-9][0-9.]*\\.tar\\.gz$" { print $2 }' "$ENGINE/vendor.sha256")"
    [[ -n "$f" && "$f" != *$'\n'* ]] || die "tools/engine/vendor.sha256 must list exactly one $1-<version>.tar.gz"
    printf '%s\n' "$f"
}
snapshot_version() {
    local f="${1%.tar.gz}"
    printf '%s\n' "${f##*-}"
}

SDK_VERSION="" COMMAND_VERSION=""
{ read -r SDK_VERSION && read -r COMMAND_VERSION; } < <(npm_versions @pulumi/pulumi @pulumi/command) || true
[[ -n "$SDK_VERSION" && -n "$COMMAND_VERSION" ]] ||
    die "cannot read the versions of @pulumi/pulumi and @pulumi/command from package-lock.json (is node on PATH?)"
PULUMI_HOME_DIR="${PULUMI_HOME:-$HOME/.pulumi}"
MIN_CLI_VERSION="$(gomod_version "$ENGINE/pulumi" github.com/pulumi/pulumi/pkg/v3)"
MIN_CLI_VERSION="${MIN_CLI_VERSION#v}"

# user_command_plugin: prints the path of a command plugin of the pinned version that the user
# installed (on PATH or in their plugin cache), or nothing.
user_command_plugin() {
    local p
    for p in "$(command -v pulumi-resource-command || true)" \
        "$PULUMI_HOME_DIR/plugins/resource-command-v$COMMAND_VERSION/pulumi-resource-command"; do
        if [[ -n "$p" && -x "$p" ]]; then
            printf '%s\n' "$p"
            return 0
        fi
    done
}

# finish BIN_DIR HOST PLUGIN: prints BIN_DIR (the directory for PATH), or with --versions the
# versions of the engine in use (the CLI in BIN_DIR, the language host HOST, the command plugin
# PLUGIN) and of the npm SDKs the program runs with, each asked of the binary or package itself.
finish() {
    local bin="$1" host="$2" plugin="$3"
    if ! $versions; then
        printf '%s\n' "$bin"
        exit 0
    fi
    local pulumi=(env PULUMI_SKIP_UPDATE_CHECK=true "$bin/pulumi") plugin_version
    # The command plugin reports its version in the schema it serves.
    plugin_version="$("${pulumi[@]}" package get-schema "$plugin" | node -e '
        let s = "";
        process.stdin.on("data", (d) => (s += d)).on("end", () => process.stdout.write(JSON.parse(s).version));')" ||
        die "cannot read the version of $plugin"
    sdk() { (cd "$ROOT" && node -p "require('$1/package.json').version"); }
    printf '%-26s %-9s %s\n' \
        "pulumi CLI" "$("${pulumi[@]}" version)" "$bin/pulumi" \
        "Node.js language host" "$("$host" -version)" "$host" \
        "command plugin" "v$plugin_version" "$plugin" \
        "@pulumi/pulumi (npm SDK)" "v$(sdk @pulumi/pulumi)" "$ROOT/node_modules/@pulumi/pulumi" \
        "@pulumi/command (npm SDK)" "v$(sdk @pulumi/command)" "$ROOT/node_modules/@pulumi/command"
    exit 0
}

version_at_least() { [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" == "$2" ]]; }

# --- 1. An installed Pulumi CLI? --------------------------------------------------------------
if pulumi_path="$(command -v pulumi)" && ! grep -qaF 'provide-engine.sh wrapper' "$pulumi_path"; then
    have="$(PULUMI_SKIP_UPDATE_CHECK=true pulumi version 2>/dev/null || true)"
    pulumi_dir="$(dirname "$pulumi_path")"
    if [[ "$have" =~ ^v3\.[0-9]+\.[0-9]+$ ]] && version_at_least "${have#v}" "$MIN_CLI_VERSION" &&
        { [[ -x "$pulumi_dir/pulumi-language-nodejs" ]] || command -v pulumi-language-nodejs >/dev/null; }; then
        if [[ -z "$(user_command_plugin)" ]]; then
            log "installing the command plugin $COMMAND_VERSION with pulumi $have"
            PULUMI_SKIP_UPDATE_CHECK=true pulumi plugin install resource command "$COMMAND_VERSION" >&2 ||
                die "pulumi plugin install resource command $COMMAND_VERSION failed"
        fi
        host="$pulumi_dir/pulumi-language-nodejs"
        [[ -x "$host" ]] || host="$(command -v pulumi-language-nodejs)"
        log "using pulumi $have from $pulumi_dir with the command plugin $(user_command_plugin)"
        finish "$pulumi_dir" "$host" "$(user_command_plugin)"
    fi
    log "pulumi $have on PATH is older than v$MIN_CLI_VERSION or lacks pulumi-language-nodejs: not used"
fi

# --- 2. Build into the cache --------------------------------------------------------------------
command -v go >/dev/null || die "go is not on PATH (needed to build the Pulumi engine)"
CLI_VERSION="$MIN_CLI_VERSION"
HOST_SNAPSHOT="$(snapshot pulumi-language-nodejs)"
COMMAND_SNAPSHOT="$(snapshot pulumi-command)"
GO_PROVIDER_SNAPSHOT="$(snapshot pulumi-go-provider)"
HOST_VERSION="$(snapshot_version "$HOST_SNAPSHOT")"
[[ "$(snapshot_version "$COMMAND_SNAPSHOT")" == "$COMMAND_VERSION" ]] ||
    die "the project pins @pulumi/command $COMMAND_VERSION but tools/engine/vendor.sha256 names $COMMAND_SNAPSHOT;" \
        "vendor pulumi-command-$COMMAND_VERSION.tar.gz and update tools/engine/vendor.sha256 and tools/engine/pulumi-command"
if [[ "$CLI_VERSION" != "$SDK_VERSION" ]]; then
    log "note: the project pins @pulumi/pulumi $SDK_VERSION; the Go module proxy serves the CLI" \
        "only up to v$CLI_VERSION (tools/engine/pulumi/go.mod), so the CLI is v$CLI_VERSION"
fi

CACHE="${PULUMI_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cicd-pipeline/pulumi-engine/$CLI_VERSION-$HOST_VERSION-$COMMAND_VERSION}"
BIN="$CACHE/bin"
LIBEXEC="$CACHE/libexec"
PLUGINS="$CACHE/plugins"
HOME_DIR="$CACHE/home"
SRC="$CACHE/src"
mkdir -p "$BIN" "$LIBEXEC" "$PLUGINS" "$HOME_DIR/plugins" "$CACHE/stamps"

# One build at a time per cache (parallel CI jobs, two shells).
exec 9>"$CACHE/.lock"
flock 9

GO_VERSION="$(cd "$ENGINE/pulumi" && go env GOVERSION)"

# inputs_hash FILE...: one hash of the contents of FILEs.
inputs_hash() { cat "$@" | sha256sum | cut -d' ' -f1; }

# check_snapshot SNAPSHOT: fails unless the vendor directory holds SNAPSHOT as tools/engine/vendor.sha256
# names it.
check_snapshot() {
    local file="$1"
    [[ -d "$VENDOR" ]] || die "the vendored source snapshots are not in $VENDOR: put a copy of shared/ beside" \
        "the repository, or set CICD_VENDOR_DIR to the directory that holds $file"
    [[ -f "$VENDOR/$file" ]] || die "$VENDOR/$file is missing (tools/engine/vendor.sha256 lists it)"
    (cd "$VENDOR" && grep -F "  $file" "$ENGINE/vendor.sha256" | sha256sum --check --quiet --strict >&2) ||
        die "$VENDOR/$file is not the snapshot tools/engine/vendor.sha256 names (its sha256 differs)"
}

# unpack SNAPSHOT: unpacks the vendored SNAPSHOT, after checking it against tools/engine/vendor.sha256,
# into a fresh $SRC/<name>-<version> (the snapshots' own top directory).
unpack() {
    local file="$1" dir="$SRC/${1%.tar.gz}"
    check_snapshot "$file"
    rm -rf "$dir"
    mkdir -p "$SRC"
    tar -xzf "$VENDOR/$file" -C "$SRC" || die "cannot unpack $VENDOR/$file"
    [[ -d "$dir" ]] || die "$file does not unpack into ${dir##*/}/"
}

# stale OUT INPUTS: whether OUT must be built: it is missing or was built from other INPUTS (a
# hash of everything it is built from) or another Go version.
stale() {
    [[ ! -x "$1" || "$(cat "$CACHE/stamps/$(basename "$1")" 2>/dev/null || true)" != "$2 $GO_VERSION" ]]
}

# compile OUT INPUTS MODULE_DIR PACKAGE LDFLAGS: builds PACKAGE of the Go module in MODULE_DIR into
# OUT, static and reproducible (-trimpath), and records INPUTS.
compile() {
    local out="$1" inputs="$2" dir="$3" pkg="$4" ldflags="$5" start=$SECONDS
    log "building $(basename "$out") with $GO_VERSION; a first build takes minutes"
    (cd "$dir" && CGO_ENABLED=0 go build -mod=readonly -trimpath -buildvcs=false \
        -ldflags "-s -w $ldflags" -o "$out.tmp" "$pkg") || die "go build of $pkg failed"
    mv -f "$out.tmp" "$out"
    printf '%s\n' "$inputs $GO_VERSION" >"$CACHE/stamps/$(basename "$out")"
    log "built $(basename "$out") in $((SECONDS - start))s"
}

# The Node.js language host: its snapshot with tools/engine/language-nodejs's go.mod/go.sum
# (pkg/sdk v3.274.1 in place of the pulumi repository's own, which the snapshot leaves out) and
# one added file, the monitor proxy's ExistsResource (see the comment in that file).
HOST_DIR="$SRC/${HOST_SNAPSHOT%.tar.gz}/sdk/nodejs/cmd/pulumi-language-nodejs"
prepare_host() {
    unpack "$HOST_SNAPSHOT"
    cp "$ENGINE/language-nodejs/go.mod" "$ENGINE/language-nodejs/go.sum" \
        "$ENGINE/language-nodejs/proxy_exists_resource.go" "$HOST_DIR/"
}

# The command provider: the pulumi-command snapshot with tools/engine/pulumi-command's go.mod/go.sum,
# which replace pulumi-go-provider with its snapshot unpacked beside it and raise pkg/sdk to v3.274.1.
COMMAND_DIR="$SRC/${COMMAND_SNAPSHOT%.tar.gz}/provider"
GO_PROVIDER_SCHEMA="$SRC/${GO_PROVIDER_SNAPSHOT%.tar.gz}/middleware/schema/schema.go"
# The one source change of pulumi-go-provider 1.3.0: pkg/v3 (v3.274.1) made schema.PackageSpec's
# Provider a pointer (*ResourceSpec), so schema.go's `pkg.Provider = prov` no longer compiles; it
# takes the address instead, the change upstream made in pulumi-go-provider v1.4.0.
SCHEMA_FIX='s/^\(\t\tpkg\.Provider = \)prov$/\1\&prov/'
prepare_command() {
    unpack "$GO_PROVIDER_SNAPSHOT"
    unpack "$COMMAND_SNAPSHOT"
    cp "$ENGINE/pulumi-command/go.mod" "$ENGINE/pulumi-command/go.sum" "$COMMAND_DIR/"
    [[ "$(grep -c $'^\t\tpkg\\.Provider = prov$' "$GO_PROVIDER_SCHEMA")" == 1 ]] ||
        die "$GO_PROVIDER_SCHEMA: the line the build changes (pkg.Provider = prov) is not there exactly once"
    sed -i "$SCHEMA_FIX" "$GO_PROVIDER_SCHEMA"
}

VERSION_VAR=github.com/pulumi/pulumi/sdk/v3/go/common/version.Version
# snapshot_sum SNAPSHOT: its sha256 in tools/engine/vendor.sha256.
snapshot_sum() { grep -F "  $1" "$ENGINE/vendor.sha256" | cut -d' ' -f1; }

cli_inputs="$(inputs_hash "$ENGINE/pulumi/go.mod" "$ENGINE/pulumi/go.sum") v$CLI_VERSION"
host_inputs="$(snapshot_sum "$HOST_SNAPSHOT") $(inputs_hash "$ENGINE"/language-nodejs/*)"
command_inputs="$(snapshot_sum "$COMMAND_SNAPSHOT") $(snapshot_sum "$GO_PROVIDER_SNAPSHOT")"
command_inputs+=" $(inputs_hash "$ENGINE"/pulumi-command/*) $SCHEMA_FIX"
# The snapshots a build needs are checked before any build starts (the CLI's takes minutes).
if stale "$LIBEXEC/pulumi-language-nodejs" "$host_inputs"; then check_snapshot "$HOST_SNAPSHOT"; fi
if stale "$PLUGINS/pulumi-resource-command" "$command_inputs"; then
    check_snapshot "$COMMAND_SNAPSHOT"
    check_snapshot "$GO_PROVIDER_SNAPSHOT"
fi

if stale "$LIBEXEC/pulumi" "$cli_inputs"; then
    compile "$LIBEXEC/pulumi" "$cli_inputs" "$ENGINE/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
        "-X $VERSION_VAR=v$CLI_VERSION"
fi
# Beside the CLI binary, where the CLI looks for its bundled language hosts first.
if stale "$LIBEXEC/pulumi-language-nodejs" "$host_inputs"; then
    prepare_host
    compile "$LIBEXEC/pulumi-language-nodejs" "$host_inputs" "$HOST_DIR" . "-X $VERSION_VAR=v$HOST_VERSION"
fi
if stale "$PLUGINS/pulumi-resource-command" "$command_inputs"; then
    prepare_command
    compile "$PLUGINS/pulumi-resource-command" "$command_inputs" "$COMMAND_DIR" ./cmd/pulumi-resource-command \
        "-X github.com/pulumi/pulumi-command/provider/pkg/version.Version=v$COMMAND_VERSION"
fi

# The built CLI gets a plugin directory of its own (PULUMI_HOME=<cache>/home): nothing built here
# lands in the user's plugin cache. State and credentials are unaffected where PULUMI_BACKEND_URL
# is set (as scripts/local-pulumi.sh and the tests do).
wrapper="#!/bin/sh
# provide-engine.sh wrapper: the Pulumi CLI built from source, with its own plugins.
PULUMI_HOME=\"\${PULUMI_ENGINE_HOME:-$HOME_DIR}\" exec \"$LIBEXEC/pulumi\" \"\$@\"
"
# (The comparison drops the newline $(...) strips, so an unchanged wrapper is not rewritten.)
if [[ "$(cat "$BIN/pulumi" 2>/dev/null || true)" != "${wrapper%$'\n'}" ]]; then
    printf '%s' "$wrapper" >"$BIN/pulumi.tmp"
    chmod 755 "$BIN/pulumi.tmp"
    mv -f "$BIN/pulumi.tmp" "$BIN/pulumi"
fi

# The command plugin of the built CLI: the user's own of the pinned version if there is one (one
# on PATH is found by the CLI itself, before any installed one), else the one built here.
plugin_dir="$HOME_DIR/plugins/resource-command-v$COMMAND_VERSION"
user="$(user_command_plugin)"
if [[ -n "$user" && "$user" == "$PULUMI_HOME_DIR"/plugins/* ]]; then
    if [[ "$(readlink "$plugin_dir" 2>/dev/null || true)" != "$(dirname "$user")" ]]; then
        rm -rf "$plugin_dir" "$plugin_dir.lock"
        ln -s "$(dirname "$user")" "$plugin_dir"
    fi
    log "command plugin: the installed pulumi-resource-command $COMMAND_VERSION in $(dirname "$user")"
elif [[ -n "$user" ]]; then
    log "command plugin: pulumi-resource-command from PATH ($user)"
else
    if [[ -L "$plugin_dir" ]] || ! cmp -s "$plugin_dir/pulumi-resource-command" "$PLUGINS/pulumi-resource-command"; then
        rm -rf "$plugin_dir" "$plugin_dir.lock"
        PULUMI_SKIP_UPDATE_CHECK=true "$BIN/pulumi" plugin install resource command "$COMMAND_VERSION" \
            -f "$PLUGINS/pulumi-resource-command" >&2 ||
            die "pulumi plugin install of the built command plugin failed"
    fi
    log "command plugin: pulumi-resource-command $COMMAND_VERSION built from $COMMAND_SNAPSHOT"
fi

# The version the stamp of $LIBEXEC/pulumi holds (its build set it): no run of the CLI just to log it.
log "pulumi v$CLI_VERSION in $BIN"
finish "$BIN" "$LIBEXEC/pulumi-language-nodejs" "${user:-$plugin_dir/pulumi-resource-command}"
