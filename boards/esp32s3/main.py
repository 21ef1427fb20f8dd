"""Boot entry on the ESP32-S3 board (installed as /main.py)."""

import asyncio
import gc

# The settings first, while the heap is still in one piece (firmware/shell/settings.py).
from firmware.shell import settings

CONFIG_PATH = "/config.json"
cfg, identity, tls = settings.load(CONFIG_PATH, "/identity.json")
del settings

from boards.esp32s3.board import Esp32S3Board  # noqa: E402
from firmware.shell import app  # noqa: E402

# asyncio loads its parts on first use; loaded now, they sit with the rest of the code rather than in
# holes the running pile leaves later.
asyncio.Event, asyncio.Lock, asyncio.gather, asyncio.open_connection, asyncio.wait_for_ms  # noqa: B018
gc.collect()
asyncio.run(app.run(Esp32S3Board(cfg), cfg, identity, tls, CONFIG_PATH))
