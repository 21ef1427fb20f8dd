"""Parsing of the modem's information lines (3GPP TS 27.007 formats); pure functions, no I/O.

Each returns None for a line it cannot read, so a surprising reply is an
unknown value rather than a crash.
"""

from firmware.compat import const

# Answer prefixes and states as private constants: a short str written in code would be an interned
# name for good (README, "Memory").
_CEREG = const("+CEREG:")
_CREG = const("+CREG:")
_SIGNAL = const("+CSQ:")
_OPERATOR = const("+COPS:")
_CLOCK = const("+CCLK:")
_SIM = const("+CPIN:")
_SIM_READY = const("READY")
_SIM_PIN = const("SIM PIN")
_READY = const("ready")
_PIN = const("pin")
_ABSENT = const("absent")

_REG_NOT = const(0)  # not registered, not searching
_REG_HOME = const(1)
_REG_SEARCHING = const(2)
_REG_DENIED = const(3)
REG_UNKNOWN = const(4)
_REG_ROAMING = const(5)

_RSSI_UNKNOWN = const(99)
_RSSI_MAX = const(31)
_RSSI_FLOOR_DBM = const(-113)  # rssi 0 is this or less; each step is 2 dB, 31 is -51 dBm or more
_QUARTER_HOUR_S = const(900)
_DAY_S = const(86400)
# A modem without network time reports its unset RTC (1980, 2000, 2004 ...); anything before this is unset.
_MIN_CLOCK_YEAR = const(2024)
# +CCLK's two-digit years from this on are 19xx, as POSIX reads them.
_CENTURY_PIVOT_YY = const(70)


def fields(line, prefix):
    """The comma-separated fields after ``prefix`` ("+CSQ: 20,99" -> ["20", "99"]), or None."""
    if not line.startswith(prefix):
        return None
    return [field.strip() for field in line[len(prefix) :].split(",")]


def registration(line, prefix):
    """The <stat> of a solicited "+CEREG: <n>,<stat>[,...]" (or "+CREG:"), as a REG_ value.

    A URC raced into the answer ("+CEREG: <stat>") is read as well.
    """
    parts = fields(line, prefix)
    if not parts:
        return None
    try:
        return int(parts[1] if len(parts) > 1 else parts[0])
    except ValueError:
        return None


def urc_registration(line):
    """The <stat> of a registration URC "+CEREG: <stat>[,...]" / "+CREG: <stat>[,...]", or None."""
    parts = fields(line, _CEREG) or fields(line, _CREG)
    if not parts:
        return None
    try:
        return int(parts[0])
    except ValueError:
        return None


def is_registered(stat):
    """Registered on the home network or roaming."""
    return stat == _REG_HOME or stat == _REG_ROAMING


def rssi_dbm(line):
    """Signal strength in dBm from "+CSQ: <rssi>,<ber>"; None when the modem does not know (99)."""
    parts = fields(line, _SIGNAL)
    if not parts:
        return None
    try:
        rssi = int(parts[0])
    except ValueError:
        return None
    if rssi == _RSSI_UNKNOWN or rssi < 0 or rssi > _RSSI_MAX:
        return None
    return _RSSI_FLOOR_DBM + 2 * rssi


def operator(line):
    """The operator's name from '+COPS: <mode>,<format>,"<oper>",<AcT>'; None when not selected."""
    if not line.startswith(_OPERATOR):
        return None
    start = line.find('"')
    end = line.find('"', start + 1)
    if start < 0 or end < 0:
        return None
    return line[start + 1 : end]


def days_from_civil(year, month, day):
    """Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm)."""
    if month <= 2:
        year -= 1
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def clock_unix_s(line):
    """Unix seconds (UTC) from '+CCLK: "yy/MM/dd,hh:mm:ss±zz"' (zz in quarter hours).

    None when the modem has no network time (its RTC is still at an unset
    date) or the line is not a clock.
    """
    start = line.find('"')
    text = line[start + 1 : start + 21] if line.startswith(_CLOCK) and start >= 0 else ""
    # yy/MM/dd,hh:mm:ss then a sign and the zone: 20 characters.
    if len(text) != 20 or text[2] != "/" or text[5] != "/" or text[8] != "," or text[17] not in "+-":
        return None
    try:
        yy, month, day = int(text[0:2]), int(text[3:5]), int(text[6:8])
        hour, minute, second = int(text[9:11]), int(text[12:14]), int(text[15:17])
        quarters = int(text[18:20])
    except ValueError:
        return None
    year = (1900 if yy >= _CENTURY_PIVOT_YY else 2000) + yy
    if year < _MIN_CLOCK_YEAR or not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    if text[17] == "-":
        quarters = -quarters
    local_s = days_from_civil(year, month, day) * _DAY_S + hour * 3600 + minute * 60 + second
    return local_s - quarters * _QUARTER_HOUR_S


def sim_state(line):
    """The SIM's state from "+CPIN: <code>": ready, pin, absent, or the modem's own words (SIM PUK ...)."""
    parts = fields(line, _SIM)
    if not parts:
        return None
    code = parts[0]
    if code == _SIM_READY:
        return _READY
    if code == _SIM_PIN:
        return _PIN
    if code == "NOT INSERTED":
        return _ABSENT
    return code
