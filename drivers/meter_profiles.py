"""Register maps of the meters a pile can use, as data.

A profile says where each quantity of each port lives, so a site can swap
its meter without code. ``layout`` is ``multi`` (one meter measures every
port, read in as few transactions as its map allows) or ``per_port`` (one
single-phase meter per port at addresses ADDRESS..ADDRESS+9).

Each field is (readings attribute, block index, register, register stride
per port, type, scale): the stored integer is the meter's value times
``scale``, in the Readings units (0.1 V, mA, W, Wh). Types: u16, s16, u32,
s32 and f32 (IEEE 754); ``word_order`` "big" puts the high word first; "bit"
is a flag word, bit p for port p+1 (a per-port meter's own flag in bit 0).
"""

# Our reference 10-circuit meter: every port in one 42-register read
# (documented in docs/meters.md; the virtual pile emulates it).
MC10 = {
    "name": "mc10",
    "layout": "multi",
    "function": 4,
    "word_order": "big",
    "blocks": ((0x0000, 42),),
    "fields": (
        ("voltage_dv", 0, 0x0000, 0, "u16", 1),
        ("current_ma", 0, 0x0001, 1, "u16", 1),
        ("power_w", 0, 0x000B, 1, "u16", 1),
        ("energy_wh", 0, 0x0015, 2, "u32", 1),
        ("fault", 0, 0x0029, 0, "bit", 1),
    ),
}

# Eastron SDM120-Modbus, one per port; input registers, float32, high word first.
SDM120 = {
    "name": "sdm120",
    "layout": "per_port",
    "function": 4,
    "word_order": "big",
    "blocks": ((0x0000, 14), (0x0048, 2)),
    "fields": (
        ("voltage_dv", 0, 0x0000, 0, "f32", 10),
        ("current_ma", 0, 0x0006, 0, "f32", 1000),
        ("power_w", 0, 0x000C, 0, "f32", 1),
        ("energy_wh", 1, 0x0048, 0, "f32", 1000),
    ),
}

PROFILES = {"mc10": MC10, "sdm120": SDM120}
