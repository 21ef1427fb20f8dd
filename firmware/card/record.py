"""The card record: what a resident's IC card carries, written so that it cannot be forged or torn.

Layout v1 on a MIFARE Classic 1K (docs/cards.md). Sector 0 is the
manufacturer's (the UID). Sectors 1 and 2 each hold one copy of the record, a
"slot"; a write goes to the slot that does not hold the newest record, so a
card pulled in the middle of a write still has the record before it, whole.

    block 4s      balance in fen, as a value block whose address byte is the block's number
    block 4s + 1  "EB", layout 1, card kind, counter (u32), valid until (u16 day), last session's
                  day (u16), sessions that day (u8), the open session's order number (u24)
    block 4s + 2  open session: pile tag (u32, 0: none), port (u8), fen held (u24); then the MAC

Days count from 2000-01-01, in China's time (UTC+8). The MAC is the first 8 bytes of HMAC-SHA256
under the card's own key over the UID and the slot's 40 bytes before it; the
card's key is diversified from the site key by its UID (``card_key``), so one
card's key opens no other card, and a balance, a counter or a session marker
changed by hand, or copied from another card, fails it.
"""

from hashlib import sha256

from firmware.card import value_block
from firmware.compat import const
from firmware.mac import hmac_sha256, same_bytes

PREPAID = const(1)
MONTHLY = const(2)
FREE = const(3)
STAFF = const(4)
KINDS = (PREPAID, MONTHLY, FREE, STAFF)

_SLOT_SECTORS = const((1, 2))
_BLOCK_BYTES = const(16)
_MAC_BYTES = const(8)
_KEY_BYTES = const(6)
_U24_MAX = const(0xFFFFFF)  # fen held, order number
_MAGIC0 = const(0x45)  # "E"
_MAGIC1 = const(0x42)  # "B"
_LAYOUT = const(1)
_DAY_S = const(86400)
_CHINA_OFFSET_S = const(8 * 3600)
_DAYS_1970_TO_2000 = const(10957)

# Why a slot is not a record the pile can trust (logged and counted, never acted on).
_BLANK = const("blank")
_NOT_OURS = const("not_ours")
_TORN = const("torn")
_FORGED = const("forged")


class CardRecord:
    """One card's state as its newest slot holds it."""

    def __init__(self, kind=PREPAID, balance_fen=0, counter=0, valid_until=0, last_day=0, day_sessions=0):
        self.kind = kind
        self.balance_fen = balance_fen
        self.counter = counter
        self.valid_until = valid_until
        self.last_day = last_day
        self.day_sessions = day_sessions
        self.session_pile = 0
        self.session_port = 0
        self.session_order = 0
        self.held_fen = 0

    def open_session(self):
        """True while the card is marked with a session a pile has not settled on it ("grey")."""
        return self.session_pile != 0


def pile_tag(pile_id):
    """The 32-bit tag that names pile ``pile_id`` in a card's open-session marker (never 0: no session)."""
    digest = sha256(pile_id.encode()).digest()
    return (digest[0] | digest[1] << 8 | digest[2] << 16 | digest[3] << 24) or 1


def day_of(wall_s):
    """The day number (days since 2000-01-01, China time) of Unix time ``wall_s``."""
    return (wall_s + _CHINA_OFFSET_S) // _DAY_S - _DAYS_1970_TO_2000


def card_key(site_key, uid):
    """The key a card's MAC is made with: the site key diversified by the card's UID."""
    return hmac_sha256(site_key, b"card" + bytes(uid))


def sector_key(site_key, uid):
    """The card's 6-byte sector key (key A and key B of the record's sectors), diversified by UID."""
    return hmac_sha256(site_key, b"sector" + bytes(uid))[:_KEY_BYTES]


def slot_blocks(slot):
    """The block numbers (balance, header, session) of slot 0 or 1."""
    first = 4 * _SLOT_SECTORS[slot]
    return first, first + 1, first + 2


def pack(record, uid, key, slot, blocks):
    """Write ``record`` for the card ``uid`` into the three 16-byte ``blocks`` of ``slot``, MAC last."""
    if record.kind not in KINDS or not 0 <= record.held_fen <= _U24_MAX or not 0 <= record.session_order <= _U24_MAX:
        raise ValueError("card record out of range")
    balance, header, session = blocks
    value_block.encode(record.balance_fen, slot_blocks(slot)[0], balance)
    header[0] = _MAGIC0
    header[1] = _MAGIC1
    header[2] = _LAYOUT
    header[3] = record.kind
    _put(header, 4, record.counter, 4)
    _put(header, 8, record.valid_until, 2)
    _put(header, 10, record.last_day, 2)
    header[12] = record.day_sessions
    _put(header, 13, record.session_order, 3)
    _put(session, 0, record.session_pile, 4)
    session[4] = record.session_port
    _put(session, 5, record.held_fen, 3)
    session[8:16] = _mac(key, uid, balance, header, session)


def unpack(uid, key, slot, blocks):
    """(record, None) for a slot whose MAC and form hold; (None, reason) otherwise."""
    balance, header, session = blocks
    if not any(header) and not any(session):
        return None, _BLANK
    if header[0] != _MAGIC0 or header[1] != _MAGIC1 or header[2] != _LAYOUT:
        return None, _NOT_OURS
    value = value_block.decode(balance)
    if value is None or value[1] != slot_blocks(slot)[0]:
        return None, _TORN
    if not same_bytes(session[8:16], _mac(key, uid, balance, header, session)):
        return None, _FORGED
    record = CardRecord(header[3], value[0], _get(header, 4, 4), _get(header, 8, 2), _get(header, 10, 2), header[12])
    record.session_pile = _get(session, 0, 4)
    record.session_port = session[4]
    record.held_fen = _get(session, 5, 3)
    record.session_order = _get(header, 13, 3)
    if record.kind not in KINDS:
        return None, _FORGED
    return record, None


def newest(first, second):
    """The slot (0 or 1) holding the newer of two unpacked records, None if neither is one."""
    if first is None:
        return None if second is None else 1
    if second is None or first.counter >= second.counter:
        return 0
    return 1


def _mac(key, uid, balance, header, session):
    message = bytearray(uid)
    message.extend(balance)
    message.extend(header)
    message.extend(session[:8])
    return hmac_sha256(key, message)[:_MAC_BYTES]


def _put(block, offset, value, size):
    for index in range(size):
        block[offset + index] = (value >> (8 * index)) & 0xFF


def _get(block, offset, size):
    value = 0
    for index in range(size):
        value |= block[offset + index] << (8 * index)
    return value
