"""The virtual pile's flash partition: a littlefs image in a file, provisioned once.

The firmware never formats its flash; like an installer at provisioning, the
world formats a new image with the real littlefs (MicroPython's VfsLfs2),
through the same block device class the firmware mounts it with.
"""

from __future__ import annotations

import json
from pathlib import Path

from boards.sim.world.vm import run_source

FLASH_BYTES = 2 * 1024 * 1024
ERASED = b"\xff"

# Runs on the VM: format the image with the firmware's own block device (no pin bus: no cut armed).
_MKFS = """
import sys, vfs
from boards.sim.simhw import FileFlash
class NoBus:
    commands = {}
    def send(self, line):
        pass
vfs.VfsLfs2.mkfs(FileFlash(sys.argv[1], NoBus()))
"""


# Runs on the VM: list the outbox of an image (the board being powered off).
_ORDERS = """
import sys, vfs, json
from boards.sim.simhw import FileFlash
from firmware.shell.store import Store
class NoBus:
    commands = {}
    def send(self, line):
        pass
vfs.mount(vfs.VfsLfs2(FileFlash(sys.argv[1], NoBus())), "/flash")
for order in Store("/flash", print).orders():
    print(json.dumps(order))
"""


# Runs on the VM: write stdin (hex) as a file of the image (the board being powered off).
_PUT = """
import sys, vfs
from binascii import unhexlify
from boards.sim.simhw import FileFlash
class NoBus:
    commands = {}
    def send(self, line):
        pass
vfs.mount(vfs.VfsLfs2(FileFlash(sys.argv[1], NoBus())), "/flash")
with open("/flash/" + sys.argv[2], "wb") as handle:
    handle.write(unhexlify(sys.stdin.read().strip()))
vfs.umount("/flash")
"""


def put_file(path: Path, name: str, content: bytes) -> None:
    """Write ``content`` as the file ``name`` of the image at ``path`` (as an installer would)."""
    run_source(["-c", _PUT, str(path), name], stdin=content.hex()).check_returncode()


def stored_orders(path: Path) -> list[dict]:
    """The orders in the outbox of the image at ``path`` (read with the firmware's own Store)."""
    result = run_source(["-c", _ORDERS, str(path)])
    result.check_returncode()
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def provision(path: Path, size: int = FLASH_BYTES) -> None:
    """Create an erased image of ``size`` bytes at ``path`` and format it with littlefs."""
    path.write_bytes(ERASED * size)
    run_source(["-c", _MKFS, str(path)]).check_returncode()
