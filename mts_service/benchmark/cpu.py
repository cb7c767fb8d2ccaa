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


def _processes() -> dict[int, tuple[int, int]]:
    """Every live process: pid -> (parent pid, CPU ticks of its own and of reaped children)."""
    found = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue   # gone meanwhile
        # The command name (field 2) may hold spaces and parentheses: split after its last ')'.
        fields = text[text.rindex(")") + 2:].split()
        # field 4: the parent; utime, stime, and cutime, cstime (a worker gunicorn replaced)
        found[int(entry.name)] = (int(fields[1]), sum(int(fields[i]) for i in (11, 12, 13, 14)))
    return found


def tree_cpu_seconds(root: int) -> float | None:
    """User + system CPU of ``root`` and every live descendant (gunicorn: master and workers)."""
    processes = _processes()   # one pass over /proc
    if root not in processes:
        return None
    tree, frontier = {root}, {root}
    while frontier:
        frontier = {pid for pid, (parent, _) in processes.items() if parent in frontier} - tree
        tree |= frontier
    return sum(processes[pid][1] for pid in tree) / os.sysconf("SC_CLK_TCK")
