"""The pile's SMS sending (drivers/modem_sms.py with firmware/sms_pdu.py) on the MicroPython VM, against
the modem emulator over the paced pty line (the harness of tests/sim/test_modem_driver.py). What the
emulator received is decoded back (boards/sim/world/sms_pdu_decode.py) and compared with what was meant.
"""

import asyncio

from tests.sim.test_modem_driver import VmModem

MANAGER = "+8613800138000"
# 76 characters, mostly Chinese: more than one UCS2 message holds (70), so two parts (67 + 9).
CHINESE = (
    "充电桩DEMO-1第3号端口过载停机，请尽快到现场检查充电器和线路。故障代码E5，发生时间下午三点十五分。"
    "本条短信由充电桩自动发送，请勿回复，谢谢合作。"
)
SEND = '__import__("drivers.modem_sms", None, None, ["send_text"]).send_text(modem, %r, %r, %d)'
PPP_FRAME = b"\x7e\xff\x03\xc0\x21\x01\x7e"


def send(number, text, ref=1):
    """The VM expression that sends ``text`` to ``number``."""
    return SEND % (number, text, ref)


async def test_a_long_chinese_text_goes_in_two_ucs2_parts_and_decodes_back():
    assert len(CHINESE) > 70
    async with VmModem() as vm:
        await vm.ok("modem.start()")
        assert await vm.ok(send(MANAGER, CHINESE, 0x5A)) == 2
        sent = vm.emulator.sms
        assert [(sms.submit.dcs, sms.submit.concat.ref, sms.submit.concat.index) for sms in sent] == [
            (8, 0x5A, 1),
            (8, 0x5A, 2),
        ]
        assert [(m.number, m.text, m.parts) for m in vm.emulator.texts()] == [(MANAGER, CHINESE, 2)]
        commands = vm.emulator.commands
        assert commands[-3:] == ["AT+CMGF=0", "AT+CMGS=%d" % sent[0].length, "AT+CMGS=%d" % sent[1].length]


async def test_a_gsm_text_with_extension_characters_goes_in_one_7bit_part():
    text = "Pile DEMO-1 port 3: fault E5 {overload} [1200 W] ~ 5 EUR = 5€, see ^ | \\"
    async with VmModem() as vm:
        await vm.ok("modem.start()")
        assert await vm.ok(send("13800138000", text)) == 1
        (sms,) = vm.emulator.sms
        assert (sms.submit.dcs, sms.submit.concat, sms.submit.type_of_address) == (0, None, 0x81)
        assert [(m.number, m.text) for m in vm.emulator.texts()] == [("13800138000", text)]


async def test_a_modem_that_refuses_the_message_raises_and_nothing_is_sent():
    async with VmModem() as vm:
        await vm.ok("modem.start()")
        vm.emulator.sms_input.refusal = 500
        error = await vm.fails(send(MANAGER, CHINESE))
        assert (error["error"], error["reply"], error["code"]) == ("AtError", "+CMS ERROR: 500", 500)
        assert vm.emulator.sms == []
        assert (await vm.ok("modem.health()"))["last_error"].endswith(": +CMS ERROR: 500")
        # Plain ERROR, as before AT+CMEE=1, is a failure too.
        await vm.ok('at.command("AT+CMEE=0")')
        error = await vm.fails(send(MANAGER, "short"))
        assert (error["error"], error["reply"], error["code"]) == ("AtError", "ERROR", None)
        assert vm.emulator.sms == []


async def test_a_number_the_encoder_refuses_never_reaches_the_modem():
    async with VmModem() as vm:
        await vm.ok("modem.start()")
        before = list(vm.emulator.commands)
        reply = await vm.vm.call(send("+86 138", "hello"))  # the raw reply: an exception that is not an AtError
        assert reply == {"crash": "ValueError('SMS: not a phone number',)"}
        assert vm.emulator.commands == before


async def test_in_a_data_call_the_modem_is_suspended_for_the_text_and_resumed():
    async with VmModem() as vm:
        await vm.ok("modem.start()")
        await vm.ok('modem.dial("cmnet")')
        assert await vm.ok(send(MANAGER, "Pile DEMO-1: meter lost (E2)")) == 1
        assert [(m.number, m.text) for m in vm.emulator.texts()] == [(MANAGER, "Pile DEMO-1: meter lost (E2)")]
        assert vm.emulator.commands[-3:] == ["AT+CMGF=0", "AT+CMGS=%d" % vm.emulator.sms[0].length, "ATO"]
        assert vm.emulator.call_active and vm.emulator.data_mode
        assert await vm.ok("at.data_mode") is True
        # Data flows both ways again, and the escape's "+++" was never taken for data.
        assert vm.emulator.data_received == b""
        await vm.ok('uart.write(b"\\x7e\\xff\\x03\\xc0\\x21\\x02\\x7e")')
        vm.emulator.send_data(PPP_FRAME)
        await asyncio.sleep(0.05)
        assert await vm.ok("hexlify(uart.read(64)).decode()") == PPP_FRAME.hex()
        assert vm.emulator.data_received == b"\x7e\xff\x03\xc0\x21\x02\x7e"


async def test_in_a_data_call_a_refused_text_still_resumes_the_call():
    async with VmModem() as vm:
        await vm.ok("modem.start()")
        await vm.ok('modem.dial("cmnet")')
        vm.emulator.set_registration(0)
        error = await vm.fails(send(MANAGER, "Pile DEMO-1: meter lost (E2)"))
        assert (error["reply"], error["code"]) == ("+CMS ERROR: 331", 331)
        assert vm.emulator.commands[-1] == "ATO"
        assert vm.emulator.data_mode and await vm.ok("at.data_mode") is True


async def test_a_call_that_dropped_meanwhile_does_not_undo_a_sent_text():
    async with VmModem() as vm:
        await vm.ok("modem.start()")
        await vm.ok('modem.dial("cmnet")')
        # The network ends the call while the engine still thinks it is in data mode: "+++" gets no OK,
        # the modem answers AT (command mode), the text goes, ATO finds no carrier.
        vm.emulator.drop_call()
        assert await vm.ok(send(MANAGER, "hello")) == 1
        assert [m.text for m in vm.emulator.texts()] == ["hello"]
        assert await vm.ok("at.data_mode") is False
        assert (await vm.ok("modem.health()"))["last_error"] == "ATO: NO CARRIER"
