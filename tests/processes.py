"""Running the console script in a child process, and killing it at a chosen moment."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

SHOPGYM = [sys.executable, "-m", "shopgym.cli"]


def kill_when(argv: list[str], ready: Callable[[], bool], log: Path, delay: float = 0.0, limit: float = 300) -> None:
    """Start the command, wait until `ready()`, then `delay` seconds, then SIGKILL it (it must still be running)."""
    with log.open("w") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=out)
    deadline = time.monotonic() + limit
    while not ready() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, f"it ended before the kill:\n{log.read_text()[-2000:]}"
