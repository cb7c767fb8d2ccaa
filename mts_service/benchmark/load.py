"""Load generators of ``mts-service bench``: wrk with a Lua script, or a Python fallback.

Both replay a *pool* of distinct, pre-built requests (every signed request is signed
before the clock starts, and sent exactly once: the replay cache refuses repeats) over
``connections`` concurrent keep-alive connections, each connection sending its share
of the pool one request at a time, and time each answer. Only HTTP 200 answers count
(a SOAP 1.1 fault is an HTTP 500).

wrk (Debian's, LuaJIT) is the generator of record: one wrk thread per connection, so the
Lua state of a thread sees its requests and answers in order and times each one with
``clock_gettime(CLOCK_MONOTONIC)``; it writes its figures to a file and stops when its
share is done, and we stop wrk (SIGINT) once every thread has. wrk's own latency figures
are not used: they include faults and apply its coordinated-omission correction. The
Python generator (processes with ``http.client``) tops out well below the echo service on
a small machine; it is there for machines without wrk.
"""

from __future__ import annotations

import http.client
import multiprocessing as mp

import shutil
import signal
import ssl
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence
from urllib.parse import urlsplit

LUA = r"""
-- mts-service bench: replay a pool of distinct pre-built HTTP requests, one connection per thread.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } mts_timespec;
int clock_gettime(int clk_id, mts_timespec *tp);
]]
local ts = ffi.new("mts_timespec")
local function now()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC: one clock for every thread and for Python
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9
end

local next_tid = 0
function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
end

local mine, n, sent, ok, faults, lat, replies, started, first, last, outdir, keep, primed, finished
local idle = "GET /bench-done HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

function init(args)
  local nthreads = tonumber(args[2])
  outdir, keep = args[3], args[4] == "1"
  local f = assert(io.open(args[1], "rb"))
  local data = f:read("*a")
  f:close()
  mine = {}
  local pos, index = 1, 0
  while pos <= #data do
    local nl = data:find("\n", pos, true)
    local len = tonumber(data:sub(pos, nl - 1))
    if index % nthreads == tid then mine[#mine + 1] = data:sub(nl + 1, nl + len) end
    index = index + 1
    pos = nl + 1 + len
  end
  n, sent, ok, faults, lat, replies = #mine, 0, 0, 0, {}, {}
  primed = (tid == 0) -- wrk calls request() once on thread 0 to inspect it before the run
end

local function finish()
  if finished then return end
  finished = true
  local out = assert(io.open(outdir .. "/" .. tid .. ".tmp", "w"))
  out:write(string.format("%d %d %.9f %.9f\n", ok, faults, first or 0, last or 0))
  for i = 1, #lat do out:write(lat[i], "\n") end
  out:close()
  if keep then
    -- The reply texts are cut out of the kept bodies here, after this thread's last answer,
    -- not in response(): the client's work per answer is then the same for every operation.
    local r = assert(io.open(outdir .. "/" .. tid .. ".replies", "wb"))
    for i = 1, #replies do r:write((replies[i]:match("replyText>([^<]*)<") or ""), "\n") end
    r:close()
  end
  os.rename(outdir .. "/" .. tid .. ".tmp", outdir .. "/" .. tid .. ".done")
  wrk.thread:stop()
end

function request()
  if primed then
    primed = false
    return mine[1] or idle
  end
  if sent >= n then
    -- Done: stop this thread's loop and hand wrk a cheap request (a 404) to write, so that
    -- the connection wrk has just (re)opened is not left silent: a sync worker that
    -- accepted it would block on it until its timeout.
    finish()
    return idle
  end
  sent = sent + 1
  started = now()
  if first == nil then first = started end
  return mine[sent]
end

function response(status, headers, body)
  local t = now()
  if started == nil then return end
  if status == 200 then
    ok = ok + 1
    lat[#lat + 1] = string.format("%.9f %.9f", t, t - started)
    if keep then replies[#replies + 1] = body end
  else
    faults = faults + 1
  end
  started = nil
  last = t
end
"""


@dataclass(frozen=True)
class Call:
    path: str
    body: bytes


@dataclass
class Figures:
    """What one timed phase measured: only non-fault answers count."""

    ok: int
    faults: int
    seconds: float
    latencies: list[float] = field(repr=False)
    replies: list[str] = field(default_factory=list, repr=False)
    total_ok: int | None = None
    """Every non-fault answer, when ``ok`` counts only those inside the steady-state window."""

    @property
    def answered(self) -> int:
        """Every non-fault answer of the phase (``ok`` may count the steady-state window only)."""
        return self.total_ok if self.total_ok is not None else self.ok

    @property
    def rps(self) -> float:
        return self.ok / self.seconds if self.seconds > 0 else 0.0

    def percentile_ms(self, q: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def wrk_path() -> str | None:
    return shutil.which("wrk")


def _raw_request(call: Call, host: str) -> bytes:
    head = (
        f"POST {call.path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/xml; charset=utf-8\r\n"
        f'SOAPAction: ""\r\nContent-Length: {len(call.body)}\r\n\r\n'
    )
    return head.encode("ascii") + call.body


def drive_wrk(url: str, calls: Sequence[Call], connections: int, *, keep_replies: bool = False,
              timeout: float = 900.0) -> Figures:
    """Send every call once over ``connections`` keep-alive connections with wrk."""
    parts = urlsplit(url)
    connections = max(1, min(connections, len(calls)))
    with tempfile.TemporaryDirectory(prefix="mts-wrk-") as work:
        out = Path(work)
        pool = out / "pool.bin"
        with open(pool, "wb") as f:
            for call in calls:
                raw = _raw_request(call, parts.netloc)
                f.write(f"{len(raw)}\n".encode("ascii"))
                f.write(raw)
        script = out / "replay.lua"
        script.write_text(LUA)
        (out / "results").mkdir()
        command = [wrk_path() or "wrk", "-t", str(connections), "-c", str(connections), "-d", f"{int(timeout)}s",
                   "--timeout", "120s", "-s", str(script), url, "--",
                   str(pool), str(connections), str(out / "results"), "1" if keep_replies else "0"]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        try:
            while len(list((out / "results").glob("*.done"))) < connections:
                if process.poll() is not None:
                    raise RuntimeError(f"wrk exited early: {process.stdout.read().decode(errors='replace')[-2000:]}")
                if time.monotonic() > deadline:
                    raise RuntimeError("wrk did not finish in time")
                time.sleep(0.02)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)  # wrk prints its summary and exits
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        ok = faults = 0
        starts, ends = [], []
        done: list[tuple[float, float]] = []
        replies: list[str] = []
        for tid in range(connections):
            lines = (out / "results" / f"{tid}.done").read_text().split("\n")
            t_ok, t_faults, t_first, t_last = lines[0].split()
            ok += int(t_ok)
            faults += int(t_faults)
            if float(t_first) > 0:
                starts.append(float(t_first))
                ends.append(float(t_last))
            done += [(float(a), float(b)) for a, b in (line.split() for line in lines[1:] if line)]
            if keep_replies:
                replies += (out / "results" / f"{tid}.replies").read_bytes().decode("utf-8", "replace").splitlines()
    # Steady state: from the moment every connection has started until the first one has
    # sent its whole share. The tail after it runs with fewer connections (and wrk, once a
    # thread stops, can leave a sync worker waiting on a connection it just opened).
    if not starts:
        return Figures(0, faults, 0.0, [], replies)
    begin, end = max(starts), min(ends)
    inside = [(t, latency) for t, latency in done if t - latency >= begin and t <= end]
    if len(inside) < max(1, len(done) // 2):  # too short a window (tiny runs): take the whole run
        return Figures(ok, faults, max(ends) - min(starts), [latency for _, latency in done], replies)
    return Figures(len(inside), faults, end - begin, [latency for _, latency in inside], replies, total_ok=ok)


# -- Python fallback ------------------------------------------------------------------------------

def _connection(url: str) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    if parts.scheme == "https":
        return http.client.HTTPSConnection(parts.hostname, parts.port, timeout=120,
                                           context=ssl._create_unverified_context())  # noqa: S323 - loopback bench
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)


def _client(url: str, calls: list[Call], keep: bool, start, out) -> None:  # noqa: ANN001
    import re

    conn = _connection(url)
    results = []
    start.wait()
    for call in calls:
        t0 = time.monotonic()
        try:
            conn.request("POST", call.path, body=call.body,
                         headers={"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'})
            response = conn.getresponse()
            body, status = response.read(), response.status
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = _connection(url)
            body, status = b"", 0
        t1 = time.monotonic()
        reply = ""
        if keep and status == 200:
            found = re.search(rb"replyText>([^<]*)<", body)
            reply = found.group(1).decode("utf-8", "replace") if found else ""
        results.append((t0, t1, status, reply))
    conn.close()
    out.put(results)


def drive_python(url: str, calls: Sequence[Call], connections: int, *, keep_replies: bool = False) -> Figures:
    ctx = mp.get_context("fork")
    start, out = ctx.Event(), ctx.Queue()
    connections = max(1, min(connections, len(calls)))
    procs = [ctx.Process(target=_client, args=(url, list(calls[i::connections]), keep_replies, start, out))
             for i in range(connections)]
    for p in procs:
        p.start()
    time.sleep(0.3)
    start.set()
    results = [r for _ in procs for r in out.get()]
    for p in procs:
        p.join()
    ok = [r for r in results if r[2] == 200]
    seconds = max(r[1] for r in results) - min(r[0] for r in results) if results else 0.0
    return Figures(len(ok), len(results) - len(ok), seconds, [r[1] - r[0] for r in ok], [r[3] for r in ok])


def drive(generator: str, url: str, calls: Sequence[Call], connections: int, *, keep_replies: bool = False) -> Figures:
    if generator == "wrk":
        return drive_wrk(url, calls, connections, keep_replies=keep_replies)
    return drive_python(url, calls, connections, keep_replies=keep_replies)


__all__ = ["Call", "Figures", "drive", "drive_python", "drive_wrk", "wrk_path"]

