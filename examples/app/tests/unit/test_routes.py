from http import HTTPStatus

from app.main import respond, version


def test_health_is_ok():
    assert respond("GET", "/health") == (HTTPStatus.OK, {"status": "ok"})


def test_version_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("APP_VERSION", "1.4.2")
    assert respond("GET", "/version") == (HTTPStatus.OK, {"version": "1.4.2"})


def test_version_defaults_to_dev(monkeypatch):
    monkeypatch.delenv("APP_VERSION", raising=False)
    assert version() == "dev"


def test_query_string_is_ignored():
    assert respond("GET", "/health?probe=1")[0] == HTTPStatus.OK


def test_unknown_path_is_not_found():
    status, body = respond("GET", "/nope")
    assert status == HTTPStatus.NOT_FOUND
    assert "/nope" in body["error"]


def test_other_methods_are_refused():
    assert respond("POST", "/health")[0] == HTTPStatus.METHOD_NOT_ALLOWED
