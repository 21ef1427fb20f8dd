"""A MIFARE Classic 1K card as the reader's RF field sees it (NXP MF1S50 datasheet).

1024 bytes in 16 sectors of 4 blocks. Block 0 holds the UID, its check byte
(BCC), SAK and ATQA and is read-only (but on a "magic" card, whose UID can be
written). The last block of each sector, its trailer, holds key A, the access
bits (three bits per block, stored twice, once inverted) and key B. Every
operation on a block needs the sector authenticated with the key the access
bits allow for it; the cipher itself (Crypto1) is not emulated, only who may
do what. Value blocks keep a signed 32-bit value three times (once inverted)
and an address byte four times; increment, decrement and restore work into a
transfer buffer that ``transfer`` writes to a block.
"""

from __future__ import annotations

import struct

BLOCKS = 64
BLOCK_BYTES = 16
SECTORS = 16
TRANSPORT_KEY = b"\xff" * 6
# Data blocks read/write/increment/decrement with key A or B; the trailer's key B readable (NXP's delivery state).
TRANSPORT_ACCESS = bytes.fromhex("ff078069")
ATQA = b"\x04\x00"
SAK = 0x08
KEY_A = "A"
KEY_B = "B"

# Who may do what, by the block's access bits (C1, C2, C3): {operation: keys allowed}.
_DATA_RULES = {
    (0, 0, 0): {"read": "AB", "write": "AB", "increment": "AB", "decrement": "AB"},
    (0, 1, 0): {"read": "AB", "write": "", "increment": "", "decrement": ""},
    (1, 0, 0): {"read": "AB", "write": "B", "increment": "", "decrement": ""},
    (1, 1, 0): {"read": "AB", "write": "B", "increment": "B", "decrement": "AB"},
    (0, 0, 1): {"read": "AB", "write": "", "increment": "", "decrement": "AB"},
    (0, 1, 1): {"read": "B", "write": "B", "increment": "", "decrement": ""},
    (1, 0, 1): {"read": "B", "write": "", "increment": "", "decrement": ""},
    (1, 1, 1): {"read": "", "write": "", "increment": "", "decrement": ""},
}
# The trailer: (write key A, read access bits, write access bits, read key B, write key B). Key A never reads.
_TRAILER_RULES = {
    (0, 0, 0): ("A", "A", "", "A", "A"),
    (0, 1, 0): ("", "A", "", "A", ""),
    (1, 0, 0): ("B", "AB", "", "", "B"),
    (1, 1, 0): ("", "AB", "", "", ""),
    (0, 0, 1): ("A", "A", "A", "A", "A"),
    (0, 1, 1): ("B", "AB", "B", "", "B"),
    (1, 0, 1): ("", "AB", "B", "", ""),
    (1, 1, 1): ("", "AB", "", "", ""),
}
_NEVER = (1, 1, 1)


def trailer_of(sector: int) -> int:
    """The block number of ``sector``'s trailer."""
    return 4 * sector + 3


def access_bytes(conditions: list[tuple[int, int, int]]) -> bytes:
    """The trailer's bytes 6-9 for four (C1, C2, C3) conditions (blocks 0-2, then the trailer), GPB 0x69."""
    c1 = sum(bits[0] << block for block, bits in enumerate(conditions))
    c2 = sum(bits[1] << block for block, bits in enumerate(conditions))
    c3 = sum(bits[2] << block for block, bits in enumerate(conditions))
    return bytes((((~c2 & 0xF) << 4) | (~c1 & 0xF), (c1 << 4) | (~c3 & 0xF), (c3 << 4) | c2, 0x69))


def value_block(value: int, address: int) -> bytes:
    """A value block holding ``value`` with ``address`` (the datasheet's layout)."""
    raw = struct.pack("<i", value)
    inverted = bytes(byte ^ 0xFF for byte in raw)
    return raw + inverted + raw + bytes((address, address ^ 0xFF, address, address ^ 0xFF))


def read_value(block: bytes) -> int | None:
    """The value of a well-formed value block, None otherwise."""
    raw, inverted, again = block[0:4], block[4:8], block[8:12]
    if raw != again or bytes(byte ^ 0xFF for byte in raw) != inverted:
        return None
    address = block[12:16]
    if address[0] != address[2] or address[1] != address[3] or address[0] ^ 0xFF != address[1]:
        return None
    return struct.unpack("<i", raw)[0]


class ClassicCard:
    """The memory of one card and the rules that guard it; ``magic`` cards let block 0 be written."""

    def __init__(self, uid: bytes, magic: bool = False) -> None:
        if len(uid) != 4:
            raise ValueError("a MIFARE Classic 1K here has a 4-byte UID")
        self.magic = magic
        self.blocks = [bytearray(BLOCK_BYTES) for _ in range(BLOCKS)]
        self.blocks[0][:] = manufacturer_block(uid)
        for sector in range(SECTORS):
            self.blocks[trailer_of(sector)][:] = TRANSPORT_KEY + TRANSPORT_ACCESS + TRANSPORT_KEY

    @property
    def uid(self) -> bytes:
        return bytes(self.blocks[0][:4])

    def dump(self) -> bytes:
        """All 1024 bytes, as a cloning tool reads them once it has cracked the keys."""
        return b"".join(bytes(block) for block in self.blocks)

    @classmethod
    def from_dump(cls, data: bytes, magic: bool = True) -> ClassicCard:
        """A card holding ``data`` (1024 bytes), UID included: a clone is written onto a magic card."""
        if len(data) != BLOCKS * BLOCK_BYTES:
            raise ValueError("a 1K dump is 1024 bytes")
        card = cls(data[:4], magic=magic)
        for number in range(BLOCKS):
            card.blocks[number][:] = data[number * BLOCK_BYTES : (number + 1) * BLOCK_BYTES]
        return card

    def conditions(self, block: int) -> tuple[int, int, int]:
        """(C1, C2, C3) of ``block`` from its sector trailer; inconsistent bits lock everything."""
        trailer = self.blocks[trailer_of(block // 4)]
        index = block % 4
        byte6, byte7, byte8 = trailer[6], trailer[7], trailer[8]
        c1, c2, c3 = (byte7 >> (4 + index)) & 1, (byte8 >> index) & 1, (byte8 >> (4 + index)) & 1
        if (byte6 >> index) & 1 == c1 or (byte6 >> (4 + index)) & 1 == c2 or (byte7 >> index) & 1 == c3:
            return _NEVER
        return c1, c2, c3

    def key(self, sector: int, key_type: str) -> bytes:
        trailer = self.blocks[trailer_of(sector)]
        return bytes(trailer[0:6] if key_type == KEY_A else trailer[10:16])

    def key_usable(self, sector: int, key_type: str) -> bool:
        """Key B that the trailer lets be read is data, not a key (datasheet 8.7.1)."""
        if key_type == KEY_A:
            return True
        return "A" not in _TRAILER_RULES[self.conditions(trailer_of(sector))][3]

    def may(self, block: int, operation: str, key_type: str) -> bool:
        """Whether ``operation`` (read, write, increment, decrement, transfer, restore) on ``block`` is
        allowed after authenticating its sector with ``key_type``."""
        if block == 0:
            return operation == "read" or (operation == "write" and self.magic)
        bits = self.conditions(block)
        if block % 4 == 3:
            write_a, read_access, write_access, read_b, write_b = _TRAILER_RULES[bits]
            if operation == "read":
                return key_type in read_access
            if operation == "write":
                return key_type in write_a and key_type in write_access and key_type in write_b
            return False
        rule = _DATA_RULES[bits]
        if operation in ("transfer", "restore"):
            operation = "decrement"
        return key_type in rule[operation]

    def read(self, block: int, key_type: str) -> bytes:
        """What a READ returns: a trailer's key A always reads as zeros, key B as zeros unless readable."""
        data = bytearray(self.blocks[block])
        if block % 4 == 3:
            data[0:6] = bytes(6)
            if key_type not in _TRAILER_RULES[self.conditions(block)][3]:
                data[10:16] = bytes(6)
        return bytes(data)

    def write(self, block: int, data: bytes) -> None:
        self.blocks[block][:] = data


def manufacturer_block(uid: bytes) -> bytes:
    """Block 0: UID, BCC (XOR of the UID), SAK, ATQA and the manufacturer's data."""
    bcc = uid[0] ^ uid[1] ^ uid[2] ^ uid[3]
    return uid + bytes((bcc, SAK)) + ATQA + b"\x62\x63\x64\x65\x66\x67\x68\x69"
