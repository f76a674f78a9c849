#!/usr/bin/env bash
# The shared test rig: starts everything the integration and end-to-end tests, the local stack
# (scripts/local-up.sh) and the benchmarks need, on loopback:
# Docker Engine, a registry, two sshd "hosts" with a test user and key, the test app images and a
# proxy image, all built FROM scratch (there is no Docker Hub). Idempotent: safe to run twice; what
# already runs is left alone. Needs root on Debian; installs what is missing with apt-get.
#
# Writes the rig's description to $BG_RIG_DIR/rig.json for the tests to read.
set -euo pipefail

RIG_DIR="${BG_RIG_DIR:-/var/lib/bluegreen-rig}"
REGISTRY_ADDR="127.0.0.1:5555"
TEST_USER="bgdeploy"
# Two hosts on one machine: each its own sshd (own host key) and, through the tool's
# --instance/--state-dir/ports, its own containers, lock and log.
HOSTS=(host-a:2222 host-b:2223)
APP_REPO="$REGISTRY_ADDR/bluegreen-test/app"
PROXY_REPO="$REGISTRY_ADDR/bluegreen-test/haproxy"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
APP_SRC="$HERE/app"

# shellcheck source=testkit/rig-lib.sh
source "$HERE/rig-lib.sh"

[[ "$(id -u)" == 0 ]] || die "must run as root (it installs packages and starts daemons)"

install_packages() {
    local missing=()
    command -v dockerd >/dev/null || missing+=(docker.io)
    [[ -x /usr/bin/docker ]] || missing+=(docker.io)
    command -v docker-registry >/dev/null || missing+=(docker-registry)
    [[ -x /usr/sbin/sshd ]] || missing+=(openssh-server)
    command -v ssh >/dev/null || missing+=(openssh-client)
    command -v haproxy >/dev/null || missing+=(haproxy)
    command -v socat >/dev/null || missing+=(socat)
    command -v curl >/dev/null || missing+=(curl)
    command -v flock >/dev/null || missing+=(util-linux)
    command -v go >/dev/null || missing+=(golang-go)
    if ((${#missing[@]} > 0)); then
        log "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
        apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

start_dockerd() {
    if docker info >/dev/null 2>&1; then
        log "Docker Engine already running"
        return
    fi
    log "starting dockerd"
    mkdir -p "$RIG_DIR"
    # setsid: the daemon outlives this script and the test run that started it.
    setsid dockerd >"$RIG_DIR/dockerd.log" 2>&1 </dev/null &
    wait_for "dockerd (log: $RIG_DIR/dockerd.log)" 60 docker info
}

start_registry() {
    if curl -fsS "http://$REGISTRY_ADDR/v2/" >/dev/null 2>&1; then
        log "registry already running on $REGISTRY_ADDR"
        return
    fi
    log "starting docker-registry on $REGISTRY_ADDR"
    mkdir -p "$RIG_DIR/registry"
    cat >"$RIG_DIR/registry.yml" <<EOF
version: 0.1
storage:
  filesystem:
    rootdirectory: $RIG_DIR/registry
  delete:
    enabled: true
http:
  addr: $REGISTRY_ADDR
log:
  level: warn
EOF
    setsid docker-registry serve "$RIG_DIR/registry.yml" >"$RIG_DIR/registry.log" 2>&1 </dev/null &
    wait_for "docker-registry" 30 curl -fsS "http://$REGISTRY_ADDR/v2/"
}

setup_user() {
    if ! id "$TEST_USER" >/dev/null 2>&1; then
        log "creating user $TEST_USER"
        useradd --create-home --shell /bin/bash "$TEST_USER"
    fi
    getent group docker >/dev/null || groupadd docker
    usermod -aG docker "$TEST_USER"
    # The docker socket may predate the group (dockerd started before docker.io's group existed).
    chgrp docker /var/run/docker.sock
    chmod 660 /var/run/docker.sock
    # A password-less account is locked for sshd unless it has some password field; key-only login.
    usermod -p '*' "$TEST_USER"
    mkdir -p "$RIG_DIR"
    if [[ ! -f "$RIG_DIR/id_ed25519" ]]; then
        ssh-keygen -q -t ed25519 -N '' -C "bluegreen-test" -f "$RIG_DIR/id_ed25519"
    fi
    # A second key that the hosts do not accept, for the negative tests.
    if [[ ! -f "$RIG_DIR/wrong_host_key" ]]; then
        ssh-keygen -q -t ed25519 -N '' -C "not-a-host" -f "$RIG_DIR/wrong_host_key"
    fi
    # The deploy key restricted to the release tool, exactly as a host's admin sets it up: the gate,
    # the pinned tool digest and the authorized_keys line with the forced command (converges on
    # every run; an unrestricted line for the key is replaced).
    bash "$HERE/../scripts/host-setup.sh" --user "$TEST_USER" --public-key "$RIG_DIR/id_ed25519.pub" |
        quiet bash
}

# What docker knows of the rig's images, by tag: "SOURCE-LABEL|REPO@DIGEST ...". read_images fills it
# for many images with one docker call, so that checking a warm rig takes a fraction of a second.
declare -A KNOWN=()
read_images() {
    local tags label digests tag
    while IFS='|' read -r tags label digests; do
        for tag in $tags; do KNOWN[$tag]="$label|$digests"; done
    done < <(docker image inspect --format \
        '{{join .RepoTags " "}}|{{index .Config.Labels "bluegreen.test.source"}}|{{join .RepoDigests " "}}' \
        "$@" 2>/dev/null || true)
}

# The registry digest of a local image (as read_images last saw it), or nothing.
digest_of() {
    local d
    local known="${KNOWN[$1]:-}"
    for d in ${known#*|}; do
        [[ "$d" == "$2@"* ]] && printf '%s\n' "${d#*@}" && return 0
    done
    return 0
}

# The registry's URL of the manifest of IMAGE (REGISTRY/REPOSITORY:TAG).
manifest_url() {
    local repo="${1%:*}"
    printf 'http://%s/v2/%s/manifests/%s\n' "$REGISTRY_ADDR" "${repo#*/}" "${1##*:}"
}

# Which of IMAGES... the registry holds (PUSHED[manifest URL]=1): one curl asks for all at once.
declare -A PUSHED=()
read_pushed() {
    local args=() image url code
    for image in "$@"; do args+=(-o /dev/null "$(manifest_url "$image")"); done
    while read -r url code; do
        [[ "$code" == 200 ]] && PUSHED[$url]=1
    done < <(curl -sS --no-progress-meter --parallel --head -w '%{url} %{http_code}\n' \
        -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "${args[@]}" || true)
}

# Whether IMAGE (a tag) is built from SOURCE (a hash) and pushed: then it need not be built again.
up_to_date() {
    local image="$1" source="$2" repo="${1%:*}" tag="${1##*:}"
    local known="${KNOWN[$image]:-}"
    [[ -n "$known" && "${known%%|*}" == "$source" ]] || return 1
    [[ -n "${PUSHED[$(manifest_url "$image")]:-}" ]] || return 1
    # A release's image pruning may have dropped the local digest reference; a pull restores it.
    if [[ -z "$(digest_of "$image" "$repo")" ]]; then
        quiet docker pull "$image"
        read_images "$image"
    fi
    [[ -n "$(digest_of "$image" "$repo")" ]]
}

# Builds the app in one mode, as an image tagged with the version, and pushes it.
build_app() {
    local version="$1" mode="$2" ctx="$RIG_DIR/build/app-$1" source
    source="$(cat "$APP_SRC/main.go" "$APP_SRC/go.mod" "$APP_SRC/Dockerfile" - <<<"$version $mode" | sha256sum | cut -c1-32)"
    up_to_date "$APP_REPO:$version" "$source" && return 0
    mkdir -p "$ctx"
    (cd "$APP_SRC" && GOCACHE="$RIG_DIR/go-cache" CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath \
        -ldflags "-s -w -X main.version=$version -X main.mode=$mode" -o "$ctx/app" .)
    cp "$APP_SRC/Dockerfile" "$ctx/Dockerfile"
    quiet docker build --label "bluegreen.test.source=$source" -t "$APP_REPO:$version" "$ctx"
    quiet docker push "$APP_REPO:$version"
    read_images "$APP_REPO:$version"
}

# Debian's haproxy binary and the libraries it links, as a FROM-scratch image.
build_proxy() {
    local ctx="$RIG_DIR/build/haproxy" lib source
    source="$(sha256sum /usr/sbin/haproxy | cut -c1-32)"
    up_to_date "$PROXY_REPO:2.6" "$source" && return 0
    rm -rf "$ctx"
    mkdir -p "$ctx/root/usr/sbin" "$ctx/root/tmp" "$ctx/root/etc"
    cp /usr/sbin/haproxy "$ctx/root/usr/sbin/haproxy"
    for lib in $(ldd /usr/sbin/haproxy | grep -o '/[^ ]*'); do
        mkdir -p "$ctx/root$(dirname "$lib")"
        cp -L "$lib" "$ctx/root$lib"
    done
    printf 'root:x:0:0:root:/:/nonexistent\n' >"$ctx/root/etc/passwd"
    printf 'root:x:0:\n' >"$ctx/root/etc/group"
    cat >"$ctx/Dockerfile" <<'EOF'
FROM scratch
COPY root/ /
ENTRYPOINT ["/usr/sbin/haproxy"]
EOF
    quiet docker build --label "bluegreen.test.source=$source" -t "$PROXY_REPO:2.6" "$ctx"
    quiet docker push "$PROXY_REPO:2.6"
    read_images "$PROXY_REPO:2.6"
}


install_packages
start_dockerd
start_registry
setup_user
hosts_json=""
for spec in "${HOSTS[@]}"; do
    name="${spec%%:*}"
    port="${spec##*:}"
    start_sshd "$name" "$port"
    key="$(cut -d' ' -f1-2 "$RIG_DIR/$name/ssh_host_ed25519_key.pub")"
    hosts_json+="${hosts_json:+,}{\"name\":\"$name\",\"address\":\"127.0.0.1\",\"port\":$port,\"hostKey\":\"$key\"}"
done

log "building test images"
versions=(1.0.0:ok 2.0.0:ok 2.1.0:ok 3.0.0-unhealthy:unhealthy 4.0.0-smokefail:smokefail 5.0.0-slow:slow
    6.0.0-flaky:flaky 7.0.0-slowdown:slowdown)
images=("$PROXY_REPO:2.6")
for spec in "${versions[@]}"; do images+=("$APP_REPO:${spec%%:*}"); done
read_images "${images[@]}"
read_pushed "${images[@]}"
images_json=""
for spec in "${versions[@]}"; do
    build_app "${spec%%:*}" "${spec##*:}"
    images_json+="${images_json:+,}\"${spec%%:*}\":\"$(digest_of "$APP_REPO:${spec%%:*}" "$APP_REPO")\""
done
build_proxy
proxy_digest="$(digest_of "$PROXY_REPO:2.6" "$PROXY_REPO")"

cat >"$RIG_DIR/rig.json" <<EOF
{
  "rigDir": "$RIG_DIR",
  "registry": "$REGISTRY_ADDR",
  "user": "$TEST_USER",
  "privateKeyFile": "$RIG_DIR/id_ed25519",
  "wrongHostKey": "$(cut -d' ' -f1-2 "$RIG_DIR/wrong_host_key.pub")",
  "hosts": [$hosts_json],
  "appImage": "$APP_REPO",
  "appDigests": {$images_json},
  "proxyImage": "$PROXY_REPO@$proxy_digest"
}
EOF
# The tests run as root but hand the key to ssh, which insists on a private key file.
chmod 600 "$RIG_DIR/id_ed25519"
log "ready: $RIG_DIR/rig.json"
