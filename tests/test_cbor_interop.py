"""Our CBOR codec against cbor2, both ways, on generated values."""

import random

import cbor2

from boards.sim.world.vm import run_source
from firmware.cbor import encode
from firmware.cbor_decode import decode


def value(rng: random.Random, depth: int = 0):
    kinds = ["int", "neg", "big", "text", "bytes", "bool", "none", "float"]
    if depth < 4:
        kinds += ["list", "map"]
    kind = rng.choice(kinds)
    if kind == "int":
        return rng.randrange(0, 1 << rng.choice((5, 8, 16, 32, 64)))
    if kind == "neg":
        return -rng.randrange(1, 1 << rng.choice((5, 8, 16, 32, 63)))
    if kind == "big":
        return rng.choice((23, 24, 255, 256, 65535, 65536, (1 << 32) - 1, 1 << 32, (1 << 64) - 1))
    if kind == "text":
        return "".join(rng.choice("abc\u00e9\u6c34\U0001f600") for _ in range(rng.randrange(30)))
    if kind == "bytes":
        return bytes(rng.randrange(256) for _ in range(rng.randrange(40)))
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "none":
        return None
    if kind == "float":
        return rng.uniform(-1e6, 1e6)
    if kind == "list":
        return [value(rng, depth + 1) for _ in range(rng.randrange(6))]
    return {rng.randrange(100): value(rng, depth + 1) for _ in range(rng.randrange(6))}


def test_round_trips_with_cbor2_both_ways():
    rng = random.Random(2026)
    for _ in range(2000):
        item = value(rng)
        assert cbor2.loads(encode(item)) == item
        assert decode(cbor2.dumps(item)) == item


def test_integer_encodings_are_byte_identical_to_cbor2():
    rng = random.Random(7)
    for _ in range(2000):
        item = {rng.randrange(64): [rng.randrange(-(1 << 40), 1 << 40), "x" * rng.randrange(30)]}
        assert encode(item) == cbor2.dumps(item, canonical=True)


# Runs on the MicroPython VM: decode each line's CBOR, encode the value again, print it.
_VM_ECHO = """
import sys
from binascii import hexlify, unhexlify
from firmware.cbor import encode
from firmware.cbor_decode import decode
for line in sys.stdin:
    print(hexlify(encode(decode(unhexlify(line.strip())))).decode())
"""


def test_round_trips_with_cbor2_through_the_micropython_vm():
    rng = random.Random(11)
    items = [value(rng) for _ in range(300)]
    items = [item for item in items if not isinstance(item, float)]  # VM floats: checked below
    lines = "".join(cbor2.dumps(item).hex() + "\n" for item in items)
    result = run_source(["-c", _VM_ECHO], stdin=lines)
    assert result.returncode == 0, result.stderr
    echoed = result.stdout.split()
    assert len(echoed) == len(items)
    for item, hex_text in zip(items, echoed, strict=True):
        assert cbor2.loads(bytes.fromhex(hex_text)) == item


def test_float_through_the_micropython_vm():
    floats = [1.5, -0.25, 100000.0, 3.0e38]
    lines = "".join(cbor2.dumps(number).hex() + "\n" for number in floats)
    result = run_source(["-c", _VM_ECHO], stdin=lines)
    back = [cbor2.loads(bytes.fromhex(h)) for h in result.stdout.split()]
    assert back == floats
