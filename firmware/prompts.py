"""What the pile tells the resident: one id per prompt, its voice track and its text.

The id is also the voice module's track number (tracks 001.mp3... on its flash),
so the display, the voice and the simulator's decoder share one table.
Display texts fit a 20-column LCD; ``%d`` is the port, ``%s`` a formatted value.
"""

from firmware.compat import const

WELCOME = const(1)
INSERT_COINS = const(2)
STARTED = const(3)
QUEUED = const(4)
ADDED = const(5)
INVALID_PORT = const(6)
CHOOSE_PORT_FIRST = const(7)
PORT_BUSY = const(8)
PORT_FAULT = const(9)
STOP_FULL = const(10)
STOP_UNPLUGGED = const(11)
STOP_OVERLOAD = const(12)
STOP_CREDIT = const(13)
STOP_MAX_TIME = const(14)
STOP_KEYPAD = const(15)
METER_LOST = const(16)
STOP_NO_LOAD = const(17)
COIN_IN = const(18)
CANCELLED = const(19)
PORT_INFO = const(20)
PILE_BUSY = const(21)
METER_BACK = const(22)
PORT_IDLE = const(23)
FREE_STARTED = const(24)
OUT_OF_SERVICE = const(25)
STOP_OUTAGE = const(26)
CARD_BALANCE = const(27)
CARD_AGAIN = const(28)
CARD_LOW = const(29)
CARD_EXPIRED = const(30)
CARD_DAY_LIMIT = const(31)
CARD_UNKNOWN = const(32)
CARD_BLOCKED = const(33)
CARD_REFUSED = const(34)
CARD_LOCKED = const(35)
CARD_TOO_FAST = const(36)
CARD_REFUNDED = const(37)
STOP_CARD = const(38)
CARD_FREE_MODE = const(39)
SMOKE_ALARM = const(40)
HEAT_HIGH = const(41)
HEAT_PAUSE = const(42)
HEAT_BACK = const(43)
STOP_SHORT = const(44)
STOP_FUSE = const(45)
RELAY_WELDED = const(46)
ALARM_CLEARED = const(47)
WRONG_CODE = const(48)

_PORT_MARK = const("%d")
_VALUE_MARK = const("%s")

# Prompt ``id`` has its name (used by logs and tests) at 2 * (id - 1) and its display text after it:
# one flat tuple costs the heap far less than a dict of pairs.
_TABLE = const(
    (
        "welcome",
        "Port no. then #",
        "insert_coins",
        "P%d: coins or card",
        "started",
        "P%d: charging",
        "queued",
        "P%d: waiting power",
        "added",
        "P%d: time added",
        "invalid_port",
        "No such port",
        "choose_port_first",
        "Choose port first",
        "port_busy",
        "P%d: busy",
        "port_fault",
        "P%d: out of service",
        "stop_full",
        "P%d: full, stopped",
        "stop_unplugged",
        "P%d: unplugged",
        "stop_overload",
        "P%d: overload E1",
        "stop_credit",
        "P%d: time used up",
        "stop_max_time",
        "P%d: max time",
        "stop_keypad",
        "P%d: stopped",
        "meter_lost",
        "Meter fault E2",
        "stop_no_load",
        "P%d: no charger",
        "coin_in",
        "Credit %s",
        "cancelled",
        "Cancelled",
        "port_info",
        "P%d: %s",
        "pile_busy",
        "P%d: pile full, wait",
        "meter_back",
        "Meter OK",
        "port_idle",
        "P%d: idle",
        "free_started",
        "P%d: free charging",
        "out_of_service",
        "Out of service E3",
        "stop_outage",
        "P%d: unplugged (cut)",
        "card_balance",
        "Card %s, port #",
        "card_again",
        "P%d: swipe card",
        "card_low",
        "Card low: %s",
        "card_expired",
        "Card expired",
        "card_day_limit",
        "Card: today's limit",
        "card_unknown",
        "Unknown card",
        "card_blocked",
        "Card blocked",
        "card_refused",
        "Card refused E4",
        "card_locked",
        "Card in use: desk",
        "card_too_fast",
        "Card: wait a moment",
        "card_refunded",
        "Card back %s",
        "stop_card",
        "P%d: stopped by card",
        "card_free_mode",
        "Free: no card, port#",
        "smoke_alarm",
        "SMOKE! All off A1",
        "heat_high",
        "Cabinet hot H1",
        "heat_pause",
        "Too hot, paused H2",
        "heat_back",
        "Temperature OK",
        "stop_short",
        "P%d: short circ E5",
        "stop_fuse",
        "P%d: fuse blown E6",
        "relay_welded",
        "P%d: relay stuck E7",
        "alarm_cleared",
        "Alarm cleared",
        "wrong_code",
        "Wrong code",
    )
)


def known(prompt):
    """True for a prompt id in the table (a voice track the pile can play)."""
    return isinstance(prompt, int) and 0 < prompt <= len(_TABLE) // 2


def name(prompt):
    """The prompt's name, as used in logs and tests."""
    return _TABLE[2 * prompt - 2]


def template(prompt):
    """The prompt's display text, with ``%d`` for the port and ``%s`` for a value where it has them."""
    return _TABLE[2 * prompt - 1]


def text(prompt, port, value):
    """The display text of a prompt for ``port`` with an already formatted ``value``."""
    template_text = _TABLE[2 * prompt - 1]
    if _PORT_MARK in template_text and _VALUE_MARK in template_text:
        return template_text % (port, value)
    if _PORT_MARK in template_text:
        return template_text % port
    if _VALUE_MARK in template_text:
        return template_text % value
    return template_text
