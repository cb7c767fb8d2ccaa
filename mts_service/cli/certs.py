"""``mts-service certs``: a development CA and server, gateway, shop and admin certificates."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Mapping

from mts_service.pki import create_dev_pki


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("certs", help="create the development PKI (keys are git-ignored)")
    parser.add_argument("--dir", type=Path, help="output directory (default: $MTS_CERTS_DIR or certs)")
    parser.add_argument("--key-type", choices=("rsa", "ec"), default="rsa")
    parser.add_argument("--host", action="append", dest="hosts", metavar="NAME",
                        help="server certificate name (repeatable; default localhost and 127.0.0.1)")
    parser.add_argument("--force", action="store_true", help="reissue everything, CA included")
    parser.set_defaults(handler=run_certs)


def run_certs(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    directory = args.dir or Path(environ.get("MTS_CERTS_DIR", "certs"))
    kwargs: dict[str, Any] = {"key_type": args.key_type, "force": args.force}
    if args.hosts:
        kwargs["hosts"] = args.hosts
    pki = create_dev_pki(directory, **kwargs)
    print(f"development PKI in {pki.directory}: ca, server, gateway, shop, admin")
    return 0
