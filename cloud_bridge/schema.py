"""Pile → cloud messages (docs/cloud-protocol.md), decoded from CBOR into typed records.

``decode(topic, payload)`` returns one of the record classes below, a ``Status``, or a ``Reject``
saying why the message cannot be stored; it never raises on what a pile (or anyone else able to
publish) sends. Unknown keys are ignored, so a pile with a newer firmware still gets its known fields
stored; a missing key or a value of the wrong type rejects the whole message.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from operator import itemgetter

import cbor2

TOPIC = re.compile(r"pile/([A-Za-z0-9_-]{1,32})/up/([a-z]+)\Z")
# Both databases store a signed 64-bit integer; a larger uint is refused here rather than by the database.
UINT_MAX = 2**63 - 1
# Our maps are flat, telemetry is the deepest: map -> array -> array.
MAX_DEPTH = 4

# Keys common to every upstream record.
BOOT, SEQ, T = 0, 1, 2


@dataclass(slots=True)
class Record:
    """A numbered upstream record: what every kind has in common."""

    kind: str
    pile: str
    boot: int
    seq: int
    t: int


@dataclass(slots=True)
class Birth(Record):
    firmware: str
    config_version: int
    ports: int
    outbox: int


@dataclass(slots=True)
class Order(Record):
    order_no: int
    port: int
    method: str
    start: int
    end: int
    energy_wh: int
    charged_s: int
    paid_fen: int
    used_fen: int
    returned_fen: int
    tier: int
    payments: int
    stop_reason: str
    payment_ref: str  # "" for coin and free, and for an order from a firmware before key 16


@dataclass(slots=True)
class Meter(Record):
    energy_wh: int
    voltage_dv: int  # 0.1 V
    current_ma: int  # negative: reverse flow
    power_w: int  # negative: reverse flow


@dataclass(slots=True)
class Ack(Record):
    command_id: int  # 0: the command was too malformed to name one
    result: int
    detail: str
    data: bytes | None  # key 6 re-encoded as CBOR (its type depends on the command kind), None if absent


@dataclass(slots=True)
class Telemetry(Record):
    readings: tuple[tuple[int, int, int, int], ...]  # (port, state, power_w, left_s or -1) each


@dataclass(slots=True)
class Alarm(Record):
    alarm: str
    port: int
    detail: str
    state: int | None = None  # 1 raised, 0 cleared, None a one-off event (or a firmware before key 6)
    numbers: tuple[str, ...] | None = None  # ``sms_sent``: the phone numbers the pile texted


@dataclass(slots=True)
class Status:
    """Online/offline of one connection; not a record: it carries its birth's seq."""

    pile: str
    boot: int
    birth_seq: int
    t: int
    online: bool


@dataclass(slots=True)
class Reject:
    """A message that cannot be stored, and why."""

    topic: str
    payload: bytes
    reason: str
    pile: str | None = None


Message = Record | Status | Reject


class _Invalid(ValueError):
    pass


def _show(value: object) -> str:
    """``value`` for a reject reason, cut short: a hostile payload may hold a megabyte of text."""
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


# The value types of the protocol doc. PostgreSQL text cannot hold NUL, so text with NUL is refused: both
# backends then store the same messages.
UINT, INT, SINT, TEXT, BOOL, PORTS = "uint", "int (-1 allowed)", "int", "text", "bool", "array of ports"
STATE, NUMBERS = "0 or 1", "array of phone numbers"
_PYTHON_TYPE = {UINT: int, INT: int, SINT: int, TEXT: str, BOOL: bool, PORTS: list, STATE: int, NUMBERS: list}
# A phone number as a pile's modem dials it: digits, perhaps a leading +.
_PHONE = re.compile(r"\+?[0-9]{3,20}\Z")
MAX_NUMBERS = 16
_LOWEST = {INT: -1, SINT: -UINT_MAX - 1}
_HEAD = ((BOOT, "boot", UINT), (SEQ, "seq", UINT), (T, "t", UINT))


class _Kind:
    """How to check and build one kind of message: its class and its (key, name, type) fields in the
    class's order (after ``kind`` and ``pile``).

    ``optional``: (key, name, type, default) fields after those, taking ``default`` when the key is
    absent (a key added to the protocol later); a default of None keeps "absent" apart from any value.
    ``raw``: a last key of any CBOR value, kept re-encoded
    as bytes (None when absent).
    """

    def __init__(
        self,
        cls: type,
        fields: tuple[tuple[int, str, str], ...],
        optional: tuple[tuple[int, str, str, object], ...] = (),
        raw: int | None = None,
    ) -> None:
        self.cls = cls
        self.defaults = tuple((key, default) for key, _, _, default in optional)
        first_optional = len(fields)
        self.nullable = frozenset(first_optional + i for i, field in enumerate(optional) if field[3] is None)
        self.raw = raw
        fields += tuple(field[:3] for field in optional)
        self.fields = fields
        self.pick = itemgetter(*(key for key, _, _ in fields[: len(fields) - len(optional)]))
        self.types = tuple(_PYTHON_TYPE[kind] for _, _, kind in fields)
        self.uints = itemgetter(*(i for i, (_, _, kind) in enumerate(fields) if kind == UINT))
        self.ints = tuple((i, _LOWEST[kind]) for i, (_, _, kind) in enumerate(fields) if kind in _LOWEST)
        self.texts = tuple(i for i, (_, _, kind) in enumerate(fields) if kind == TEXT)
        self.ports = next((i for i, (_, _, kind) in enumerate(fields) if kind == PORTS), None)
        self.states = tuple(i for i, (_, _, kind) in enumerate(fields) if kind == STATE)
        self.numbers = next((i for i, (_, _, kind) in enumerate(fields) if kind == NUMBERS), None)

    def _types_fit(self, values: list) -> bool:
        """Whether each value has its field's type, an absent optional one (None) included. Off the hot
        path: only for a message whose types are not exactly the fields' (an optional key absent)."""
        return all(
            type(value) is wanted or (value is None and index in self.nullable)
            for index, (value, wanted) in enumerate(zip(values, self.types, strict=True))
        )

    def values(self, body: dict) -> list | None:
        """The field values if ``body`` holds them all, well typed; else None (``explain`` says why).

        The hot path of the bridge: a few C-level checks over all fields at once, not one call a field.
        """
        try:
            values = list(self.pick(body))
        except KeyError:
            return None
        for key, default in self.defaults:
            values.append(body.get(key, default))
        if tuple(map(type, values)) != self.types and not (self.nullable and self._types_fit(values)):
            return None
        uints = self.uints(values)
        if min(uints) < 0 or max(uints) > UINT_MAX or values[1] == 0:
            return None
        for index, lowest in self.ints:
            if not lowest <= values[index] <= UINT_MAX:
                return None
        for index in self.texts:
            if "\x00" in values[index]:
                return None
        if self.ports is not None:
            readings = _readings(values[self.ports])
            if readings is None:
                return None
            values[self.ports] = readings
        for index in self.states:
            if values[index] not in (None, 0, 1):
                return None
        if self.numbers is not None and values[self.numbers] is not None:
            numbers = _numbers(values[self.numbers])
            if numbers is None:
                return None
            values[self.numbers] = numbers
        if self.raw is not None:
            values.append(cbor2.dumps(body[self.raw]) if self.raw in body else None)
        return values

    def explain(self, body: dict) -> str:
        """Why ``values`` refused ``body``: the first field at fault."""
        optional = dict(self.defaults)
        for key, name, kind in self.fields:
            if key not in body and key not in optional:
                return "key %d (%s) missing" % (key, name)
            value = body.get(key, optional.get(key))
            if value is None and key not in body:
                continue  # an optional key that may be absent
            if kind == PORTS:
                problem = _explain_readings(value)
            elif kind == STATE and value not in (0, 1):
                problem = "expected 0 or 1, got %s" % _show(value)
            elif kind == NUMBERS:
                problem = (
                    None
                    if _numbers(value) is not None
                    else "expected an array of phone numbers, got %s" % (_show(value))
                )
            elif not _fits(value, kind):
                problem = "expected %s, got %s" % (kind, _show(value))
            elif key == SEQ and value == 0:
                problem = "counts from 1"
            else:
                continue
            if problem is not None:
                return "key %d (%s): %s" % (key, name, problem)
        return "invalid"


def _fits(value: object, kind: str) -> bool:
    if type(value) is not _PYTHON_TYPE[kind]:
        return False
    if kind in (UINT, INT, SINT):
        return _LOWEST.get(kind, 0) <= value <= UINT_MAX
    return kind != TEXT or "\x00" not in value


def _readings(entries: list) -> tuple[tuple[int, int, int, int], ...] | None:
    """Telemetry's ``[port, state, W, seconds left or -1]`` entries as tuples, or None if one is malformed
    or a port appears twice. Spelled out test by test: for one to three entries, as telemetry mostly
    holds, that is what costs least."""
    ports = set()
    for entry in entries:
        if type(entry) is not list or len(entry) != 4:
            return None
        port, state, power_w, left_s = entry
        if type(port) is not int or type(state) is not int or type(power_w) is not int or type(left_s) is not int:
            return None
        if port < 0 or state < 0 or power_w < 0 or left_s < -1 or max(entry) > UINT_MAX:
            return None
        ports.add(port)
    if len(ports) != len(entries):
        return None
    return tuple(map(tuple, entries))


def _numbers(entries: object) -> tuple[str, ...] | None:
    """``sms_sent``'s phone numbers as a tuple, or None if one is not a phone number (or there are too many)."""
    if type(entries) is not list or len(entries) > MAX_NUMBERS:
        return None
    if not all(type(number) is str and _PHONE.match(number) for number in entries):
        return None
    return tuple(entries)


def _explain_readings(entries: object) -> str | None:
    """What is wrong with telemetry's ports, or None if nothing is."""
    if type(entries) is not list:
        return "expected an array of ports, got %s" % _show(entries)
    for entry in entries:
        if _readings([entry]) is None:
            return "expected [port, state, W, seconds left or -1], got %s" % _show(entry)
    if _readings(entries) is None:
        return "a port appears twice"
    return None


_KINDS = {
    "birth": _Kind(
        Birth, _HEAD + ((3, "firmware", TEXT), (4, "config_version", UINT), (5, "ports", UINT), (6, "outbox", UINT))
    ),
    "order": _Kind(
        Order,
        _HEAD
        + (
            (3, "order_no", UINT),
            (4, "port", UINT),
            (5, "method", TEXT),
            (6, "start", UINT),
            (7, "end", UINT),
            (8, "energy_wh", UINT),
            (9, "charged_s", UINT),
            (10, "paid_fen", UINT),
            (11, "used_fen", UINT),
            (12, "returned_fen", UINT),
            (13, "tier", INT),
            (14, "payments", UINT),
            (15, "stop_reason", TEXT),
        ),
        optional=((16, "payment_ref", TEXT, ""),),
    ),
    "tele": _Kind(Telemetry, _HEAD + ((3, "readings", PORTS),)),
    "alarm": _Kind(
        Alarm,
        _HEAD + ((3, "alarm", TEXT), (4, "port", UINT), (5, "detail", TEXT)),
        optional=((6, "state", STATE, None), (7, "numbers", NUMBERS, None)),
    ),
    "meter": _Kind(
        Meter, _HEAD + ((3, "energy_wh", UINT), (4, "voltage_dv", UINT), (5, "current_ma", SINT), (6, "power_w", SINT))
    ),
    "ack": _Kind(Ack, _HEAD + ((3, "command_id", UINT), (4, "result", UINT), (5, "detail", TEXT)), raw=6),
    "status": _Kind(Status, _HEAD + ((3, "online", BOOL),)),
}


def _cbor_map(payload: bytes) -> dict:
    stream = io.BytesIO(payload)
    try:
        body = cbor2.CBORDecoder(
            stream, max_depth=MAX_DEPTH, allow_indefinite=False, allow_duplicate_keys=False
        ).decode()
    except (cbor2.CBORDecodeError, RecursionError, OverflowError) as error:
        raise _Invalid("CBOR: %s" % error) from None
    if stream.tell() != len(payload):
        raise _Invalid("CBOR: %d bytes after the map" % (len(payload) - stream.tell()))
    if type(body) is not dict:
        raise _Invalid("expected a map, got %s" % type(body).__name__)
    return body


def decode(topic: str, payload: bytes) -> Message:
    """The message ``payload`` published on ``topic`` holds, or a ``Reject`` saying what is wrong."""
    match = TOPIC.match(topic)
    if match is None:
        return Reject(topic, payload, "topic is not pile/<pile>/up/<kind>")
    pile, kind = match.groups()
    spec = _KINDS.get(kind)
    if spec is None:
        return Reject(topic, payload, "unknown kind %r" % kind, pile)
    try:
        body = _cbor_map(payload)
    except _Invalid as error:
        return Reject(topic, payload, str(error), pile)
    values = spec.values(body)
    if values is None:
        return Reject(topic, payload, spec.explain(body), pile)
    if spec.cls is Status:
        return Status(pile, *values)
    return spec.cls(kind, pile, *values)
