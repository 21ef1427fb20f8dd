"""SerialLink: raw non-blocking ttys, honest pacing, fault injection, hooks and counters."""

import asyncio
import os
import termios
import time

import pytest

from boards.sim.world.serial_link import LATE_REPLY_S, SerialLink, char_time_s

BAUD = 9600
CHAR_S = char_time_s(BAUD)
# asyncio timers fire up to ~1 ms late and the test loop adds its own delay.
LATE_TOLERANCE_S = 0.015
# A made-up Modbus reply: address 1, function 4, 2 data bytes, CRC.
REPLY = bytes.fromhex("010402002a3925")


class TtyEnd:
    """The test's own end of a pty slave, opened as a program would open the path."""

    def __init__(self, path):
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        self.received = bytearray()
        self.arrivals = []  # (t_monotonic, total bytes received so far)
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.fd, self._readable)

    def _readable(self):
        try:
            data = os.read(self.fd, 4096)
        except BlockingIOError:
            return
        if data:
            self.received += data
            self.arrivals.append((time.monotonic(), len(self.received)))

    def write(self, data):
        os.write(self.fd, data)

    def close(self):
        self._loop.remove_reader(self.fd)
        os.close(self.fd)


async def _with_ends(test, **link_kwargs):
    async with SerialLink(**link_kwargs) as link:
        firmware, device = TtyEnd(link.device_path), TtyEnd(link.peer_path)
        try:
            await test(link, firmware, device)
        finally:
            firmware.close()
            device.close()


async def test_slave_ttys_are_raw_and_do_not_block_readers():
    async with SerialLink() as link:
        for path in (link.device_path, link.peer_path):
            fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
            try:
                attrs = termios.tcgetattr(fd)
            finally:
                os.close(fd)
            assert attrs[6][termios.VMIN] == 0
            assert attrs[6][termios.VTIME] == 0
            assert attrs[3] & (termios.ICANON | termios.ECHO) == 0
            assert attrs[1] & termios.OPOST == 0
        # The MicroPython VM opens its UART like this and polls it; with VMIN=0 these
        # reads return at once, which is the point of the test.
        peer = TtyEnd(link.peer_path)
        try:
            with open(link.device_path, "r+b", buffering=0) as uart:  # noqa: ASYNC230
                assert uart.read(16) == b""
                peer.write(b"\r\nhello\x00\xff")
                await asyncio.sleep(20 * CHAR_S)
                assert uart.read(16) == b"\r\nhello\x00\xff"
                uart.write(b"ping\n")
                await asyncio.sleep(10 * CHAR_S)
                assert bytes(peer.received) == b"ping\n"
        finally:
            peer.close()


@pytest.mark.parametrize("direction", ["to_device", "to_firmware"])
async def test_100_bytes_take_their_wire_time_and_none_arrives_early(direction, wait_until):
    async def check(link, firmware, device):
        sender, receiver = (firmware, device) if direction == "to_device" else (device, firmware)
        payload = bytes(range(100))
        t0 = time.monotonic()
        sender.write(payload)
        await wait_until(lambda: len(receiver.received) == 100)
        assert bytes(receiver.received) == payload
        for t, count in receiver.arrivals:
            assert t >= t0 + count * CHAR_S
        t_last = receiver.arrivals[-1][0]
        assert t_last - t0 >= 100 * 10 / 9600
        assert t_last - t0 <= 100 * CHAR_S + LATE_TOLERANCE_S
        # Bytes trickle in rather than arriving in one lump.
        assert len(receiver.arrivals) > 20

    await _with_ends(check)


async def test_bytes_queue_behind_the_wire_without_drift(wait_until):
    async def check(link, firmware, device):
        t0 = time.monotonic()
        firmware.write(b"A" * 30)
        await asyncio.sleep(10 * CHAR_S)
        firmware.write(b"B" * 30)  # the line is still busy with the A's
        await wait_until(lambda: len(device.received) == 60)
        t_last = device.arrivals[-1][0]
        assert t0 + 60 * CHAR_S <= t_last <= t0 + 60 * CHAR_S + LATE_TOLERANCE_S
        assert bytes(device.received) == b"A" * 30 + b"B" * 30

    await _with_ends(check)


async def test_slower_baud_and_parity_lengthen_each_character(wait_until):
    async def check(link, firmware, device):
        assert link.char_time_s == pytest.approx(11 / 2400)
        t0 = time.monotonic()
        firmware.write(b"x" * 20)
        await wait_until(lambda: len(device.received) == 20)
        assert device.arrivals[-1][0] - t0 >= 20 * 11 / 2400

    await _with_ends(check, baudrate=2400, parity="E")


async def test_clean_replies_pass_unchanged_and_are_counted(wait_until):
    async def check(link, firmware, device):
        firmware.write(b"\x01\x04\x00\x00\x00\x01\x31\xca")
        device.write(REPLY)
        await wait_until(lambda: len(firmware.received) == len(REPLY))
        assert bytes(firmware.received) == REPLY
        assert link.bytes_to_device == 8
        assert link.bytes_from_firmware == 8
        assert link.bytes_from_device == len(REPLY)
        assert link.bytes_to_firmware == len(REPLY)
        assert link.frames_from_device == 1
        assert set(link.fault_counts.values()) == {0}

    await _with_ends(check)


async def test_silence_drops_every_reply():
    async def check(link, firmware, device):
        link.set_fault("silence")
        device.write(REPLY)
        await asyncio.sleep(len(REPLY) * CHAR_S + 0.03)
        device.write(REPLY)
        await asyncio.sleep(len(REPLY) * CHAR_S + 0.03)
        assert firmware.received == b""
        assert link.fault_counts["silence"] == 2
        assert link.bytes_to_firmware == 0

    await _with_ends(check)


async def test_garbage_replaces_each_reply_with_random_bytes_of_similar_length(wait_until):
    async def check(link, firmware, device):
        link.set_fault("garbage")
        device.write(REPLY)
        await wait_until(lambda: link.fault_counts["garbage"] == 1 and firmware.received)
        await asyncio.sleep(len(REPLY) * CHAR_S + 0.02)
        got = bytes(firmware.received)
        assert abs(len(got) - len(REPLY)) <= 2
        assert got != REPLY[: len(got)]

    await _with_ends(check, seed=7)


async def test_bad_crc_flips_the_last_byte_of_each_reply(wait_until):
    async def check(link, firmware, device):
        link.set_fault("bad_crc")
        device.write(REPLY)
        await wait_until(lambda: len(firmware.received) == len(REPLY))
        await asyncio.sleep(len(REPLY) * CHAR_S)
        device.write(REPLY)
        await wait_until(lambda: len(firmware.received) == 2 * len(REPLY))
        for start in (0, len(REPLY)):
            got = bytes(firmware.received[start : start + len(REPLY)])
            assert got[:-1] == REPLY[:-1]
            assert got[-1] != REPLY[-1]
        assert link.fault_counts["bad_crc"] == 2

    await _with_ends(check)


async def test_short_delivers_only_the_first_half_of_each_reply(wait_until):
    async def check(link, firmware, device):
        link.set_fault("short")
        half = REPLY[: len(REPLY) // 2]
        device.write(REPLY)
        await wait_until(lambda: len(firmware.received) == len(half))
        await asyncio.sleep(len(REPLY) * CHAR_S)
        device.write(REPLY)
        await wait_until(lambda: len(firmware.received) == 2 * len(half))
        await asyncio.sleep(len(REPLY) * CHAR_S)
        assert bytes(firmware.received) == half + half
        assert link.fault_counts["short"] == 2

    await _with_ends(check)


async def test_clearing_the_fault_restores_clean_replies(wait_until):
    async def check(link, firmware, device):
        link.set_fault("short")
        device.write(REPLY)
        await wait_until(lambda: len(firmware.received) == len(REPLY) // 2)
        await asyncio.sleep(len(REPLY) * CHAR_S)
        link.set_fault(None)
        firmware.received.clear()
        device.write(REPLY)
        await wait_until(lambda: len(firmware.received) == len(REPLY))
        assert bytes(firmware.received) == REPLY
        assert link.fault_counts["short"] == 1

    await _with_ends(check)


async def test_a_late_reply_comes_whole_after_the_delay_and_the_fault_heals_after_its_count(wait_until):
    async def check(link, firmware, device):
        link.set_fault("late", replies=1)
        sent_at = time.monotonic()
        device.write(REPLY)
        await wait_until(lambda: len(firmware.received) == len(REPLY), LATE_REPLY_S + 1)
        assert time.monotonic() - sent_at >= LATE_REPLY_S
        assert bytes(firmware.received) == REPLY
        await asyncio.sleep(len(REPLY) * CHAR_S)
        firmware.received.clear()
        sent_at = time.monotonic()
        device.write(REPLY)
        await wait_until(lambda: len(firmware.received) == len(REPLY))
        assert time.monotonic() - sent_at < LATE_REPLY_S
        assert link.fault_counts["late"] == 1

    await _with_ends(check)


async def test_faults_apply_only_to_replies_not_requests(wait_until):
    async def check(link, firmware, device):
        link.set_fault("garbage")
        firmware.write(REPLY)
        await wait_until(lambda: len(device.received) == len(REPLY))
        assert bytes(device.received) == REPLY

    await _with_ends(check)


async def test_unknown_fault_kind_is_refused():
    async with SerialLink() as link:
        with pytest.raises(ValueError):
            link.set_fault("noise")


async def test_tx_start_hook_reports_when_each_reply_starts(wait_until):
    async def check(link, firmware, device):
        starts = []
        link.on_device_tx_start = starts.append
        t_write = time.monotonic()
        device.write(REPLY)
        await wait_until(lambda: len(firmware.received) == len(REPLY))
        assert len(starts) == 1
        assert t_write <= starts[0] <= t_write + 0.005
        assert firmware.arrivals[0][0] >= starts[0] + CHAR_S
        await asyncio.sleep(0.01)
        device.write(REPLY)
        await wait_until(lambda: len(starts) == 2)

    await _with_ends(check)


async def test_close_is_idempotent_and_releases_the_ttys():
    link = SerialLink()
    link.start()
    paths = (link.device_path, link.peer_path)
    link.close()
    link.close()
    for path in paths:
        assert not os.path.exists(path)
