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

# The start of each script below, run on the VM against an image with the board powered off: the
# firmware's own block device, with no pin bus (so no cut is ever armed).
_OFFLINE = """
import sys, vfs
from boards.sim.simhw import FileFlash
class NoBus:
    commands = {}
    def send(self, line):
        pass
flash = FileFlash(sys.argv[1], NoBus())
"""

# Format the image.
_MKFS = (
    _OFFLINE
    + """
vfs.VfsLfs2.mkfs(flash)
"""
)

# List the outbox of an image.
_ORDERS = (
    _OFFLINE
    + """
import json
from firmware.shell.store import Store
vfs.mount(vfs.VfsLfs2(flash), "/flash")
for order in Store("/flash", print).orders():
    print(json.dumps(order))
"""
)

# Write stdin (hex) as a file of the image.
_PUT = (
    _OFFLINE
    + """
from binascii import unhexlify
vfs.mount(vfs.VfsLfs2(flash), "/flash")
with open("/flash/" + sys.argv[2], "wb") as handle:
    handle.write(unhexlify(sys.stdin.read().strip()))
vfs.umount("/flash")
"""
)


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
