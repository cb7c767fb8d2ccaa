"""What every use case needs besides its command: the unit of work, the clock, the keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from mts_service.clock import Clock
from mts_service.services.keys import ServiceKeys
from mts_service.services.unit_of_work import UnitOfWorkFactory


@dataclass(frozen=True)
class ServiceContext:
    uow_factory: UnitOfWorkFactory
    clock: Clock
    keys: ServiceKeys
    default_region: str = "MA"
    """Region used to read national-format phone numbers (ISO 3166 alpha-2)."""
    near_duplicate_window: timedelta = timedelta(minutes=1)
    """Same sender, number and text within this window under another id is flagged for review."""
