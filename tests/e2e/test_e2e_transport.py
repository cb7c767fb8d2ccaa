"""Transport and scale-out through real servers: ``--mtls``, ``--no-tls``, and the replay cache
holding across two server processes that share one PostgreSQL schema."""

from __future__ import annotations

import ssl
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from e2e_helpers import set_policy
from e2e_helpers import mts, post, serve, sign, sms_request, tls_handshake

pytestmark = pytest.mark.slow


def _request(certs):
    return sign(sms_request(f"e2e-{uuid.uuid4().hex[:12]}", f"+2126{uuid.uuid4().int % 10**8:08d}"), certs, "gateway")


@pytest.fixture(scope="module")
def mtls_server(e2e_dir, certs, sqlite_db):
    with serve(e2e_dir, certs, sqlite_db, mtls=True) as running:
        yield running


def test_mtls_refuses_a_client_without_a_certificate(mtls_server):
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)):
        tls_handshake(mtls_server, cert=None).close()
    with pytest.raises(requests.exceptions.SSLError):
        mtls_server.session(cert=None).get(f"{mtls_server.url}/healthz", timeout=10)


def test_mtls_refuses_a_certificate_from_another_ca(mtls_server, foreign_certs):
    session = mtls_server.session(cert=None)
    session.cert = (str(foreign_certs / "gateway.pem"), str(foreign_certs / "gateway.key"))
    with pytest.raises(requests.exceptions.SSLError):
        session.get(f"{mtls_server.url}/healthz", timeout=10)


def test_mtls_accepts_a_certificate_from_the_ca_and_serves_signed(mtls_server, certs):
    tls_handshake(mtls_server, cert="gateway").close()
    set_policy(mtls_server.url, certs)  # the zeep clients send their certificate too
    answer = post(mtls_server, "/gateway", _request(certs), session=mtls_server.session(cert="gateway"))
    assert answer.fault is None and answer.find("outcome") == "CODE_ISSUED"


def test_no_tls_serves_plain_http_with_signed_messages(e2e_dir, certs, sqlite_db):
    with serve(e2e_dir, certs, sqlite_db, tls=False, workers=1) as plain:
        assert plain.url.startswith("http://")
        assert requests.get(f"{plain.url}/healthz", timeout=10).status_code == 200
        set_policy(plain.url, certs)
        answer = post(plain, "/gateway", _request(certs))
        assert answer.fault is None and answer.find("outcome") == "CODE_ISSUED"
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(plain.url.replace("http://", "https://") + "/healthz", timeout=10, verify=False)


@pytest.mark.postgres
def test_replay_cache_holds_across_two_server_processes_on_one_postgresql(e2e_dir, certs, postgres_database):
    assert mts("db", "upgrade", "--database", postgres_database, cwd=e2e_dir).returncode == 0
    with serve(e2e_dir, certs, postgres_database, tls=False, workers=2) as first, \
            serve(e2e_dir, certs, postgres_database, tls=False, workers=2) as second:
        set_policy(first.url, certs)
        captured = _request(certs)
        assert post(first, "/gateway", captured).fault is None
        replayed = post(second, "/gateway", captured)
        assert (replayed.status, replayed.fault) == (500, ("soap:Client", "SECURITY_REPLAY"))

        # The same fresh request at both nodes at once: the database lets exactly one in.
        raced = _request(certs)
        targets = [first, second] * 8
        with ThreadPoolExecutor(max_workers=8) as pool:
            faults = [a.fault for a in pool.map(lambda node: post(node, "/gateway", raced, session=node.session()),
                                                targets)]
        assert faults.count(None) == 1, faults
        assert faults.count(("soap:Client", "SECURITY_REPLAY")) == len(targets) - 1
