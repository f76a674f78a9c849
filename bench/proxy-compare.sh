#!/usr/bin/env bash
# Measures how each candidate proxy behaves when its upstream is switched under load, to choose the
# proxy the release tool manages. Same load for each: wrk, 2 threads, 100 keep-alive connections,
# DURATION seconds, SWITCHES switches between two app containers, one per second.
#   nginx:   rewrite the upstream and `nginx -s reload` (the usual way to change an nginx upstream)
#   caddy:   PATCH the upstream through Caddy's admin API (Caddy applies it as a graceful reload)
#   haproxy: runtime API over the admin socket, no reload (what the bluegreen tool does)
# Prints one line per proxy: requests, errors (socket errors + non-2xx), p99 latency.
#
# Measured on the project's 2-core machine, with a Go build running beside it (load average 4-5):
#   nginx    requests=214595 errors=389 p99_ms=49.39   (an earlier run: 181515 requests, 745 errors)
#   caddy    requests=106944 errors=105 p99_ms=44.40
#   haproxy  requests=338987 errors=0   p99_ms=21.61   (an earlier run: 209695 requests, 0 errors)
# Reloads close keep-alive connections that clients are about to reuse; HAProxy's runtime API
# changes server states inside the running process, so no connection is closed. Hence HAProxy.
# Needs the rig from testkit/rig-setup.sh (Docker, registry, test images) and Debian's
# nginx-light, caddy, haproxy, wrk, socat and curl. Sends traffic to 127.0.0.1 only.
set -euo pipefail

DURATION="${DURATION:-15}"
SWITCHES="${SWITCHES:-10}"
RIG="${BG_RIG_DIR:-/var/lib/bluegreen-rig}/rig.json"
WORK="$(mktemp -d)"
APP="$(grep -o '"appImage": *"[^"]*"' "$RIG" | cut -d'"' -f4)"
PORT=19080

cleanup() {
    docker rm -f pc-blue pc-green >/dev/null 2>&1 || true
    local f
    for f in "$WORK/nginx.pid" "$WORK/haproxy.pid" "$WORK/caddy.pid"; do
        if [[ -f "$f" ]]; then kill "$(cat "$f")" 2>/dev/null || true; fi
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

docker rm -f pc-blue pc-green >/dev/null 2>&1 || true
docker run -d --name pc-blue -p 127.0.0.1:19081:8000 "$APP:1.0.0" >/dev/null
docker run -d --name pc-green -p 127.0.0.1:19082:8000 "$APP:2.0.0" >/dev/null
sleep 1

# wrk's summary -> "requests=N errors=E p99_ms=P"
summarise() {
    awk '
        /requests in/ { req = $1 }
        /Socket errors/ { gsub(/,/, ""); se = $4 + $6 + $8 + $10 }
        /Non-2xx/ { n2 = $NF }
        /^ +99%/ { p = $2; if (p ~ /ms$/) { sub(/ms/, "", p) } else if (p ~ /us$/) { sub(/us/, "", p); p = p / 1000 } else if (p ~ /s$/) { sub(/s/, "", p); p = p * 1000 } }
        END { printf "requests=%d errors=%d p99_ms=%s\n", req, se + n2, p }
    ' "$1"
}

run_load() {
    wrk -t2 -c100 -d"${DURATION}s" --latency "http://127.0.0.1:$PORT/" >"$WORK/$1.wrk" 2>&1 &
    local wrk_pid=$! i to
    sleep 2
    for ((i = 0; i < SWITCHES; i++)); do
        if ((i % 2 == 0)); then to=green; else to=blue; fi
        "switch_$1" "$to"
        sleep 1
    done
    wait "$wrk_pid"
    printf '%-8s %s\n' "$1" "$(summarise "$WORK/$1.wrk")"
}

# --- nginx: reload with a rewritten upstream
nginx_conf() {
    local port=19081
    [[ "$1" == green ]] && port=19082
    cat >"$WORK/nginx.conf" <<EOF
worker_processes 2;
pid $WORK/nginx.pid;
error_log $WORK/nginx.err warn;
events { worker_connections 4096; }
http {
    access_log off;
    upstream app { server 127.0.0.1:$port; keepalive 64; }
    server {
        listen 127.0.0.1:$PORT;
        keepalive_requests 1000000;
        location / { proxy_pass http://app; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
EOF
}
switch_nginx() {
    nginx_conf "$1"
    nginx -c "$WORK/nginx.conf" -s reload 2>/dev/null
}
nginx_conf blue
nginx -c "$WORK/nginx.conf"
sleep 0.5
run_load nginx
kill "$(cat "$WORK/nginx.pid")"
sleep 1

# --- caddy: admin API config change
cat >"$WORK/caddy.json" <<EOF
{
  "admin": { "listen": "127.0.0.1:19089" },
  "apps": { "http": { "servers": { "app": {
    "listen": ["127.0.0.1:$PORT"],
    "routes": [ { "handle": [ { "handler": "reverse_proxy", "upstreams": [ { "dial": "127.0.0.1:19081" } ] } ] } ]
  } } } }
}
EOF
switch_caddy() {
    local port=19081
    [[ "$1" == green ]] && port=19082
    curl -fsS -X PATCH -H 'Content-Type: application/json' -d "[{\"dial\":\"127.0.0.1:$port\"}]" \
        "http://127.0.0.1:19089/config/apps/http/servers/app/routes/0/handle/0/upstreams" >/dev/null
}
caddy run --config "$WORK/caddy.json" --pidfile "$WORK/caddy.pid" >"$WORK/caddy.log" 2>&1 &
sleep 1.5
run_load caddy
kill "$(cat "$WORK/caddy.pid")"
sleep 1

# --- haproxy: runtime API, no reload
cat >"$WORK/haproxy.cfg" <<EOF
global
    maxconn 8000
    stats socket $WORK/admin.sock mode 600 level admin
    pidfile $WORK/haproxy.pid
defaults
    mode http
    timeout connect 2s
    timeout client 65s
    timeout server 65s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response
frontend public
    bind 127.0.0.1:$PORT
    default_backend app
backend app
    server blue 127.0.0.1:19081
    server green 127.0.0.1:19082 disabled
EOF
switch_haproxy() {
    local other=blue
    [[ "$1" == blue ]] && other=green
    printf 'set server app/%s state ready; set server app/%s state maint\n' "$1" "$other" |
        socat stdio "unix-connect:$WORK/admin.sock" >/dev/null
}
haproxy -D -f "$WORK/haproxy.cfg"
sleep 0.5
run_load haproxy
