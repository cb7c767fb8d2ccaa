"""In-process CPU per signed request: the gunicorn application called directly, no HTTP.

    python bench/inprocess.py [--key-type ec] [--requests 1500] [--processes 1]

Builds ``mts_service.soap.wsgi:application`` as a worker does (WS-Security on, a temporary
dev PKI, a fresh SQLite file), signs every request before timing, and prints the CPU each
operation costs per request next to the bare Spyne echo's, in one process. With
``--processes 2`` the SubmitSms calls are shared by two forked processes on the one SQLite
file, as gunicorn's two sync workers share it (each transaction then starts with an empty
page cache; the echo is run two at a time beside them). Steadier than ``mts-service bench`` for comparing two versions of the code,
and profilers attach to it easily (py-spy record -- python bench/inprocess.py). Not a test:
it prints figures, it asserts nothing about time.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mts_service.benchmark.runner import CODE, Requests, _echo_calls  # noqa: E402
from mts_service.pki import create_dev_pki  # noqa: E402


def call(app, c) -> tuple[str, bytes]:  # noqa: ANN001
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": c.path, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
               "SERVER_PORT": "80", "wsgi.url_scheme": "http", "HTTP_HOST": "127.0.0.1", "HTTP_SOAPACTION": '""',
               "CONTENT_TYPE": "text/xml; charset=utf-8", "CONTENT_LENGTH": str(len(c.body)),
               "wsgi.input": io.BytesIO(c.body)}
    status = []
    body = b"".join(app(environ, lambda s, h, e=None: status.append(s)))
    return status[0], body


def timed(name: str, app, calls, replies: list | None = None) -> float:  # noqa: ANN001
    start = time.process_time()
    for c in calls:
        status, body = call(app, c)
        if not status.startswith("200"):
            raise SystemExit(f"{name} answered {status}: {body[:1000]!r}")
        if replies is not None:
            replies.append(body)
    per_call = (time.process_time() - start) / len(calls) * 1e6
    print(f"{name:<11} {per_call:8.0f} us CPU per request")
    return per_call


@dataclass(frozen=True)
class Built:
    """What ``build_application`` made."""

    mts: object
    echo: object
    factory: Requests
    customers: list
    echo_size: int


def build_application(key_type: str) -> Built:
    """The MTS and echo WSGI applications as a worker builds them (a temporary dev PKI and
    SQLite file, the policy and 200 customers set up, both warmed up), with the request
    factory, the customers and the echo's payload size."""
    work = Path(tempfile.mkdtemp(prefix="mts-inprocess-"))
    certs = create_dev_pki(work / "certs", key_type=key_type).directory
    database = f"sqlite+pysqlite:///{work / 'mts.db'}"
    subprocess.run([sys.executable, "-m", "mts_service", "db", "upgrade", "--database", database],
                   check=True, capture_output=True, cwd=work)
    for key in [k for k in os.environ if k.startswith("MTS_")]:
        del os.environ[key]
    os.environ.update(MTS_DATABASE_URL=database, MTS_CERTS_DIR=str(certs), MTS_LOG_LEVEL="WARNING")
    os.chdir(work)
    from mts_service.benchmark.echo import application as echo
    from mts_service.soap.wsgi import application as mts

    factory = Requests(certs, work)
    customers = [f"c-{i}" for i in range(200)]
    for setup in [factory.set_policy(), *map(factory.register_customer, customers), *factory.submit_sms(50)]:
        call(mts, setup)
    size = len(factory.submit_sms(1)[0].body)
    for c in _echo_calls(50, size):
        call(echo, c)
    return Built(mts, echo, factory, customers, size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--key-type", choices=("rsa", "ec"), default="ec")
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--processes", type=int, default=1, choices=(1, 2))
    args = parser.parse_args()
    built = build_application(args.key_type)
    mts, echo, factory, customers, size = built.mts, built.echo, built.factory, built.customers, built.echo_size

    n = args.requests
    if args.processes == 2:
        # The echo runs two at a time too: two busy processes cost each other CPU (shared
        # caches, the host's scheduling) whatever they do, and the gap left is SQLite's.
        echoes = _echo_calls(2 * n, size)
        sms = factory.submit_sms(2 * n)
        for name, app, calls in (("Echo", echo, echoes), ("SubmitSms", mts, sms)):
            for share in (calls[0::2], calls[1::2]):
                if os.fork() == 0:
                    timed(name, app, share)
                    os._exit(0)
            for _ in range(2):
                os.wait()
        return
    timed("Echo", echo, _echo_calls(n, size))
    replies: list[bytes] = []
    timed("SubmitSms", mts, factory.submit_sms(n), replies)
    codes = [CODE.search(re.search(rb"replyText>([^<]*)<", r).group(1).decode()).group(1) for r in replies]
    timed("RedeemCode", mts, factory.redeem(codes, customers))
    timed("PlaceOrder", mts, factory.place_order([customers[i % len(customers)] for i in range(n)]))
    timed("Echo", echo, _echo_calls(n, size))


if __name__ == "__main__":
    main()
