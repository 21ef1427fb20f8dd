"""JQ8900 frame decoding, and the transmit-only UART tap over a real pty."""

import time

from boards.sim.world.voice import Jq8900Decoder, UartTap


def frame(command, data=b""):
    body = bytes([0xAA, command, len(data)]) + data
    return body + bytes([sum(body) & 0xFF])


def play(track):
    return frame(0x07, track.to_bytes(2, "big"))


def test_known_frames_decode_into_events():
    decoder = Jq8900Decoder()
    # Checksums worked by hand: AA+07+02+00+01 = B4, AA+13+01+14 = D2.
    assert play(1) == bytes.fromhex("aa07020001b4")
    assert frame(0x13, b"\x14") == bytes.fromhex("aa130114d2")
    decoder.feed(play(1) + frame(0x13, b"\x14") + play(0x0102) + frame(0x10), t_monotonic=5.0)
    assert decoder.tracks() == [1, 258]
    assert decoder.volume == 20
    assert [(e.kind, e.value) for e in decoder.events] == [("play", 1), ("volume", 20), ("play", 258), ("stop", None)]
    assert all(e.t_monotonic == 5.0 for e in decoder.events)
    assert decoder.skipped_bytes == 0 and decoder.bad_checksums == 0


def test_bad_checksum_is_skipped_and_the_next_frame_still_decodes():
    decoder = Jq8900Decoder()
    broken = bytearray(play(7))
    broken[-1] ^= 0x01
    decoder.feed(bytes(broken) + play(8))
    assert decoder.tracks() == [8]
    assert decoder.bad_checksums == 1
    assert decoder.skipped_bytes == len(broken)


def test_bytes_before_a_start_byte_are_counted_and_skipped():
    decoder = Jq8900Decoder()
    decoder.feed(b"\x00\x55\x13" + play(3))
    assert decoder.tracks() == [3]
    assert decoder.skipped_bytes == 3


def test_false_start_with_an_impossible_length_resynchronises():
    decoder = Jq8900Decoder()
    decoder.feed(b"\xaa\x07\xf0" + play(4))
    assert decoder.tracks() == [4]
    assert decoder.skipped_bytes == 3


def test_frames_split_across_reads_decode_the_same():
    decoder = Jq8900Decoder()
    stream = play(12) + frame(0x13, b"\x1e") + play(13)
    for index in range(len(stream)):
        decoder.feed(stream[index : index + 1])
    assert decoder.tracks() == [12, 13]
    assert decoder.volume == 30


def test_unknown_and_malformed_commands_are_counted_not_decoded():
    decoder = Jq8900Decoder()
    decoder.feed(frame(0x01) + frame(0x01) + frame(0x02) + frame(0x07, b"\x01") + play(2))
    assert decoder.unknown_commands == {0x01: 2, 0x02: 1}
    assert decoder.malformed_frames == 1
    assert decoder.tracks() == [2]


def test_clear_forgets_events_only():
    decoder = Jq8900Decoder()
    decoder.feed(play(1) + frame(0x13, b"\x0a"))
    decoder.clear()
    assert decoder.tracks() == [] and decoder.events == []
    assert decoder.volume == 10
    decoder.feed(play(9))
    assert decoder.tracks() == [9]


async def test_firmware_writes_reach_the_decoder_through_the_pty(wait_until):
    decoder = Jq8900Decoder()
    async with UartTap(decoder.feed) as tap:
        # Opened and written the way the MicroPython VM does it (never blocks: VMIN=0).
        with open(tap.path, "r+b", buffering=0) as uart:  # noqa: ASYNC230
            t_before = time.monotonic()
            uart.write(frame(0x13, b"\x19") + play(21))
            await wait_until(lambda: decoder.tracks() == [21])
            t_after = time.monotonic()
            assert uart.read(8) == b""  # nothing comes back, and the read does not block
        assert decoder.volume == 25
        assert t_before <= decoder.events[-1].t_monotonic <= t_after


def test_combination_play_decodes_into_the_words_of_its_clips():
    decoder = Jq8900Decoder()
    # 十二点三四元: clips 10, 02, 14, 03, 04, 15 of the ZH folder.
    decoder.feed(frame(0x1B, b"100214030415") + frame(0x1B, b"99") + frame(0x1B, b"1"))
    assert decoder.spoken() == ["十二点三四元"]
    assert decoder.malformed_frames == 2
