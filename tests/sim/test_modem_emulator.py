"""The modem emulator (boards/sim/world/modem.py) byte for byte, from the pile's end of a raw pty."""

import asyncio
import os

from boards.sim.world.modem import ModemEmulator
from boards.sim.world.serial_link import open_raw_pty
from firmware.sms_pdu import submit_pdus

GUARD_S = 0.05
TIMING = {"guard_s": GUARD_S, "boot_s": 0.05, "power_on_press_s": 0.02, "power_off_press_s": 0.08, "shutdown_s": 0.03}
# 2025-03-01 08:30:15 UTC.
NETWORK_TIME_S = 1740817815
# An SMS-SUBMIT PDU: no service centre address (00), then 23 octets of TPDU.
PDU = "0011000B915121551532F40000AA0AE8329BFD4697D9EC37"
TPDU_LENGTH = 23


class PileEnd:
    """The pty master: what the pile's UART sends and receives."""

    def __init__(self):
        self.master, self.slave = open_raw_pty()
        self.path = os.ttyname(self.slave)
        self.received = bytearray()
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.master, self._readable)

    def _readable(self):
        try:
            self.received += os.read(self.master, 4096)
        except BlockingIOError:
            pass

    def send(self, data):
        os.write(self.master, data)

    def take(self):
        """Everything received since the last take."""
        data = bytes(self.received)
        self.received.clear()
        return data

    def close(self):
        self._loop.remove_reader(self.master)
        os.close(self.master)
        os.close(self.slave)


class Bench:
    """A modem emulator and the pile's end of its line."""

    def __init__(self, **options):
        self.options = {**TIMING, **options}

    async def __aenter__(self):
        self.pile = PileEnd()
        self.modem = ModemEmulator(self.pile.path, **self.options)
        self.modem.start()
        return self

    async def __aexit__(self, *_exc):
        self.modem.close()
        self.pile.close()

    async def ask(self, wait_until, command, until=b"\r\n"):
        """Send ``command`` and return what came back once it ends with ``until``."""
        self.pile.take()
        self.pile.send(command)
        await wait_until(lambda: self.pile.received.endswith(until))
        return self.pile.take()

    async def quiet(self, seconds=0.05):
        """Nothing at all comes back within ``seconds``."""
        await asyncio.sleep(seconds)
        return self.pile.take() == b""


async def test_echo_until_ate0_and_the_reply_framing(wait_until):
    async with Bench() as bench:
        assert await bench.ask(wait_until, b"AT\r", b"OK\r\n") == b"AT\r\r\nOK\r\n"
        assert await bench.ask(wait_until, b"ATE0\r", b"OK\r\n") == b"ATE0\r\r\nOK\r\n"
        assert await bench.ask(wait_until, b"AT+CSQ\r", b"OK\r\n") == b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n"
        assert await bench.ask(wait_until, b"ati\r", b"OK\r\n") == (
            b"\r\nQuectel\r\n\r\nEC200U\r\n\r\nRevision: EC200UCNAAR03A01M08\r\n\r\nOK\r\n"
        )
        assert bench.modem.commands == ["AT", "ATE0", "AT+CSQ", "ati"]


async def test_error_styles_follow_cmee(wait_until):
    async with Bench() as bench:
        bench.modem.sim = "absent"
        await bench.ask(wait_until, b"ATE0\r", b"OK\r\n")
        assert await bench.ask(wait_until, b"AT+CPIN?\r") == b"\r\nERROR\r\n"
        await bench.ask(wait_until, b"AT+CMEE=1\r", b"OK\r\n")
        assert await bench.ask(wait_until, b"AT+CPIN?\r") == b"\r\n+CME ERROR: 10\r\n"
        # An unknown command is a plain ERROR whatever CMEE says, as on the module.
        assert await bench.ask(wait_until, b"AT+NOSUCH\r") == b"\r\nERROR\r\n"
        await bench.ask(wait_until, b"AT+CMEE=2\r", b"OK\r\n")
        assert await bench.ask(wait_until, b"AT+CPIN?\r") == b"\r\n+CME ERROR: SIM not inserted\r\n"


async def test_sim_pin_entry(wait_until):
    async with Bench() as bench:
        bench.modem.sim = "pin"
        await bench.ask(wait_until, b"ATE0\r", b"OK\r\n")
        await bench.ask(wait_until, b"AT+CMEE=1\r", b"OK\r\n")
        assert await bench.ask(wait_until, b"AT+CPIN?\r", b"OK\r\n") == b"\r\n+CPIN: SIM PIN\r\n\r\nOK\r\n"
        assert await bench.ask(wait_until, b"ATD*99#\r") == b"\r\n+CME ERROR: 11\r\n"
        assert await bench.ask(wait_until, b'AT+CPIN="0000"\r') == b"\r\n+CME ERROR: 16\r\n"
        assert await bench.ask(wait_until, b"AT+CPIN=1234\r") == b"\r\nOK\r\n"
        assert await bench.ask(wait_until, b"AT+CPIN?\r", b"OK\r\n") == b"\r\n+CPIN: READY\r\n\r\nOK\r\n"


async def test_registration_operator_and_clock_replies(wait_until):
    async with Bench() as bench:
        await bench.ask(wait_until, b"ATE0\r", b"OK\r\n")
        assert await bench.ask(wait_until, b"AT+CEREG?\r", b"OK\r\n") == b"\r\n+CEREG: 0,1\r\n\r\nOK\r\n"
        await bench.ask(wait_until, b"AT+CEREG=1\r", b"OK\r\n")
        bench.modem.set_registration(5)
        await wait_until(lambda: bench.pile.received.endswith(b"\r\n"))
        # CEREG URCs are on, CREG's are not.
        assert bench.pile.take() == b"\r\n+CEREG: 5\r\n"
        assert await bench.ask(wait_until, b"AT+CREG?\r", b"OK\r\n") == b"\r\n+CREG: 0,5\r\n\r\nOK\r\n"
        assert await bench.ask(wait_until, b"AT+COPS?\r", b"OK\r\n") == b'\r\n+COPS: 0,0,"CHINA MOBILE",7\r\n\r\nOK\r\n'
        bench.modem.set_registration(3)
        assert await bench.ask(wait_until, b"AT+COPS?\r", b"OK\r\n") == b"\r\n+CEREG: 3\r\n\r\n+COPS: 0\r\n\r\nOK\r\n"
        clock = b'\r\n+CCLK: "%s"\r\n\r\nOK\r\n'
        assert (await bench.ask(wait_until, b"AT+CCLK?\r", b"OK\r\n")).startswith(b'\r\n+CCLK: "80/01/06,00:00:')
        bench.modem.set_network_time(NETWORK_TIME_S, -20)
        assert await bench.ask(wait_until, b"AT+CCLK?\r", b"OK\r\n") == clock % b"25/03/01,03:30:15-20"
        bench.modem.set_network_time(NETWORK_TIME_S, 32)
        assert await bench.ask(wait_until, b"AT+CCLK?\r", b"OK\r\n") == clock % b"25/03/01,16:30:15+32"


async def test_noise_before_at_is_ignored(wait_until):
    async with Bench() as bench:
        await bench.ask(wait_until, b"ATE0\r", b"OK\r\n")
        bench.pile.send(b"\x00\xffnoise\r")
        assert await bench.quiet()
        # What an escape sent in command mode leaves in the line buffer does not spoil the next command.
        assert await bench.ask(wait_until, b"+++AT\r") == b"\r\nOK\r\n"
        assert bench.modem.commands == ["ATE0", "AT"]


async def test_data_mode_and_the_escape_needs_both_guard_times(wait_until):
    async with Bench() as bench:
        modem = bench.modem
        await bench.ask(wait_until, b"ATE0\r", b"OK\r\n")
        assert await bench.ask(wait_until, b'AT+CGDCONT=1,"IP","cmnet"\r') == b"\r\nOK\r\n"
        assert await bench.ask(wait_until, b"ATD*99#\r") == b"\r\nCONNECT 150000000\r\n"
        assert modem.data_mode and modem.contexts == {1: ("IP", "cmnet")}
        bench.pile.send(b"\x7eAT\r+++")  # no silence before the "+++": data
        assert await bench.quiet(3 * GUARD_S)
        await asyncio.sleep(2 * GUARD_S)
        bench.pile.send(b"+++")
        await asyncio.sleep(GUARD_S / 5)
        bench.pile.send(b"x")  # no silence after it: data too
        assert await bench.quiet(3 * GUARD_S)
        assert modem.data_received == b"\x7eAT\r++++++x" and modem.data_mode
        bench.pile.send(b"+++")
        await wait_until(lambda: bench.pile.received == b"\r\nOK\r\n")
        assert not modem.data_mode and modem.call_active
        assert await bench.ask(wait_until, b"ATO\r") == b"\r\nCONNECT 150000000\r\n"
        await asyncio.sleep(2 * GUARD_S)
        assert await bench.ask(wait_until, b"+++", b"OK\r\n") == b"\r\nOK\r\n"
        assert await bench.ask(wait_until, b"ATH\r") == b"\r\nOK\r\n"
        assert await bench.ask(wait_until, b"ATO\r") == b"\r\nNO CARRIER\r\n"
        assert modem.commands[-3:] == ["ATO", "ATH", "ATO"]


async def test_urcs_wait_out_data_mode_and_a_dropped_call_says_no_carrier(wait_until):
    async with Bench() as bench:
        modem = bench.modem
        await bench.ask(wait_until, b"ATE0\r", b"OK\r\n")
        await bench.ask(wait_until, b"AT+CEREG=1\r", b"OK\r\n")
        await bench.ask(wait_until, b"ATD*99#\r")
        modem.send_data(b"\x7e\xff\x03")
        await wait_until(lambda: bench.pile.received == b"\x7e\xff\x03")
        bench.pile.take()
        modem.set_registration(2)
        assert await bench.quiet()
        modem.drop_call()
        await wait_until(lambda: bench.pile.received.endswith(b"+CEREG: 2\r\n"))
        assert bench.pile.take() == b"\r\nNO CARRIER\r\n\r\n+CEREG: 2\r\n"
        assert not modem.data_mode and not modem.call_active
        modem.set_registration(0)
        assert await bench.ask(wait_until, b"ATD*99#\r") == b"\r\n+CEREG: 0\r\n\r\nNO CARRIER\r\n"


async def test_sms_in_pdu_mode_with_the_prompt_and_ctrl_z(wait_until):
    async with Bench() as bench:
        modem = bench.modem
        await bench.ask(wait_until, b"ATE0\r", b"OK\r\n")
        await bench.ask(wait_until, b"AT+CMEE=1\r", b"OK\r\n")
        await bench.ask(wait_until, b"AT+CMGF=0\r", b"OK\r\n")
        assert await bench.ask(wait_until, b"AT+CMGS=%d\r" % TPDU_LENGTH, b"> ") == b"\r\n> "
        assert await bench.ask(wait_until, PDU.encode() + b"\x1a", b"OK\r\n") == b"\r\n+CMGS: 1\r\n\r\nOK\r\n"
        assert modem.sms[0].length == TPDU_LENGTH and modem.sms[0].pdu_hex == PDU
        # A length that does not match the PDU, an ESC, text mode: nothing sent.
        await bench.ask(wait_until, b"AT+CMGS=%d\r" % (TPDU_LENGTH + 1), b"> ")
        assert await bench.ask(wait_until, PDU.encode() + b"\x1a") == b"\r\n+CMS ERROR: 304\r\n"
        await bench.ask(wait_until, b"AT+CMGS=%d\r" % TPDU_LENGTH, b"> ")
        assert await bench.ask(wait_until, b"0011\x1b") == b"\r\nOK\r\n"
        await bench.ask(wait_until, b"AT+CMGF=1\r", b"OK\r\n")
        assert await bench.ask(wait_until, b"AT+CMGS=%d\r" % TPDU_LENGTH) == b"\r\n+CMS ERROR: 302\r\n"
        assert len(modem.sms) == 1


async def test_sms_sent_are_decoded_and_joined_and_bad_or_refused_pdus_are_not_sent(wait_until):
    text = "充电桩DEMO-1：第3号端口过载停机，请检查。" * 4  # 96 characters: two UCS2 parts
    parts = submit_pdus("+8613800138000", text, 0x42)
    async with Bench() as bench:
        modem = bench.modem
        await bench.ask(wait_until, b"ATE0\r", b"OK\r\n")
        await bench.ask(wait_until, b"AT+CMEE=1\r", b"OK\r\n")
        for length, pdu in parts:
            await bench.ask(wait_until, b"AT+CMGS=%d\r" % length, b"> ")
            await bench.ask(wait_until, pdu + b"\x1a", b"OK\r\n")
        assert [(sms.reference, sms.submit.concat.index) for sms in modem.sms] == [(1, 1), (2, 2)]
        assert [(m.number, m.text, m.parts) for m in modem.texts()] == [("+8613800138000", text, 2)]
        # Hex of the right length that is not an SMS-SUBMIT (first octet 10: MTI 00), and hex cut short.
        not_submit = "0010" + PDU[4:]
        await bench.ask(wait_until, b"AT+CMGS=%d\r" % TPDU_LENGTH, b"> ")
        assert await bench.ask(wait_until, not_submit.encode() + b"\x1a") == b"\r\n+CMS ERROR: 304\r\n"
        await bench.ask(wait_until, b"AT+CMGS=%d\r" % TPDU_LENGTH, b"> ")
        assert await bench.ask(wait_until, PDU[:-1].encode() + b"\x1a") == b"\r\n+CMS ERROR: 304\r\n"
        # The service centre refuses: the module's "unknown error", in words after AT+CMEE=2.
        modem.sms_input.refusal = 500
        await bench.ask(wait_until, b"AT+CMGS=%d\r" % TPDU_LENGTH, b"> ")
        assert await bench.ask(wait_until, PDU.encode() + b"\x1a") == b"\r\n+CMS ERROR: 500\r\n"
        await bench.ask(wait_until, b"AT+CMEE=2\r", b"OK\r\n")
        await bench.ask(wait_until, b"AT+CMGS=%d\r" % TPDU_LENGTH, b"> ")
        assert await bench.ask(wait_until, PDU.encode() + b"\x1a") == b"\r\n+CMS ERROR: unknown error\r\n"
        assert len(modem.sms) == 2


async def test_a_hung_modem_answers_nothing_until_power_cycled(wait_until):
    async with Bench() as bench:
        modem = bench.modem
        await bench.ask(wait_until, b"ATE0\r", b"OK\r\n")
        modem.hang()
        bench.pile.send(b"AT\r")
        assert await bench.quiet()
        modem.power_key(True)  # too short to switch it off
        await asyncio.sleep(0.02)
        modem.power_key(False)
        await asyncio.sleep(0.05)
        assert modem.state == "on" and modem.hung
        modem.power_key(True)
        await asyncio.sleep(0.1)
        modem.power_key(False)
        await wait_until(lambda: modem.state == "off")
        assert bench.pile.take() == b""  # a stuck module goes down without a word
        modem.power_key(True)
        await asyncio.sleep(0.03)
        modem.power_key(False)
        await wait_until(lambda: bench.pile.received.endswith(b"+CPIN: READY\r\n"))
        assert bench.pile.take() == b"\r\nRDY\r\n\r\n+CFUN: 1\r\n\r\n+CPIN: READY\r\n"
        assert await bench.ask(wait_until, b"AT\r", b"OK\r\n") == b"AT\r\r\nOK\r\n"  # echo is back on
        assert (modem.power_downs, modem.boots) == (1, 1)
        assert len(modem.presses) == 3


async def test_power_down_is_reported_and_a_power_loss_leaves_it_off(wait_until):
    async with Bench() as bench:
        modem = bench.modem
        modem.power_key(True)
        await asyncio.sleep(0.1)
        modem.power_key(False)
        await wait_until(lambda: bench.pile.received == b"\r\nPOWERED DOWN\r\n")
        bench.pile.take()
        modem.pwrkey_output(37, 1, 0.0)  # the pin-bus path: the GPIO high pulls PWRKEY low
        await asyncio.sleep(0.03)
        modem.pwrkey_output(37, 0, 0.0)
        await wait_until(lambda: bench.pile.received.endswith(b"+CPIN: READY\r\n"))
        bench.pile.take()
        modem.power_loss()
        bench.pile.send(b"AT\r")
        assert await bench.quiet()
        assert modem.state == "off"
