"""Errors of the shop and admin clients: the same tree as the gateway client's.

* MtsClientError (= gateway_client.errors.GatewayClientError)
  + MtsFaultError        the MTS answered with a SOAP Fault: ``code`` (an ErrorCode value such
  |                      as UNKNOWN_CUSTOMER, INVALID_CODE, NOT_AUTHORIZED), ``message``,
  |                      ``side`` (Client: fix the request; Server: ours, may pass),
  |                      ``request_id`` (quote it to the MTS operator)
  + ServiceUnavailable   unreachable, timed out, or an answer that could not be read
    - UntrustedResponse  the answer's WS-Security signature was refused
* InvalidPolicyFile      a policy file that cannot be read or has the wrong shape (local check)
"""

from __future__ import annotations

from gateway_client.errors import GatewayClientError as MtsClientError
from gateway_client.errors import MtsFaultError, ServiceUnavailable
from gateway_client.soap_client import UntrustedResponse


class InvalidPolicyFile(ValueError):
    """The policy file is not YAML/JSON, or its keys or types are wrong (checked before sending)."""


__all__ = ["InvalidPolicyFile", "MtsClientError", "MtsFaultError", "ServiceUnavailable", "UntrustedResponse"]
