"""Fixtures of the gateway tests: spool, messages, stand-ins, and a REAL Kannel.

The ``kannel`` fixture starts Debian's bearerbox and smsbox with the config rendered by
gateway_client.kannel_config (so the printed config is the tested one) and fakesmsc as the
phone network, all on free 127.0.0.1 ports in a tmp dir, and stops them by PID.
"""

from __future__ import annotations

import itertools
import sys
from datetime import datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # gw_fakes, gw_kannel beside the tests

from gateway_client.models import Channel, InboundMessage  # noqa: E402
from gateway_client.spool import Spool  # noqa: E402
from mts_service.clock import UTC, FixedClock  # noqa: E402

from gw_fakes import FakeMts, RecordingSender  # noqa: E402
from gw_kannel import BEARERBOX, KannelHarness  # noqa: E402


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def spool(tmp_path, clock):
    s = Spool(tmp_path / "spool.db", clock=clock)
    yield s
    s.close()


_ids = itertools.count(1)


@pytest.fixture
def make_message(clock):
    def make(message_id: str | None = None, *, sender: str = "+33612345678", service_number: str = "7575",
             text: str = "CODE") -> InboundMessage:
        return InboundMessage(
            message_id=message_id or f"msg-{next(_ids)}", sender=sender, service_number=service_number,
            text=text, received_at=clock.now(), channel=Channel.SMS,
        )
    return make


@pytest.fixture
def fake_mts() -> FakeMts:
    return FakeMts()


@pytest.fixture
def recording_sender() -> RecordingSender:
    return RecordingSender()


@pytest.fixture(scope="module")
def kannel(tmp_path_factory):
    """bearerbox + smsbox + fakesmsc, shared by a module's tests (distinct phone numbers)."""
    if not Path(BEARERBOX).exists():
        pytest.skip(f"{BEARERBOX} is missing: apt-get install -y kannel kannel-extras")
    harness = KannelHarness(tmp_path_factory.mktemp("kannel"))
    harness.start()
    try:
        yield harness
    finally:
        harness.stop()
