"""Pile configuration: field defaults, and validation of a site's overrides.

Every threshold and time constant the core uses lives here, so a test can
shorten a one-hour full-charge hold to seconds without touching code. A site
file that fails validation is rejected as a whole (a half-applied price list
is worse than the defaults) and every problem is reported.
"""

from firmware.compat import const

_TARIFF_MODES = const(("time", "tier", "energy"))

# name: (default, minimum, maximum); lists are checked by their own rules below.
LIMITS = {
    # ports and power (PRODUCT.md field figures: 1000 W per port, 6000 W per pile)
    "PORT_COUNT": (10, 1, 10),
    "PORT_MAX_W": (1000, 50, 3500),
    "PORT_TRIP_W": (2000, 100, 10000),
    "OVERLOAD_HOLD_S": (3, 0, 60),
    "PILE_MAX_W": (6000, 100, 40000),
    # ordered charging: waiting ports take turns of CAP_TURN_S when the cap holds them back (0: no turns);
    # CAP_SCHEDULE lowers the cap at times of day (docs/safety.md)
    "CAP_TURN_S": (1200, 0, 86400),
    # the night window, in minutes after local midnight (UTC_OFFSET_MIN from UTC); start = end: none
    "NIGHT_START_MIN": (0, 0, 1439),
    "NIGHT_END_MIN": (0, 0, 1439),
    "UTC_OFFSET_MIN": (480, -720, 840),
    "START_RESERVE_W": (250, 0, 3500),
    # stop rules (full: under 30 W for an hour of float; unplug: under 10 W for 10 s)
    "FULL_W": (30, 1, 200),
    "FULL_HOLD_S": (3600, 1, 14400),
    "UNPLUG_W": (10, 1, 100),
    "UNPLUG_HOLD_S": (10, 1, 600),
    "PLUG_WAIT_S": (120, 5, 1800),
    "MAX_SESSION_S": (36000, 10, 86400),
    # power tiers: fixed after the settle window, moved up after a sustained rise
    "SETTLE_S": (60, 1, 900),
    "TIER_UP_HOLD_S": (60, 1, 900),
    # protections (docs/safety.md): a port's current over PORT_SHORT_MA (or its meter's over-current flag)
    # is a short circuit; a port under FUSE_LOST_V while another reads mains has lost its fuse (0: off);
    # power through an open relay for WELD_HOLD_S is a welded relay; all latched until a manager clears
    "PORT_SHORT_MA": (16000, 1000, 100000),
    "FUSE_LOST_V": (100, 0, 250),
    "WELD_HOLD_S": (2, 1, 60),
    # cabinet heat: warn, stop every port, resume at or below; a new level holds HEAT_HOLD_S first
    "HEAT_WARN_C": (55, 30, 95),
    "HEAT_STOP_C": (65, 35, 100),
    "HEAT_RESUME_C": (50, 20, 90),
    "HEAT_HOLD_S": (5, 0, 60),
    # the manager's code for clearing latched alarms at the keypad (C, code, #); 0: only by command
    "SERVICE_PIN": (0, 0, 999999),
    # SMS from the pile's modem to SMS_NUMBERS on smoke and heat: a text not sent is tried again every
    # SMS_RETRY_S, SMS_TRIES times; the same alarm is texted again no sooner than SMS_REPEAT_S after
    "SMS_RETRY_S": (60, 10, 3600),
    "SMS_TRIES": (30, 1, 1000),
    "SMS_REPEAT_S": (1800, 0, 86400),
    # meter
    "METER_STALE_S": (5, 1, 60),
    # power-loss memory: at most CHECKPOINT_S of a running session's use is in doubt after a cut
    "CHECKPOINT_S": (60, 5, 3600),
    "RESUME_CHECK_S": (30, 5, 600),
    "OUTBOX_MAX": (200, 10, 2000),
    "SAFE_BOOTS": (4, 2, 20),
    "SAFE_WINDOW_S": (600, 30, 86400),
    # A blocked loop leaves relays unwatched until the watchdog bites: no longer than METER_STALE_S.
    "WDT_TIMEOUT_S": (4, 2, 60),
    "METER_BAUD": (9600, 1200, 115200),
    "METER_TIMEOUT_MS": (300, 20, 5000),
    "METER_RETRIES": (2, 0, 5),
    "METER_SCAN_MS": (200, 50, 5000),
    "METER_ADDRESS": (1, 1, 247),
    # main meter (DL/T 645 on its own line, usually 2400 8E1): read and reported, never a safety input
    "MAIN_METER_S": (900, 1, 86400),
    "MAIN_METER_BAUD": (2400, 1200, 9600),
    # money: "1 yuan = 4 h" is PRICE_FEN=100 for UNIT_MIN=240
    "PRICE_FEN": (100, 1, 10000),
    "UNIT_MIN": (240, 1, 1440),
    "ENERGY_FEN_PER_KWH": (180, 1, 2000),
    "COIN_FEN": (100, 1, 10000),
    "COIN_PULSES": (1, 1, 20),
    "COIN_DEBOUNCE_MS": (10, 1, 100),
    "COIN_GAP_MS": (300, 50, 2000),
    # IC cards (docs/cards.md): held from a prepaid card at a start (the unused part goes back on it),
    # the least balance that may start, monthly cards' sessions a day, the least gap between two swipes
    "CARD_HOLD_FEN": (500, 1, 100000),
    "CARD_MIN_FEN": (100, 1, 100000),
    "CARD_DAY_MAX": (3, 1, 50),
    "CARD_REPEAT_S": (3, 0, 60),
    # front panel
    "ENTRY_TIMEOUT_S": (30, 5, 600),
    "NOTICE_S": (8, 1, 60),
    "STATUS_LOG_S": (10, 1, 3600),
    "STOPPED_SHOW_S": (60, 1, 3600),
    # cloud link (pilectl bench wire: keepalive and telemetry dominate the monthly bytes)
    "CONFIG_VERSION": (0, 0, 2147483647),
    "KEEPALIVE_S": (900, 2, 3600),
    "TELEMETRY_S": (3600, 5, 86400),
    "TELEMETRY_MIN_S": (30, 1, 3600),
    "CLOUD_TIMEOUT_S": (30, 2, 120),
    "CLOUD_BACKOFF_MAX_S": (300, 2, 3600),
    "MODEM_POLL_S": (60, 5, 3600),
}

CHOICES = {
    "TARIFF_MODE": ("time", _TARIFF_MODES),
    "METER_PROFILE": ("mc10", ("mc10", "sdm120")),
    "FREE_MODE": (False, (False, True)),
    # in the night window running sessions pause (not billed) and resume after it, or end
    "NIGHT_POLICY": ("pause", ("pause", "end")),
}

# [upper bound W, minutes per PRICE_FEN]; a charger above the last bound pays the last tier.
DEFAULT_TIERS = [[200, 300], [400, 240], [700, 150], [1000, 100]]
# Who the pile texts itself, and the site's name in those texts (docs/safety.md).
_SMS_NUMBERS_MAX = const(5)
_NUMBER_CHARS_MAX = const(20)
_SITE_CHARS_MAX = const(20)


def defaults():
    """A fresh dict of every setting at its field default."""
    cfg: dict = {name: spec[0] for name, spec in LIMITS.items()}
    for name, spec in CHOICES.items():
        cfg[name] = spec[0]
    cfg["TIERS"] = [list(tier) for tier in DEFAULT_TIERS]
    cfg["CAP_SCHEDULE"] = []
    cfg["SMS_NUMBERS"] = []
    cfg["SMS_SITE"] = ""
    return cfg


def _schedule_errors(schedule):
    if not isinstance(schedule, list) or len(schedule) > 12:
        return ["CAP_SCHEDULE must be a list of at most 12 [start minute, watts] pairs"]
    last = -1
    for entry in schedule:
        if not isinstance(entry, list) or len(entry) != 2 or not _is_int(entry[0]) or not _is_int(entry[1]):
            return ["CAP_SCHEDULE entry %r is not a [start minute, watts] pair" % (entry,)]
        if not last < entry[0] < 1440 or entry[1] < 0:
            return ["CAP_SCHEDULE entry %r: start minutes must rise within 0..1439, watts >= 0" % (entry,)]
        last = entry[0]
    return []


def _number_errors(numbers):
    if not isinstance(numbers, list) or len(numbers) > _SMS_NUMBERS_MAX:
        return ["SMS_NUMBERS must be a list of at most %d phone numbers" % _SMS_NUMBERS_MAX]
    errors = []
    for number in numbers:
        digits = number[1:] if isinstance(number, str) and number.startswith("+") else number
        if not isinstance(digits, str) or not digits.isdigit() or len(number) > _NUMBER_CHARS_MAX:
            errors.append("SMS_NUMBERS entry %r is not a phone number (+ and digits)" % (number,))
    return errors


def _tier_errors(tiers):
    if not isinstance(tiers, list) or not tiers or len(tiers) > 8:
        return ["TIERS must be a list of 1 to 8 [max_w, minutes] pairs"]
    errors = []
    last_w = 0
    for tier in tiers:
        if not isinstance(tier, list) or len(tier) != 2:
            errors.append("TIERS entry %r is not a [max_w, minutes] pair" % (tier,))
            continue
        max_w, minutes = tier
        if not _is_int(max_w) or not _is_int(minutes) or minutes < 1 or max_w <= last_w:
            errors.append("TIERS entry %r: bounds must rise, minutes must be >= 1" % (tier,))
            continue
        last_w = max_w
    return errors


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def validate(overrides):
    """Check a site's overrides; return the list of problems (empty when valid)."""
    if not isinstance(overrides, dict):
        return ["configuration must be a JSON object"]
    errors = []
    for name, value in overrides.items():
        if name in LIMITS:
            _, low, high = LIMITS[name]
            if not _is_int(value):
                errors.append("%s must be an integer, got %r" % (name, value))
            elif not low <= value <= high:
                errors.append("%s=%d is outside %d..%d" % (name, value, low, high))
        elif name in CHOICES:
            if value not in CHOICES[name][1] or isinstance(value, bool) != isinstance(CHOICES[name][0], bool):
                errors.append("%s=%r is not one of %r" % (name, value, CHOICES[name][1]))
        elif name == "TIERS":
            errors.extend(_tier_errors(value))
        elif name == "CAP_SCHEDULE":
            errors.extend(_schedule_errors(value))
        elif name == "SMS_NUMBERS":
            errors.extend(_number_errors(value))
        elif name == "SMS_SITE":
            if not isinstance(value, str) or len(value) > _SITE_CHARS_MAX:
                errors.append("SMS_SITE must be a text of at most %d characters" % _SITE_CHARS_MAX)
        else:
            errors.append("unknown setting %r" % (name,))
    merged = defaults()
    if not errors:
        merged.update(overrides)
        if merged["PORT_TRIP_W"] <= merged["PORT_MAX_W"]:
            errors.append("PORT_TRIP_W must be above PORT_MAX_W")
        if merged["FULL_W"] < merged["UNPLUG_W"]:
            errors.append("FULL_W must not be below UNPLUG_W")
        if merged["WDT_TIMEOUT_S"] > merged["METER_STALE_S"]:
            errors.append("WDT_TIMEOUT_S must not be above METER_STALE_S")
        if merged["METER_TIMEOUT_MS"] * (merged["METER_RETRIES"] + 1) * 2 > merged["WDT_TIMEOUT_S"] * 1000:
            errors.append("a meter read with its retries must fit in half of WDT_TIMEOUT_S")
        if merged["START_RESERVE_W"] > merged["PILE_MAX_W"]:
            errors.append("START_RESERVE_W must not be above PILE_MAX_W")
        if not merged["HEAT_RESUME_C"] < merged["HEAT_WARN_C"] <= merged["HEAT_STOP_C"]:
            errors.append("heat thresholds must be HEAT_RESUME_C < HEAT_WARN_C <= HEAT_STOP_C")
        # A short circuit draws far more than an overload: at 230 V its current must be above PORT_TRIP_W's.
        if merged["PORT_SHORT_MA"] * 23 // 100 <= merged["PORT_TRIP_W"]:
            errors.append("PORT_SHORT_MA must be above PORT_TRIP_W's current at 230 V")
    return errors


def load(overrides, log):
    """Defaults updated by ``overrides`` if they are valid; otherwise the defaults.

    Each problem is passed to ``log(message)`` so the installer sees why a site
    file was refused.
    """
    cfg = defaults()
    if overrides is None:
        return cfg
    errors = validate(overrides)
    if errors:
        for message in errors:
            log("config rejected: " + message)
        return cfg
    cfg.update(overrides)
    return cfg
