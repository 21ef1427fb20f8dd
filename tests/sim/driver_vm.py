"""A driver under test in a MicroPython VM, driven line by line from the test.

The VM runs a harness script: each line written on its stdin is an
expression it evaluates (awaiting an awaitable), and it answers with one JSON
line. The sources are imported from the repository, so a driver test needs no
build.
"""

import asyncio
import json

from boards.sim.world.vm import DEFAULT_HEAP, micropython_executable
from tools.mpy_build import ROOT

REPLY_TIMEOUT_S = 5.0


class DriverVm:
    """One VM running ``harness`` with ``args`` as its sys.argv[1:]."""

    def __init__(self, harness, *args):
        self.harness = harness
        self.args = args
        self.process = None

    async def start(self):
        self.process = await asyncio.create_subprocess_exec(
            micropython_executable(),
            "-X",
            f"heapsize={DEFAULT_HEAP}",
            "-c",
            self.harness,
            *self.args,
            cwd=ROOT,
            env={"MICROPYPATH": f".frozen:{ROOT}"},
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )

    async def call(self, expression):
        """The harness's JSON answer to ``expression``; AssertionError with the VM's stderr if it died."""
        self.process.stdin.write(expression.encode() + b"\n")
        await self.process.stdin.drain()
        line = await asyncio.wait_for(self.process.stdout.readline(), REPLY_TIMEOUT_S)
        if not line:
            raise AssertionError((await self.process.stderr.read()).decode())
        return json.loads(line)

    async def stop(self):
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
        if self.process is not None:
            await self.process.wait()
