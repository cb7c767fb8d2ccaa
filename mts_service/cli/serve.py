"""``mts-service serve``: gunicorn in front of ``mts_service.soap.wsgi:application``.

TLS is on by default (``<certs>/server.pem`` + ``server.key``); ``--mtls`` also requires
client certificates issued by ``<certs>/ca.pem``; ``--no-tls`` serves plain HTTP behind a
TLS-terminating load balancer. With TLS the default worker is gthread, whose keep-alive
spares clients a handshake per request; without it, sync.

gunicorn runs as a child process: the settings reach the workers through the environment
(``Settings.from_env``), SIGINT/SIGTERM are passed on, and the Prometheus multiprocess
directory of this run is removed when gunicorn stops.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Mapping

from mts_service.cli.common import add_certs_option, add_database_option, settings_from
from mts_service.config import Settings
from mts_service.services.keys import load_or_create_secret
from mts_service.soap.metrics import MULTIPROC_ENV

WSGI_TARGET = "mts_service.soap.wsgi:application"
GUNICORN_CONFIG = "python:mts_service.soap.gunicorn_conf"
DEFAULT_BIND = "0.0.0.0:8443"
CERT_REQUIRED = "2"  # ssl.CERT_REQUIRED, as gunicorn's --cert-reqs wants it


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("serve", help="serve the SOAP services with gunicorn")
    parser.add_argument("--bind", default=DEFAULT_BIND, help=f"address:port (default {DEFAULT_BIND})")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", help="gunicorn worker class (default: gthread with TLS, sync without)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    add_database_option(parser)
    add_certs_option(parser)
    tls = parser.add_mutually_exclusive_group()
    tls.add_argument("--no-tls", action="store_true", help="plain HTTP (behind a TLS-terminating load balancer)")
    tls.add_argument("--mtls", action="store_true", help="require client certificates issued by the CA")
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--dry-run", action="store_true", help="print the gunicorn command and exit")
    parser.set_defaults(handler=run_serve)


def gunicorn_command(args: argparse.Namespace, settings: Settings) -> list[str]:
    tls = not args.no_tls
    worker_class = args.worker_class or ("gthread" if tls else "sync")
    command = [
        sys.executable, "-m", "gunicorn",
        "--bind", args.bind,
        "--workers", str(args.workers),
        "--worker-class", worker_class,
        "--config", GUNICORN_CONFIG,
        "--log-level", args.log_level,
    ]
    if worker_class == "gthread":
        command += ["--threads", str(args.threads)]
    if tls:
        certs = settings.certs_dir
        command += ["--certfile", str(certs / "server.pem"), "--keyfile", str(certs / "server.key")]
        if args.mtls:
            command += ["--ca-certs", str(certs / "ca.pem"), "--cert-reqs", CERT_REQUIRED]
    return command + [WSGI_TARGET]


def child_environment(environ: Mapping[str, str], settings: Settings, metrics_dir: str) -> dict[str, str]:
    env = dict(environ)
    env["MTS_DATABASE_URL"] = settings.database_url
    env["MTS_CERTS_DIR"] = str(settings.certs_dir)
    env[MULTIPROC_ENV] = metrics_dir
    return env


def run_serve(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    settings = settings_from(args, environ)
    command = gunicorn_command(args, settings)
    if args.dry_run:
        print(" ".join(command))
        return 0
    if not args.no_tls:
        for name in ("server.pem", "server.key") + (("ca.pem",) if args.mtls else ()):
            if not (settings.certs_dir / name).is_file():
                raise OSError(f"{settings.certs_dir / name} is missing: run `mts-service certs` or pass --no-tls")
    # Created here, once: workers starting together would race to create it.
    load_or_create_secret(settings.secret_path)
    own_dir = not environ.get(MULTIPROC_ENV)
    metrics_dir = tempfile.mkdtemp(prefix="mts-metrics-") if own_dir else environ[MULTIPROC_ENV]
    Path(metrics_dir).mkdir(parents=True, exist_ok=True)
    child = subprocess.Popen(command, env=child_environment(environ, settings, metrics_dir))

    def forward(signum: int, _frame: Any) -> None:
        child.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        return child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if own_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)


__all__ = ["gunicorn_command", "register", "run_serve"]
