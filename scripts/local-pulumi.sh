#!/usr/bin/env bash
# local-pulumi.sh: runs the pulumi CLI on the `local` stack (Pulumi.local.yaml), on this machine.
#
#   scripts/local-pulumi.sh up --yes --config version=1.0.0 --config digest=sha256:...
#   scripts/local-pulumi.sh stack output version
#   scripts/local-pulumi.sh destroy --yes
#
# What it sets up around the command, all outside the checkout, so that running it never changes
# a tracked file:
#   - Node.js 24 (scripts/provide-node.sh), first on PATH: the language host runs the program with
#     the `node` it finds there;
#   - the engine: scripts/provide-engine.sh (the pulumi on PATH when it matches the npm SDK, else
#     the one built into the machine's cache);
#   - the state: a file backend in $STATE/backend (PULUMI_BACKEND_URL; the user's own `pulumi login`
#     is left alone), with the stack `local` created on first use (passphrase secrets provider);
#   - the stack config: $STATE/Pulumi.local.yaml, the committed Pulumi.local.yaml with the rig's
#     host key and the deploy key as a secret (scripts/local-stack-config.ts), given to every
#     command that reads config as --config-file; `--config` values (version, digest) land there.
# STATE is ${CICD_LOCAL_STATE:-${XDG_CACHE_HOME:-~/.cache}/cicd-pipeline/local-state}. The rig must
# be up (testkit/rig-setup.sh, run by scripts/local-up.sh); its description is read from
# ${BG_RIG_DIR:-/var/lib/bluegreen-rig}/rig.json. The secrets passphrase is
# ${PULUMI_CONFIG_PASSPHRASE:-local}: it protects nothing here (the key it encrypts is the rig's
# throw-away test key), the stack uses it because team stacks use the passphrase provider too.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK="local"
STATE="${CICD_LOCAL_STATE:-${XDG_CACHE_HOME:-$HOME/.cache}/cicd-pipeline/local-state}"
RIG_JSON="${BG_RIG_DIR:-/var/lib/bluegreen-rig}/rig.json"
CONFIG_FILE="$STATE/Pulumi.$STACK.yaml"

die() {
    printf 'local-pulumi: error: %s\n' "$*" >&2
    exit 1
}

(($# > 0)) || die "usage: scripts/local-pulumi.sh PULUMI-COMMAND [ARGS...]"
[[ -f "$RIG_JSON" ]] || die "no test rig ($RIG_JSON is missing): run scripts/local-up.sh or testkit/rig-setup.sh first"

node_dir="$("$ROOT/scripts/provide-node.sh")" || die "cannot provide Node.js (see the messages above)"
export PATH="$node_dir:$PATH"
engine="$("$ROOT/scripts/provide-engine.sh")" || die "cannot provide the Pulumi engine (see the messages above)"
export PATH="$engine:$PATH"
export PULUMI_BACKEND_URL="file://$STATE/backend"
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE:-local}"
export PULUMI_SKIP_UPDATE_CHECK=true
# Every plugin comes from provide-engine.sh; nothing is downloaded while a command runs.
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true

mkdir -p "$STATE/backend"
chmod 700 "$STATE"

# The stack, created once. `stack init` writes the new stack's encryption salt into the project's
# Pulumi.<stack>.yaml, so it runs in a scratch project (same name) instead of the checkout.
if [[ ! -f "$STATE/backend/.pulumi/stacks/cicd-pipeline/$STACK.json" ]] &&
    ! pulumi stack ls --json 2>/dev/null | grep -q "\"name\": \"$STACK\""; then
    init="$STATE/stack-init"
    mkdir -p "$init"
    cp "$ROOT/Pulumi.yaml" "$init/Pulumi.yaml"
    pulumi --cwd "$init" stack init "$STACK" --secrets-provider passphrase --no-select >&2
fi

# The commands that read stack config get the machine's copy, rebuilt when what it is made from
# changed: the committed file, the rig's description, the script that merges them, the deploy key
# (config.inputs holds the key's path and the sha256 of all four); every command gets the stack.
extra=(--stack "$STACK")
case "$1" in
    up | update | preview | destroy | refresh | config)
        extra+=(--config-file "$CONFIG_FILE")
        inputs_of() { cat "$ROOT/Pulumi.$STACK.yaml" "$RIG_JSON" "$ROOT/scripts/local-stack-config.ts" "$1" | sha256sum | cut -d' ' -f1; }
        key_file="" inputs=""
        read -r key_file inputs 2>/dev/null <"$STATE/config.inputs" || true
        if [[ -z "$key_file" || ! -f "$key_file" || "$(inputs_of "$key_file")" != "$inputs" ]] ||
            ! grep -qs "^  cicd-pipeline:deploySshKey:" "$CONFIG_FILE"; then
            (cd "$ROOT" && node --require esbuild-register scripts/local-stack-config.ts \
                --committed "$ROOT/Pulumi.$STACK.yaml" --rig "$RIG_JSON" --out "$CONFIG_FILE") ||
                die "cannot write $CONFIG_FILE"
            key_file="$(node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).privateKeyFile)' "$RIG_JSON")"
            key_sum="$(sha256sum "$key_file" | cut -d' ' -f1)"
            if ! grep -q "^  cicd-pipeline:deploySshKey:" "$CONFIG_FILE" ||
                [[ "$(cat "$STATE/deploy-key.sha256" 2>/dev/null || true)" != "$key_sum" ]]; then
                pulumi --cwd "$ROOT" config set --stack "$STACK" --config-file "$CONFIG_FILE" --secret deploySshKey <"$key_file"
                printf '%s\n' "$key_sum" >"$STATE/deploy-key.sha256"
            fi
            printf '%s %s\n' "$key_file" "$(inputs_of "$key_file")" >"$STATE/config.inputs"
        fi
        ;;
esac
if [[ "$1" == stack || "$1" == config ]] && (($# > 1)) && [[ "$2" != -* ]]; then
    # Flags go after the subcommand (pulumi stack output ..., pulumi config get ...).
    cd "$ROOT"
    exec pulumi "$1" "$2" "${extra[@]}" "${@:3}"
fi
cd "$ROOT"
exec pulumi "$1" "${extra[@]}" "${@:2}"
