#!/usr/bin/env bash
# host-setup.sh: prints the one-time setup of a target host, a script its admin runs as root:
#
#   scripts/host-setup.sh --user deploy --public-key ~/.ssh/deploy_production_ed25519.pub |
#       ssh admin@prod-1.example.com sudo bash
#
# The printed script, idempotent (run it again after the project's release tool changes):
#   - creates the deploy user if missing (no password: key login only) and adds it to the docker group;
#   - installs the gate (components/deploy/host/bluegreen-gate) as /usr/local/bin/bluegreen-gate;
#   - pins the sha256 of this checkout's release tool in /usr/local/etc/bluegreen/tool-sha256, the only
#     tools the gate lets `pulumi up` install (earlier pins stay, for a rollback of the project);
#   - makes the deploy key's line in ~USER/.ssh/authorized_keys
#       restrict,command="/usr/local/bin/bluegreen-gate" <the public key>
#     replacing any other line with that key, and leaves ~/.ssh and authorized_keys owned by root, so
#     that nothing running as the deploy user can add a key or lift the restriction.
# --print-line prints only that authorized_keys line.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GATE_SOURCE="$ROOT/components/deploy/host/bluegreen-gate"
TOOL_SOURCE="$ROOT/components/deploy/host/bluegreen"
readonly GATE="/usr/local/bin/bluegreen-gate"
readonly PINS="/usr/local/etc/bluegreen/tool-sha256"

die() {
    printf 'host-setup: error: %s\n' "$*" >&2
    exit 2
}

user=""
key_file=""
line_only=0
while (($# > 0)); do
    case "$1" in
        --user) user="${2:-}"; shift 2 ;;
        --public-key) key_file="${2:-}"; shift 2 ;;
        --print-line) line_only=1; shift ;;
        -h | --help) sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $(printf '%q' "$1") (see --help)" ;;
    esac
done
[[ "$user" =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] || die "--user must be a Unix user name such as deploy, got $(printf '%q' "$user")"
[[ -r "$key_file" ]] || die "--public-key must name the deploy key's public half (such as ~/.ssh/deploy_production_ed25519.pub)"
read -r keytype keyblob _ <"$key_file" || true
[[ "${keytype:-}" =~ ^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521))$ && "${keyblob:-}" =~ ^[A-Za-z0-9+/]+={0,2}$ ]] ||
    die "$key_file is not an OpenSSH public key (<type> <base64> [comment])"
line="restrict,command=\"$GATE\" $keytype $keyblob bluegreen-deploy"
if ((line_only)); then
    printf '%s\n' "$line"
    exit 0
fi
tool_sha="$(sha256sum "$TOOL_SOURCE" | cut -c1-64)"
grep -q '^BLUEGREEN_GATE_EOF$' "$GATE_SOURCE" && die "the gate's source contains the heredoc delimiter"

cat <<EOF
#!/usr/bin/env bash
# Written by scripts/host-setup.sh: run as root on the target host.
set -euo pipefail
[[ "\$(id -u)" == 0 ]] || { echo "host-setup: run this as root (sudo bash)" >&2; exit 1; }
user='$user'
if ! id "\$user" >/dev/null 2>&1; then
    useradd --create-home --shell /bin/bash "\$user"
fi
# Key login only: a locked password, but not a locked account (sshd refuses those).
[[ "\$(getent shadow "\$user" | cut -d: -f2)" != '!'* ]] || usermod -p '*' "\$user"
getent group docker >/dev/null || groupadd docker
usermod -aG docker "\$user"

install -d -m 755 -o root -g root /usr/local/bin "$(dirname "$PINS")"
cat >"$GATE.new" <<'BLUEGREEN_GATE_EOF'
$(cat "$GATE_SOURCE")
BLUEGREEN_GATE_EOF
chown root:root "$GATE.new"
chmod 755 "$GATE.new"
mv -f "$GATE.new" "$GATE"

touch "$PINS"
chown root:root "$PINS"
chmod 644 "$PINS"
grep -qxF '$tool_sha' "$PINS" || printf '%s\n' '$tool_sha' >>"$PINS"

home="\$(getent passwd "\$user" | cut -d: -f6)"
install -d -m 755 -o root -g root "\$home/.ssh"
keys="\$home/.ssh/authorized_keys"
touch "\$keys"
# Any other line with this key (unrestricted, or with other options) goes.
{ grep -vF '$keyblob' "\$keys" || true; } >"\$keys.new"
printf '%s\n' '$line' >>"\$keys.new"
chown root:root "\$keys.new"
chmod 644 "\$keys.new"
mv -f "\$keys.new" "\$keys"
echo "host-setup: \$user may now only run the release tool with this key (gate $GATE, tool sha256 $tool_sha)" >&2
EOF
