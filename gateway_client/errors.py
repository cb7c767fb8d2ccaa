"""Errors of the gateway client.

* GatewayClientError
  + MtsFaultError        the MTS answered with a SOAP Fault (code, message, side)
  + ServiceUnavailable   the MTS could not be reached, timed out, or answered garbage;
                         retry later with the same messageId
"""

from __future__ import annotations


class GatewayClientError(Exception):
    pass


class MtsFaultError(GatewayClientError):
    def __init__(self, code: str, message: str, *, side: str = "Client", request_id: str | None = None) -> None:
        super().__init__(f"{side} fault {code}: {message}")
        self.code = code
        self.message = message
        self.side = side
        self.request_id = request_id

    @property
    def retryable(self) -> bool:
        """A Server fault is ours and may pass; a Client fault will not change on retry."""
        return self.side == "Server"


class ServiceUnavailable(GatewayClientError):
    pass
