from __future__ import annotations

import json
import uuid
from datetime import datetime

from sqlalchemy import bindparam, select

from mts_service.persistence.fastsql import Db, Prepared, insert_row

from mts_service.domain.policy import Policy
from mts_service.domain.policy_codec import policy_from_dict, policy_to_dict
from mts_service.persistence.tables import policies as t

_CURRENT = Prepared(select(t.c.version, t.c.uid).order_by(t.c.version.desc()).limit(1))
_BODY = Prepared(select(t.c.body).where(t.c.uid == bindparam("uid")))
_INSERT = Prepared(insert_row(t))

# Policies are immutable per version, so a decoded policy can be shared by every request of
# the process; only (version, uid) of the current one is read per transaction.
_decoded: dict[str, Policy] = {}


class PolicyRepository:
    def __init__(self, db: Db) -> None:
        self._db = db

    def current_version(self) -> int:
        row = self._db.execute(_CURRENT).first()
        return row.version if row else 0

    def current(self) -> Policy | None:
        row = self._db.execute(_CURRENT).first()
        if row is None:
            return None
        return self._decode(row.version, row.uid)

    def _decode(self, version: int, uid: str) -> Policy:
        cached = _decoded.get(uid)
        if cached is None:
            body = self._db.execute(_BODY, {"uid": uid}).scalar_one()
            cached = _decoded[uid] = policy_from_dict(json.loads(body)).with_version(version)
        return cached

    def add(self, policy: Policy, now: datetime) -> Policy:
        """Store ``policy`` as the next version; a racing writer makes the INSERT fail."""
        version = self.current_version() + 1
        stored = policy.with_version(version)
        self._db.execute(
            _INSERT, {"version": version, "uid": str(uuid.uuid4()), "body": json.dumps(policy_to_dict(stored), sort_keys=True), "created_at": now}
        )
        return stored
