"""Settings, built once at the edge (CLI, WSGI entry point) and passed down.

``Settings.from_env`` is pure: it reads the mapping it is given, touches no file and opens
no connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

DEFAULT_DATABASE = "var/mts.db"
DEFAULT_CERTS = "certs"
SQLITE_SYNCHRONOUS = ("normal", "full")
"""SQLite's ``PRAGMA synchronous`` levels an operator may choose (see ``Settings.sqlite_synchronous``)."""


@dataclass(frozen=True)
class Settings:
    database_url: str = f"sqlite+pysqlite:///{DEFAULT_DATABASE}"
    """SQLAlchemy URL: a SQLite file by default, ``postgresql://...`` for several nodes."""
    certs_dir: Path = Path(DEFAULT_CERTS)
    """Where the dev PKI (and the service secret) live; see ``mts-service certs``."""
    secret_file: Path | None = None
    """Hex file holding the deployment secret (code hashing, receipt sealing); shared by all nodes."""
    default_region: str = "MA"
    """Region used to read national-format phone numbers."""
    security: bool = True
    """WS-Security on every request and response. Off only for tests and the bare benchmark."""
    max_request_bytes: int = 256 * 1024
    pool_size: int = 5
    sqlite_synchronous: str = "normal"
    """A SQLite store's durability. ``normal``: a commit survives a crash of the process but is
    fsynced only at the next WAL checkpoint, so a power loss can take the last commits
    (up to 256 per worker). ``full``: every commit is fsynced before it is answered (the
    benchmark measured about 22 % fewer signed requests per second). PostgreSQL ignores it."""
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def secret_path(self) -> Path:
        return self.secret_file or self.certs_dir / "mts-secret.hex"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        def flag(name: str, default: bool) -> bool:
            value = environ.get(name)
            return default if value is None else value.strip().lower() in ("1", "true", "yes", "on")

        return cls(
            database_url=environ.get("MTS_DATABASE_URL", cls.database_url),
            certs_dir=Path(environ.get("MTS_CERTS_DIR", DEFAULT_CERTS)),
            secret_file=Path(environ["MTS_SECRET_FILE"]) if environ.get("MTS_SECRET_FILE") else None,
            default_region=environ.get("MTS_DEFAULT_REGION", "MA"),
            security=flag("MTS_SECURITY", True),
            max_request_bytes=int(environ.get("MTS_MAX_REQUEST_BYTES", 256 * 1024)),
            pool_size=int(environ.get("MTS_POOL_SIZE", 5)),
            sqlite_synchronous=sqlite_synchronous(environ.get("MTS_SQLITE_SYNCHRONOUS", cls.sqlite_synchronous)),
        )


def sqlite_synchronous(value: str) -> str:
    """A ``PRAGMA synchronous`` level from configuration, refused unless it is one we support."""
    level = value.strip().lower()
    if level not in SQLITE_SYNCHRONOUS:
        raise ValueError(f"MTS_SQLITE_SYNCHRONOUS must be one of {', '.join(SQLITE_SYNCHRONOUS)}, not {value!r}")
    return level
