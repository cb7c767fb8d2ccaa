"""Composition root: settings -> engine -> unit of work -> service context."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine, make_url

from mts_service.clock import Clock, SystemClock
from mts_service.config import Settings
from mts_service.persistence.engine import make_engine
from mts_service.persistence.unit_of_work import uow_factory
from mts_service.services.context import ServiceContext
from mts_service.services.keys import ServiceKeys, load_or_create_secret


def engine_for(settings: Settings) -> Engine:
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    return make_engine(settings.database_url, pool_size=settings.pool_size, sqlite_synchronous=settings.sqlite_synchronous)


def service_context(settings: Settings, *, engine: Engine | None = None, clock: Clock | None = None, secret: bytes | None = None) -> ServiceContext:
    engine = engine or engine_for(settings)
    secret = secret or load_or_create_secret(settings.secret_path)
    return ServiceContext(
        uow_factory=uow_factory(engine),
        clock=clock or SystemClock(),
        keys=ServiceKeys.from_secret(secret),
        default_region=settings.default_region,
    )
