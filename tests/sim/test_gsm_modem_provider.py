"""The cloud bridge's GSM modem provider (cloud_bridge/sms/gsm_modem.py, pyserial) against the modem
emulator on a paced 115200-baud pty line; what the emulator was given is decoded back to text
(boards/sim/world/sms_pdu_decode.py)."""

import asyncio
import time

import pytest

from boards.sim.world.modem import ModemEmulator
from boards.sim.world.serial_link import SerialLink
from cloud_bridge.sms.gsm_modem import GsmModemProvider
from cloud_bridge.sms.provider import ProviderError

MANAGER = "+8613800138000"
# 96 characters, most of them Chinese: two UCS2 parts (67 + 29).
ALERT = "充电桩DEMO-1告警：第3号端口过载停机（E5），已断开继电器，请尽快到现场检查充电器和线路。" * 2
TIMEOUT_S = 0.5


class Bench:
    """The emulator at the far end of a serial line; the provider opens the near end."""

    def __init__(self, timeout_s=TIMEOUT_S):
        self.timeout_s = timeout_s

    async def __aenter__(self):
        self.link = SerialLink(115200)
        self.link.start()
        self.modem = ModemEmulator(self.link.peer_path, guard_s=0.05)
        self.modem.start()
        self.provider = GsmModemProvider(self.link.device_path, timeout_s=self.timeout_s)
        return self

    async def __aexit__(self, *_exc):
        self.modem.close()
        self.link.close()

    async def send(self, number, text):
        """The provider's blocking send, in a thread while the emulator answers on this loop."""
        return await asyncio.to_thread(self.provider.send, number, text)


async def test_a_two_part_chinese_text_reaches_the_modem_whole():
    async with Bench() as bench:
        assert bench.provider.name == "gsm"
        assert await bench.send(MANAGER, ALERT) == "2"  # the second part's message reference
        assert [(m.number, m.text, m.parts) for m in bench.modem.texts()] == [(MANAGER, ALERT, 2)]
        assert [sms.submit.dcs for sms in bench.modem.sms] == [8, 8]
        assert bench.modem.commands[:3] == ["ATE0", "AT+CMEE=1", "AT+CMGF=0"]
        # A second long text gets the next concatenation reference, and a short one a single part.
        assert await bench.send("10086", ALERT[:80]) == "4"
        assert await bench.send("10086", "Pile DEMO-1: meter lost (E2) {3}") == "5"
        first, second, third = (sms.submit.concat for sms in bench.modem.sms[::2])
        assert second.ref == (first.ref + 1) % 256 and third is None
        assert [m.text for m in bench.modem.texts()] == [ALERT, ALERT[:80], "Pile DEMO-1: meter lost (E2) {3}"]


async def test_a_refused_text_and_an_absent_sim_are_provider_errors():
    async with Bench() as bench:
        bench.modem.sms_input.refusal = 500
        with pytest.raises(ProviderError, match=r"part 1 of 2: AT\+CMGS=\d+: \+CMS ERROR: 500"):
            await bench.send(MANAGER, ALERT)
        bench.modem.sms_input.refusal = None
        bench.modem.sim = "absent"
        with pytest.raises(ProviderError, match=r"\+CMS ERROR: 310"):
            await bench.send(MANAGER, "hello")
        assert bench.modem.sms == []


async def test_a_silent_modem_is_a_provider_error_within_the_timeout():
    async with Bench() as bench:
        bench.modem.hang()
        started = time.monotonic()
        with pytest.raises(ProviderError, match="ATE0: no answer within 0.5 s"):
            await bench.send(MANAGER, "hello")
        assert TIMEOUT_S <= time.monotonic() - started < TIMEOUT_S + 0.5


async def test_a_bad_number_or_a_missing_port_is_a_provider_error():
    provider = GsmModemProvider("/dev/no-such-modem", timeout_s=TIMEOUT_S)
    with pytest.raises(ProviderError, match="cannot send to '12 34'"):
        provider.send("12 34", "hello")
    with pytest.raises(ProviderError, match="cannot open the port"):
        provider.send(MANAGER, "hello")
