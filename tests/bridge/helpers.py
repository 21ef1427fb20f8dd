"""Small helpers of the bridge tests: waiting for the bridge, counting rows, a bridge process."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from cloud_bridge.db import Database


def wait_until(condition, timeout_s: float = 10.0, what: str = "condition") -> None:
    """Poll ``condition()`` until it is true; fail the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for %s" % what)
        time.sleep(0.01)


def count(db: Database, table: str, **equal) -> int:
    """Rows of ``table`` whose columns equal ``equal``."""
    where = " AND ".join(["TRUE"] + ["%s = ?" % column for column in equal])
    ((rows,),) = db.query("SELECT count(*) FROM %s WHERE %s" % (table, where), list(equal.values()))
    return rows


def bridge_process(args: list[str], ready: str, env: dict | None = None) -> tuple[subprocess.Popen, list[str]]:
    """``python args`` (a bridge) once its output shows ``ready``, and its output lines, growing."""
    process = subprocess.Popen(
        [sys.executable, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True).start()
    try:
        wait_until(lambda: any(ready in line for line in lines), what="%r from the bridge process" % ready)
    except AssertionError:
        process.kill()
        raise
    return process, lines


def run_args(port: int, db_url: str, *options: str) -> list[str]:
    """The arguments of ``python -m cloud_bridge run`` against the broker on ``port``."""
    return ["-m", "cloud_bridge", "run", "--broker", "127.0.0.1:%d" % port, "--db", db_url, *options]


def child_pids(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux)."""
    return [int(stat.parent.name) for stat in Path("/proc").glob("[0-9]*/stat") if _stat(stat)[1:2] == [str(pid)]]


def running(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie waiting to be reaped does not)."""
    return _stat(Path("/proc/%d/stat" % pid))[:1] not in ([], ["Z"])


def _stat(path: Path) -> list[str]:
    """A process's state, parent, ... from ``/proc/<pid>/stat``; [] once it is gone."""
    try:
        return path.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []
