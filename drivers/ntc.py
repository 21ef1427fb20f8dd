"""The cabinet thermometer: an NTC thermistor in a divider on an ADC pin.

Wiring: 3.3 V, a 10 kΩ resistor, the ADC pin, the NTC (10 kΩ at 25 °C, B
3950), ground. The ADC's calibrated reading (``read_uv``) is looked up in a
table of the divider's voltage every 5 °C from -40 to 125 °C and interpolated
in integers. A reading beyond the table's ends is an open or shorted sensor:
it reads as _OPEN_DC or _SHORTED_DC, far outside any cabinet's temperature,
which the core takes as a broken thermometer (charging stops).
"""

from firmware.compat import const

_FIRST_DC = const(-400)
_STEP_DC = const(50)
_OPEN_DC = const(-999)
_SHORTED_DC = const(1999)
# The divider's voltage (µV) at -40, -35, ... 125 °C, from the B equation (tests/sim/test_ntc.py checks it).
_TABLE_UV = const(
    (
        3219876, 3186822, 3143010, 3086154, 3014000, 2924565, 2816453, 2689184, 2543477, 2381408,
        2206364, 2022769, 1835632, 1650000, 1470442, 1300670, 1143344, 1000050, 871419, 757321,
        657075, 569652, 493839, 428358, 371955, 323453, 281775, 245962, 215173, 188676,
        165841, 146130, 129084, 114313,
    )
)  # fmt: skip


class Ntc:
    """The thermistor on ``adc`` (a machine.ADC)."""

    def __init__(self, adc):
        self.adc = adc

    def read_dc(self):
        """The temperature in deci-degrees C; _OPEN_DC or _SHORTED_DC for a broken sensor."""
        uv = self.adc.read_uv()
        if uv > _TABLE_UV[0]:
            return _OPEN_DC
        for index in range(1, len(_TABLE_UV)):
            low = _TABLE_UV[index]
            if uv >= low:
                high = _TABLE_UV[index - 1]
                return _FIRST_DC + index * _STEP_DC - (uv - low) * _STEP_DC // (high - low)
        return _SHORTED_DC
