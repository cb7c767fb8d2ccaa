"""mts-service: serve's gunicorn command line, certs, db upgrade, expire, and the WSGI target."""

from __future__ import annotations

import pytest

from mts_service.cli import build_parser, main
from mts_service.cli.serve import gunicorn_command
from mts_service.cli.common import settings_from
from mts_service.soap.security import SecurityMiddleware


def _serve_command(*argv: str) -> list[str]:
    args = build_parser().parse_args(["serve", *argv])
    return gunicorn_command(args, settings_from(args, {}))


def test_serve_defaults_to_tls_with_gthread_and_the_server_certificate():
    command = _serve_command("--certs", "/pki")
    assert command[command.index("--worker-class") + 1] == "gthread"
    assert command[command.index("--certfile") + 1] == "/pki/server.pem"
    assert command[command.index("--keyfile") + 1] == "/pki/server.key"
    assert "--ca-certs" not in command and command[-1] == "mts_service.soap.wsgi:application"


def test_serve_mtls_requires_client_certificates_from_the_ca():
    command = _serve_command("--certs", "/pki", "--mtls")
    assert command[command.index("--ca-certs") + 1] == "/pki/ca.pem"
    assert command[command.index("--cert-reqs") + 1] == "2"


def test_serve_no_tls_is_plain_http_with_sync_workers_unless_told():
    command = _serve_command("--no-tls", "--bind", "127.0.0.1:9000", "--workers", "3")
    assert "--certfile" not in command and command[command.index("--worker-class") + 1] == "sync"
    assert command[command.index("--bind") + 1] == "127.0.0.1:9000" and command[command.index("--workers") + 1] == "3"
    assert "gthread" in _serve_command("--no-tls", "--worker-class", "gthread")


def test_no_tls_and_mtls_exclude_each_other(capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["serve", "--no-tls", "--mtls"])
    assert exit_info.value.code == 2


def test_serve_refuses_to_start_tls_without_certificates(tmp_path, capsys):
    assert main(["serve", "--certs", str(tmp_path)]) == 1
    assert "mts-service certs" in capsys.readouterr().err


def test_certs_db_upgrade_and_expire(tmp_path, capsys):
    certs = tmp_path / "certs"
    assert main(["certs", "--dir", str(certs), "--key-type", "ec"]) == 0
    assert {p.name for p in certs.iterdir()} >= {"ca.pem", "server.pem", "server.key", "shop.pem", "admin.key"}
    database = str(tmp_path / "mts.db")
    assert main(["db", "upgrade", "--database", database]) == 0
    assert main(["expire", "--database", database, "--certs", str(certs)]) == 0
    assert "expired 0 grant(s)" in capsys.readouterr().out


def test_wsgi_target_wraps_the_app_in_security_when_on(tmp_path, monkeypatch):
    certs = tmp_path / "certs"
    main(["certs", "--dir", str(certs)])
    database = str(tmp_path / "mts.db")
    main(["db", "upgrade", "--database", database])
    monkeypatch.setenv("MTS_DATABASE_URL", f"sqlite+pysqlite:///{database}")
    monkeypatch.setenv("MTS_CERTS_DIR", str(certs))
    from mts_service.soap import wsgi

    monkeypatch.setenv("MTS_SECURITY", "1")
    secured = wsgi.build_application(dict(__import__("os").environ))
    assert isinstance(secured.app, SecurityMiddleware)
    monkeypatch.setenv("MTS_SECURITY", "0")
    plain = wsgi.build_application(dict(__import__("os").environ))
    assert not isinstance(plain.app, SecurityMiddleware)


def test_serve_refuses_an_unknown_sqlite_durability_level(monkeypatch, capsys):
    monkeypatch.setenv("MTS_SQLITE_SYNCHRONOUS", "off")
    assert main(["serve", "--no-tls", "--dry-run"]) == 1
    assert "MTS_SQLITE_SYNCHRONOUS must be one of normal, full" in capsys.readouterr().err
