"""The issuing desk's card reader: the pile's MFRC522 driver on the desk's USB-serial SPI bridge.

It finds the card on the reader (and waits for the same card to come back after it was pulled), opens a
sector with a key, reads and writes its blocks, and tells a card whose UID can be rewritten (a "magic"
card, the usual carrier of a clone) from a genuine one. A card that leaves the reader at any moment is
an ordinary outcome here (None or False), as in the driver; only a reader that does not answer raises
``OSError``.
"""

from __future__ import annotations

import asyncio
import time

from drivers.mfrc522 import AUTH_A, WUPA, Mfrc522
from tools.serial_spi import FramedChipSelect, SerialSpi

BLOCK_BYTES = 16
# NXP's delivery key: sector 0 keeps it on every card the desk issues, which lets the desk probe block 0.
TRANSPORT_KEY = b"\xff" * 6
# Between two looks for a card: quick for the operator, light on the bus.
LOOK_INTERVAL_S = 0.05
# VersionReg of a chip that is not there: the bus floating low or high.
_NO_CHIP_VERSIONS = (0x00, 0xFF)


class DeskReader:
    """The MFRC522 at the serial port ``port``; ``open()`` before use, ``close()`` after."""

    def __init__(self, port: str, baudrate: int = 115200) -> None:
        self._spi = SerialSpi(port, baudrate)
        self.chip = Mfrc522(self._spi, FramedChipSelect())
        self.port = port

    def open(self) -> None:
        """Reset the chip and turn its antenna on; ``OSError`` if no chip answers."""
        version = self.chip.reset()
        if version in _NO_CHIP_VERSIONS:
            raise OSError("no MFRC522 answers on %s (version register %02x)" % (self.port, version))

    def close(self) -> None:
        """Close the serial port."""
        self._spi.close()

    async def wait_card(self, wait_s: float, uid: bytes | None = None) -> bytes | None:
        """The UID of the card on the reader (``uid``'s only, when given), selected; None if none came
        within ``wait_s``."""
        deadline = time.monotonic() + wait_s
        while True:
            found = await self.select(uid)
            if found is not None or time.monotonic() >= deadline:
                return found
            await asyncio.sleep(LOOK_INTERVAL_S)

    async def select(self, uid: bytes | None = None) -> bytes | None:
        """Wake the card in the field (halted or not) and select it: its UID, or None if no card (or not
        ``uid``) answers."""
        self.chip.stop_crypto()
        if not await self.chip.request(WUPA):
            return None
        found = await self.chip.anticollision()
        if found is None or (uid is not None and found != uid):
            return None
        return found if await self.chip.select(found) is not None else None

    async def open_sector(self, uid: bytes, block: int, key: bytes, auth: int = AUTH_A) -> bool:
        """Authenticate the sector of ``block`` with ``key`` (as key A, or ``auth``). A card that refuses
        ends its session, so it is selected again for what comes next."""
        if await self.chip.authenticate(block, key, uid, auth):
            return True
        await self.select(uid)
        return False

    async def read_blocks(self, uid: bytes, key: bytes, first: int, count: int, auth: int = AUTH_A) -> list | None:
        """``count`` blocks from ``first`` (one sector) as bytes, or None if the sector does not open with
        ``key`` or a read fails."""
        if not await self.open_sector(uid, first, key, auth):
            return None
        blocks = []
        for number in range(first, first + count):
            block = bytearray(BLOCK_BYTES)
            if not await self.chip.read(number, block):
                return None
            blocks.append(bytes(block))
        return blocks

    async def write_blocks(self, uid: bytes, key: bytes, blocks: list, auth: int = AUTH_A) -> bool:
        """Write ``blocks`` ((number, 16 bytes) of one sector, in the order given); False at the first
        refusal or a card gone."""
        if not await self.open_sector(uid, blocks[0][0], key, auth):
            return False
        for number, data in blocks:
            if not await self.chip.write(number, data):
                return False
        return True

    async def uid_writable(self, uid: bytes) -> bool | None:
        """Whether block 0 (the UID) takes a write: True for a magic card, False for a genuine one, None when
        sector 0 does not open with the transport key (not as issued) or the card left. The probe writes
        block 0's own bytes back, so even a magic card is left as it was."""
        manufacturer = await self.read_blocks(uid, TRANSPORT_KEY, 0, 1)
        if manufacturer is None or manufacturer[0][:4] != uid:
            return None
        writable = await self.chip.write(0, manufacturer[0])
        # A genuine card answers the refused write by ending its session.
        if await self.select(uid) is None:
            return None
        return writable
