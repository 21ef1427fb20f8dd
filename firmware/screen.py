"""What the 20x4 display shows, composed from the core's state (pure)."""

from firmware import prompts
from firmware.compat import const
from firmware.pile import HEAT_STOP, HEAT_WARN, format_fen, format_temperature
from firmware.port import CHARGING, FUSE, IDLE, QUEUED, SHORT, STOPPED, WAIT_PLUG
from firmware.ticks import since_ms

_STATUS_FORMAT = const("%s %5dW")
_CONTROL_FAULT = const("FAULT E9")
_CREDIT = const("Credit ")

STATE_LETTERS = {IDLE: ".", QUEUED: "Q", WAIT_PLUG: "W", CHARGING: "C", STOPPED: "S"}
_STALE_LETTER = const("E")
_SHORT_LETTER = const("X")
_FUSE_LETTER = const("F")
_WELDED_LETTER = const("R")
_CABINET = const("Cabinet ")


def _letter(port, now_ms):
    if port.fault == SHORT:
        return _SHORT_LETTER
    if port.fault == FUSE:
        return _FUSE_LETTER
    if port.fault is not None:
        return _WELDED_LETTER
    return STATE_LETTERS[port.state] if port.fresh(now_ms) else _STALE_LETTER


def status_line(pile, now_ms):
    """One letter per port (. idle, Q queued, W waiting for plug, C charging, S stopped, E no reading;
    latched faults: X short circuit, F blown fuse, R welded relay) and total W."""
    letters = ""
    for port in pile.ports:
        letters += _letter(port, now_ms)
    return _STATUS_FORMAT % (letters, pile.total_w())


def _temperature(pile):
    return _CABINET + format_temperature(pile.temp_dc) if pile.temp_dc is not None else ""


def lines(pile, panel, now_ms, notice_ms, control_failed):
    """The four display lines."""
    if control_failed:
        return (status_line(pile, now_ms), _CONTROL_FAULT, "Service needed", "")
    if pile.smoke:
        return (status_line(pile, now_ms), prompts.text(prompts.SMOKE_ALARM, 0, ""), "Manager called", "")
    if pile.heat == HEAT_STOP:
        return (status_line(pile, now_ms), prompts.text(prompts.HEAT_PAUSE, 0, ""), _temperature(pile), "")
    if pile.meter_lost:
        return (status_line(pile, now_ms), prompts.text(prompts.METER_LOST, 0, ""), "Charging paused", "")
    notice = prompts.WELCOME
    port = 0
    value = ""
    if pile.notice_ms >= 0 and since_ms(now_ms, pile.notice_ms) < notice_ms:
        notice = pile.notice
        port = pile.notice_port
        value = pile.notice_value
    credit = _CREDIT + format_fen(panel.credit_fen) if panel.credit_fen else ""
    if not credit and pile.heat == HEAT_WARN:
        credit = prompts.text(prompts.HEAT_HIGH, 0, "")
    entry = panel.entry()
    # A value the prompt's text has no place for (a started session's credit) gets its own line.
    extra = value if value and "%s" not in prompts.template(notice) else ""
    return (status_line(pile, now_ms), prompts.text(notice, port, value), entry or extra, credit)
