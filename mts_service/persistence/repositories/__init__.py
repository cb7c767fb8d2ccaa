"""One repository per aggregate, each a thin set of SQL statements over one connection.

Statements are built once at import so SQLAlchemy's compiled cache serves every call; each
repository method is one round trip, and the races are closed in the statements themselves
(conditional UPDATE ... WHERE status = ..., INSERT under a unique key).
"""

from mts_service.persistence.repositories.customers import CustomerRepository
from mts_service.persistence.repositories.grants import GrantRepository
from mts_service.persistence.repositories.ledger import LedgerRepository
from mts_service.persistence.repositories.messages import MessageRepository
from mts_service.persistence.repositories.orders import OrderRepository
from mts_service.persistence.repositories.policies import PolicyRepository
from mts_service.persistence.repositories.wallets import WalletRepository

__all__ = [
    "CustomerRepository",
    "GrantRepository",
    "LedgerRepository",
    "MessageRepository",
    "OrderRepository",
    "PolicyRepository",
    "WalletRepository",
]
