"""CPU seconds a server's process tree has used, read from Linux's /proc.

req/s on a shared machine drifts with the host; the CPU a server's processes spend per
answered request drifts much less, and says whether a server was short of CPU or waiting
(on a lock, on its client). ``mts-service bench`` prints both. Elsewhere than Linux the
figure is absent (None), never guessed.
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")


def _stat_fields(pid: int) -> list[str]:
    # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
    text = (PROC / str(pid) / "stat").read_text()
    return text[text.rindex(")") + 2:].split()


def _children(pids: set[int]) -> set[int]:
    found = set()
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:
                if int(_stat_fields(int(entry.name))[1]) in pids:   # field 4: the parent's pid
                    found.add(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue   # gone meanwhile
    return found


def tree_cpu_seconds(root: int) -> float | None:
    """User + system CPU of ``root`` and every live descendant (gunicorn: master and workers)."""
    if not (PROC / str(root) / "stat").exists():
        return None
    tree, frontier = {root}, {root}
    while frontier:
        frontier = _children(frontier) - tree
        tree |= frontier
    ticks = 0
    for pid in tree:
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        # utime, stime, and cutime, cstime: children it has reaped (a worker gunicorn replaced)
        ticks += sum(int(fields[i]) for i in (11, 12, 13, 14))
    return ticks / os.sysconf("SC_CLK_TCK")
