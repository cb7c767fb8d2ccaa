"""The one enumerated list of MTS error codes, and the exception tree that carries them.

Every refusal MTS makes, in the domain, the SOAP layer or the WS-Security layer, is an
``MtsError`` whose ``code`` is an ``ErrorCode``. The SOAP layer turns it into a Fault:
``Client`` when the caller can fix it, ``Server`` when it is ours. The detail carries the
code's value and a message that never holds a secret.

Exception tree::

    MtsError
      + DomainError            expected business refusals (Client)
      |   - NotFound             unknown customer, grant, order, premium number
      |   - Conflict             message-id or order-id reused with other content, ...
      |   - CodeRefused          invalid, expired or locked code
      |   - NotAuthorized        no usable advance or deposit
      |   - InvalidInput         bad amount, currency, phone number, policy, state
      + SecurityError          WS-Security / XML refusals (Client)
      + InternalError          our fault (Server); the message is always generic
"""

from __future__ import annotations

import enum
from typing import Any


class FaultSide(enum.Enum):
    CLIENT = "Client"
    SERVER = "Server"


class ErrorCode(str, enum.Enum):
    """Every code a caller can see in a fault detail. Values are the wire spelling."""

    # caller input
    INVALID_INPUT = "INVALID_INPUT"
    INVALID_AMOUNT = "INVALID_AMOUNT"
    CURRENCY_MISMATCH = "CURRENCY_MISMATCH"
    INVALID_PHONE_NUMBER = "INVALID_PHONE_NUMBER"
    INVALID_POLICY = "INVALID_POLICY"
    # unknown things
    UNKNOWN_CUSTOMER = "UNKNOWN_CUSTOMER"
    UNKNOWN_PREMIUM_NUMBER = "UNKNOWN_PREMIUM_NUMBER"
    UNKNOWN_GRANT = "UNKNOWN_GRANT"
    UNKNOWN_ORDER = "UNKNOWN_ORDER"
    UNKNOWN_MESSAGE = "UNKNOWN_MESSAGE"
    # conflicts and states
    CUSTOMER_CONFLICT = "CUSTOMER_CONFLICT"
    MESSAGE_ID_CONFLICT = "MESSAGE_ID_CONFLICT"
    ORDER_CONFLICT = "ORDER_CONFLICT"
    ORDER_STATE_CONFLICT = "ORDER_STATE_CONFLICT"
    POLICY_VERSION_CONFLICT = "POLICY_VERSION_CONFLICT"
    # codes and authorization
    INVALID_CODE = "INVALID_CODE"
    CODE_EXPIRED = "CODE_EXPIRED"
    CODE_LOCKED = "CODE_LOCKED"
    NOT_AUTHORIZED = "NOT_AUTHORIZED"
    CUSTOMER_BLOCKED = "CUSTOMER_BLOCKED"
    # transport, XML and WS-Security
    REQUEST_TOO_LARGE = "REQUEST_TOO_LARGE"
    XML_MALFORMED = "XML_MALFORMED"
    XML_FORBIDDEN = "XML_FORBIDDEN"
    SOAP_VERSION_MISMATCH = "SOAP_VERSION_MISMATCH"
    SOAP_MUST_UNDERSTAND = "SOAP_MUST_UNDERSTAND"
    SCHEMA_INVALID = "SCHEMA_INVALID"
    UNKNOWN_OPERATION = "UNKNOWN_OPERATION"
    SECURITY_UNSIGNED = "SECURITY_UNSIGNED"
    SECURITY_BAD_SIGNATURE = "SECURITY_BAD_SIGNATURE"
    SECURITY_UNTRUSTED_CERT = "SECURITY_UNTRUSTED_CERT"
    SECURITY_EXPIRED = "SECURITY_EXPIRED"
    SECURITY_REPLAY = "SECURITY_REPLAY"
    SECURITY_ROLE = "SECURITY_ROLE"
    SECURITY_ALGORITHM = "SECURITY_ALGORITHM"
    # ours
    INTERNAL_ERROR = "INTERNAL_ERROR"
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"

    @property
    def side(self) -> FaultSide:
        if self in (ErrorCode.INTERNAL_ERROR, ErrorCode.SERVICE_UNAVAILABLE):
            return FaultSide.SERVER
        return FaultSide.CLIENT

    @classmethod
    def _missing_(cls, value: object) -> "ErrorCode":
        raise InvalidInput(f"unknown error code {value!r}")


class MtsError(Exception):
    """Root of every error MTS raises on purpose.

    ``fields`` carries the data of the refusal (grant id, order id, ...) for logs and
    callers; the message is safe to show to the caller and never holds a secret.
    """

    code: ErrorCode = ErrorCode.INTERNAL_ERROR

    def __init__(self, message: str, *, code: ErrorCode | None = None, **fields: Any) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.fields = fields

    @property
    def side(self) -> FaultSide:
        return self.code.side

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code.value}: {self.message})"


class DomainError(MtsError):
    """An expected business refusal; the caller can act on it."""


class NotFound(DomainError):
    pass


class UnknownCustomer(NotFound):
    code = ErrorCode.UNKNOWN_CUSTOMER


class UnknownPremiumNumber(NotFound):
    code = ErrorCode.UNKNOWN_PREMIUM_NUMBER


class UnknownGrant(NotFound):
    code = ErrorCode.UNKNOWN_GRANT


class UnknownOrder(NotFound):
    code = ErrorCode.UNKNOWN_ORDER


class UnknownMessage(NotFound):
    code = ErrorCode.UNKNOWN_MESSAGE


class Conflict(DomainError):
    pass


class CustomerConflict(Conflict):
    code = ErrorCode.CUSTOMER_CONFLICT


class MessageIdConflict(Conflict):
    code = ErrorCode.MESSAGE_ID_CONFLICT


class OrderConflict(Conflict):
    code = ErrorCode.ORDER_CONFLICT


class OrderStateConflict(Conflict):
    code = ErrorCode.ORDER_STATE_CONFLICT


class PolicyVersionConflict(Conflict):
    code = ErrorCode.POLICY_VERSION_CONFLICT


class CodeRefused(DomainError):
    pass


class InvalidCode(CodeRefused):
    code = ErrorCode.INVALID_CODE


class CodeExpired(CodeRefused):
    code = ErrorCode.CODE_EXPIRED


class CodeLocked(CodeRefused):
    code = ErrorCode.CODE_LOCKED


class NotAuthorized(DomainError):
    code = ErrorCode.NOT_AUTHORIZED


class CustomerBlocked(NotAuthorized):
    code = ErrorCode.CUSTOMER_BLOCKED


class InvalidInput(DomainError, ValueError):
    code = ErrorCode.INVALID_INPUT


class InvalidAmount(InvalidInput):
    code = ErrorCode.INVALID_AMOUNT


class CurrencyMismatch(InvalidInput):
    code = ErrorCode.CURRENCY_MISMATCH


class InvalidPhoneNumber(InvalidInput):
    code = ErrorCode.INVALID_PHONE_NUMBER


class InvalidPolicy(InvalidInput):
    code = ErrorCode.INVALID_POLICY


class SecurityError(MtsError):
    """A message refused by the XML or WS-Security checks. Always a Client fault."""

    code = ErrorCode.SECURITY_BAD_SIGNATURE


class InternalError(MtsError):
    """Our failure. The caller only ever sees the generic message and a request id."""

    code = ErrorCode.INTERNAL_ERROR

    def __init__(self, message: str = "internal error", **fields: Any) -> None:
        super().__init__(message, **fields)


class ServiceUnavailable(InternalError):
    code = ErrorCode.SERVICE_UNAVAILABLE
