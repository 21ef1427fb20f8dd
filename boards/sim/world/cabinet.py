"""The pile's cabinet as its safety sensors see it: the smoke detector's loop, the NTC, the buzzer.

The smoke detector's normally closed contact holds the firmware's input low;
smoke (or a cut wire) opens it and the pull-up reads 1. The NTC thermistor
(10 kΩ at 25 °C, B 3950) sits under a 10 kΩ resistor from 3.3 V, and the
world puts the divider's voltage on the ADC pin. The buzzer is an output the
firmware drives; its changes are kept with the world's time.
"""

from __future__ import annotations

import math
import time

from boards import pinmap
from boards.sim.world.pinwire import PinWire

SUPPLY_UV = 3_300_000
FIXED_OHMS = 10_000.0
NTC_OHMS_25C = 10_000.0
NTC_B = 3950.0
KELVIN_0C = 273.15
ROOM_C = 25.0


def ntc_microvolts(celsius: float) -> int:
    """The divider's voltage on the ADC pin at ``celsius`` (the B equation)."""
    kelvin = celsius + KELVIN_0C
    ohms = NTC_OHMS_25C * math.exp(NTC_B * (1 / kelvin - 1 / (ROOM_C + KELVIN_0C)))
    return round(SUPPLY_UV * ohms / (ohms + FIXED_OHMS))


class Cabinet:
    """Smoke, temperature and the buzzer, on the pin bus ``pinwire``."""

    def __init__(self, pinwire: PinWire) -> None:
        self.pinwire = pinwire
        self.smoke = False
        self.celsius = ROOM_C
        self.smoke_changed_at: float | None = None  # time.monotonic() of the last smoke edge sent
        self.buzzer = 0
        self.buzzer_events: list[tuple[float, int]] = []
        pinwire.on_output(pinmap.BUZZER_GPIO, self._buzzer_changed)

    async def start(self) -> None:
        """A quiet detector and a room-warm cabinet, before the firmware boots."""
        await self.pinwire.drive(pinmap.SMOKE_GPIO, 1 if self.smoke else 0)
        await self.pinwire.drive_voltage(pinmap.NTC_ADC_GPIO, ntc_microvolts(self.celsius))

    async def set_smoke(self, present: bool) -> None:
        """Smoke reaches the detector (True) or clears (False)."""
        self.smoke = present
        self.smoke_changed_at = time.monotonic()
        await self.pinwire.drive(pinmap.SMOKE_GPIO, 1 if present else 0)

    async def set_temperature(self, celsius: float) -> None:
        """The cabinet's air is at ``celsius``."""
        self.celsius = celsius
        await self.pinwire.drive_voltage(pinmap.NTC_ADC_GPIO, ntc_microvolts(celsius))

    async def break_thermistor(self) -> None:
        """The NTC's lead breaks: the pull-up resistor puts the whole supply on the pin."""
        await self.pinwire.drive_voltage(pinmap.NTC_ADC_GPIO, SUPPLY_UV)

    def _buzzer_changed(self, _gpio: int, level: int, t_monotonic: float) -> None:
        self.buzzer = level
        self.buzzer_events.append((t_monotonic, level))
