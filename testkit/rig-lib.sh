# shellcheck shell=bash
# What testkit/rig-setup.sh and testkit/fleet-setup.sh share: messages, waiting, and one sshd "host"
# on loopback with its own host key, for the rig's test user (TEST_USER). Sourced, never run.

log() { printf 'setup: %s\n' "$*" >&2; }
die() {
    printf 'setup: error: %s\n' "$*" >&2
    exit 1
}

# Runs a command, showing its output only if it fails.
quiet() {
    local out
    if ! out="$("$@" 2>&1)"; then
        printf '%s\n' "$out" >&2
        die "failed: $*"
    fi
}

wait_for() {
    local what="$1" seconds="$2"
    shift 2
    local i
    for ((i = 0; i < seconds * 4; i++)); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.25
    done
    die "$what did not come up within ${seconds}s"
}

# start_sshd NAME PORT [DIR]: sshd NAME on 127.0.0.1:PORT, its host key, config, pid and log in DIR
# [$RIG_DIR/NAME]. Left alone when it already runs with the same configuration; reloaded otherwise.
start_sshd() {
    local name="$1" port="$2" dir="${3:-$RIG_DIR/$1}"
    mkdir -p "$dir" /run/sshd
    chmod 755 /run/sshd
    if [[ ! -f "$dir/ssh_host_ed25519_key" ]]; then
        ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$dir/ssh_host_ed25519_key"
    fi
    local config
    config="$(cat <<EOF
ListenAddress 127.0.0.1:$port
HostKey $dir/ssh_host_ed25519_key
PidFile $dir/sshd.pid
AllowUsers $TEST_USER
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
UsePAM no
PermitRootLogin no
X11Forwarding no
# As on a stock sshd: forwarding is allowed by the server, so that the tests show the key's own
# restriction (restrict in authorized_keys) is what refuses it.
AllowTcpForwarding yes
MaxStartups 50
MaxSessions 50
LogLevel ERROR
EOF
)"
    local changed=0
    [[ -f "$dir/sshd_config" && "$(cat "$dir/sshd_config")" == "$config" ]] || changed=1
    ((changed == 0)) || printf '%s\n' "$config" >"$dir/sshd_config"
    if [[ -f "$dir/sshd.pid" ]] && kill -0 "$(cat "$dir/sshd.pid")" 2>/dev/null; then
        if ((changed)); then
            log "sshd $name: configuration changed, reloading"
            /usr/sbin/sshd -t -f "$dir/sshd_config"
            kill -HUP "$(cat "$dir/sshd.pid")"
            sleep 0.5
            wait_for "sshd $name" 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"
        else
            log "sshd $name already running on 127.0.0.1:$port"
        fi
        return
    fi
    log "starting sshd $name on 127.0.0.1:$port"
    /usr/sbin/sshd -t -f "$dir/sshd_config"
    /usr/sbin/sshd -f "$dir/sshd_config" -E "$dir/sshd.log"
    wait_for "sshd $name" 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port"
}
