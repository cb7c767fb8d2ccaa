from __future__ import annotations

import pytest

from mts_service.clock import FixedClock
from mts_service.errors import ErrorCode, FaultSide, ServiceUnavailable
from mts_service.persistence.engine import make_engine
from mts_service.persistence.unit_of_work import uow_factory
from mts_service.services import customers
from mts_service.services.context import ServiceContext
from mts_service.services.keys import ServiceKeys
from tests.conftest import TEST_SECRET


def test_unreachable_database_is_a_retryable_server_fault():
    engine = make_engine("postgresql://postgres@127.0.0.1:1/test")
    ctx = ServiceContext(uow_factory(engine), FixedClock(), ServiceKeys.from_secret(TEST_SECRET))
    with pytest.raises(ServiceUnavailable) as caught:
        customers.get_authorization(ctx, "anyone")
    assert caught.value.code is ErrorCode.SERVICE_UNAVAILABLE and caught.value.side is FaultSide.SERVER
    engine.dispose()
