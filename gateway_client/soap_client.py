"""What the gateway, shop and admin clients share: a zeep client on the MTS contract.

One place builds the zeep client (WSDL file from ``wsdl/``, endpoint overridden), the
signing plugin (the role's certificate and key under ``certs/``, responses verified
against ``certs/ca.pem``), the HTTP session (TLS verified against ``certs/ca.pem``, the
role certificate offered for mutual TLS, timeouts) and the error mapping::

    zeep.exceptions.Fault            -> MtsFaultError(code, message, side, request_id)
                                        (code and request id from the urn:mts:fault:v1 detail,
                                        side from the faultcode: Client | Server)
    connection refused, timeout,
    HTTP error without a SOAP body,
    unparsable answer                -> ServiceUnavailable
    response signature not valid     -> UntrustedResponse (a ServiceUnavailable: the call
                                        may be retried, but it is logged loudly)

No zeep object leaves this module's callers: they turn ``call``'s result into frozen
dataclasses.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

import requests
import zeep
from lxml import etree
from zeep.exceptions import Fault, TransportError, XMLSyntaxError
from zeep.transports import Transport

from mts_service.clock import Clock
from mts_service.pki import load_certificate, load_private_key
from mts_service.wssec.trust import TrustStore
from mts_service.wssec.zeep_wsse import MtsSignature, MtsSignatureVerificationFailed

from .errors import MtsFaultError, ServiceUnavailable

log = logging.getLogger(__name__)

FAULT_NS = "urn:mts:fault:v1"
DEFAULT_URL = "https://localhost:8443"
DEFAULT_CERTS_DIR = "certs"
DEFAULT_TIMEOUT = 10.0

T = TypeVar("T")


class UntrustedResponse(ServiceUnavailable):
    """The answer's WS-Security signature did not verify (wrong signer, stale, tampered)."""


@dataclass(frozen=True)
class ClientConfig:
    """How a client reaches the MTS. Build it once at the edge (CLI, application start)."""

    url: str = DEFAULT_URL
    """Base URL of the MTS; the service path (``/gateway``, ``/shop``, ``/admin``) is appended."""
    certs_dir: Path = Path(DEFAULT_CERTS_DIR)
    """Where ``<role>.pem``, ``<role>.key`` and ``ca.pem`` live (``mts-service certs``)."""
    security: bool = True
    """Sign requests and verify responses (WS-Security). Off only against a server run without it."""
    verify: str | bool | None = None
    """TLS server verification: a CA bundle path, True (system store) or False. None: certs/ca.pem."""
    client_cert: bool = True
    """Offer the role certificate for mutual TLS when the URL is https and the files exist."""
    timeout: float = DEFAULT_TIMEOUT
    """Seconds per HTTP operation (connect and read)."""
    wsdl_dir: Path | None = None
    """Where the WSDL files are; None: ``$MTS_WSDL_DIR``, the package, the repository's ``wsdl/``."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str], **overrides: Any) -> ClientConfig:
        """``MTS_URL``, ``MTS_CERTS_DIR``, ``MTS_SECURITY`` (0/1), ``MTS_TLS_VERIFY``, ``MTS_TIMEOUT``."""
        values: dict[str, Any] = {}
        if environ.get("MTS_URL"):
            values["url"] = environ["MTS_URL"]
        if environ.get("MTS_CERTS_DIR"):
            values["certs_dir"] = Path(environ["MTS_CERTS_DIR"])
        if environ.get("MTS_SECURITY"):
            values["security"] = environ["MTS_SECURITY"].strip().lower() in ("1", "true", "yes", "on")
        if environ.get("MTS_TLS_VERIFY"):
            raw = environ["MTS_TLS_VERIFY"].strip()
            values["verify"] = {"0": False, "false": False, "1": True, "true": True}.get(raw.lower(), raw)
        if environ.get("MTS_TIMEOUT"):
            values["timeout"] = float(environ["MTS_TIMEOUT"])
        if environ.get("MTS_WSDL_DIR"):
            values["wsdl_dir"] = Path(environ["MTS_WSDL_DIR"])
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)

    def with_url(self, url: str) -> ClientConfig:
        return replace(self, url=url)

    @property
    def ca_path(self) -> Path:
        return self.certs_dir / "ca.pem"

    def endpoint(self, service: str) -> str:
        return f"{self.url.rstrip('/')}/{service}"


# -- the pieces ---------------------------------------------------------------------------

def find_wsdl(service: str, wsdl_dir: Path | None = None) -> Path | None:
    """The WSDL file of ``service`` (``gateway.wsdl``...), or None if no copy is installed."""
    name = f"{service}.wsdl"
    candidates: list[Path] = []
    if wsdl_dir is not None:
        candidates.append(Path(wsdl_dir))
    if os.environ.get("MTS_WSDL_DIR"):
        candidates.append(Path(os.environ["MTS_WSDL_DIR"]))
    here = Path(__file__).resolve().parent
    candidates += [
        here / "wsdl",                                     # shipped as package data
        here.parent / "wsdl",                              # a source checkout
        Path(sys.prefix) / "share" / "mts-service" / "wsdl",  # installed as data files
    ]
    for directory in candidates:
        path = directory / name
        if path.is_file():
            return path
    return None


class _PinnedVerifySession(requests.Session):
    """A session whose ``verify`` wins over ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE``.

    requests lets those variables replace ``Session.verify`` whenever a call passes no
    ``verify`` of its own, which is how zeep calls it. Proxies still come from the
    environment.
    """

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> dict[str, Any]:
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if verify is None:
            settings["verify"] = self.verify
        return settings


def _refuse_non_soap_status(response: requests.Response, *args: Any, **kwargs: Any) -> None:
    # MTS answers 200 or 500 (a signed Fault). Anything else is a proxy or balancer speaking
    # (haproxy's 503 page parses as XML): never hand it to the signature check.
    if response.status_code not in (200, 500):
        raise requests.HTTPError(f"HTTP {response.status_code} from {response.url}", response=response)


def make_session(config: ClientConfig, role: str) -> requests.Session:
    session = _PinnedVerifySession()
    session.hooks["response"].append(_refuse_non_soap_status)
    if config.verify is None:
        session.verify = str(config.ca_path) if config.ca_path.is_file() else True
    else:
        session.verify = config.verify
    cert, key = config.certs_dir / f"{role}.pem", config.certs_dir / f"{role}.key"
    if config.client_cert and config.url.startswith("https:") and cert.is_file() and key.is_file():
        session.cert = (str(cert), str(key))
    return session


def make_transport(config: ClientConfig, role: str) -> Transport:
    return Transport(session=make_session(config, role), timeout=config.timeout, operation_timeout=config.timeout)


def make_signature(certs_dir: Path, role: str, *, clock: Clock | None = None) -> MtsSignature:
    """The WS-Security plugin of ``role``: signs with ``<role>.pem``/``.key``, trusts ``ca.pem``."""
    certs_dir = Path(certs_dir)
    missing = [p for p in (certs_dir / f"{role}.pem", certs_dir / f"{role}.key", certs_dir / "ca.pem") if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"missing {', '.join(str(p) for p in missing)}: run `mts-service certs` or pass --certs-dir"
        )
    trust = TrustStore.from_pem_files(certs_dir / "ca.pem", purpose="server")
    return MtsSignature(
        load_private_key(certs_dir / f"{role}.key"), load_certificate(certs_dir / f"{role}.pem"),
        trust=trust, clock=clock,
    )


def zeep_service(
    wsdl: str | Path | None,
    endpoint: str,
    *,
    wsse: Any = None,
    transport: Transport | None = None,
) -> Any:
    """A zeep service proxy for the WSDL's only binding, bound to ``endpoint``.

    ``wsdl`` None loads the served ``endpoint?wsdl`` (needs the server up).
    """
    location = str(wsdl) if wsdl is not None else f"{endpoint}?wsdl"
    settings = zeep.Settings(strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    try:
        client = zeep.Client(location, wsse=wsse, transport=transport, settings=settings)
    except (requests.RequestException, TransportError) as exc:
        raise ServiceUnavailable(f"cannot load the WSDL from {location}: {exc}") from exc
    bindings = list(client.wsdl.bindings)
    if len(bindings) != 1:
        raise ValueError(f"{location}: expected one binding, found {len(bindings)}")
    return client.create_service(bindings[0], endpoint)


# -- errors ----------------------------------------------------------------------------------

def fault_side(faultcode: Any) -> str:
    """``soap:Client`` / ``Client.Schema`` / a QName -> ``Client`` or ``Server``."""
    text = str(getattr(faultcode, "localname", None) or faultcode or "")
    local = text.rsplit("}", 1)[-1].rsplit(":", 1)[-1]
    head = local.split(".", 1)[0]
    return "Client" if head.lower() in ("client", "sender") else "Server"


def fault_error(fault: Fault) -> MtsFaultError:
    """The MtsFaultError of a zeep Fault, reading the urn:mts:fault:v1 detail when present."""
    side = fault_side(fault.code)
    code = message = request_id = None
    detail = fault.detail
    if isinstance(detail, etree._Element):
        node = detail if detail.tag == f"{{{FAULT_NS}}}FaultDetail" else detail.find(f".//{{{FAULT_NS}}}FaultDetail")
        if node is not None:
            code = node.findtext(f"{{{FAULT_NS}}}code")
            message = node.findtext(f"{{{FAULT_NS}}}message")
            request_id = node.findtext(f"{{{FAULT_NS}}}requestId")
    if not code:
        code = "INVALID_INPUT" if side == "Client" else "INTERNAL_ERROR"
    return MtsFaultError(
        code.strip(), (message or fault.message or "").strip(), side=side, request_id=(request_id or None)
    )


def call(operation: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Call a zeep operation and translate every failure into the client error tree."""
    name = getattr(operation, "__name__", None) or getattr(operation, "_op_name", "operation")
    try:
        return operation(*args, **kwargs)
    except Fault as exc:
        if exc.code is None and not isinstance(exc.detail, etree._Element):
            # zeep's "Unknown fault occured": an error page (a proxy's 502 ...), not a SOAP Fault
            raise ServiceUnavailable(f"an answer without a SOAP fault: {exc.message}") from exc
        raise fault_error(exc) from None
    except MtsSignatureVerificationFailed as exc:
        log.error("MTS answer to %s failed WS-Security verification: %s", name, exc)
        raise UntrustedResponse(f"the answer's signature was refused: {exc}") from exc
    except requests.Timeout as exc:
        raise ServiceUnavailable(f"timed out: {exc}") from exc
    except requests.RequestException as exc:  # connection refused, TLS failure, reset
        raise ServiceUnavailable(f"unreachable: {exc}") from exc
    except TransportError as exc:  # an HTTP error whose body is not a SOAP envelope
        raise ServiceUnavailable(f"HTTP {exc.status_code} from the MTS") from exc
    except (XMLSyntaxError, etree.XMLSyntaxError) as exc:
        raise ServiceUnavailable(f"unparsable answer: {exc}") from exc


# -- the base of the three clients -----------------------------------------------------------

class SoapClient:
    """Base of GatewayClient, ShopClient and AdminClient.

    ``SoapClient(wsdl, endpoint=..., wsse=None, transport=None)`` takes everything
    injected (zeep's style: no signing unless ``wsse`` is given). ``from_config`` builds
    the defaults from ``certs/``: signing with the role's certificate, TLS verified
    against ``certs/ca.pem``.
    """

    service_name: str = ""
    role: str = ""

    def __init__(
        self,
        wsdl: str | Path | None = None,
        *,
        endpoint: str,
        wsse: Any = None,
        transport: Transport | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.wsse = wsse
        self._service = zeep_service(wsdl, endpoint, wsse=wsse, transport=transport)

    @classmethod
    def from_config(cls: type[C], config: ClientConfig, *, clock: Clock | None = None) -> C:
        role = cls.role
        wsse = make_signature(config.certs_dir, role, clock=clock) if config.security else None
        wsdl = find_wsdl(cls.service_name, config.wsdl_dir)
        return cls(wsdl, endpoint=config.endpoint(cls.service_name), wsse=wsse, transport=make_transport(config, role))

    @classmethod
    def connect(cls: type[C], url: str = DEFAULT_URL, **options: Any) -> C:
        """``from_config(ClientConfig(url=url, **options))``; e.g. ``certs_dir=..., security=False``."""
        clock = options.pop("clock", None)
        if "certs_dir" in options:
            options["certs_dir"] = Path(options["certs_dir"])
        return cls.from_config(ClientConfig(url=url, **options), clock=clock)

    def _call(self, operation: str, /, *args: Any, **kwargs: Any) -> Any:
        return call(getattr(self._service, operation), *args, **kwargs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.endpoint!r}, signed={self.wsse is not None})"


C = TypeVar("C", bound=SoapClient)
