"""Entry point of the virtual pile's firmware on the MicroPython unix port."""

import asyncio
import os
import time

from boards.sim.board import SimBoard
from firmware.shell import app

cfg = app.load_config(os.getenv("PILE_CONFIG") or "config.json")
asyncio.run(app.run(SimBoard(cfg), cfg))
# Safe mode: a board would sit at its REPL with every relay off; the VM stays up likewise.
while True:
    time.sleep(60)
