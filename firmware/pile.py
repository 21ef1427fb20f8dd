"""The pile: ten ports under one power limit, fed readings and time, deciding relays.

Pure core: no I/O, no clock, no globals. The shell hands it readings
(``on_readings``), time (``tick``), payments and stops; it answers with the
relay states in ``relay`` and with events (orders, prompts, alarms) in
``events`` for the shell to act on.

Safety invariant: a relay is on only while its port has a paid session in a
powered state, its reading is fresh, and the pile has not put it back in the
queue; ``_refresh_relays`` is the one place that decides it.
"""

from firmware import prompts
from firmware.compat import const
from firmware.port import (
    CARD,
    CHARGING,
    CREDIT,
    FULL,
    KEYPAD,
    MAX_TIME,
    NO_LOAD,
    OUTAGE_UNPLUGGED,
    OVERLOAD,
    QUEUED,
    STATE_NAMES,
    UNPLUGGED,
    WAIT_PLUG,
    Port,
    Rules,
)
from firmware.session import FREE_METHODS, Session, restore
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
}

# A second payment adds to a running session only for coins and QR: a card's session is its own.
_ADDABLE_METHODS = const(("coin", "qr"))

# Event kinds the shell acts on.
EVENT_ORDER = "order"
EVENT_SAY = "say"
EVENT_ALARM = "alarm"


def format_duration(seconds):
    """``3h59m`` for a time left on a 20-column display."""
    minutes = seconds // 60
    return _DURATION_FORMAT % (minutes // 60, minutes % 60)


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
        self._over_since = NEVER
        self._boot_ms = now_ms
        self.boot_ms = now_ms
        self.halted = False
        self.payment = None

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
        if self.halted or not port.fresh(now_ms):
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
        power_w = readings.power_w
        energy_wh = readings.energy_wh
        valid = readings.valid
        ports = self.ports
        for index in range(len(ports)):
            if valid[index]:
                port = ports[index]
                reason = port.on_reading(now_ms, power_w[index], energy_wh[index])
                if reason is not None:
                    self._stop(port, reason, now_ms)
        self._hold_pile_limit(now_ms)
        self._admit(now_ms)
        self._refresh_relays(now_ms)

    def tick(self, now_ms, wall_s):
        """Time passes: credit is used, holds run out, stale readings drop relays."""
        self.wall_s = wall_s
        for port in self.ports:
            reason = port.evaluate(now_ms)
            if reason is not None:
                self._stop(port, reason, now_ms)
        self._watch_meter(now_ms)
        self._admit(now_ms)
        self._refresh_relays(now_ms)

    def restore(self, now_ms, next_order, snapshots):
        """Take back the sessions saved before a power cut; each waits its turn to be checked.

        Relays stay off until a port's check: its session queues under the pile
        limit, and once admitted the relay closes to see whether the charger is
        still there (RESUME_CHECK_S). Nothing is billed for the time the power
        was off. Returns the port numbers of snapshots that could not be used.
        """
        self.next_order = next_order
        refused = []
        for number, snapshot in snapshots:
            port = self.port(number)
            try:
                session = restore(snapshot)
            except (KeyError, TypeError, ValueError):
                refused.append(number)
                continue
            if port is None or port.busy():
                refused.append(number)
                continue
            port.begin(session, now_ms)
            self.queue.append(number)
            if session.order_no >= self.next_order:
                self.next_order = session.order_no + 1
            if session.used_up():
                # Nothing left to resume: close it without ever closing the relay.
                self._stop(port, CREDIT, now_ms)
        return refused

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
        self.announce(STOP_PROMPTS.get(reason, prompts.STOP_KEYPAD), number, "", now_ms)

    def _admit(self, now_ms):
        """Start queued ports, first paid first, while the pile limit has room."""
        if not self.queue:
            return
        # A running port holds at least the room it was admitted with, so a
        # charger still ramping up is not mistaken for spare power.
        committed = 0
        for port in self.ports:
            if port.wants_relay():
                committed += max(port.power_w, port.need_w)
        while self.queue:
            port = self.ports[self.queue[0] - 1]
            if port.need_w > self.max_w:
                # A load bigger than the whole pile may have (a heater, a power strip) never fits.
                self._stop(port, OVERLOAD, now_ms)
                continue
            if not port.fresh(now_ms) or committed + port.need_w > self.max_w:
                return
            self.queue.pop(0)
            self.running.append(port.number)
            committed += port.need_w
            port.enter(WAIT_PLUG, now_ms)

    def _hold_pile_limit(self, now_ms):
        """Over PILE_MAX_W for OVERLOAD_HOLD_S: the newest session waits in the queue again."""
        if self.total_w() <= self.max_w or not self.running:
            self._over_since = NEVER
            return
        if self._over_since == NEVER:
            self._over_since = now_ms
            return
        if since_ms(now_ms, self._over_since) < self.rules.overload_hold_ms:
            return
        self._over_since = NEVER
        for index in range(len(self.running) - 1, -1, -1):
            number = self.running[index]
            if self.ports[number - 1].power_w > 0:
                self.running.pop(index)
                self.ports[number - 1].requeue(now_ms)
                self.queue.insert(0, number)
                self.announce(prompts.PILE_BUSY, number, "", now_ms)
                return

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
        self.events.append((EVENT_ALARM, "meter_lost" if lost else "meter_back"))
        self.announce(prompts.METER_LOST if lost else prompts.METER_BACK, 0, "", now_ms)

    def _refresh_relays(self, now_ms):
        relay = self.relay
        ports = self.ports
        for index in range(len(ports)):
            port = ports[index]
            on = port.wants_relay() and port.fresh(now_ms) and not self.halted
            relay[index] = 1 if on else 0
            port.set_powered(on, now_ms)
