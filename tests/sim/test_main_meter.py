"""The DL/T 645 main meter emulator against the firmware's codec, and on a real pty."""

from __future__ import annotations

import asyncio
import os

import pytest

from boards.sim.world.main_meter import MainMeter
from boards.sim.world.serial_link import SerialLink
from drivers.dlt645 import (
    ACTIVE_POWER,
    CURRENT_A,
    FORWARD_ACTIVE_ENERGY,
    REQUEST_BYTES,
    VOLTAGE_A,
    WILDCARD,
    MeterRefused,
    check_reply,
    fill_request,
    read_value,
)

ADDRESS = "000000001234"
OWN = bytes.fromhex("341200000000")  # the same address as sent, lowest byte first


def read_request(address, identifier):
    """The request bytes the pile sends for ``identifier`` to ``address`` (six bytes, lowest first)."""
    return bytes(fill_request(bytearray(REQUEST_BYTES), address, identifier))


def parse(reply):
    """(address bytes, control, value of the echoed identifier) through the firmware's codec."""
    buf = bytearray(reply)
    at = check_reply(buf, len(buf))
    identifier = int.from_bytes(buf[at + 10 : at + 14], "little")
    return bytes(buf[at + 1 : at + 7]), buf[at + 8], read_value(buf, identifier, at + 10, buf[at + 9])


def test_every_quantity_reads_back_through_the_codec():
    meter = MainMeter(ADDRESS)
    meter.current_milli_a = -1234
    expected = {FORWARD_ACTIVE_ENERGY: 120642, VOLTAGE_A: 2205, CURRENT_A: -1234, ACTIVE_POWER: 9950}
    for identifier, value in expected.items():
        for address in (OWN, WILDCARD, b"\x34\x12\xaa\xaa\xaa\xaa"):
            assert parse(meter.answer(read_request(address, identifier))) == (OWN, 0x91, value)


def test_unknown_data_gets_an_abnormal_reply_and_strangers_get_silence():
    meter = MainMeter(ADDRESS)
    with pytest.raises(MeterRefused) as refused:
        parse(meter.answer(read_request(OWN, 0x04000401)))
    assert refused.value.args[0] == 2
    assert meter.answer(read_request(bytes.fromhex("999900000000"), VOLTAGE_A)) is None
    damaged = bytearray(read_request(OWN, VOLTAGE_A))
    damaged[-2] ^= 0xFF
    assert meter.answer(bytes(damaged)) is None


def test_on_a_pty_after_garbage():
    async def run():
        link = SerialLink(2400)
        link.start()
        meter = MainMeter(ADDRESS)
        meter.start(link.peer_path)
        pile_end = os.open(link.device_path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            os.write(pile_end, b"\x00\x68\x12garbage" + read_request(OWN, VOLTAGE_A))
            reply = b""
            for _ in range(100):
                await asyncio.sleep(0.02)
                try:
                    reply += os.read(pile_end, 256)
                except BlockingIOError:
                    pass
                if reply.endswith(b"\x16") and len(reply) >= 4 + 18:
                    break
            assert parse(reply) == (OWN, 0x91, 2205)
        finally:
            os.close(pile_end)
            meter.close()
            link.close()

    asyncio.run(run())
