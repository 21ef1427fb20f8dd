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
NIGHT_CLOSED = const(49)

_PORT_MARK = const("%d")
_VALUE_MARK = const("%s")

# Prompt ``id`` has its name (used by logs and tests) on line 2 * (id - 1) of one text and its display
# text on the line after: one string costs the heap a fraction of what a tuple of a hundred does.
_COUNT = const(49)
_TABLE = const(
    "welcome\n"  # 1
    "Port no. then #\n"
    "insert_coins\n"  # 2
    "P%d: coins or card\n"
    "started\n"  # 3
    "P%d: charging\n"
    "queued\n"  # 4
    "P%d: waiting power\n"
    "added\n"  # 5
    "P%d: time added\n"
    "invalid_port\n"  # 6
    "No such port\n"
    "choose_port_first\n"  # 7
    "Choose port first\n"
    "port_busy\n"  # 8
    "P%d: busy\n"
    "port_fault\n"  # 9
    "P%d: out of service\n"
    "stop_full\n"  # 10
    "P%d: full, stopped\n"
    "stop_unplugged\n"  # 11
    "P%d: unplugged\n"
    "stop_overload\n"  # 12
    "P%d: overload E1\n"
    "stop_credit\n"  # 13
    "P%d: time used up\n"
    "stop_max_time\n"  # 14
    "P%d: max time\n"
    "stop_keypad\n"  # 15
    "P%d: stopped\n"
    "meter_lost\n"  # 16
    "Meter fault E2\n"
    "stop_no_load\n"  # 17
    "P%d: no charger\n"
    "coin_in\n"  # 18
    "Credit %s\n"
    "cancelled\n"  # 19
    "Cancelled\n"
    "port_info\n"  # 20
    "P%d: %s\n"
    "pile_busy\n"  # 21
    "P%d: pile full, wait\n"
    "meter_back\n"  # 22
    "Meter OK\n"
    "port_idle\n"  # 23
    "P%d: idle\n"
    "free_started\n"  # 24
    "P%d: free charging\n"
    "out_of_service\n"  # 25
    "Out of service E3\n"
    "stop_outage\n"  # 26
    "P%d: unplugged (cut)\n"
    "card_balance\n"  # 27
    "Card %s, port #\n"
    "card_again\n"  # 28
    "P%d: swipe card\n"
    "card_low\n"  # 29
    "Card low: %s\n"
    "card_expired\n"  # 30
    "Card expired\n"
    "card_day_limit\n"  # 31
    "Card: today's limit\n"
    "card_unknown\n"  # 32
    "Unknown card\n"
    "card_blocked\n"  # 33
    "Card blocked\n"
    "card_refused\n"  # 34
    "Card refused E4\n"
    "card_locked\n"  # 35
    "Card in use: desk\n"
    "card_too_fast\n"  # 36
    "Card: wait a moment\n"
    "card_refunded\n"  # 37
    "Card back %s\n"
    "stop_card\n"  # 38
    "P%d: stopped by card\n"
    "card_free_mode\n"  # 39
    "Free: no card, port#\n"
    "smoke_alarm\n"  # 40
    "SMOKE! All off A1\n"
    "heat_high\n"  # 41
    "Cabinet hot H1\n"
    "heat_pause\n"  # 42
    "Too hot, paused H2\n"
    "heat_back\n"  # 43
    "Temperature OK\n"
    "stop_short\n"  # 44
    "P%d: short circ E5\n"
    "stop_fuse\n"  # 45
    "P%d: fuse blown E6\n"
    "relay_welded\n"  # 46
    "P%d: relay stuck E7\n"
    "alarm_cleared\n"  # 47
    "Alarm cleared\n"
    "wrong_code\n"  # 48
    "Wrong code\n"
    "night_closed\n"  # 49
    "Night: closed N1"
)


def _line(index):
    """Line ``index`` of _TABLE (a new string)."""
    start = 0
    for _ in range(index):
        start = _TABLE.index("\n", start) + 1
    end = _TABLE.find("\n", start)
    return _TABLE[start:] if end < 0 else _TABLE[start:end]


def known(prompt):
    """True for a prompt id in the table (a voice track the pile can play)."""
    return isinstance(prompt, int) and 0 < prompt <= _COUNT


def name(prompt):
    """The prompt's name, as used in logs and tests."""
    return _line(2 * prompt - 2)


def template(prompt):
    """The prompt's display text, with ``%d`` for the port and ``%s`` for a value where it has them."""
    return _line(2 * prompt - 1)


def text(prompt, port, value):
    """The display text of a prompt for ``port`` with an already formatted ``value``."""
    template_text = _line(2 * prompt - 1)
    if _PORT_MARK in template_text and _VALUE_MARK in template_text:
        return template_text % (port, value)
    if _PORT_MARK in template_text:
        return template_text % port
    if _VALUE_MARK in template_text:
        return template_text % value
    return template_text
