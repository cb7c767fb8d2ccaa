"""An unexpected failure inside a real server: a signed, generic soap:Server fault, no trace.

The store is broken under a running ``mts-service serve`` (TLS, two workers, SQLite): the
ledger table is renamed away, so the SubmitSms transaction fails at its last INSERT with an
error nobody planned for. The gateway must get a signed Server fault with the enumerated
code INTERNAL_ERROR and a generic message (no traceback, no SQL, no table name), nothing of
the message may stay recorded (the whole transaction rolled back), and once the store is
repaired the same messageId, signed again as a gateway's retry is, is credited as new: a
paid SMS is not lost. The traceback goes to the server's log, under the request id.
"""

from __future__ import annotations

import sqlite3
import uuid

import pytest

from e2e_helpers import FAULT_NS, post, serve, set_policy, sign, sms_request
from mts_service.soap.faults import GENERIC_MESSAGE
from mts_service.wssec import ns

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def broken_store_server(e2e_dir, certs, sqlite_db):
    with serve(e2e_dir, certs, sqlite_db, tls=True, workers=2) as running:
        set_policy(running.url, certs)
        yield running


def _rename(database: str, old: str, new: str) -> None:
    with sqlite3.connect(database) as connection:
        connection.execute(f"ALTER TABLE {old} RENAME TO {new}")


def _ledger_entries(database: str, message_id: str) -> int:
    with sqlite3.connect(database) as connection:
        return connection.execute("SELECT count(*) FROM ledger WHERE message_id = ?", (message_id,)).fetchone()[0]


def _submit(server, message_id: str, sender: str):
    return post(server, "/gateway", sign(sms_request(message_id, sender), server.certs, "gateway"),
                session=server.session())


def test_an_unexpected_failure_is_a_signed_generic_server_fault_and_loses_no_sms(broken_store_server, sqlite_db):
    server = broken_store_server
    message_id, sender = f"ie-{uuid.uuid4().hex[:12]}", f"+2126{uuid.uuid4().int % 10**8:08d}"
    _rename(sqlite_db, "ledger", "ledger_away")
    try:
        answers = [_submit(server, message_id, sender) for _ in range(3)]  # both workers, fresh connections
    finally:
        _rename(sqlite_db, "ledger_away", "ledger")

    for answer in answers:   # post() checked each answer's signature (the server's certificate)
        assert answer.status == 500
        assert answer.fault == ("soap:Server", "INTERNAL_ERROR")
        fault = answer.verified.body.find(ns.FAULT_TAG)
        assert fault.findtext("faultstring") == GENERIC_MESSAGE
        assert fault.findtext(f"detail/{{{FAULT_NS}}}FaultDetail/{{{FAULT_NS}}}message") == GENERIC_MESSAGE
        text = answer.verified.body_c14n.decode()
        for leak in ("Traceback", 'File "', "sqlite", "ledger", "OperationalError", "no such table", ".py"):
            assert leak not in text, leak
    request_id = answers[0].verified.body.findtext(f".//{{{FAULT_NS}}}requestId")
    assert request_id

    # Nothing of the failed attempts stayed: the same messageId, signed again, is new.
    retried = _submit(server, message_id, sender)
    assert (retried.status, retried.fault) == (200, None)
    assert retried.verified.body.findtext(".//{*}duplicate") == "false"
    assert _ledger_entries(sqlite_db, message_id) == 1

    # The cause is in the server's log, under the request id the client was given.
    log = server.log.read_text(errors="replace")
    assert request_id in log and "no such table" in log
