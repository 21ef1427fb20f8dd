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

# id: (name used by logs and tests, display text)
TEXTS = {
    WELCOME: ("welcome", "Port no. then #"),
    INSERT_COINS: ("insert_coins", "P%d: insert coins"),
    STARTED: ("started", "P%d: charging"),
    QUEUED: ("queued", "P%d: waiting power"),
    ADDED: ("added", "P%d: time added"),
    INVALID_PORT: ("invalid_port", "No such port"),
    CHOOSE_PORT_FIRST: ("choose_port_first", "Choose port first"),
    PORT_BUSY: ("port_busy", "P%d: busy"),
    PORT_FAULT: ("port_fault", "P%d: out of service"),
    STOP_FULL: ("stop_full", "P%d: full, stopped"),
    STOP_UNPLUGGED: ("stop_unplugged", "P%d: unplugged"),
    STOP_OVERLOAD: ("stop_overload", "P%d: overload E1"),
    STOP_CREDIT: ("stop_credit", "P%d: time used up"),
    STOP_MAX_TIME: ("stop_max_time", "P%d: max time"),
    STOP_KEYPAD: ("stop_keypad", "P%d: stopped"),
    METER_LOST: ("meter_lost", "Meter fault E2"),
    STOP_NO_LOAD: ("stop_no_load", "P%d: no charger"),
    COIN_IN: ("coin_in", "Credit %s"),
    CANCELLED: ("cancelled", "Cancelled"),
    PORT_INFO: ("port_info", "P%d: %s"),
    PILE_BUSY: ("pile_busy", "P%d: pile full, wait"),
    METER_BACK: ("meter_back", "Meter OK"),
    PORT_IDLE: ("port_idle", "P%d: idle"),
    FREE_STARTED: ("free_started", "P%d: free charging"),
    OUT_OF_SERVICE: ("out_of_service", "Out of service E3"),
    STOP_OUTAGE: ("stop_outage", "P%d: unplugged (cut)"),
}


def name(prompt):
    """The prompt's name, as used in logs and tests."""
    return TEXTS[prompt][0]


def text(prompt, port, value):
    """The display text of a prompt for ``port`` with an already formatted ``value``."""
    template = TEXTS[prompt][1]
    if "%d" in template and "%s" in template:
        return template % (port, value)
    if "%d" in template:
        return template % port
    if "%s" in template:
        return template % value
    return template
