"""Entry point of the virtual pile's firmware on the MicroPython unix port."""

import asyncio
import gc
import os
import time

# The settings first, while the heap is still in one piece (firmware/shell/settings.py).
from firmware.shell import settings

CONFIG_PATH = os.getenv("PILE_CONFIG") or "config.json"
cfg, identity, tls = settings.load(CONFIG_PATH, os.getenv("PILE_IDENTITY") or "identity.json")
del settings

from boards.sim.board import SimBoard  # noqa: E402
from firmware.shell import app  # noqa: E402

# asyncio loads its parts on first use; loaded now, they sit with the rest of the code rather than in
# holes the running pile leaves later.
asyncio.Event, asyncio.Lock, asyncio.gather, asyncio.open_connection, asyncio.wait_for_ms  # noqa: B018
gc.collect()
asyncio.run(app.run(SimBoard(cfg), cfg, identity, tls, CONFIG_PATH))
# Safe mode: a board would sit at its REPL with every relay off; the VM stays up likewise.
while True:
    time.sleep(60)
