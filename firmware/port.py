"""One charging port: its state machine and the stop rules that end a session.

States: IDLE -> QUEUED (paid, waiting for room under the pile limit) ->
WAIT_PLUG (relay on, waiting for a charger to draw power) -> CHARGING ->
STOPPED (showing why) -> IDLE. The Port decides from readings and time it is
handed; whether its relay may really be on is the Pile's call (fresh reading,
no pile-level stop).

A port also latches a fault (``fault``) from a reading: a short circuit, a
blown fuse or a welded relay. It then never closes its relay or takes a
session until a manager clears it.
"""

from firmware.compat import const
from firmware.ticks import NEVER, since_ms

IDLE = const(0)
QUEUED = const(1)
WAIT_PLUG = const(2)
CHARGING = const(3)
STOPPED = const(4)

STATE_NAMES = ("idle", "queued", "wait_plug", "charging", "stopped")

# Stop reasons; each has its own configuration constant.
CREDIT = "credit"
FULL = "full"
UNPLUGGED = "unplugged"
OVERLOAD = "overload"
MAX_TIME = "max_time"
KEYPAD = "keypad"
CARD = "card"  # the card that paid swiped again
REMOTE = "remote"
NO_LOAD = "no_load"
OUTAGE_UNPLUGGED = "outage_unplugged"
SMOKE = "smoke"
NIGHT = "night_window"
# Latched port faults, which also end the port's session as its stop reason.
SHORT = "short_circuit"
FUSE = "fuse_blown"
WELDED = "relay_welded"


class Rules:
    """The configuration's thresholds, converted once to the units the rules use."""

    def __init__(self, cfg):
        self.max_w = cfg["PORT_MAX_W"]
        self.trip_w = cfg["PORT_TRIP_W"]
        self.overload_hold_ms = cfg["OVERLOAD_HOLD_S"] * 1000
        self.full_w = cfg["FULL_W"]
        self.full_hold_ms = cfg["FULL_HOLD_S"] * 1000
        self.unplug_w = cfg["UNPLUG_W"]
        self.unplug_hold_ms = cfg["UNPLUG_HOLD_S"] * 1000
        self.plug_wait_ms = cfg["PLUG_WAIT_S"] * 1000
        self.max_session_ms = cfg["MAX_SESSION_S"] * 1000
        self.settle_ms = cfg["SETTLE_S"] * 1000
        self.tier_up_hold_ms = cfg["TIER_UP_HOLD_S"] * 1000
        self.stale_ms = cfg["METER_STALE_S"] * 1000
        self.stopped_show_ms = cfg["STOPPED_SHOW_S"] * 1000
        self.reserve_w = cfg["START_RESERVE_W"]
        self.checkpoint_ms = cfg["CHECKPOINT_S"] * 1000
        self.resume_check_ms = cfg["RESUME_CHECK_S"] * 1000
        self.short_ma = cfg["PORT_SHORT_MA"]
        self.fuse_dv = cfg["FUSE_LOST_V"] * 10
        self.weld_ms = cfg["WELD_HOLD_S"] * 1000


class Port:
    """A port's session state, its latest reading and its hold timers."""

    def __init__(self, number, rules, tariff):
        self.number = number
        self.rules = rules
        self.tariff = tariff
        self.state = IDLE
        self.state_ms = 0
        self.session = None
        self.reason = None
        self.power_w = 0
        self.energy_wh = 0
        self.reading_ms = NEVER
        self.powered = False
        self.need_w = 0
        self.turn_ms = NEVER  # when the pile last gave this port room under its cap
        self.dirty = False
        self.fault = None  # the latched fault (SHORT, FUSE, WELDED), until a manager clears it
        self._weld_since = NEVER
        self._charge_ms = NEVER
        self._checkpoint_ms = NEVER
        self._restart_holds(NEVER)

    def _restart_holds(self, now_ms):
        """Forget every hold timer; billing restarts from ``now_ms``."""
        self._over_since = NEVER
        self._absent_since = NEVER
        self._low_since = NEVER
        self._tier_up_since = NEVER
        self._billed_ms = now_ms

    def busy(self):
        """True while a session holds the port."""
        return self.state in (QUEUED, WAIT_PLUG, CHARGING)

    def wants_relay(self):
        """True in the states where the session needs power."""
        return self.state == WAIT_PLUG or self.state == CHARGING

    def fresh(self, now_ms):
        """True while the latest reading is younger than METER_STALE_S."""
        return self.reading_ms != NEVER and since_ms(now_ms, self.reading_ms) <= self.rules.stale_ms

    def expire_reading(self, now_ms):
        """Forget a stale reading for good, so tick wrap-around can never make it fresh again."""
        if self.reading_ms != NEVER and not self.fresh(now_ms):
            self.reading_ms = NEVER

    def enter(self, state, now_ms):
        """Move to ``state``; hold timers restart in the new state."""
        self.state = state
        self.state_ms = now_ms
        self.dirty = True
        self._restart_holds(now_ms)

    def begin(self, session, now_ms):
        """A paid (or restored) session takes the port; it queues for room under the pile limit."""
        self.session = session
        self.reason = None
        self.need_w = self.rules.reserve_w
        self._charge_ms = NEVER
        self.enter(QUEUED, now_ms)

    def set_powered(self, powered, now_ms):
        """The Pile reports whether the relay is on; hold timers only run on a powered port."""
        if powered == self.powered:
            return
        self.powered = powered
        if powered and self.state == WAIT_PLUG:
            self.state_ms = now_ms
        self._restart_holds(now_ms)

    def on_reading(self, now_ms, readings, index):
        """Take this port's values from ``readings`` (at ``index``); return a stop reason when they show
        an overload or a fault, else None.

        Decided here, on the reading that shows it, so a trip never waits for the next tick. A fault
        (short circuit: the current over PORT_SHORT_MA or the meter's own flag; a blown fuse: no voltage
        on this port while another has mains; a welded relay: power for WELD_HOLD_S through a relay that
        is off) is latched in ``fault`` and returned once.
        """
        power_w = readings.power_w[index]
        energy_wh = readings.energy_wh[index]
        self.power_w = power_w
        self.energy_wh = energy_wh
        self.reading_ms = now_ms
        session = self.session
        if session is not None and self.state == CHARGING:
            session.count_energy(energy_wh)
            self.tariff.accrue_energy(session)
        rules = self.rules
        if self.fault is None:
            fault = None
            if self.powered and (readings.current_ma[index] >= rules.short_ma or readings.fault[index]):
                fault = SHORT
            elif readings.voltage_dv[index] < rules.fuse_dv <= max(readings.voltage_dv):
                fault = FUSE
            elif self.powered or power_w < rules.unplug_w:
                self._weld_since = NEVER
            elif self._weld_since == NEVER:
                self._weld_since = now_ms
            elif since_ms(now_ms, self._weld_since) >= rules.weld_ms:
                fault = WELDED
            if fault is not None:
                self.fault = fault
                self._weld_since = NEVER
                return fault
        if not (self.powered and self.wants_relay()):
            return None
        # A charger drawing power ends the wait first, so the hold timers below
        # start on this reading rather than being reset by the state change.
        if self.state == WAIT_PLUG and power_w >= rules.unplug_w:
            self._start_charging(now_ms)
        if power_w >= rules.trip_w:
            return OVERLOAD
        if power_w > rules.max_w:
            if self._over_since == NEVER:
                self._over_since = now_ms
            elif since_ms(now_ms, self._over_since) >= rules.overload_hold_ms:
                return OVERLOAD
        else:
            self._over_since = NEVER
        if power_w < rules.unplug_w:
            if self._absent_since == NEVER:
                self._absent_since = now_ms
        else:
            self._absent_since = NEVER
        if power_w < rules.full_w:
            if self._low_since == NEVER:
                self._low_since = now_ms
        else:
            self._low_since = NEVER
        if self.state == CHARGING:
            self._follow_tier(now_ms, power_w)
        return None

    def _start_charging(self, now_ms):
        session = self.session
        assert session is not None, "a powered port always has a session"
        self.enter(CHARGING, now_ms)
        session.resumed = False
        self._charge_ms = now_ms
        self._checkpoint_ms = now_ms
        if session.energy_base_wh is None:
            session.energy_base_wh = self.energy_wh

    def _follow_tier(self, now_ms, power_w):
        """Power tier: provisional while settling, then fixed from the settled power, then only up.

        The tier is fixed from the mean power of the second half of the settle
        window, so a charger's start-up surge does not set it.
        """
        session = self.session
        assert session is not None, "a charging port always has a session"
        tariff = self.tariff
        settle_ms = self.rules.settle_ms
        charging_ms = since_ms(now_ms, self._charge_ms)
        if not session.settled:
            if charging_ms < settle_ms:
                if charging_ms * 2 >= settle_ms:
                    session.settle_sum_w += power_w
                    session.settle_readings += 1
                tier = tariff.tier_of(power_w)
            else:
                session.settled = True
                count = session.settle_readings
                tier = tariff.tier_of(session.settle_sum_w // count if count else power_w)
            if tier != session.tier:
                tariff.retier(session, tier)
                self.dirty = True
            return
        if tariff.tier_of(power_w) > session.tier:
            if self._tier_up_since == NEVER:
                self._tier_up_since = now_ms
            elif since_ms(now_ms, self._tier_up_since) >= self.rules.tier_up_hold_ms:
                tariff.retier(session, tariff.tier_of(power_w))
                self.dirty = True
                self._tier_up_since = NEVER
        else:
            self._tier_up_since = NEVER

    def evaluate(self, now_ms):
        """Apply the time-based rules; return a stop reason or None."""
        rules = self.rules
        state = self.state
        if state == STOPPED:
            if since_ms(now_ms, self.state_ms) >= rules.stopped_show_ms:
                self.enter(IDLE, now_ms)
            return None
        if state == WAIT_PLUG:
            if not self.powered:
                return None
            waited_ms = since_ms(now_ms, self.state_ms)
            # After a power cut the relay is closed only to check the charger is still there.
            if self.session is not None and self.session.resumed:
                return OUTAGE_UNPLUGGED if waited_ms >= rules.resume_check_ms else None
            return NO_LOAD if waited_ms >= rules.plug_wait_ms else None
        if state != CHARGING:
            return None
        if not self.powered:
            self._billed_ms = now_ms
            return None
        session = self.session
        assert session is not None, "a charging port always has a session"
        dt_ms = since_ms(now_ms, self._billed_ms)
        self._billed_ms = now_ms
        session.charged_ms += dt_ms
        self.tariff.accrue_time(session, dt_ms)
        if session.used_up():
            return CREDIT
        # A hold is over only when a reading that long after its start still shows it: a slow
        # meter scan must not turn one low reading into an unplug or a full battery.
        reading_ms = self.reading_ms
        if self._absent_since != NEVER and since_ms(reading_ms, self._absent_since) >= rules.unplug_hold_ms:
            return UNPLUGGED
        if self._low_since != NEVER and since_ms(reading_ms, self._low_since) >= rules.full_hold_ms:
            return FULL
        if session.charged_ms >= rules.max_session_ms:
            return MAX_TIME
        if since_ms(now_ms, self._checkpoint_ms) >= rules.checkpoint_ms:
            self._checkpoint_ms = now_ms
            self.dirty = True
        return None

    def finish(self, reason, now_ms):
        """End the session with ``reason``; return it for the order (None if idle)."""
        session = self.session
        self.session = None
        self.reason = reason
        self.enter(STOPPED, now_ms)
        return session

    def requeue(self, now_ms):
        """Back to the queue (pile over its limit); it needs the room it was using."""
        self.need_w = self.power_w if self.power_w > self.rules.reserve_w else self.rules.reserve_w
        self.enter(QUEUED, now_ms)
