"""The pile: ten ports under one power limit, fed readings and time, deciding relays.

Pure core: no I/O, no clock, no globals. The shell hands it readings
(``on_readings``), time (``tick``), payments and stops; it answers with the
relay states in ``relay`` and with events (orders, prompts, alarms) in
``events`` for the shell to act on.

Safety invariant: a relay is on only while its port has a paid session in a
powered state, its reading is fresh, the port has no latched fault, no
pile-level stop is active (smoke, cabinet heat) and the pile has not put it
back in the queue; ``_refresh_relays`` is the one place that decides it.

Pile-level stops: smoke (``on_smoke``) ends every session and latches until a
manager clears it (``clear``) with the detector quiet; cabinet heat (the
temperature handed to ``tick``) warns, then pauses every session (not billed)
and resumes below HEAT_RESUME_C; the night window (NIGHT_START_MIN to
NIGHT_END_MIN) starts nothing and pauses or ends what runs (NIGHT_POLICY).

The power cap (PILE_MAX_W, lowered at times of day by CAP_SCHEDULE): a start
waits in the queue while it would not fit; a reading over the cap sends the
newest sessions back to the queue's head on that very reading; while ports
wait, the session that has run longest yields its room after CAP_TURN_S and
joins the queue's tail, so every session gets its turns.
"""

from firmware import prompts
from firmware.compat import const
from firmware.port import (
    CARD,
    CHARGING,
    CREDIT,
    FULL,
    FUSE,
    KEYPAD,
    MAX_TIME,
    NIGHT,
    NO_LOAD,
    OUTAGE_UNPLUGGED,
    OVERLOAD,
    QUEUED,
    SHORT,
    SMOKE,
    STATE_NAMES,
    UNPLUGGED,
    WAIT_PLUG,
    WELDED,
    Port,
    Rules,
)
from firmware.session import FREE_METHODS, Session
from firmware.tariff import Tariff
from firmware.ticks import NEVER, since_ms

_DURATION_FORMAT = const("%dh%02dm")
_FEN_FORMAT = const("%d.%02dY")
_NO_READING = const("no reading")
_POWER_AND_LEFT = const("%dW %s")

STOP_PROMPTS = {
    CREDIT: prompts.STOP_CREDIT,
    FULL: prompts.STOP_FULL,
    UNPLUGGED: prompts.STOP_UNPLUGGED,
    OVERLOAD: prompts.STOP_OVERLOAD,
    MAX_TIME: prompts.STOP_MAX_TIME,
    KEYPAD: prompts.STOP_KEYPAD,
    CARD: prompts.STOP_CARD,
    NO_LOAD: prompts.STOP_NO_LOAD,
    OUTAGE_UNPLUGGED: prompts.STOP_OUTAGE,
    NIGHT: prompts.NIGHT_CLOSED,
    SHORT: prompts.STOP_SHORT,
    FUSE: prompts.STOP_FUSE,
    WELDED: prompts.RELAY_WELDED,
}

# A second payment adds to a running session only for coins and QR: a card's session is its own.
_ADDABLE_METHODS = const(("coin", "qr"))

# ``smoke``: the detector reads smoke now, and the latch it set (cleared only by ``clear``).
_SMOKE_NOW = const(1)
_SMOKE_LATCHED = const(2)
# ``heat``: the cabinet's state, each level a step up from the one before.
HEAT_OK = const(0)
HEAT_WARN = const(1)
HEAT_STOP = const(2)
# A thermometer reading outside this range (deci-degrees C) is a broken sensor: charging stops as if hot.
_SENSOR_LOW_DC = const(-400)
_SENSOR_HIGH_DC = const(1250)
_HEAT_ALARMS = const(("", "heat_warn", "heat"))
_SENSOR_BROKEN = const("sensor broken")
_TEMPERATURE_FORMAT = const("%s%d.%dC")

# Event kinds the shell acts on.
EVENT_ORDER = "order"
EVENT_SAY = "say"
EVENT_ALARM = "alarm"


# Time-of-day rules: the night window and the cap's schedule, from the wall clock.
_MINUTES_A_DAY = const(1440)


def local_minute(wall_s, utc_offset_s):
    """Minutes since local midnight (0..1439) at Unix time ``wall_s``."""
    return (wall_s + utc_offset_s) // 60 % _MINUTES_A_DAY


def in_window(minute, start, end):
    """True if ``minute`` is in the window from ``start`` up to ``end`` (minutes of the day; a window
    may run past midnight, and one that starts where it ends is no window)."""
    if start <= end:
        return start <= minute < end
    return minute >= start or minute < end


def cap_at(minute, schedule, ceiling_w):
    """The power cap at ``minute``: the watts of the last ``[start minute, watts]`` entry of ``schedule``
    (in start order) that has begun, the day's last entry before the first of the day; never above
    ``ceiling_w``, which is the cap without a schedule."""
    if not schedule:
        return ceiling_w
    watts = schedule[-1][1]
    for start, entry_w in schedule:
        if start > minute:
            break
        watts = entry_w
    return min(watts, ceiling_w)


def format_duration(seconds):
    """``3h59m`` for a time left on a 20-column display."""
    minutes = seconds // 60
    return _DURATION_FORMAT % (minutes // 60, minutes % 60)


def format_temperature(temp_dc):
    """``65.3C`` for a temperature in deci-degrees C."""
    size = abs(temp_dc)
    return _TEMPERATURE_FORMAT % ("-" if temp_dc < 0 else "", size // 10, size % 10)


def format_fen(fen):
    """``2.50Y`` for an amount of money on the display."""
    return _FEN_FORMAT % (fen // 100, fen % 100)


class Pile:
    """Every port's state, the start queue under PILE_MAX_W, and meter-lost handling."""

    def __init__(self, cfg, now_ms):
        self.rules = Rules(cfg)
        self.tariff = Tariff(cfg)
        count = cfg["PORT_COUNT"]
        self.ports = [Port(number, self.rules, self.tariff) for number in range(1, count + 1)]
        self.relay = bytearray(count)
        self.max_w = cfg["PILE_MAX_W"]
        self.cap_w = self.max_w  # the cap now: PILE_MAX_W, or lower by CAP_SCHEDULE
        self.schedule = cfg["CAP_SCHEDULE"]
        self.turn_ms = cfg["CAP_TURN_S"] * 1000
        self.night = False
        self.night_min = (cfg["NIGHT_START_MIN"], cfg["NIGHT_END_MIN"])
        self.night_ends = cfg["NIGHT_POLICY"] == "end"
        self.utc_offset_s = cfg["UTC_OFFSET_MIN"] * 60
        self.queue = []
        self.running = []
        self.events = []
        self.next_order = 1
        self.outbox_full = False
        self.meter_lost = False
        self.wall_s = 0
        self.notice = prompts.WELCOME
        self.notice_port = 0
        self.notice_value = ""
        self.notice_ms = NEVER
        self._boot_ms = now_ms
        self.boot_ms = now_ms
        self.halted = False
        self.payment = None
        self.smoke = 0
        self.heat = HEAT_OK
        self.temp_dc = None  # the cabinet's latest temperature; None without a thermometer
        # (warn at, stop at, resume at or below), deci-degrees C; a new level must hold HEAT_HOLD_S.
        self.heat_dc = (cfg["HEAT_WARN_C"] * 10, cfg["HEAT_STOP_C"] * 10, cfg["HEAT_RESUME_C"] * 10)
        self._heat_hold_ms = cfg["HEAT_HOLD_S"] * 1000
        self._heat_next = (HEAT_OK, NEVER)  # the level the temperature points to, and since when

    def port(self, number):
        """The Port numbered ``number`` (1-based), or None if there is no such port."""
        if 1 <= number <= len(self.ports):
            return self.ports[number - 1]
        return None

    def announce(self, prompt, number, value, now_ms):
        """Show ``prompt`` on the display and queue it for the voice."""
        self.notice = prompt
        self.notice_port = number
        self.notice_value = value
        self.notice_ms = now_ms
        self.events.append((EVENT_SAY, prompt))

    def refusal(self, number, now_ms):
        """The prompt a new session on port ``number`` would be refused with now; None if it may start."""
        port = self.port(number)
        if port is None:
            return prompts.INVALID_PORT
        if self.smoke:
            return prompts.SMOKE_ALARM
        if self.heat == HEAT_STOP:
            return prompts.HEAT_PAUSE
        if self.night:
            return prompts.NIGHT_CLOSED
        if self.halted or port.fault is not None or not port.fresh(now_ms):
            return prompts.PORT_FAULT
        if self.outbox_full:
            # An order that cannot be stored must not be started: refuse and keep the money.
            return prompts.OUT_OF_SERVICE
        if port.busy():
            return prompts.PORT_BUSY
        return None

    def reserve_order(self):
        """Take the next order number now, for a session that begins once a card holds its marker."""
        order_no = self.next_order
        self.next_order += 1
        return order_no

    def pay(self, now_ms, number, method, fen, ref="", order_no=None):
        """A payment of ``fen`` for port ``number``; returns the prompt that answers it.

        ``ref`` is the payment reference of a QR payment, or the UID of the
        card that paid (methods "card" and "pass"), carried to the order; a
        card's session has the ``order_no`` it reserved (``reserve_order``).

        An accepted payment is left in ``payment`` (port, order no, payments,
        fen, method) until the shell has put it on flash.

        A coin or QR payment for a port whose session was paid the same way
        adds to it (time accumulates); any other busy or faulty port refuses
        it, and the caller keeps the money.
        """
        refusal = self.refusal(number, now_ms)
        if refusal is not None and refusal != prompts.PORT_BUSY:
            return refusal
        if fen <= 0 and method not in FREE_METHODS:
            return prompts.INSERT_COINS
        port = self.ports[number - 1]
        if refusal is not None:
            if port.session.method != method or method not in _ADDABLE_METHODS:
                return prompts.PORT_BUSY
            port.session.add(fen)
            port.dirty = True
            self.payment = (number, port.session.order_no, port.session.payments, fen, method)
            return prompts.ADDED
        if order_no is None:
            order_no = self.reserve_order()
        port.begin(Session(method, fen, order_no, self.wall_s, ref), now_ms)
        self.payment = (number, order_no, 1, fen, method)
        self.queue.append(number)
        self._admit(now_ms)
        self._refresh_relays(now_ms)
        if port.state == QUEUED:
            return prompts.QUEUED
        return prompts.FREE_STARTED if method in FREE_METHODS else prompts.STARTED

    def stop(self, now_ms, number, reason):
        """Stop port ``number`` on request (keypad, cloud, or the card that paid)."""
        port = self.port(number)
        if port is None:
            return prompts.INVALID_PORT
        if not port.busy():
            return prompts.PORT_IDLE
        self._stop(port, reason, now_ms)
        self._refresh_relays(now_ms)
        return STOP_PROMPTS.get(reason, prompts.STOP_KEYPAD)

    def on_readings(self, now_ms, readings):
        """Readings of the ports marked valid (a whole scan, or one port of a per-port meter bus):
        protections act on this very reading, then relays follow."""
        valid = readings.valid
        ports = self.ports
        for index in range(len(ports)):
            if valid[index]:
                port = ports[index]
                reason = port.on_reading(now_ms, readings, index)
                if reason is None:
                    continue
                if reason == port.fault:
                    self.events.append((EVENT_ALARM, (reason, port.number, 1, "")))
                    if not port.busy():
                        self.announce(STOP_PROMPTS[reason], port.number, "", now_ms)
                if port.busy():
                    self._stop(port, reason, now_ms)
        self._hold_cap(now_ms)
        self._admit(now_ms)
        self._refresh_relays(now_ms)

    def tick(self, now_ms, wall_s, temp_dc=None):
        """Time passes: credit is used, holds run out, stale readings drop relays; ``temp_dc`` is the
        cabinet's temperature now (deci-degrees C), None on a pile without a thermometer."""
        self.wall_s = wall_s
        if temp_dc is not None:
            self._follow_heat(now_ms, temp_dc)
        self._follow_clock(now_ms, wall_s)
        for port in self.ports:
            reason = port.evaluate(now_ms)
            if reason is not None:
                self._stop(port, reason, now_ms)
        self._watch_meter(now_ms)
        self._hold_cap(now_ms)
        self._rotate(now_ms)
        self._admit(now_ms)
        self._refresh_relays(now_ms)

    def on_smoke(self, now_ms, smoke):
        """The smoke detector's input changed (``smoke`` true: smoke, or its loop broken).

        Smoke opens every relay at once and ends every session; the latch holds
        until ``clear``, which it refuses while the detector still reads smoke.
        """
        if not smoke:
            self.smoke &= ~_SMOKE_NOW
            return
        latched = self.smoke & _SMOKE_LATCHED
        self.smoke = _SMOKE_NOW | _SMOKE_LATCHED
        self._refresh_relays(now_ms)
        if latched:
            return
        self.events.append((EVENT_ALARM, (SMOKE, 0, 1, "")))
        for port in self.ports:
            if port.busy():
                self._stop(port, SMOKE, now_ms)
        self.announce(prompts.SMOKE_ALARM, 0, "", now_ms)

    def clear(self, now_ms, number):
        """A manager clears what is latched: the smoke latch and every port's fault (``number`` 0) or
        port ``number``'s fault; says and returns the prompt that answers it (refused while the smoke
        detector still reads smoke)."""
        if number == 0 and self.smoke & _SMOKE_NOW:
            self.announce(prompts.SMOKE_ALARM, 0, "", now_ms)
            return prompts.SMOKE_ALARM
        if number == 0 and self.smoke:
            self.smoke = 0
            self.events.append((EVENT_ALARM, (SMOKE, 0, 0, "")))
        for port in self.ports:
            if port.fault is not None and number in (0, port.number):
                self.events.append((EVENT_ALARM, (port.fault, port.number, 0, "")))
                port.fault = None
        self.announce(prompts.ALARM_CLEARED, number, "", now_ms)
        return prompts.ALARM_CLEARED

    def latches(self):
        """What must survive a restart: [smoke latched, [[port, fault], ...]]."""
        return [1 if self.smoke else 0, [[port.number, port.fault] for port in self.ports if port.fault]]

    def relatch(self, latches):
        """Take back ``latches`` (see ``latches``) at boot, before any relay may close."""
        smoke, faults = latches
        if smoke:
            self.smoke = _SMOKE_LATCHED
        for number, fault in faults:
            port = self.port(number)
            if port is not None and fault in (SHORT, FUSE, WELDED):
                port.fault = fault

    def halt(self):
        """A fault outside the core (the control path failed): no relay, no new payment."""
        self.halted = True
        for index in range(len(self.relay)):
            self.relay[index] = 0

    def describe(self, number, now_ms):
        """A short status of port ``number`` for a keypad query."""
        port = self.ports[number - 1]
        if not port.fresh(now_ms):
            return _NO_READING
        if port.session is None:
            return STATE_NAMES[port.state]
        if port.state != CHARGING:
            return STATE_NAMES[port.state]
        seconds = self.tariff.seconds_left(port.session)
        if seconds < 0:
            return _POWER_AND_LEFT % (port.power_w, format_fen(port.session.left_mfen() // 1000))
        return _POWER_AND_LEFT % (port.power_w, format_duration(seconds))

    def seconds_left(self, port):
        """Charging time the port's credit still buys; -1 without a session, free or priced by energy."""
        session = port.session
        if session is None or session.free:
            return -1
        return self.tariff.seconds_left(session)

    def total_w(self):
        """Power drawn by the powered ports, from their latest readings."""
        total = 0
        for port in self.ports:
            if port.powered:
                total += port.power_w
        return total

    def _stop(self, port, reason, now_ms):
        session = port.finish(reason, now_ms)
        number = port.number
        if number in self.queue:
            self.queue.remove(number)
        if number in self.running:
            self.running.remove(number)
        paid, used, returned = session.settle()
        if (reason == NO_LOAD or reason == OUTAGE_UNPLUGGED) and session.method == "coin" and used == 0:
            # Nothing was delivered: the coins go back to the panel as credit for another try.
            returned = paid
        order = {
            "no": session.order_no,
            "port": number,
            "method": session.method,
            "start": session.start_wall_s,
            "end": self.wall_s,
            "wh": session.energy_wh,
            "charged_s": session.charged_ms // 1000,
            "paid": paid,
            "used": used,
            "returned": returned,
            "tier": session.tier,
            "payments": session.payments,
            "reason": reason,
            "ref": session.ref,
        }
        self.events.append((EVENT_ORDER, order))
        if reason != SMOKE:  # smoke is said once for the whole pile
            self.announce(STOP_PROMPTS.get(reason, prompts.STOP_KEYPAD), number, "", now_ms)

    def _committed_w(self):
        """The room the running ports hold: at least what each was admitted with, so a charger still
        ramping up is not mistaken for spare power."""
        committed = 0
        for port in self.ports:
            if port.wants_relay():
                committed += max(port.power_w, port.need_w)
        return committed

    def _admit(self, now_ms):
        """Start queued ports, first in the queue first, while the cap has room (none during a pile-level
        stop: they wait)."""
        if not self.queue or self.smoke or self.heat == HEAT_STOP or self.night:
            return
        committed = self._committed_w()
        while self.queue:
            port = self.ports[self.queue[0] - 1]
            if port.need_w > self.max_w:
                # A load bigger than the whole pile may have (a heater, a power strip) never fits.
                self._stop(port, OVERLOAD, now_ms)
                continue
            if not port.fresh(now_ms) or committed + port.need_w > self.cap_w:
                return
            self.queue.pop(0)
            self.running.append(port.number)
            committed += port.need_w
            port.turn_ms = now_ms
            port.enter(WAIT_PLUG, now_ms)

    def _hold_cap(self, now_ms):
        """Over the cap: the newest sessions go back to the queue's head, their relays off on this very
        reading, until what is left fits."""
        total = self.total_w()
        index = len(self.running) - 1
        while total > self.cap_w and index >= 0:
            number = self.running[index]
            port = self.ports[number - 1]
            if port.powered and port.power_w > 0:
                total -= port.power_w
                self.running.pop(index)
                port.requeue(now_ms)
                self.queue.insert(0, number)
                self.announce(prompts.PILE_BUSY, number, "", now_ms)
            index -= 1

    def _rotate(self, now_ms):
        """While the cap keeps ports waiting, the sessions that have run CAP_TURN_S yield, longest first,
        to the queue's tail: as many as the queue's head needs room, and none if it would still not fit
        (nor during a pile-level stop, when nothing runs)."""
        if not self.turn_ms or not self.queue or not self.running or self.smoke or self.heat == HEAT_STOP or self.night:
            return
        need_w = self.ports[self.queue[0] - 1].need_w - (self.cap_w - self._committed_w())
        count = 0
        for number in self.running:
            port = self.ports[number - 1]
            if need_w <= 0 or since_ms(now_ms, port.turn_ms) < self.turn_ms:
                break
            need_w -= max(port.power_w, port.need_w)
            count += 1
        if need_w > 0:
            return
        for _ in range(count):
            port = self.ports[self.running.pop(0) - 1]
            port.requeue(now_ms)
            self.queue.append(port.number)
            self.announce(prompts.PILE_BUSY, port.number, "", now_ms)

    def _follow_clock(self, now_ms, wall_s):
        """The time of day: the cap's schedule, and the night window opening or closing."""
        minute = local_minute(wall_s, self.utc_offset_s)
        self.cap_w = cap_at(minute, self.schedule, self.max_w)
        start, end = self.night_min
        night = in_window(minute, start, end)
        if night == self.night:
            return
        self.night = night
        if night and self.night_ends:
            for port in self.ports:
                if port.busy():
                    self._stop(port, NIGHT, now_ms)
        self.announce(prompts.NIGHT_CLOSED if night else prompts.WELCOME, 0, "", now_ms)

    def _follow_heat(self, now_ms, temp_dc):
        """The cabinet's temperature: warn, stop every port, resume at or below the resume point.

        A new level takes effect once it has held HEAT_HOLD_S, so one noisy reading neither stops
        nor resumes the pile; between the resume point and the next threshold the level stays.
        """
        self.temp_dc = temp_dc
        warn_dc, stop_dc, resume_dc = self.heat_dc
        heat = self.heat
        sensor_broken = temp_dc < _SENSOR_LOW_DC or temp_dc > _SENSOR_HIGH_DC
        if sensor_broken or temp_dc >= stop_dc:
            level = HEAT_STOP
        elif temp_dc >= warn_dc:
            level = max(heat, HEAT_WARN)
        elif temp_dc > resume_dc:
            level = heat
        else:
            level = HEAT_OK
        candidate, since = self._heat_next
        if level == heat:
            if candidate != heat:  # a move that did not hold: forgotten (no tuple made on a quiet tick)
                self._heat_next = (heat, NEVER)
            return
        if candidate != level:
            self._heat_next = (level, now_ms)
            since = now_ms
        if since_ms(now_ms, since) < self._heat_hold_ms:
            return
        self._heat_next = (level, NEVER)
        self.heat = level
        detail = _SENSOR_BROKEN if sensor_broken else format_temperature(temp_dc)
        events = self.events
        for step in range(heat + 1, level + 1):
            events.append((EVENT_ALARM, (_HEAT_ALARMS[step], 0, 1, detail)))
        for step in range(heat, level, -1):
            events.append((EVENT_ALARM, (_HEAT_ALARMS[step], 0, 0, detail)))
        self.announce((prompts.HEAT_BACK, prompts.HEAT_HIGH, prompts.HEAT_PAUSE)[level], 0, "", now_ms)

    def _watch_meter(self, now_ms):
        """No fresh reading on any port is a meter fault: relays drop, an alarm goes out."""
        for port in self.ports:
            port.expire_reading(now_ms)
        if self._boot_ms != NEVER and since_ms(now_ms, self._boot_ms) > self.rules.stale_ms:
            self._boot_ms = NEVER
        lost = self._boot_ms == NEVER
        for port in self.ports:
            if port.fresh(now_ms):
                lost = False
                break
        if lost == self.meter_lost:
            return
        self.meter_lost = lost
        self.events.append((EVENT_ALARM, ("meter_lost" if lost else "meter_back", 0, None, "")))
        self.announce(prompts.METER_LOST if lost else prompts.METER_BACK, 0, "", now_ms)

    def _refresh_relays(self, now_ms):
        relay = self.relay
        ports = self.ports
        stopped = self.halted or self.smoke or self.heat == HEAT_STOP or self.night
        for index in range(len(ports)):
            port = ports[index]
            on = not stopped and port.fault is None and port.wants_relay() and port.fresh(now_ms)
            relay[index] = 1 if on else 0
            port.set_powered(on, now_ms)
