"""Prices: what a payment buys and what a running session costs.

Money inside the core is integer milli-fen (1/1000 of a fen, 1/100000 of a
yuan) so that a 200 ms slice of a "1 yuan = 4 h" session still costs a whole
number, and no float is made per reading. Three modes (config TARIFF_MODE):

- ``time``: PRICE_FEN buys UNIT_MIN minutes, whatever the power.
- ``tier``: the minutes PRICE_FEN buys depend on the charger's power tier
  ("按功率给时间"); the tier is chosen by the Port after a settle window.
- ``energy``: ENERGY_FEN_PER_KWH per kWh measured by the meter.
"""

from firmware.compat import const

MFEN_PER_FEN = const(1000)
NO_TIER = const(-1)


class Tariff:
    """Rates from the configuration, and the accrual of a session's cost."""

    def __init__(self, cfg):
        self.mode = cfg["TARIFF_MODE"]
        self.price_fen = cfg["PRICE_FEN"]
        self.unit_min = cfg["UNIT_MIN"]
        self.tiers = cfg["TIERS"]
        self.fen_per_kwh = cfg["ENERGY_FEN_PER_KWH"]

    def tier_of(self, power_w):
        """Index of the tier a charger drawing ``power_w`` falls in (NO_TIER unless tier mode)."""
        if self.mode != "tier":
            return NO_TIER
        last = len(self.tiers) - 1
        for index in range(last):
            if power_w <= self.tiers[index][0]:
                return index
        return last

    def minutes_per_price(self, tier):
        """Minutes that PRICE_FEN buys at ``tier`` (the flat rate outside tier mode)."""
        if self.mode == "tier":
            return self.tiers[0 if tier == NO_TIER else tier][1]
        return self.unit_min

    def accrue_time(self, session, dt_ms):
        """Charge ``dt_ms`` of powered charging to ``session`` (time and tier modes).

        The remainder is carried so that many short slices cost exactly what one
        long slice would.
        """
        if self.mode == "energy" or session.free:
            return
        divisor = self.minutes_per_price(session.tier) * 60
        numerator = dt_ms * self.price_fen + session.cost_remainder
        session.used_mfen += numerator // divisor
        session.cost_remainder = numerator % divisor

    def accrue_energy(self, session):
        """Set the cost of an energy-mode session from its measured energy (Wh x fen/kWh = milli-fen)."""
        if self.mode == "energy" and not session.free:
            session.used_mfen = session.energy_wh * self.fen_per_kwh

    def retier(self, session, tier):
        """Move ``session`` to ``tier``; the carried remainder belongs to the old rate."""
        session.tier = tier
        session.cost_remainder = 0

    def seconds_left(self, session):
        """Charging time the unused credit still buys at the session's current rate."""
        if self.mode == "energy":
            return -1
        # Divide first so the product stays a small int on a 32-bit port (error < 1/1000 of a unit).
        return session.left_mfen() // self.price_fen * self.minutes_per_price(session.tier) * 60 // MFEN_PER_FEN
