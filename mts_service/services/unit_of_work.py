"""The unit-of-work port: one use case = one database transaction.

Leaving the ``with`` block rolls back unless ``commit()`` was called. A transaction that
lost a race the database detected (unique key taken by a concurrent request, deadlock,
serialisation failure, SQLite busy) raises ``TransientConflict``: the use case is safe to
run again from the start, and ``run_in_transaction`` does so.
"""

from __future__ import annotations

from typing import Callable, Protocol, TypeVar

from mts_service.errors import ServiceUnavailable

T = TypeVar("T")


class TransientConflict(Exception):
    """A concurrent transaction won; re-running the whole use case will see its result."""


class UnitOfWork(Protocol):
    customers: object
    grants: object
    orders: object
    ledger: object
    messages: object
    policies: object
    wallets: object

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(self, *exc: object) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


UnitOfWorkFactory = Callable[..., UnitOfWork]

MAX_ATTEMPTS = 5


def run_in_transaction(uow_factory: UnitOfWorkFactory, work: Callable[[UnitOfWork], T], *, write: bool = True) -> T:
    """Run ``work`` in a fresh transaction, again if it lost a race; commit when it returns.

    ``work`` may commit by itself before raising (a failed code attempt must be counted even
    though the call fails); the final rollback is then a no-op.
    """
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            with uow_factory(write=write) as uow:
                result = work(uow)
                uow.commit()
                return result
        except TransientConflict as exc:
            if attempt == MAX_ATTEMPTS:
                # Still losing, or the database is gone: a Server fault the caller may retry
                # (every use case is idempotent by its key).
                raise ServiceUnavailable("the database is busy or unreachable; retry later") from exc
    raise AssertionError("unreachable")
