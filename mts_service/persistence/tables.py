"""The schema, in one place. Alembic migrations create exactly this.

Amounts are BIGINT minor units with a currency column; times are timezone-aware UTC
(stored as ISO text-compatible DateTime(timezone=True)).
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
)

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
    Index("ix_grants_customer_kind_status", "customer_id", "kind", "status"),
    Index("ix_grants_status_expires", "status", "expires_at"),
    Index("ix_grants_beneficiary", "beneficiary", "kind", "status"),
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
    Index("ix_messages_beneficiary_grant", "beneficiary", "grant_id"),
    Index("ix_messages_day_number", "day", "service_number"),
    Index("ix_messages_billing_status", "billing_status"),
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
    Index("ix_ledger_customer", "customer_id", "entry_id"),
    Index("ix_ledger_day_number", "day", "premium_number"),
    Index("ix_ledger_grant", "grant_id"),
)

# WS-Security replay cache: one INSERT per signed request; the unique key makes it atomic
# across processes and nodes.
replay_cache = Table(
    "replay_cache",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("expires_at", UtcDateTime, nullable=False),
    Index("ix_replay_cache_expires", "expires_at"),
)

__all__ = ["metadata", "policies", "customers", "wallets", "grants", "messages", "orders", "ledger", "replay_cache"]
