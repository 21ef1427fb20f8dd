"""Signed commands from the cloud: the envelope, its MAC, and the memory that makes each id single-use.

Pure: no clock, no flash, no network. The shell (firmware/shell/remote.py)
hands in the payload and the time and acts on what comes out. The rules are
in docs/cloud-protocol.md ("Commands"): check the envelope, then the MAC over
the exact body bytes, then the fields, then the id against the ledger, then
the expiry. Only an authentic command can ever use up an id.
"""

from firmware import cbor_decode
from firmware.compat import const
from firmware.mac import hmac_sha256, same_bytes

# Result codes of an ack (docs/cloud-protocol.md).
DONE = const(0)
FORGED = const(1)
EXPIRED = const(2)
MALFORMED = const(3)
STALE = const(4)
REFUSED = const(5)
BAD_CONFIG = const(6)
UNKNOWN = const(7)

MAC_BYTES = const(16)
KEY_BYTES = const(32)
LEDGER_SIZE = const(16)

# Command map keys.
ID = const(0)
KIND = const(1)
EXPIRES = const(2)
ISSUED = const(3)
ARG_PORT = const(4)
ARG_CREDIT = const(5)
ARG_REF = const(6)
ARG_VERSION = const(4)
ARG_SETTINGS = const(5)
ARG_BLOCK = const(4)
ARG_UNBLOCK = const(5)
ARG_SETTLED = const(6)

KINDS = ("start", "stop", "config", "query", "reboot", "time", "cards", "clear")
_REF_MAX = const(32)
_UIDS_MAX = const(32)
_UID_HEX_MAX = const(20)


def command_mac(key, pile_id, body):
    """The MAC a command body for ``pile_id`` carries: HMAC-SHA256 over ``"<pile>\\n" + body``, truncated."""
    return hmac_sha256(key, pile_id.encode() + b"\n" + body)[:MAC_BYTES]


def _is_uint(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _id_of(body):
    """The id an unverified body claims, only to name it in the answer; 0 if it names none."""
    try:
        command = cbor_decode.decode(body)
    except ValueError:
        return 0
    if isinstance(command, dict) and _is_uint(command.get(ID)):
        return command[ID]
    return 0


def open_envelope(payload, key, pile_id):
    """(command, None) for an authentic, well-formed command; (None, (id, result, detail)) otherwise."""
    try:
        envelope = cbor_decode.decode(payload)
    except ValueError:
        return None, (0, MALFORMED, "not CBOR")
    if not isinstance(envelope, list) or len(envelope) != 2:
        return None, (0, MALFORMED, "not a [body, mac] envelope")
    body, mac = envelope
    if not isinstance(body, bytes) or not isinstance(mac, bytes):
        return None, (0, MALFORMED, "not a [body, mac] envelope")
    if not same_bytes(command_mac(key, pile_id, body), mac):
        return None, (_id_of(body), FORGED, "MAC does not verify")
    try:
        command = cbor_decode.decode(body)
    except ValueError:
        return None, (0, MALFORMED, "body is not CBOR")
    if not isinstance(command, dict):
        return None, (0, MALFORMED, "body is not a map")
    problem = field_problem(command)
    if problem:
        return None, (_id_of(body), MALFORMED, problem)
    return command, None


def field_problem(command):
    """What is wrong with a command map's fields; "" when it can be acted on."""
    command_id = command.get(ID)
    if not _is_uint(command_id) or command_id == 0:
        return "id must be a positive integer"
    if not isinstance(command.get(KIND), str):
        return "kind must be text"
    if not _is_uint(command.get(EXPIRES)) or not _is_uint(command.get(ISSUED)):
        return "expires and issued must be Unix seconds"
    kind = command[KIND]
    if kind == "start":
        ref = command.get(ARG_REF)
        if not _is_uint(command.get(ARG_PORT)) or not _is_uint(command.get(ARG_CREDIT)) or not command[ARG_CREDIT]:
            return "start needs a port and a credit of at least 1 fen"
        if not isinstance(ref, str) or not 0 < len(ref) <= _REF_MAX:
            return "start needs a payment reference of 1 to 32 characters"
    elif kind == "stop" or kind == "clear":
        if not _is_uint(command.get(ARG_PORT)):
            return kind + " needs a port (clear: 0 for smoke and every port)"
    elif kind == "config":
        if not _is_uint(command.get(ARG_VERSION)) or not isinstance(command.get(ARG_SETTINGS), dict):
            return "config needs a version and a settings map"
    elif kind == "cards":
        if not _are_uids(command.get(ARG_BLOCK)) or not _are_uids(command.get(ARG_UNBLOCK)):
            return "cards needs block and unblock lists of at most 32 card UIDs in hex"
        if not _are_settled(command.get(ARG_SETTLED)):
            return "cards needs a settled list of at most 32 [card UID in hex, order no] pairs"
    return ""


def _are_settled(pairs):
    if not isinstance(pairs, list) or len(pairs) > _UIDS_MAX:
        return False
    for pair in pairs:
        if not isinstance(pair, list) or len(pair) != 2 or not _are_uids(pair[:1]) or not _is_uint(pair[1]):
            return False
    return True


def _are_uids(uids):
    if not isinstance(uids, list) or len(uids) > _UIDS_MAX:
        return False
    for uid in uids:
        if not isinstance(uid, str) or not 0 < len(uid) <= _UID_HEX_MAX or len(uid) % 2:
            return False
        for char in uid:
            if char not in "0123456789abcdef":
                return False
    return True


class Ledger:
    """The answers to the last LEDGER_SIZE authentic command ids, and the floor below which ids are stale.

    Kept on flash as the JSON ``record()``; a record that is not one of ours
    starts an empty ledger (ids then count from the next one the bridge sends).
    """

    def __init__(self, record=None):
        self.answers = []  # [id, result, detail], oldest first
        self.floor = 0
        if isinstance(record, dict):
            answers = record.get("answers")
            floor = record.get("floor")
            if isinstance(answers, list) and isinstance(floor, int) and _is_uint(floor):
                self.answers = [a for a in answers if isinstance(a, list) and len(a) == 3]
                self.floor = floor

    def answer(self, command_id):
        """The first answer ``[id, result, detail]`` to ``command_id``, or None if it was never acted on."""
        for entry in self.answers:
            if entry[0] == command_id:
                return entry
        return None

    def stale(self, command_id):
        """True for an id older than every id the ledger still remembers."""
        return command_id < self.floor

    def remember(self, command_id, result, detail):
        """Keep the answer to ``command_id``; the oldest id is forgotten (and becomes the floor) when full."""
        self.answers.append([command_id, result, detail])
        if len(self.answers) > LEDGER_SIZE:
            oldest = min(entry[0] for entry in self.answers)
            self.answers = [entry for entry in self.answers if entry[0] != oldest]
            if oldest + 1 > self.floor:
                self.floor = oldest + 1

    def record(self):
        """The ledger as a JSON-able dict for the flash."""
        return {"floor": self.floor, "answers": self.answers}


def admit(command, ledger, now_s):
    """None if the command is to be acted on now; else the answer ``(result, detail)`` to send instead.

    A replay gets its first answer; a ``time`` command is exempt from expiry
    (a pile with a wrong clock would refuse the command that fixes it).
    """
    command_id = command[ID]
    first = ledger.answer(command_id)
    if first is not None:
        return first[1], first[2]
    if ledger.stale(command_id):
        return STALE, "id %d is below %d" % (command_id, ledger.floor)
    if command[KIND] != "time" and now_s >= command[EXPIRES]:
        return EXPIRED, "expired %d s ago" % (now_s - command[EXPIRES])
    if command[KIND] not in KINDS:
        return UNKNOWN, "unknown kind %s" % command[KIND]
    return None
