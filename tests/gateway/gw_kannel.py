"""A real Kannel for the tests: bearerbox + smsbox + fakesmsc, driven from Python.

fakesmsc reads MO lines (``SENDER RECEIVER text|ucs2 PAYLOAD``) from stdin but takes one
line per wake-up and drops what else its read buffered, so ``send_mo`` writes one line and
waits for fakesmsc's "sent message N" before the next. Every MT it receives is logged as
``Got message N: <FROM TO TYPE PAYLOAD>``, TYPE being ``text``, ``ucs-2`` (url-encoded
UTF-16BE) or ``udh UDH data PAYLOAD`` for each part of a concatenated message.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote_to_bytes

from gateway_client.kannel_config import render_kannel_config

BEARERBOX = "/usr/sbin/bearerbox"
SMSBOX = "/usr/sbin/smsbox"
FAKESMSC = "/usr/lib/kannel/test/fakesmsc"

SENDSMS_USER = "mtsbridge"
SENDSMS_PASSWORD = "s3cret-test"

_GOT = re.compile(r"Got message \d+: <(\S+) (\S+) (\S+) (.*)>$")
_SENT = re.compile(r"fakesmsc: sent message (\d+)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def _unquote_plus_bytes(value: str) -> bytes:
    # fakesmsc url-encodes with '+' for a blank (a real '+' is %2B).
    return unquote_to_bytes(value.replace("+", " "))


def _looks_ucs2(data: bytes) -> bool:
    # UTF-16BE of Latin/Arabic text has control-range high bytes (0x00, 0x06) at even
    # offsets; the GSM text Kannel prints never has control bytes but CR/LF.
    return len(data) % 2 == 0 and any(b < 0x20 and b not in (0x0A, 0x0D) for b in data[0::2])


@dataclass
class Mt:
    sender: str
    to: str
    text: str
    parts: int
    coding: str  # "text" or "ucs-2"


@dataclass
class _Partial:
    total: int
    parts: dict[int, bytes] = field(default_factory=dict)


class KannelHarness:
    def __init__(self, workdir: Path, *, http_request_retry: int = 60, http_queue_delay: int = 1) -> None:
        self.workdir = Path(workdir)
        self.bridge_port = free_port()
        self.bridge_url = f"http://127.0.0.1:{self.bridge_port}/kannel"
        self.sendsms_port = free_port()
        self.smsc_port = free_port()
        self.admin_port = free_port()
        self.smsbox_port = free_port()
        self.sendsms_url = f"http://127.0.0.1:{self.sendsms_port}"
        self.config_text = render_kannel_config(
            self.bridge_url,
            sendsms_port=self.sendsms_port, sendsms_user=SENDSMS_USER, sendsms_password=SENDSMS_PASSWORD,
            smsc_port=self.smsc_port, admin_port=self.admin_port, admin_password="admin-test",
            smsbox_port=self.smsbox_port, http_request_retry=http_request_retry,
            http_queue_delay=http_queue_delay, store_file=str(self.workdir / "kannel.store"),
            log_dir=str(self.workdir), log_level=1,
        )
        self.config = self.workdir / "kannel.conf"
        self._procs: list[subprocess.Popen[bytes]] = []
        self._fakesmsc: subprocess.Popen[bytes] | None = None
        self._cond = threading.Condition()
        self._sent = 0
        self._lines_written = 0
        self._partials: dict[tuple[str, str, int], _Partial] = {}
        self.mts: list[Mt] = []

    # -- processes --------------------------------------------------------------------------
    def _spawn(self, argv: list[str], log_name: str, **kwargs: object) -> subprocess.Popen[bytes]:
        out = open(self.workdir / log_name, "wb")
        proc = subprocess.Popen(argv, cwd=self.workdir, stdout=out, stderr=subprocess.STDOUT, **kwargs)  # type: ignore[call-overload]
        self._procs.append(proc)
        return proc

    def start(self) -> None:
        self.config.write_text(self.config_text)
        self._spawn([BEARERBOX, str(self.config)], "bearerbox.out")
        wait_for_port(self.smsc_port)
        wait_for_port(self.smsbox_port)
        self._spawn([SMSBOX, str(self.config)], "smsbox.out")
        wait_for_port(self.sendsms_port)
        self._fakesmsc = subprocess.Popen(
            [FAKESMSC, "-H", "127.0.0.1", "-r", str(self.smsc_port), "-i", "0.01"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=self.workdir,
        )
        self._procs.append(self._fakesmsc)
        threading.Thread(target=self._read_fakesmsc, daemon=True).start()
        # fakesmsc connects after a moment; bearerbox logs it, we wait for its socket instead.
        time.sleep(0.5)

    def stop(self) -> None:
        for proc in reversed(self._procs):
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
        for proc in reversed(self._procs):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)

    # -- the phone network ------------------------------------------------------------------
    def _read_fakesmsc(self) -> None:
        assert self._fakesmsc is not None and self._fakesmsc.stdout is not None
        with open(self.workdir / "fakesmsc.out", "wb") as log:
            for raw in self._fakesmsc.stdout:
                log.write(raw)
                log.flush()
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                sent = _SENT.search(line)
                got = _GOT.search(raw.decode("utf-8", errors="surrogateescape").rstrip("\r\n"))
                with self._cond:
                    if sent:
                        self._sent = max(self._sent, int(sent.group(1)))
                    if got:
                        self._on_mt(*got.groups())
                    self._cond.notify_all()

    def _on_mt(self, sender: str, to: str, kind: str, payload: str) -> None:
        if kind == "text":
            data = payload.encode("utf-8", errors="surrogateescape")
            self.mts.append(Mt(sender, to, data.decode("utf-8", errors="replace"), 1, "text"))
        elif kind == "ucs-2":
            self.mts.append(Mt(sender, to, _unquote_plus_bytes(payload).decode("utf-16-be"), 1, "ucs-2"))
        elif kind == "udh":
            udh_field, _, rest = payload.partition(" ")
            udh = _unquote_plus_bytes(udh_field)
            data = _unquote_plus_bytes(rest.partition(" ")[2])
            # 05 00 03 ref total seq: the concatenation IE (8-bit reference).
            ref, total, seq = udh[3], udh[4], udh[5]
            partial = self._partials.setdefault((sender, to, ref), _Partial(total))
            partial.parts[seq] = data
            if len(partial.parts) == partial.total:
                del self._partials[(sender, to, ref)]
                whole = b"".join(partial.parts[i] for i in sorted(partial.parts))
                coding = "ucs-2" if _looks_ucs2(whole) else "text"
                text = whole.decode("utf-16-be") if coding == "ucs-2" else whole.decode("utf-8", errors="replace")
                self.mts.append(Mt(sender, to, text, partial.total, coding))

    def send_mo(self, sender: str, receiver: str, text: str, *, ucs2: bool = False) -> None:
        """One MO from the phone network; ``ucs2`` sends it as UTF-16BE (fakesmsc's ucs2 type)."""
        if ucs2:
            line = f"{sender} {receiver} ucs2 {quote(text.encode('utf-16-be'), safe='')}"
        else:
            line = f"{sender} {receiver} text {text}"
        data = (line + "\n").encode("utf-8")
        if len(data) > 255:
            raise ValueError("fakesmsc lines are at most 255 bytes")
        assert self._fakesmsc is not None and self._fakesmsc.stdin is not None
        with self._cond:
            target = self._lines_written + 1
            self._fakesmsc.stdin.write(data)
            self._fakesmsc.stdin.flush()
            if not self._cond.wait_for(lambda: self._sent >= target, timeout=20):
                raise RuntimeError("fakesmsc did not send the MO (is it connected?)")
            self._lines_written = target

    def mts_to(self, number: str) -> list[Mt]:
        with self._cond:
            return [mt for mt in self.mts if mt.to == number]

    def wait_mts(self, predicate, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self), timeout=timeout):
                raise AssertionError("timed out waiting for MTs at fakesmsc")
