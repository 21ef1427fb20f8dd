"""The modem driver (drivers/modem_at.py, drivers/modem.py) on the MicroPython VM, against the
modem emulator over a paced 115200-baud pty line, with PWRKEY on the pin bus.

The VM runs a small harness: each line the test writes on its stdin is a Python
expression over ``at``, ``modem``, ``link`` (a PppLink on a stand-in network.PPP), ``urcs``, ``log``
and ``uart``; an awaitable is
awaited; the answer comes back as one JSON line (``ok``, or the AtError's
class, reply and code).
"""

import asyncio
import json

from boards.sim.world.modem import ModemEmulator
from boards.sim.world.pinwire import PinWire
from boards.sim.world.serial_link import SerialLink
from tests.sim.driver_vm import DriverVm

BAUD = 115200
PWRKEY_GPIO = 37
# The driver's guard time is longer than the emulator's: a late timer must not look like a broken guard.
EMULATOR_TIMING = {
    "guard_s": 0.05,
    "boot_s": 0.1,
    "power_on_press_s": 0.03,
    "power_off_press_s": 0.1,
    "shutdown_s": 0.05,
}
MODEM_OPTIONS = {"guard_ms": 100, "max_misses": 2, "sync_tries": 3}
KEY_OPTIONS = {"on_press_ms": 60, "off_press_ms": 150, "shutdown_ms": 300, "settle_ms": 20, "boot_ms": 500}
# 2025-03-01 08:30:15 UTC.
NETWORK_TIME_S = 1740817815

_HARNESS = (
    """
import asyncio, json, sys
from boards.sim.simhw import Pin, PinBus
from drivers.modem import Modem, PowerKey
from drivers.modem_at import AtEngine, AtError
from binascii import hexlify
tty, pinbus, options = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
class FakePPP:  # network.PPP stand-in (the unix port has none): remembers its streams
    def __init__(self, stream):
        self.streams = [stream]
        self.state = 0
    def config(self, stream):
        self.streams.append(stream)
    def connect(self):
        self.state = 4
    def isconnected(self):
        return self.state == 4
    def status(self):
        return self.state
    def disconnect(self):
        self.state = 0
class FakeNetwork:
    PPP = FakePPP
sys.modules["network"] = FakeNetwork
from drivers.modem_ppp import PppLink
log = []
def record(kind, **fields):
    fields["log"] = kind
    log.append(fields)
async def main():
    bus = PinBus(pinbus)
    asyncio.create_task(bus.serve())
    uart = open(tty, "r+b", buffering=0)
    at = AtEngine(uart, log=record)
    modem = Modem(at, PowerKey(Pin(bus, %d, Pin.OUT), **options["key"]), **options["modem"])
    urcs = []
    modem.on_urc = urcs.append
    link = PppLink(modem, uart)
    names = {"at": at, "modem": modem, "link": link, "urcs": urcs, "log": log, "uart": uart, "hexlify": hexlify}
    stdin = asyncio.StreamReader(sys.stdin)
    while True:
        line = await stdin.readline()
        if not line:
            return
        try:
            value = eval(line.decode(), names)
            if type(value).__name__ == "generator":
                value = await value
            reply = {"ok": value}
        except AtError as error:
            reply = {"error": type(error).__name__, "reply": error.reply, "code": error.code}
        except Exception as error:
            reply = {"crash": repr(error)}
        print(json.dumps(reply))
asyncio.run(main())
"""
    % PWRKEY_GPIO
)


class VmModem:
    """The driver in a VM, the emulator, the line and the pin bus between them."""

    def __init__(self, **emulator_options):
        self.emulator_options = {**EMULATOR_TIMING, **emulator_options}
        self.link = None
        self.emulator = None
        self.pinwire = None
        self.vm = None

    async def __aenter__(self):
        self.link = SerialLink(BAUD)
        self.link.start()
        self.emulator = ModemEmulator(self.link.peer_path, **self.emulator_options)
        self.emulator.start()
        self.pinwire = PinWire()
        await self.pinwire.start()
        self.pinwire.on_output(PWRKEY_GPIO, self.emulator.pwrkey_output)
        options = json.dumps({"modem": MODEM_OPTIONS, "key": KEY_OPTIONS})
        self.vm = DriverVm(_HARNESS, self.link.device_path, f"127.0.0.1:{self.pinwire.port}", options)
        await self.vm.start()
        await self.ok("None")
        return self

    async def __aexit__(self, *_exc):
        await self.vm.stop()
        await self.pinwire.close()
        self.emulator.close()
        self.link.close()

    async def call(self, expression):
        """Evaluate ``expression`` in the VM; the JSON reply."""
        reply = await self.vm.call(expression)
        assert "crash" not in reply, reply
        return reply

    async def ok(self, expression):
        """The value of ``expression``, which must not fail."""
        reply = await self.call(expression)
        assert "ok" in reply, reply
        return reply["ok"]

    async def fails(self, expression):
        """The error of ``expression``, which must fail with an AtError."""
        reply = await self.call(expression)
        assert "error" in reply, reply
        return reply


async def test_start_syncs_with_echo_on_and_leaves_echo_off(wait_until):
    async with VmModem() as vm:
        assert vm.emulator.echo
        # Echo is on: the echoed command line must not show up among the answer's lines.
        assert await vm.ok('at.command("ATI")') == ["Quectel", "EC200U", "Revision: EC200UCNAAR03A01M08"]
        await vm.ok("modem.start()")
        assert not vm.emulator.echo
        assert vm.emulator.cmee == 1
        assert vm.emulator.cereg_n == 1 and vm.emulator.creg_n == 1
        assert vm.emulator.commands[:6] == ["ATI", "AT", "ATE0", "AT+CMEE=1", "AT+CREG=1", "AT+CEREG=1"]
        assert await vm.ok("modem.sim()") == "ready"


async def test_registration_home_roaming_searching_denied():
    async with VmModem() as vm:
        await vm.ok("modem.start()")
        for stat in (1, 5, 2, 3, 0):
            vm.emulator.set_registration(stat)
            assert await vm.ok("modem.registration()") == stat
            assert (await vm.ok("modem.health()"))["registered"] == (stat in (1, 5))
        # No LTE, but registered on the circuit side: registered all the same.
        vm.emulator.set_registration(2, creg_stat=1)
        assert await vm.ok("modem.registration()") == 1


async def test_registration_urcs_update_state_without_a_query(wait_until):
    async with VmModem() as vm:
        await vm.ok("modem.start()")
        vm.emulator.set_registration(2)
        for _ in range(50):
            if await vm.ok("modem.reg") == 2:
                break
            await asyncio.sleep(0.02)
        assert await vm.ok("modem.reg") == 2
        assert "+CEREG: 2" in await vm.ok("urcs")


async def test_signal_in_dbm_and_unknown():
    async with VmModem() as vm:
        await vm.ok("modem.start()")
        for rssi, dbm in ((0, -113), (15, -83), (31, -51), (99, None)):
            vm.emulator.rssi = rssi
            assert await vm.ok("modem.signal_dbm()") == dbm


async def test_operator_only_when_registered():
    async with VmModem() as vm:
        await vm.ok("modem.start()")
        assert await vm.ok("modem.operator()") == "CHINA MOBILE"
        vm.emulator.set_registration(2)
        assert await vm.ok("modem.operator()") is None


async def test_network_clock_with_positive_and_negative_zones_and_none():
    async with VmModem() as vm:
        await vm.ok("modem.start()")
        assert await vm.ok("modem.network_time()") is None  # the network never sent the time
        for quarters in (32, -20, 0):
            vm.emulator.set_network_time(NETWORK_TIME_S, quarters)
            unix_s = await vm.ok("modem.network_time()")
            assert NETWORK_TIME_S <= unix_s <= NETWORK_TIME_S + 2, (quarters, unix_s)


async def test_sim_states_and_cme_error_codes():
    async with VmModem() as vm:
        await vm.ok("modem.start()")
        vm.emulator.sim = "pin"
        assert await vm.ok("modem.sim()") == "pin"
        vm.emulator.sim = "absent"
        assert await vm.ok("modem.sim()") == "absent"
        error = await vm.fails('at.command("AT+CPIN?", expect="+CPIN:")')
        assert (error["error"], error["reply"], error["code"]) == ("AtError", "+CME ERROR: 10", 10)
        error = await vm.fails('at.command("AT+NOSUCH")')
        assert (error["reply"], error["code"]) == ("ERROR", None)
        health = await vm.ok("modem.health()")
        assert health["last_error"] == "AT+CPIN?: +CME ERROR: 10"


async def test_timeout_then_the_late_answer_is_not_taken_for_the_next_one():
    async with VmModem() as vm:
        await vm.ok("modem.start()")
        vm.emulator.answer_delay_s = 0.3
        error = await vm.fails('at.command("AT+CSQ", 100, "+CSQ:")')
        assert (error["error"], error["reply"]) == ("AtTimeout", "timeout")
        vm.emulator.answer_delay_s = 0
        await asyncio.sleep(0.4)  # the late +CSQ and OK arrive while nothing waits for them
        vm.emulator.rssi = 10
        assert await vm.ok("modem.signal_dbm()") == -93
        assert await vm.ok("at.stray") == 1


async def test_urcs_in_the_middle_of_an_answer_go_to_the_handler():
    async with VmModem() as vm:
        await vm.ok("modem.start()")
        vm.emulator.inject_in_next_answer(b'\r\n+CMTI: "SM",3\r\n')
        assert await vm.ok('at.command("AT+CSQ", expect="+CSQ:")') == ["+CSQ: 20,99"]
        vm.emulator.inject_in_next_answer(b"\r\nRING\r\n")
        assert await vm.ok('at.command("ATI")') == ["Quectel", "EC200U", "Revision: EC200UCNAAR03A01M08"]
        assert await vm.ok("urcs") == ['+CMTI: "SM",3', "RING"]


async def test_garbage_and_overlong_lines_are_rejected_and_the_driver_carries_on():
    async with VmModem() as vm:
        await vm.ok("modem.start()")
        vm.emulator.send_raw(b"\xff\xfe\x00noise\r\n" + b"A" * 1000 + b"\r\n")
        vm.emulator.inject_in_next_answer(b"\r\n\x80\x81garbage\r\n")
        assert await vm.ok("modem.signal_dbm()") == -73
        assert await vm.ok("at.rejected") == 3
        assert await vm.ok("urcs") == []
        records = await vm.ok("log")
        # Logged, but not once per line: the first rejection of the interval only.
        assert [r["log"] for r in records] == ["modem_rejected"]
        assert records[0]["head"] == "fffe006e6f697365"


async def test_prompt_then_body_and_ctrl_z_sends_an_sms():
    pdu = "0011000B915121551532F40000AA0AE8329BFD4697D9EC37"
    length = len(pdu) // 2 - 1
    async with VmModem() as vm:
        # Echo still on: the echoed command and body must not be taken for the answer.
        await vm.ok('at.command("AT+CMGF=0")')
        info = await vm.ok('at.send_body("AT+CMGS=%d", b"%s", 2000, "+CMGS:")' % (length, pdu))
        assert info == ["+CMGS: 1"]
        assert [(sms.length, sms.pdu_hex) for sms in vm.emulator.sms] == [(length, pdu)]
        await vm.ok("modem.start()")
        vm.emulator.sim = "absent"
        error = await vm.fails('at.send_body("AT+CMGS=%d", b"%s", 2000, "+CMGS:")' % (length, pdu))
        assert (error["reply"], error["code"]) == ("+CMS ERROR: 310", 310)
        # No prompt in time: ESC takes the modem out of the PDU input, or the next command would be typed into it.
        vm.emulator.sim = "ready"
        vm.emulator.answer_delay_s = 0.3
        error = await vm.fails('at.send_body("AT+CMGS=%d", b"%s", 2000, "+CMGS:", 100)' % (length, pdu))
        assert error["error"] == "AtTimeout"
        vm.emulator.answer_delay_s = 0
        await asyncio.sleep(0.4)
        assert await vm.ok("modem.signal_dbm()") == -73
        assert len(vm.emulator.sms) == 1


async def test_dial_suspend_resume_and_hang_up():
    async with VmModem() as vm:
        await vm.ok("modem.start()")
        vm.emulator.set_registration(2)
        error = await vm.fails('modem.dial("cmnet")')
        assert error["reply"] == "NO CARRIER"
        vm.emulator.set_registration(1)
        await vm.ok('modem.dial("cmnet")')
        assert vm.emulator.data_mode and vm.emulator.contexts[1] == ("IP", "cmnet")
        assert (await vm.ok("modem.health()"))["data"] is True
        assert (await vm.fails('at.command("AT+CSQ")'))["reply"] == "data mode"
        # The reader has stopped: what the modem sends now stays in the UART for PPP.
        frame = b"\x7e\xff\x03\xc0\x21\x01\x7e"
        vm.emulator.send_data(frame)
        await asyncio.sleep(0.05)
        assert await vm.ok("hexlify(uart.read(64)).decode()") == frame.hex()
        # PPP frames in flight when the escape starts: read and rejected, never an answer.
        vm.emulator.send_data(b"\x7e\xff\x7d\x23\xc0\x21\x7e")
        await vm.ok("modem.suspend()")
        assert not vm.emulator.data_mode and vm.emulator.call_active
        assert vm.emulator.data_received == b""  # the "+++" was an escape, not data
        assert await vm.ok("modem.signal_dbm()") == -73
        await vm.ok("modem.resume()")
        assert vm.emulator.data_mode
        await vm.ok("modem.suspend()")
        await vm.ok("modem.hang_up()")
        assert not vm.emulator.call_active
        assert (await vm.fails("modem.resume()"))["reply"] == "NO CARRIER"


async def test_suspend_after_the_network_dropped_the_call():
    async with VmModem() as vm:
        await vm.ok("modem.start()")
        await vm.ok('modem.dial("cmnet")')
        vm.emulator.drop_call()
        await vm.ok("modem.suspend()")  # no OK to "+++", but the modem answers AT
        assert "NO CARRIER" in await vm.ok("urcs")
        assert (await vm.fails("modem.resume()"))["reply"] == "NO CARRIER"


async def test_a_hung_modem_is_power_cycled_after_missed_polls_and_recovers():
    async with VmModem() as vm:
        await vm.ok("modem.start()")
        assert (await vm.ok("modem.poll()"))["registered"] is True
        vm.emulator.hang()
        health = await vm.ok("modem.poll()")
        assert (health["misses"], health["power_cycles"]) == (1, 0)
        assert vm.emulator.power_downs == 0
        health = await vm.ok("modem.poll()")
        assert health["power_cycles"] == 1
        assert (vm.emulator.power_downs, vm.emulator.boots) == (1, 1)
        # One long press switched it off, one short press on again.
        long_press, short_press = vm.emulator.presses
        assert long_press >= 0.14 and 0.04 <= short_press < 0.1, vm.emulator.presses
        assert not vm.emulator.hung and not vm.emulator.echo  # started again: ATE0 after the boot
        assert "RDY" in await vm.ok("urcs")
        health = await vm.ok("modem.poll()")
        assert (health["registered"], health["rssi_dbm"], health["misses"]) == (True, -73, 0)


async def test_start_switches_on_a_modem_that_is_off():
    async with VmModem(powered=False) as vm:
        await vm.ok("modem.start()")
        assert vm.emulator.boots == 1 and vm.emulator.power_downs == 0
        assert len(vm.emulator.presses) == 1  # the long press switched it on; RDY made a second needless
        assert await vm.ok("modem.signal_dbm()") == -73


async def test_ppp_link_puts_ppp_aside_around_at_work_and_ends_the_call():
    streams = '["uart" if stream is uart else "sink" for stream in link.ppp.streams]'
    async with VmModem() as vm:
        await vm.ok("modem.start()")
        assert await vm.ok('link.up("cmnet")') is True
        assert vm.emulator.data_mode and await vm.ok("link.isconnected()")
        health = await vm.ok("link.at_work(modem.poll)")
        assert (health["registered"], health["rssi_dbm"], health["data"]) == (True, -73, False)  # polled suspended
        assert vm.emulator.data_mode and vm.emulator.commands[-1] == "ATO"
        assert (await vm.ok("modem.health()"))["data"] is True
        # PPP had the sink while the AT work ran, and the UART again after.
        assert await vm.ok(streams) == ["uart", "sink", "uart"]
        await vm.ok("link.down()")
        assert not vm.emulator.call_active and not vm.emulator.data_mode
        assert not await vm.ok("link.isconnected()")
        # The modem stopped answering while the link was up: PPP ends, the poll counts the silence.
        assert await vm.ok('link.up("cmnet")') is True
        vm.emulator.hang()
        health = await vm.ok("link.at_work(modem.poll)")
        assert (health["misses"], health["data"]) == (1, False)
        assert not await vm.ok("link.isconnected()")
