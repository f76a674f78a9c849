#!/usr/bin/env bash
# A fleet of extra hosts on loopback for the fleet test and benchmark (testkit/rig.ts, ensureFleet):
# COUNT more sshd "hosts" fleet-01, fleet-02, ... on 127.0.0.1:FIRST_PORT, FIRST_PORT+1, ..., each
# with its own host key, for the rig's test user and deploy key (restricted to the release tool as
# on a real host). Each host's tool instance and ports are the caller's (--instance, --*-port).
# Run testkit/rig-setup.sh first. Idempotent: a host that already runs is left alone, so a second
# run costs a fraction of a second; a host that was stopped is started again.
#
#   fleet-setup.sh --hosts COUNT --first-port PORT   start them; print their description (JSON)
#   fleet-setup.sh --stop                            stop every fleet sshd this script started
#
# The hosts' state (keys, configs, pid files, logs) lives in $BG_RIG_DIR/fleet/NAME.
set -euo pipefail

RIG_DIR="${BG_RIG_DIR:-/var/lib/bluegreen-rig}"
TEST_USER="bgdeploy"
FLEET_DIR="$RIG_DIR/fleet"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=testkit/rig-lib.sh
source "$HERE/rig-lib.sh"

[[ "$(id -u)" == 0 ]] || die "must run as root (it starts sshd)"

count=""
first_port=""
stop=0
while (($# > 0)); do
    case "$1" in
        --hosts) count="${2:-}" && shift 2 ;;
        --first-port) first_port="${2:-}" && shift 2 ;;
        --stop) stop=1 && shift ;;
        *) die "unknown option $1 (see the head of $0)" ;;
    esac
done

if ((stop)); then
    for pidfile in "$FLEET_DIR"/*/sshd.pid; do
        [[ -f "$pidfile" ]] || continue
        pid="$(cat "$pidfile")"
        # Only an sshd started with this fleet's configuration, never another process that reused the pid.
        if [[ "$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" == *"$(dirname "$pidfile")/sshd_config"* ]]; then
            log "stopping sshd $(basename "$(dirname "$pidfile")") (pid $pid)"
            kill "$pid"
        fi
        rm -f "$pidfile"
    done
    exit 0
fi

if ! [[ "$count" =~ ^[0-9]{1,3}$ ]] || ((count < 1)); then
    die "--hosts must be a whole number from 1, got '$count'"
fi
if ! [[ "$first_port" =~ ^[0-9]{1,5}$ ]] || ((first_port < 1024 || first_port + count - 1 > 65535)); then
    die "--first-port must leave room for $count ports from 1024 to 65535, got '$first_port'"
fi
[[ -f "$RIG_DIR/rig.json" ]] || die "no rig in $RIG_DIR: run testkit/rig-setup.sh first"
id "$TEST_USER" >/dev/null 2>&1 || die "no user $TEST_USER: run testkit/rig-setup.sh first"

hosts_json=""
for ((i = 1; i <= count; i++)); do
    name="$(printf 'fleet-%02d' "$i")"
    port=$((first_port + i - 1))
    start_sshd "$name" "$port" "$FLEET_DIR/$name"
    key="$(cut -d' ' -f1-2 "$FLEET_DIR/$name/ssh_host_ed25519_key.pub")"
    hosts_json+="${hosts_json:+,}{\"name\":\"$name\",\"address\":\"127.0.0.1\",\"port\":$port,\"hostKey\":\"$key\"}"
done
printf '[%s]\n' "$hosts_json"
