"""``mts-gateway``: the gateway's command line.

::

    mts-gateway send --from +212612345678 --to 7575 --text "PAY" [--id ID] [--channel SMS]
    mts-gateway bridge --spool var/spool.db --sendsms-url http://127.0.0.1:13013 --sendsms-user mts
    mts-gateway spool --spool var/spool.db [--state pending|done|failed]
    mts-gateway kannel-config --bridge-url http://127.0.0.1:8088/kannel --sendsms-user mts ...
    mts-gateway email --service-address @shop.example=- < message.eml

Connection options (every command that calls the MTS): ``--url`` (``$MTS_URL``, default
https://localhost:8443), ``--certs-dir`` (``$MTS_CERTS_DIR``, default ``certs``),
``--no-security``, ``--ca-file`` / ``--insecure``, ``--timeout``. The same helpers serve
``mts-shop`` and ``mts-admin``.

The bridge's own settings may come from the environment too (an option wins):
``MTS_BRIDGE_HOST``, ``MTS_BRIDGE_PORT``, ``MTS_BRIDGE_SPOOL`` (also for ``spool``),
``MTS_SENDSMS_URL``, ``MTS_SENDSMS_USER``, ``MTS_SENDSMS_PASSWORD``.

Exit codes: 0 done; 1 refused by the MTS (a SOAP fault); 2 bad usage or local set-up
(missing certificates, unreadable file); 3 the MTS is unavailable (retry later).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from .bridge_options import add_tuning_arguments
from .errors import MtsFaultError, ServiceUnavailable
from .soap_client import ClientConfig

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3


# -- shared by the three CLIs ---------------------------------------------------------------

def add_client_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("connection")
    group.add_argument("--url", help="MTS base URL ($MTS_URL; default https://localhost:8443)")
    group.add_argument("--certs-dir", type=Path, help="role certificate, key and ca.pem ($MTS_CERTS_DIR; default certs)")
    group.add_argument("--no-security", action="store_true", help="do not sign (only against a server without WS-Security)")
    group.add_argument("--ca-file", help="CA bundle for TLS (default: <certs-dir>/ca.pem)")
    group.add_argument("--insecure", action="store_true", help="do not verify the TLS certificate (testing only)")
    group.add_argument("--timeout", type=float, help="seconds per call (default 10)")
    group.add_argument("--wsdl-dir", type=Path, help="directory of the WSDL files (default: shipped copies)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def client_config(args: argparse.Namespace, environ: dict[str, str] | None = None) -> ClientConfig:
    verify: str | bool | None = None
    if getattr(args, "insecure", False):
        verify = False
    elif getattr(args, "ca_file", None):
        verify = args.ca_file
    return ClientConfig.from_env(
        os.environ if environ is None else environ,
        url=args.url,
        certs_dir=args.certs_dir,
        security=False if args.no_security else None,
        verify=verify,
        timeout=args.timeout,
        wsdl_dir=args.wsdl_dir,
    )


def run(command: Callable[[argparse.Namespace], int | None], args: argparse.Namespace) -> int:
    """Run one command, turning client errors into a message on stderr and an exit code."""
    try:
        return command(args) or EXIT_OK
    except MtsFaultError as exc:
        request = f" (request {exc.request_id})" if exc.request_id else ""
        print(f"refused: {exc.code}: {exc.message}{request}", file=sys.stderr)
        return EXIT_REFUSED
    except ServiceUnavailable as exc:
        print(f"MTS unavailable: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))


def print_table(rows: Iterable[Sequence[Any]], headers: Sequence[str]) -> None:
    """A plain aligned table; ``None`` shows as ``-``."""
    cells = [[("-" if v is None else str(v)) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(v)) for w, v in zip(widths, row)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


def print_fields(pairs: Iterable[tuple[str, Any]]) -> None:
    pairs = list(pairs)
    width = max((len(k) for k, _ in pairs), default=0)
    for key, value in pairs:
        print(f"{key.ljust(width)}  {'-' if value is None else value}")


# -- commands ---------------------------------------------------------------------------------

def _receipt_out(receipt: Any, as_json: bool) -> None:
    data = {
        "message_id": receipt.message_id,
        "outcome": receipt.outcome.value,
        "reply_text": receipt.reply_text,
        "duplicate": receipt.duplicate,
        "language": receipt.language,
        "refusal_code": receipt.refusal_code,
    }
    if as_json:
        print_json(data)
    else:
        print_fields(data.items())


def _gateway_client(args: argparse.Namespace) -> Any:
    from .client import GatewayClient

    return GatewayClient.from_config(client_config(args))


def cmd_send(args: argparse.Namespace) -> int:
    from mts_service.clock import SystemClock

    from .models import Channel, InboundMessage

    message = InboundMessage(
        message_id=args.id or f"cli-{secrets.token_hex(8)}",
        sender=args.sender,
        service_number=args.to,
        text=args.text,
        received_at=SystemClock().now(),
        channel=Channel(args.channel),
        operator=args.operator,
    )
    _receipt_out(_gateway_client(args).submit_sms(message), args.json)
    return EXIT_OK


def cmd_billing(args: argparse.Namespace) -> int:
    """Report the operator's word on one message; print the MT to send when there is one."""
    receipt = _gateway_client(args).report_billing(args.id, args.status)
    data = {
        "message_id": receipt.message_id,
        "status": receipt.status.value,
        "duplicate": receipt.duplicate,
        "outcome": receipt.outcome.value if receipt.outcome else None,
        "reply_text": receipt.reply_text,
        "reversal": receipt.reversal,
    }
    if args.json:
        print_json(data)
    else:
        print_fields(data.items())
    return EXIT_OK


def cmd_email(args: argparse.Namespace) -> int:
    from .email_channel import InvalidEmail, inbound_from_email

    mapping = {}
    for item in args.service_address:
        address, sep, number = item.partition("=")
        if not sep:
            raise ValueError(f"--service-address wants ADDRESS=NUMBER or @DOMAIN=-, not {item!r}")
        mapping[address.strip().lower()] = number.strip()
    try:
        message = inbound_from_email(sys.stdin.buffer.read(), service_address_map=mapping)
    except InvalidEmail as exc:
        print(f"mail refused: {exc}", file=sys.stderr)
        return EXIT_USAGE
    _receipt_out(_gateway_client(args).submit_sms(message), args.json)
    return EXIT_OK


BRIDGE_ENV = {
    "host": "MTS_BRIDGE_HOST",
    "port": "MTS_BRIDGE_PORT",
    "spool": "MTS_BRIDGE_SPOOL",
    "sendsms_url": "MTS_SENDSMS_URL",
    "sendsms_user": "MTS_SENDSMS_USER",
    "sendsms_password": "MTS_SENDSMS_PASSWORD",
}
BRIDGE_DEFAULTS = {"host": "127.0.0.1", "port": "8088"}


def bridge_settings(args: argparse.Namespace, environ: dict[str, str] | None = None) -> dict[str, str]:
    """The bridge's listen address, spool and sendsms account: option, else environment,
    else default. ValueError (exit 2) naming the option and the variable when one is missing:
    a bridge without a sendsms password would take MOs and never deliver a late reply."""
    environ = os.environ if environ is None else environ
    values: dict[str, str] = {}
    missing = []
    for name, variable in BRIDGE_ENV.items():
        value = getattr(args, name, None)
        if value in (None, ""):
            value = environ.get(variable) or BRIDGE_DEFAULTS.get(name)
        if value in (None, ""):
            missing.append(f"--{name.replace('_', '-')} (${variable})")
        else:
            values[name] = str(value)
    if missing:
        raise ValueError("the bridge needs " + ", ".join(missing))
    if not values["port"].isdigit():
        raise ValueError(f"bridge port must be a number, not {values['port']!r}")
    return values


def cmd_bridge(args: argparse.Namespace) -> int:
    from .bridge import serve_bridge
    from .bridge_options import tuning_options
    from .sendsms import KannelSender

    settings = bridge_settings(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    client = _gateway_client(args)
    serve_bridge(
        settings["host"],
        int(settings["port"]),
        spool_path=settings["spool"],
        submit=client.submit_sms,
        sender=KannelSender(settings["sendsms_url"], settings["sendsms_user"], settings["sendsms_password"]),
        **tuning_options(args),
    )
    return EXIT_OK


def cmd_spool(args: argparse.Namespace) -> int:
    from mts_service.clock import SystemClock

    from .spool import Spool

    path = args.spool or os.environ.get("MTS_BRIDGE_SPOOL")
    if not path:
        raise ValueError("which spool? pass --spool or set $MTS_BRIDGE_SPOOL")
    if not Path(path).exists():
        raise FileNotFoundError(f"no spool at {path}")
    spool = Spool(path, clock=SystemClock())
    try:
        counts = spool.counts()
        entries = list(spool.entries(state=args.state)) if args.state else spool.pending()
    finally:
        spool.close()
    rows = [
        {
            "message_id": e.message.message_id,
            "sender": e.message.sender,
            "to": e.message.service_number,
            "state": e.state,
            "attempts": e.attempts,
            "next_at": e.next_at.isoformat(timespec="seconds"),
            "reply": e.reply_state,
            "last_error": e.last_error,
        }
        for e in entries
    ]
    if args.json:
        print_json({"counts": counts, "entries": rows})
        return EXIT_OK
    print_fields(counts.items())
    print()
    if rows:
        print_table([list(r.values()) for r in rows], list(rows[0].keys()))
    else:
        print("nothing owed" if not args.state else f"no {args.state} entries")
    return EXIT_OK


def cmd_kannel_config(args: argparse.Namespace) -> int:
    from .kannel_config import render_kannel_config

    text = render_kannel_config(
        args.bridge_url,
        sendsms_port=args.sendsms_port,
        sendsms_user=args.sendsms_user,
        sendsms_password=args.sendsms_password or "",
        smsc_port=args.smsc_port,
        admin_port=args.admin_port,
        admin_password=args.admin_password,
        smsbox_port=args.smsbox_port,
        host=args.host,
        max_messages=args.max_messages,
        http_request_retry=args.http_request_retry,
        http_queue_delay=args.http_queue_delay,
        store_file=args.store_file,
        log_dir=args.log_dir,
    )
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return EXIT_OK


# -- parser -----------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mts-gateway", description="The SMS gateway's side of MTS.")
    sub = parser.add_subparsers(dest="command", required=True)

    send = sub.add_parser("send", help="submit one paid message and print the receipt")
    send.add_argument("--from", dest="sender", required=True, help="the sender's number (or opaque id)")
    send.add_argument("--to", required=True, help="the premium number written to")
    send.add_argument("--text", required=True)
    send.add_argument("--id", help="the gateway's message id (default: a fresh random one)")
    send.add_argument("--channel", default="SMS", choices=["SMS", "MMS", "EMAIL"])
    send.add_argument("--operator")
    add_client_arguments(send)
    send.set_defaults(func=cmd_send)

    billing = sub.add_parser("billing", help="report a message's charge CONFIRMED or FAILED (ReportBilling)")
    billing.add_argument("--id", required=True, help="the gateway's message id")
    billing.add_argument("--status", required=True, choices=["CONFIRMED", "FAILED"])
    add_client_arguments(billing)
    billing.set_defaults(func=cmd_billing)

    email = sub.add_parser("email", help="submit the e-mail on stdin (channel EMAIL)")
    email.add_argument("--service-address", action="append", default=[], required=True,
                       help="ADDRESS=NUMBER, or @DOMAIN=- to read the number from the local part; repeatable")
    add_client_arguments(email)
    email.set_defaults(func=cmd_email)

    bridge = sub.add_parser("bridge", help="serve Kannel's sms-service (spool first, retries, late replies)")
    bridge.add_argument("--host", help="listen address ($MTS_BRIDGE_HOST; default 127.0.0.1)")
    bridge.add_argument("--port", type=int, help="listen port ($MTS_BRIDGE_PORT; default 8088)")
    bridge.add_argument("--spool", help="SQLite spool file ($MTS_BRIDGE_SPOOL; required)")
    bridge.add_argument("--sendsms-url",
                        help="smsbox's sendsms address, e.g. http://127.0.0.1:13013 ($MTS_SENDSMS_URL; required)")
    bridge.add_argument("--sendsms-user", help="a sendsms-user of smsbox ($MTS_SENDSMS_USER; required)")
    bridge.add_argument("--sendsms-password",
                        help="its password ($MTS_SENDSMS_PASSWORD, preferred: not visible in ps; required)")
    add_tuning_arguments(bridge)
    add_client_arguments(bridge)
    bridge.set_defaults(func=cmd_bridge)

    spool = sub.add_parser("spool", help="what the bridge's spool holds")
    spool.add_argument("--spool", help="the bridge's spool file ($MTS_BRIDGE_SPOOL)")
    spool.add_argument("--state", choices=["pending", "done", "failed"], help="list this state (default: what is owed)")
    spool.add_argument("--json", action="store_true")
    spool.set_defaults(func=cmd_spool)

    kannel = sub.add_parser("kannel-config", help="print a kannel.conf wired to the bridge")
    kannel.add_argument("--bridge-url", default="http://127.0.0.1:8088/kannel")
    kannel.add_argument("--sendsms-port", type=int, default=13013)
    kannel.add_argument("--sendsms-user", default=os.environ.get("MTS_SENDSMS_USER") or "mts")
    kannel.add_argument("--sendsms-password", default=os.environ.get("MTS_SENDSMS_PASSWORD"))
    kannel.add_argument("--smsc-port", type=int, default=10000)
    kannel.add_argument("--admin-port", type=int, default=13000)
    kannel.add_argument("--admin-password", default="change-me")
    kannel.add_argument("--smsbox-port", type=int, default=13001)
    kannel.add_argument("--host", default="127.0.0.1")
    kannel.add_argument("--max-messages", type=int, default=3)
    kannel.add_argument("--http-request-retry", type=int, default=30,
                        help="smsbox's retries of a failed bridge call, same %%I (default 30); "
                             "retries x delay is the longest bridge outage that loses no MO")
    kannel.add_argument("--http-queue-delay", type=int, default=10, help="seconds between those retries (default 10)")
    kannel.add_argument("--store-file")
    kannel.add_argument("--log-dir")
    kannel.add_argument("--output", "-o", help="write to this file instead of stdout")
    kannel.set_defaults(func=cmd_kannel_config)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run(args.func, args)


if __name__ == "__main__":
    sys.exit(main())
