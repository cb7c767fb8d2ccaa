"""``mts-service wsdl export|check``: write the WSDLs to wsdl/, or fail when they drifted."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Mapping

from mts_service.soap import wsdl as documents

DEFAULT_DIR = Path("wsdl")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("wsdl", help="WSDL documents")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    export = actions.add_parser("export", help="write gateway.wsdl, shop.wsdl and admin.wsdl")
    export.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    export.set_defaults(handler=run_export)
    check = actions.add_parser("check", help="exit 1 when the files differ from the served WSDLs")
    check.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    check.set_defaults(handler=run_check)


def run_export(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    for path in documents.export(args.dir):
        print(f"wrote {path}")
    return 0


def run_check(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    drifted = documents.check(args.dir)
    if drifted:
        names = ", ".join(documents.file_name(n) for n in drifted)
        print(f"WSDL drift in {args.dir}: {names} (run `mts-service wsdl export`)", file=sys.stderr)
        return 1
    print(f"{args.dir}: WSDLs match the service definitions")
    return 0
