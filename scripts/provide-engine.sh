#!/usr/bin/env bash
# provide-engine.sh: provides the Pulumi engine that the tests run: the `pulumi` CLI, the Node.js
# language host `pulumi-language-nodejs` and the command provider plugin `pulumi-resource-command`,
# without downloading any plugin at run time.
#
#   PATH="$(scripts/provide-engine.sh):$PATH"
#
# Prints, as its last stdout line, the directory to put on PATH; progress goes to stderr.
#
# 1. If a Pulumi CLI is installed (`pulumi` on PATH, v3.274.1 or newer, with
#    `pulumi-language-nodejs` beside it or on PATH), it is used, with the real command plugin of
#    the pinned @pulumi/command version: the one on PATH or in the plugin cache, else installed by
#    `pulumi plugin install resource command <version>` (a user's machine reaches get.pulumi.com).
# 2. Otherwise they are built with `go` from the Go module proxy, through the wrapper modules in
#    engine/ (see engine/README.md for what each one builds and why), into a cache outside the
#    repository, once per machine:
#      ${PULUMI_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cicd-pipeline/pulumi-engine/<cli>-<command>}
#        bin/pulumi          (the directory printed; a wrapper that runs libexec/pulumi with
#                             PULUMI_HOME=<cache>/home)
#        libexec/pulumi, libexec/pulumi-language-nodejs
#        plugins/pulumi-resource-command, home/plugins/resource-command-v<version>/
#    A warm cache rebuilds nothing; a change to a wrapper module rebuilds that binary only.
#    The real command provider is not served by the Go module proxy: what is built is a stand-in
#    (engine/command-provider). It is installed only into the cache's own plugin directory
#    (<cache>/home/plugins), which only the built CLI reads, never into the user's
#    ${PULUMI_HOME:-~/.pulumi}/plugins: a real plugin there, or a later `pulumi plugin install`,
#    is never shadowed. If a real command plugin of the pinned version is installed
#    (${PULUMI_HOME:-~/.pulumi}/plugins) or on PATH, the built CLI uses it instead of the stand-in.
#
# Versions come from package-lock.json (else package.json, else the defaults below). The Go module
# proxy serves github.com/pulumi/pulumi/pkg/v3 only up to the version pinned in
# engine/pulumi/go.mod; when the npm SDK is newer, the CLI is that older version and a note says so.
#
# Environment: PULUMI_ENGINE_CACHE (cache directory), PULUMI_HOME (where a real install keeps its
# plugins), GOCACHE/GOMODCACHE/GOPROXY (as for any go build). Needs: go (the version in engine/*/go.mod or newer), node (to read the lock
# file; optional), flock, sha256sum.
set -euo pipefail

# Fallbacks when neither package-lock.json nor package.json names the npm SDKs.
DEFAULT_PULUMI_SDK_VERSION="3.276.0"
DEFAULT_COMMAND_VERSION="1.2.1"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ENGINE="$ROOT/engine"

log() { printf 'provide-engine: %s\n' "$*" >&2; }
die() {
    printf 'provide-engine: error: %s\n' "$*" >&2
    exit 1
}

# npm_version NAME: the version of npm package NAME that the project pins, or nothing.
npm_version() {
    local name="$1"
    command -v node >/dev/null || return 0
    (cd "$ROOT" && node -e '
        const fs = require("fs");
        const name = process.argv[1];
        let v = "";
        try {
            const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8"));
            v = ((lock.packages || {})["node_modules/" + name] || {}).version || "";
        } catch (e) {}
        if (!v) {
            try {
                const pkg = JSON.parse(fs.readFileSync("package.json", "utf8"));
                v = ({ ...pkg.devDependencies, ...pkg.dependencies })[name] || "";
                v = /^[~^=]?\d+\.\d+\.\d+$/.test(v) ? v.replace(/^[~^=]/, "") : "";
            } catch (e) {}
        }
        process.stdout.write(v);
    ' "$name" 2>/dev/null) || true
}

# gomod_version MODULE_DIR MODULE: the version of MODULE required in MODULE_DIR/go.mod.
gomod_version() {
    awk -v m="$2" '$1 == m { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$1/go.mod"
}

SDK_VERSION="$(npm_version @pulumi/pulumi)"
SDK_VERSION="${SDK_VERSION:-$DEFAULT_PULUMI_SDK_VERSION}"
COMMAND_VERSION="$(npm_version @pulumi/command)"
COMMAND_VERSION="${COMMAND_VERSION:-$DEFAULT_COMMAND_VERSION}"
PULUMI_HOME_DIR="${PULUMI_HOME:-$HOME/.pulumi}"

# Marks the stand-in's binary (engine/command-provider/main.go says so in its package comment).
STAND_IN_MARK='pulumi-resource-command stand-in'
is_stand_in() { grep -qaF "$STAND_IN_MARK" "$1" 2>/dev/null; }

# real_command_plugin: prints the path of a real (not stand-in) command plugin of the pinned
# version on PATH or in the user's plugin cache, or nothing.
real_command_plugin() {
    local p
    for p in "$(command -v pulumi-resource-command || true)" \
        "$PULUMI_HOME_DIR/plugins/resource-command-v$COMMAND_VERSION/pulumi-resource-command"; do
        if [[ -n "$p" && -x "$p" ]] && ! is_stand_in "$p"; then
            printf '%s\n' "$p"
            return 0
        fi
    done
}

version_at_least() { [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" == "$2" ]]; }

# --- 1. An installed Pulumi CLI? --------------------------------------------------------------
MIN_CLI_VERSION="$(gomod_version "$ENGINE/pulumi" github.com/pulumi/pulumi/pkg/v3)"
MIN_CLI_VERSION="${MIN_CLI_VERSION#v}"
if pulumi_path="$(command -v pulumi)" && ! grep -qaF 'provide-engine.sh wrapper' "$pulumi_path"; then
    have="$(pulumi version 2>/dev/null || true)"
    pulumi_dir="$(dirname "$pulumi_path")"
    if [[ "$have" =~ ^v3\.[0-9]+\.[0-9]+$ ]] && version_at_least "${have#v}" "$MIN_CLI_VERSION" &&
        { [[ -x "$pulumi_dir/pulumi-language-nodejs" ]] || command -v pulumi-language-nodejs >/dev/null; }; then
        if [[ -z "$(real_command_plugin)" ]]; then
            # A stand-in left in the user's plugin cache by an earlier version of this script is
            # replaced by the real plugin.
            flags=()
            if is_stand_in "$PULUMI_HOME_DIR/plugins/resource-command-v$COMMAND_VERSION/pulumi-resource-command"; then
                flags=(--reinstall)
            fi
            log "installing the command plugin $COMMAND_VERSION with pulumi $have"
            PULUMI_SKIP_UPDATE_CHECK=true pulumi plugin install resource command "$COMMAND_VERSION" "${flags[@]}" >&2 ||
                die "pulumi plugin install resource command $COMMAND_VERSION failed"
        fi
        log "using pulumi $have from $pulumi_dir with the command plugin $(real_command_plugin)"
        printf '%s\n' "$pulumi_dir"
        exit 0
    fi
    log "pulumi $have on PATH is older than v$MIN_CLI_VERSION or lacks pulumi-language-nodejs: not used"
fi

# --- 2. Build from the Go module proxy into the cache ----------------------------------------
command -v go >/dev/null || die "go is not on PATH (needed to build the Pulumi engine)"
CLI_VERSION="$(gomod_version "$ENGINE/pulumi" github.com/pulumi/pulumi/pkg/v3)"
CLI_VERSION="${CLI_VERSION#v}"
HOST_VERSION="$(gomod_version "$ENGINE/language-nodejs" github.com/pulumi/pulumi/sdk/v3)"
HOST_VERSION="${HOST_VERSION#v}"
[[ -n "$CLI_VERSION" && -n "$HOST_VERSION" ]] || die "cannot read the pinned versions from $ENGINE/*/go.mod"
if [[ "$CLI_VERSION" != "$SDK_VERSION" ]]; then
    log "note: the project pins @pulumi/pulumi $SDK_VERSION; the Go module proxy serves the CLI" \
        "only up to v$CLI_VERSION (engine/pulumi/go.mod), so the CLI is v$CLI_VERSION"
fi

CACHE="${PULUMI_ENGINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/cicd-pipeline/pulumi-engine/$CLI_VERSION-$COMMAND_VERSION}"
BIN="$CACHE/bin"
LIBEXEC="$CACHE/libexec"
PLUGINS="$CACHE/plugins"
HOME_DIR="$CACHE/home"
mkdir -p "$BIN" "$LIBEXEC" "$PLUGINS" "$HOME_DIR/plugins" "$CACHE/stamps"

# One build at a time per cache (parallel CI jobs, two shells).
exec 9>"$CACHE/.lock"
flock 9

# Caches of an earlier layout kept the binaries in bin/: moved, not rebuilt.
for f in pulumi pulumi-language-nodejs; do
    if [[ -x "$BIN/$f" && ! -e "$LIBEXEC/$f" ]] && ! grep -qaF 'provide-engine.sh wrapper' "$BIN/$f"; then
        mv "$BIN/$f" "$LIBEXEC/$f"
    fi
done
rm -f "$BIN/pulumi-language-nodejs"

GO_VERSION="$(cd "$ENGINE/pulumi" && go env GOVERSION)"

# build OUT MODULE_DIR PACKAGE LDFLAGS: builds PACKAGE of the wrapper module into OUT unless OUT
# was built from the same inputs (module files, ldflags, Go version) before.
build() {
    local out="$1" dir="$2" pkg="$3" ldflags="$4" stamp want
    stamp="$CACHE/stamps/$(basename "$out")"
    want="$(cd "$dir" && find . -maxdepth 1 -type f \( -name go.mod -o -name go.sum -o -name '*.go' \) -print0 |
        sort -z | xargs -0 cat | sha256sum | cut -d' ' -f1) $pkg $ldflags $GO_VERSION"
    if [[ -x "$out" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        return 0
    fi
    log "building $(basename "$out") ($pkg) with $GO_VERSION; the first build takes minutes"
    local start=$SECONDS
    (cd "$dir" && CGO_ENABLED=0 go build -mod=readonly -trimpath -buildvcs=false \
        -ldflags "-s -w $ldflags" -o "$out.tmp" "$pkg") || die "go build of $pkg failed"
    mv -f "$out.tmp" "$out"
    printf '%s\n' "$want" >"$stamp"
    log "built $(basename "$out") in $((SECONDS - start))s"
}

VERSION_VAR=github.com/pulumi/pulumi/sdk/v3/go/common/version.Version
build "$LIBEXEC/pulumi" "$ENGINE/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi \
    "-X $VERSION_VAR=v$CLI_VERSION"
# Beside the CLI binary, where the CLI looks for its bundled language hosts first.
build "$LIBEXEC/pulumi-language-nodejs" "$ENGINE/language-nodejs" \
    github.com/pulumi/pulumi/sdk/v3/nodejs/cmd/pulumi-language-nodejs "-X $VERSION_VAR=v$HOST_VERSION"
build "$PLUGINS/pulumi-resource-command" "$ENGINE/command-provider" . "-X main.Version=$COMMAND_VERSION"

# The built CLI gets a plugin directory of its own (PULUMI_HOME=<cache>/home), so the stand-in
# never lands in the user's plugin cache under the real plugin's name. State and credentials are
# unaffected where PULUMI_BACKEND_URL is set (as scripts/local-pulumi.sh and the tests do).
wrapper="#!/bin/sh
# provide-engine.sh wrapper: the Pulumi CLI built from the Go module proxy, with its own plugins.
PULUMI_HOME=\"\${PULUMI_ENGINE_HOME:-$HOME_DIR}\" exec \"$LIBEXEC/pulumi\" \"\$@\"
"
if [[ "$(cat "$BIN/pulumi" 2>/dev/null || true)" != "$wrapper" ]]; then
    printf '%s' "$wrapper" >"$BIN/pulumi.tmp"
    chmod 755 "$BIN/pulumi.tmp"
    mv -f "$BIN/pulumi.tmp" "$BIN/pulumi"
fi

# The command plugin of the built CLI: the user's real one of the pinned version if there is one
# (a real plugin on PATH is found by the CLI itself, before any installed one), else the stand-in.
plugin_dir="$HOME_DIR/plugins/resource-command-v$COMMAND_VERSION"
real="$(real_command_plugin)"
if [[ -n "$real" && "$real" == "$PULUMI_HOME_DIR"/plugins/* ]]; then
    if [[ "$(readlink "$plugin_dir" 2>/dev/null || true)" != "$(dirname "$real")" ]]; then
        rm -rf "$plugin_dir" "$plugin_dir.lock"
        ln -s "$(dirname "$real")" "$plugin_dir"
    fi
    log "command plugin: the real pulumi-resource-command $COMMAND_VERSION from $(dirname "$real")"
elif [[ -n "$real" ]]; then
    log "command plugin: the real pulumi-resource-command from PATH ($real)"
else
    if [[ -L "$plugin_dir" ]] || ! cmp -s "$plugin_dir/pulumi-resource-command" "$PLUGINS/pulumi-resource-command"; then
        rm -rf "$plugin_dir" "$plugin_dir.lock"
        PULUMI_SKIP_UPDATE_CHECK=true "$BIN/pulumi" plugin install resource command "$COMMAND_VERSION" \
            -f "$PLUGINS/pulumi-resource-command" >&2 ||
            die "pulumi plugin install of the command plugin stand-in failed"
    fi
    log "command plugin: a STAND-IN for pulumi-resource-command $COMMAND_VERSION (engine/command-provider;" \
        "the real provider's Go module is not served here). A real install uses the real plugin."
fi

# A stand-in that an earlier version of this script put into the user's plugin cache would shadow
# the real plugin there: removed.
old="$PULUMI_HOME_DIR/plugins/resource-command-v$COMMAND_VERSION"
if [[ "$old" != "$plugin_dir" ]] && is_stand_in "$old/pulumi-resource-command"; then
    rm -rf "$old" "$old.lock" "$old.lastused"
    log "removed the stand-in an earlier run installed into $PULUMI_HOME_DIR/plugins"
fi

log "pulumi $("$BIN/pulumi" version) in $BIN"
printf '%s\n' "$BIN"
