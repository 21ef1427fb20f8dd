"""Loads that can sit on a port: e-bike chargers with a real curve, and plain constant loads.

Every load has `power_w(dt_s, powered) -> float`: advance the load by `dt_s` seconds of
real time and return the power it draws from the port now (0 when the relay is off).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Protocol

S_PER_H = 3600.0
# Chargers ramp up over about a second after mains appears (real time, not battery time:
# it is the charger's electronics, and the firmware's plug-in detection sees it as is).
SOFT_START_S = 1.0
# Lithium packs leave constant current near 80 % state of charge.
CC_END_SOC = 0.8
# In constant current the drawn power creeps up with pack voltage: 92 % of rating when
# empty, 100 % at the end of the phase.
CC_START_POWER_FRACTION = 0.92
# Mains energy that ends up in the pack (the rest is charger loss).
CHARGER_EFFICIENCY = 0.85
DEFAULT_TRICKLE_W = 15.0
CHARGER_NOISE_FRACTION = 0.015
CONSTANT_LOAD_NOISE_FRACTION = 0.005


class Load(Protocol):
    """Anything that can be plugged into a port."""

    def power_w(self, dt_s: float, powered: bool) -> float:
        """Advance by `dt_s` seconds of real time and return the power drawn now."""
        ...


class Charger:
    """An e-bike charger with its battery: soft start, constant current, constant voltage, trickle.

    In constant voltage the power is proportional to the charge still missing, which makes
    it fall exponentially in time; once it has fallen to the trickle level the pack is
    full and the charger keeps drawing the trickle. `speedup` multiplies battery time only:
    with speedup=180 a 3 h charge takes a minute, at the same power levels.
    """

    def __init__(
        self,
        rated_w: float,
        capacity_wh: float,
        soc: float = 0.2,
        speedup: float = 1.0,
        trickle_w: float = DEFAULT_TRICKLE_W,
        seed: int | None = None,
    ) -> None:
        """Describe the charger (`rated_w`) and its pack (`capacity_wh`, `soc` 0..1)."""
        self.rated_w = rated_w
        self.capacity_wh = capacity_wh
        self.soc = soc
        self.speedup = speedup
        self.trickle_w = trickle_w
        self.full = False
        self._powered_s = 0.0
        self._rng = random.Random(seed)

    @property
    def phase(self) -> str:
        """Where in the charge the pack is: "cc", "cv" or "full"."""
        if self.full:
            return "full"
        return "cc" if self.soc < CC_END_SOC else "cv"

    def power_w(self, dt_s: float, powered: bool) -> float:
        """Advance by `dt_s` real seconds and return the power drawn; keeps SoC when unpowered."""
        if not powered:
            self._powered_s = 0.0
            return 0.0
        self._powered_s += dt_s
        ramp = min(1.0, self._powered_s / SOFT_START_S)
        self._charge(dt_s * self.speedup, ramp)
        noise = 1.0 + self._rng.uniform(-CHARGER_NOISE_FRACTION, CHARGER_NOISE_FRACTION)
        return self._curve_w() * ramp * noise

    def _cc_power_w(self, soc: float) -> float:
        rise = (1.0 - CC_START_POWER_FRACTION) * min(soc, CC_END_SOC) / CC_END_SOC
        return self.rated_w * (CC_START_POWER_FRACTION + rise)

    def _curve_w(self) -> float:
        if self.full:
            return self.trickle_w
        if self.soc < CC_END_SOC:
            return self._cc_power_w(self.soc)
        missing = (1.0 - self.soc) / (1.0 - CC_END_SOC)
        return max(self.trickle_w, self.rated_w * missing)

    def _charge(self, battery_s: float, ramp: float) -> None:
        if self.full or battery_s <= 0:
            return
        wh_per_s = CHARGER_EFFICIENCY * ramp / S_PER_H
        if self.soc < CC_END_SOC:
            # Linear in the constant-current phase; what is left of the step goes to CV.
            needed_s = (CC_END_SOC - self.soc) * self.capacity_wh / (self._cc_power_w(self.soc) * wh_per_s)
            used_s = min(battery_s, needed_s)
            self.soc += self._cc_power_w(self.soc) * wh_per_s * used_s / self.capacity_wh
            battery_s -= used_s
            if battery_s <= 0:
                return
            self.soc = CC_END_SOC
        # Power ∝ missing charge ⇒ missing charge decays as exp(-t/tau): exact for any step
        # length, so a large speedup stays stable.
        rate_per_s = self.rated_w * wh_per_s / ((1.0 - CC_END_SOC) * self.capacity_wh)
        self.soc = 1.0 - (1.0 - self.soc) * math.exp(-rate_per_s * battery_s)
        if self._curve_w() <= self.trickle_w:
            self.full = True
            self.soc = 1.0


class ConstantLoad:
    """A heater, a power strip, any resistive load: constant power while powered."""

    def __init__(self, watts: float, seed: int | None = None) -> None:
        """Draw `watts` (with a little noise) whenever the port is on."""
        self.watts = watts
        self._rng = random.Random(seed)

    def power_w(self, dt_s: float, powered: bool) -> float:
        """Return the power drawn now; `dt_s` is unused since the load has no state."""
        if not powered:
            return 0.0
        return self.watts * (1.0 + self._rng.uniform(-CONSTANT_LOAD_NOISE_FRACTION, CONSTANT_LOAD_NOISE_FRACTION))


@dataclass(frozen=True)
class ChargerSpec:
    """Typical figures of one kind of charger and pack."""

    rated_w: float
    pack_v: float
    pack_ah: float

    @property
    def capacity_wh(self) -> float:
        """Energy the pack holds when full."""
        return self.pack_v * self.pack_ah


CHARGERS = {
    # 48 V 12 Ah lead-acid or lithium e-bike, the common 2.5-3 A charger.
    "ebike": ChargerSpec(rated_w=170.0, pack_v=48.0, pack_ah=12.0),
    # 60 V 32 Ah cargo tricycle with a 4-5 A charger.
    "tricycle": ChargerSpec(rated_w=280.0, pack_v=60.0, pack_ah=32.0),
    # 36 V 10 Ah folding scooter with a 2 A charger.
    "scooter_small": ChargerSpec(rated_w=120.0, pack_v=36.0, pack_ah=10.0),
}


def make_charger(kind: str, soc: float = 0.2, speedup: float = 1.0, seed: int | None = None) -> Charger:
    """Build the charger preset `kind` (a key of CHARGERS) with its pack at `soc`."""
    spec = CHARGERS[kind]
    return Charger(spec.rated_w, spec.capacity_wh, soc=soc, speedup=speedup, seed=seed)
