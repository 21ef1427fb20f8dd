"""Boot entry on the ESP32-S3 board (installed as /main.py)."""

import asyncio

from boards.esp32s3.board import Esp32S3Board
from firmware.shell import app

cfg = app.load_config("/config.json")
asyncio.run(app.run(Esp32S3Board(cfg), cfg))
