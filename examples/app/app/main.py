"""HTTP service with GET /health and GET /version, on the standard library only."""

import json
import os
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def version():
    """The version this build serves: set at image build time, "dev" elsewhere."""
    return os.environ.get("APP_VERSION", "dev")


def respond(method, path):
    """Status and JSON body for a request; no I/O, so it is tested directly."""
    route = path.split("?", 1)[0]
    routes = {
        "/health": {"status": "ok"},
        "/version": {"version": version()},
    }
    if route not in routes:
        return HTTPStatus.NOT_FOUND, {"error": f"no route for {route}"}
    if method not in ("GET", "HEAD"):
        return HTTPStatus.METHOD_NOT_ALLOWED, {"error": f"{method} is not allowed"}
    return HTTPStatus.OK, routes[route]


class Handler(BaseHTTPRequestHandler):
    server_version = "web-app"

    def _send(self, method):
        status, body = respond(method, self.path)
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        if status == HTTPStatus.METHOD_NOT_ALLOWED:
            self.send_header("Allow", "GET, HEAD")
        self.end_headers()
        if method != "HEAD":
            self.wfile.write(payload)

    def do_GET(self):
        self._send("GET")

    def do_HEAD(self):
        self._send("HEAD")

    def do_POST(self):
        self._send("POST")

    def log_message(self, format, *args):
        # One line per request on stdout, where the container runtime collects it.
        print(f"{self.address_string()} {format % args}", flush=True)


def make_server(host="0.0.0.0", port=8000):
    return ThreadingHTTPServer((host, port), Handler)


def main():
    port = int(os.environ.get("PORT", "8000"))
    server = make_server(port=port)
    print(f"listening on :{port}, version {version()}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":  # pragma: no cover
    main()
