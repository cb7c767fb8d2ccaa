"""The schema, in one place. Alembic migrations create exactly this.

Amounts are BIGINT minor units with a currency column; times are timezone-aware UTC
(stored as ISO text-compatible DateTime(timezone=True)).

Every B-tree a transaction changes is at least one more page written to the WAL at COMMIT
(and copied back at the next checkpoint): about 6 us of CPU each on SQLite. So the tables
that a SubmitSms writes carry no index that no query uses, and an index that serves only
some rows is partial (``_where``), so that the other rows' inserts do not touch it. Their
queries name the predicate in a form both planners match: ``col = :x`` implies
``col IS NOT NULL``; a value (``kind = 'DEPOSIT'``) must appear as that literal, not as a
bound parameter. Small tables keyed by a random string are WITHOUT ROWID on SQLite: the
row lives in its primary-key B-tree, not in a rowid table plus a separate key index.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)

from mts_service.persistence.types import UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

policies = Table(
    "policies",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    # A random id per stored version: the process-wide decode cache is keyed on it, so two
    # databases (or a wiped one) never share a cached policy under the same version number.
    Column("uid", String(36), nullable=False, unique=True),
    Column("body", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

customers = Table(
    "customers",
    metadata,
    Column("customer_id", Integer, primary_key=True, autoincrement=True),
    Column("reference", String(64), nullable=False, unique=True),
    Column("username", String(64)),
    Column("username_key", String(64), unique=True),
    Column("mobile", String(32), unique=True),
    Column("language", String(8)),
    Column("status", String(16), nullable=False),
    Column("forfeit_count", Integer, nullable=False, default=0),
    Column("failed_code_attempts", Integer, nullable=False, default=0),
    Column("attempt_window_start", UtcDateTime),
    Column("code_locked_until", UtcDateTime),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Payments not yet turned into a grant, one row per beneficiary ("c:<id>" or "s:<sender>").
# The row is also the lock that serialises the payments of one beneficiary.
wallets = Table(
    "wallets",
    metadata,
    Column("beneficiary", String(160), primary_key=True),
    Column("kind", String(16)),
    Column("sms_count", Integer, nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    sqlite_with_rowid=False,
)


def _where(condition: str) -> dict:
    """A partial index's predicate, for both dialects."""
    return {"sqlite_where": text(condition), "postgresql_where": text(condition)}


grants = Table(
    "grants",
    metadata,
    Column("grant_id", String(36), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("value_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("policy_version", Integer, nullable=False),
    Column("premium_number", String(32), nullable=False),
    Column("operator", String(64)),
    Column("customer_id", Integer, ForeignKey("customers.customer_id")),
    Column("sender", String(160)),
    Column("beneficiary", String(160), nullable=False),
    Column("orders_allowed", Integer),
    Column("orders_used", Integer, nullable=False, default=0),
    Column("validity_seconds", BigInteger),
    Column("expires_at", UtcDateTime),
    Column("code_hash", String(64), unique=True),
    Column("code_expires_at", UtcDateTime),
    Column("order_id", String(64)),
    Column("created_at", UtcDateTime, nullable=False),
    Column("activated_at", UtcDateTime),
    Column("revoked_at", UtcDateTime),
    Column("revoke_reason", String(256)),
    Column("revoke_order_id", String(64)),
    # A code's grant has no customer until it is redeemed: customer look-ups never need it.
    Index("ix_grants_customer_kind_status", "customer_id", "kind", "status", **_where("customer_id IS NOT NULL")),
    Index("ix_grants_status_expires", "status", "expires_at"),
    # Only BOTH mode's "has this beneficiary a live deposit?" looks grants up by beneficiary.
    Index("ix_grants_deposit_beneficiary", "beneficiary", "status", **_where("kind = 'DEPOSIT'")),
)

messages = Table(
    "messages",
    metadata,
    Column("message_id", String(128), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("channel", String(8), nullable=False),
    Column("sender", String(160), nullable=False),
    Column("service_number", String(32), nullable=False),
    Column("text_key", String(1600), nullable=False),
    Column("operator", String(64)),
    Column("received_at", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("day", String(10), nullable=False),
    Column("credited", Boolean, nullable=False),
    Column("price_minor", BigInteger, nullable=False),
    Column("net_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("beneficiary", String(160)),
    Column("customer_id", Integer),
    Column("grant_id", String(36)),
    Column("flow", String(16)),
    Column("flags", String(128), nullable=False, default=""),
    Column("outcome", String(16), nullable=False),
    Column("language", String(8), nullable=False),
    # The reply holds the code: sealed (AES-GCM under a server key) so a duplicate gets the
    # identical receipt while the database never holds a usable code in clear.
    Column("reply_sealed", LargeBinary, nullable=False),
    Column("billing_status", String(16), nullable=False, default="UNCONFIRMED"),
    # Set when the operator's word arrives (ReportBilling / ConfirmBilling); a repeated
    # report is answered from these. The reply of a held credit is sealed like reply_sealed.
    Column("billed_at", UtcDateTime),
    Column("billing_outcome", String(16)),
    Column("billing_recovery", String(16)),
    Column("billing_reply_sealed", LargeBinary),
    Index("ix_messages_sender_received", "sender", "received_at"),
    # Payments a wallet holds, waiting for the grant they will make up (assign_grant).
    Index("ix_messages_unassigned", "beneficiary", **_where("grant_id IS NULL")),
    Index("ix_messages_day_number", "day", "service_number"),
    # Held messages (paid, credited once billed): few, and summed by held_total.
    Index("ix_messages_held", "billing_status", **_where("billing_status = 'HELD'")),
)

orders = Table(
    "orders",
    metadata,
    Column("order_id", String(64), primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.customer_id"), nullable=False),
    Column("total_minor", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("delivery_mode", String(8), nullable=False),
    Column("pickup_point_id", String(64)),
    Column("advance_applied_minor", BigInteger, nullable=False),
    Column("cod_due_minor", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("advance_grant_id", String(36)),
    Column("deposit_grant_id", String(36)),
    Column("placed_at", UtcDateTime, nullable=False),
    Column("outcome_at", UtcDateTime),
    Index("ix_orders_customer", "customer_id"),
)

ledger = Table(
    "ledger",
    metadata,
    Column("entry_id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(24), nullable=False),
    Column("amount_minor", BigInteger, nullable=False),
    Column("net_minor", BigInteger),
    Column("currency", String(3), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("day", String(10), nullable=False),
    Column("customer_id", Integer),
    Column("grant_id", String(36)),
    Column("order_id", String(64)),
    Column("message_id", String(128)),
    Column("premium_number", String(32)),
    Column("operator", String(64)),
    Column("note", String(256)),
    # BILLING_REVERSAL only: where the failed payment was taken back from (domain Recovery).
    Column("recovery", String(16)),
    # Entries are listed per customer; entries of not-yet-redeemed codes have none. No
    # query looks entries up by grant, so there is no index on grant_id.
    Index("ix_ledger_customer", "customer_id", "entry_id", **_where("customer_id IS NOT NULL")),
    Index("ix_ledger_day_number", "day", "premium_number"),
)

# WS-Security replay cache: one INSERT per signed request; the unique key makes it atomic
# across processes and nodes.
replay_cache = Table(
    "replay_cache",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("expires_at", UtcDateTime, nullable=False),
    Index("ix_replay_cache_expires", "expires_at"),
    sqlite_with_rowid=False,
)

__all__ = ["metadata", "policies", "customers", "wallets", "grants", "messages", "orders", "ledger", "replay_cache"]
