"""``mts-service demo`` starts its own server and walks the three flows: it must exit 0."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mts_service.cli.demo import child_env

pytestmark = pytest.mark.slow


def test_demo_exits_zero_and_tells_the_story(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mts_service", "demo"], capture_output=True, text=True,
                            cwd=tmp_path, env=child_env(os.environ), timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    for line in ("flow 1: code", "flow 2: KEYWORD username", "flow 3: registered number", "forfeited 5.00 MAD",
                 "server   stopped", "demo passed"):
        assert line in result.stdout
    assert "[FAIL]" not in result.stdout
