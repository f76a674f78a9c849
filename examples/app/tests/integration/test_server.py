"""Starts the real server on a free loopback port and talks HTTP to it."""

import json
import threading
import urllib.error
import urllib.request

import pytest

from app.main import make_server


@pytest.fixture
def base_url(monkeypatch):
    monkeypatch.setenv("APP_VERSION", "2.0.0")
    server = make_server("127.0.0.1", 0)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def get(url, method="GET"):
    request = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(request, timeout=5) as response:
        return response.status, response.headers, response.read()


def test_health(base_url):
    status, headers, body = get(f"{base_url}/health")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == {"status": "ok"}


def test_version(base_url):
    status, _, body = get(f"{base_url}/version")
    assert status == 200
    assert json.loads(body) == {"version": "2.0.0"}


def test_head_has_no_body(base_url):
    status, headers, body = get(f"{base_url}/health", method="HEAD")
    assert status == 200
    assert body == b""
    assert int(headers["Content-Length"]) > 0


def test_unknown_path_is_404(base_url):
    with pytest.raises(urllib.error.HTTPError) as error:
        get(f"{base_url}/missing")
    assert error.value.code == 404


def test_post_is_405_with_allow(base_url):
    with pytest.raises(urllib.error.HTTPError) as error:
        get(f"{base_url}/health", method="POST")
    assert error.value.code == 405
    assert error.value.headers["Allow"] == "GET, HEAD"
