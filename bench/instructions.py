"""Instructions per signed SubmitSms, and per part of it: a count that host noise cannot move.

    python bench/instructions.py [--requests 50] [--parts verify,sign_envelope,...]

On a shared host the CPU time of one request moves by 20-45 % from one minute to the next,
far more than most changes to the code are worth, so timings cannot compare two versions
of one function. valgrind's callgrind counts the instructions executed instead: the same
code on the same input gives the same count, whatever else the machine does. It does not
see the kernel (system calls, page faults) nor cache misses, so it complements the timings
of ``bench/inprocess.py`` and ``mts-service bench``; it does not replace them.

How: the gunicorn application is built in process as ``bench/inprocess.py`` builds it
(WS-Security on, a temporary dev PKI and SQLite file), warmed up, then each part (a
function of the hot path) is wrapped in ``operator.call`` and the requests are run under
``valgrind --tool=callgrind --toggle-collect=_operator_call``: callgrind counts only while
that C function is on the stack, i.e. inside the part. ``whole`` wraps the whole WSGI call.
One valgrind run per part (each about a minute; two run at a time). Needs Debian's
valgrind. Not a test: it prints figures, it asserts nothing.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import operator
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# name -> (module, attribute) of the function wrapped; "whole" is the WSGI call itself.
PARTS = {
    "whole": ("bench.inprocess", "call"),
    "verify_envelope": ("mts_service.soap.security", "verify_envelope"),
    "parse_xml": ("mts_service.wssec.verify", "parse_xml"),
    "check_structure": ("mts_service.wssec.verify", "_check_structure"),
    "check_signature": ("mts_service.wssec.verify", "_check_signature"),
    "signed_copy": ("mts_service.wssec.verify", "_signed_copy"),
    "sign_envelope": ("mts_service.soap.security", "sign_envelope_bytes"),
    "signature_value": ("mts_service.wssec.sign", "_signature_value"),
    "direct_read": ("mts_service.soap.direct:DirectCalls", "read"),
    "direct_write": ("mts_service.soap.direct:DirectCalls", "write"),
    "transaction": ("mts_service.services.sms", "run_in_transaction"),
    "phone": ("mts_service.services.sms", "normalise_sender"),
}


def _child(parts: list[str], requests: int) -> None:
    """In the valgrind'ed process: build the application, wrap the parts, run the requests."""
    import importlib

    sys.path.insert(0, str(ROOT / "bench"))
    import inprocess

    sys.modules.setdefault("bench.inprocess", inprocess)
    built = inprocess.build_application("ec")
    # The requests are signed before any part is wrapped: the client's own signatures go
    # through the same functions (``_signature_value``) and must not be counted as the server's.
    calls = built.factory.submit_sms(requests)
    for name in parts:
        where, attribute = PARTS[name]
        module_name, _, class_name = where.partition(":")
        owner = importlib.import_module(module_name)
        if class_name:
            owner = getattr(owner, class_name)
        original = getattr(owner, attribute)

        def wrapped(*args, _original=original, **kwargs):  # noqa: ANN002,ANN003,ANN202
            return operator.call(_original, *args, **kwargs)

        setattr(owner, attribute, wrapped)
    call = inprocess.call
    for c in calls:
        status, body = call(built.mts, c)
        if not status.startswith("200"):
            raise SystemExit(f"SubmitSms answered {status}: {body[:500]!r}")


def _count(part: str, requests: int, work: Path) -> int:
    out = work / f"callgrind.{part}.out"
    run = subprocess.run(
        ["valgrind", "--tool=callgrind", "--toggle-collect=_operator_call", f"--callgrind-out-file={out}",
         sys.executable, __file__, "--child", part, "--requests", str(requests)],
        check=False, capture_output=True, text=True, cwd=work)
    found = re.search(r"Collected : (\d+)", run.stderr)
    if run.returncode != 0 or not found:
        raise RuntimeError(f"valgrind run of {part} failed: {run.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of: {', '.join(PARTS)}")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child([args.child], args.requests)
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")
    parts = [p for p in args.parts.split(",") if p]
    unknown = set(parts) - set(PARTS)
    if unknown:
        raise SystemExit(f"unknown parts: {sorted(unknown)}")
    work = Path(tempfile.mkdtemp(prefix="mts-instructions-"))
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            counts = dict(zip(parts, pool.map(lambda p: _count(p, args.requests, work), parts)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    whole = counts.get("whole")
    print(f"instructions per signed SubmitSms (EC keys, {args.requests} requests, callgrind):")
    for part, total in counts.items():
        share = f"{100 * total / whole:5.1f} %" if whole else ""
        print(f"  {part:<16} {total / args.requests / 1000:8.0f} k  {share}")


if __name__ == "__main__":
    main()
