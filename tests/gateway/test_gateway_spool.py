"""The spool on its own: durable intake, idempotent store, schedule, leases, reply states."""

from __future__ import annotations

import random
import secrets
from datetime import timedelta

import pytest
from hypothesis import given, strategies as st

from gateway_client.models import ReceiptOutcome, SmsReceipt
from gateway_client.spool import (
    DONE, FAILED, PENDING, REPLY_NONE, REPLY_PENDING, REPLY_SENT, Spool, next_delay,
)


def receipt(message_id: str, text: str = "Votre code: K7M2P9") -> SmsReceipt:
    return SmsReceipt(message_id=message_id, outcome=ReceiptOutcome.CODE_ISSUED, reply_text=text, duplicate=False)


def test_store_is_idempotent_per_message_id(spool, make_message):
    msg = make_message("m-1", text="CODE")
    assert spool.store(msg) is True
    assert spool.store(msg) is False
    # Same id, other content: the first write wins (the MTS judges conflicts, not the spool).
    assert spool.store(make_message("m-1", text="OTHER")) is False
    entry = spool.get("m-1")
    assert entry.message == msg
    assert entry.state == PENDING and entry.reply_state == REPLY_NONE
    assert [e.message.message_id for e in spool.pending()] == ["m-1"]


def test_restart_resumes_everything_owed(tmp_path, clock, make_message):
    path = tmp_path / "spool.db"
    first = Spool(path, clock=clock)
    for i in range(3):
        first.store(make_message(f"m-{i}", text="صباح ô ç"))
    first.claim("m-0", lease=timedelta(minutes=5))          # the process dies while submitting m-0
    first.mark_done("m-1", receipt("m-1"))
    first.defer_reply("m-1")                                 # its reply was due by sendsms
    first.close()

    again = Spool(path, clock=clock)
    assert sorted(e.message.message_id for e in again.pending()) == ["m-0", "m-1", "m-2"]
    assert [e.message.message_id for e in again.due(clock.now())] == ["m-2"]  # m-0 still leased
    assert again.release_all() == 1
    assert sorted(e.message.message_id for e in again.due(clock.now())) == ["m-0", "m-2"]
    assert again.get("m-0").message.text == "صباح ô ç"
    assert [e.message.message_id for e in again.replies_due(clock.now())] == ["m-1"]


def test_claim_serialises_submissions(spool, make_message):
    spool.store(make_message("m-1"))
    assert spool.claim("m-1", lease=timedelta(seconds=30)) is True
    assert spool.claim("m-1", lease=timedelta(seconds=30)) is False
    assert spool.due(spool._clock.now()) == []
    spool.mark_retry("m-1", 1, spool._clock.now(), "down")   # ends the lease
    assert spool.claim("m-1", lease=timedelta(seconds=30)) is True


def test_expired_lease_can_be_claimed_again(spool, clock, make_message):
    spool.store(make_message("m-1"))
    assert spool.claim("m-1", lease=timedelta(seconds=30))
    clock.advance(timedelta(seconds=31))
    assert spool.claim("m-1", lease=timedelta(seconds=30))


def test_retry_schedule_is_durable(spool, clock, make_message):
    spool.store(make_message("m-1"))
    spool.mark_retry("m-1", 1, clock.now() + timedelta(seconds=10), "unavailable")
    assert spool.due(clock.now()) == []
    clock.advance(timedelta(seconds=10))
    (entry,) = spool.due(clock.now())
    assert entry.attempts == 1 and entry.last_error == "unavailable"


def test_done_and_failed_leave_the_queue(spool, make_message):
    spool.store(make_message("ok"))
    spool.store(make_message("bad"))
    spool.mark_done("ok", receipt("ok"))
    spool.mark_failed("bad", "Client fault UNKNOWN_SERVICE_NUMBER")
    assert spool.get("ok").state == DONE and spool.get("ok").receipt == receipt("ok")
    assert spool.get("bad").state == FAILED
    assert spool.due(spool._clock.now()) == []
    assert spool.defer_reply("bad") is False              # a failed message owes no reply
    assert spool.counts()[FAILED] == 1


def test_reply_goes_out_exactly_once_by_one_route(spool, make_message):
    spool.store(make_message("http"))
    spool.mark_done("http", receipt("http"))
    assert spool.take_http_reply("http") == "Votre code: K7M2P9"
    assert spool.defer_reply("http") is False              # already answered over HTTP
    assert spool.take_http_reply("http") == "Votre code: K7M2P9"  # a Kannel retry gets it again

    spool.store(make_message("late"))
    assert spool.defer_reply("late") is True               # answered 202 before the receipt
    spool.mark_done("late", receipt("late"))
    assert spool.take_http_reply("late") is None           # sendsms owns it now
    assert [e.message.message_id for e in spool.replies_due(spool._clock.now())] == ["late"]
    spool.mark_reply_sent("late")
    assert spool.get("late").reply_state == REPLY_SENT
    assert spool.take_http_reply("late") is None
    assert spool.replies_due(spool._clock.now()) == []


def test_orphan_reply_is_handed_to_sendsms_on_start(spool, make_message):
    spool.store(make_message("m-1"))
    spool.mark_done("m-1", receipt("m-1"))                 # died before answering Kannel
    assert spool.defer_orphan_replies() == 1
    assert spool.get("m-1").reply_state == REPLY_PENDING


def test_uses_wal_and_full_sync(spool):
    assert spool._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert spool._db.execute("PRAGMA synchronous").fetchone()[0] == 2


@given(attempt=st.integers(min_value=1, max_value=10_000), seed=st.integers())
def test_backoff_is_bounded_by_the_cap(attempt, seed):
    delay = next_delay(attempt, random.Random(seed), base=2.0, cap=300.0)
    assert 0.0 <= delay <= 300.0


def test_backoff_ceiling_doubles_then_caps():
    class Top(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return b

    assert [next_delay(n, Top(), base=2.0, cap=60.0) for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]


def test_backoff_accepts_the_system_random():
    assert 0 <= next_delay(3, secrets.SystemRandom(), base=1.0, cap=4.0) <= 4.0
    with pytest.raises(ValueError):
        next_delay(0, random.Random(1))
