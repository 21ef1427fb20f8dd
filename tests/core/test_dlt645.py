"""DL/T 645-2007 frames, built here from the standard's rules and checked both ways (CPython and VM)."""

from drivers.dlt645 import (
    ACTIVE_POWER,
    CURRENT_A,
    FORWARD_ACTIVE_ENERGY,
    REQUEST_BYTES,
    VOLTAGE_A,
    WILDCARD,
    ChecksumError,
    MeterRefused,
    check_reply,
    fill_request,
    read_value,
)

ADDRESS = b"\x25\x04\x03\x02\x01\x00"  # meter 000102030425, lowest byte first


def read_request(address, identifier):
    """The request bytes the pile sends for ``identifier`` to ``address`` (six bytes, lowest first)."""
    return bytes(fill_request(bytearray(REQUEST_BYTES), address, identifier))


def frame(control, data, address=ADDRESS):
    """A frame by the standard: 68, address, 68, C, L, data + 33H, the byte sum, 16."""
    body = bytes([0x68]) + address + bytes([0x68, control, len(data)]) + bytes((b + 0x33) & 0xFF for b in data)
    return body + bytes([sum(body) & 0xFF, 0x16])


def di(identifier):
    return bytes((identifier >> shift) & 0xFF for shift in (0, 8, 16, 24))


def value_of(reply, identifier):
    """What the pile reads from ``reply``: checked and decoded in place, as the driver does."""
    buf = bytearray(reply)
    at = check_reply(buf, len(buf))
    return read_value(buf, identifier, at + 10, buf[at + 9])


def raises(error, call):
    try:
        call()
    except error as raised:
        return raised
    raise AssertionError("no %s" % error.__name__)


def test_a_read_request_is_the_standards_frame():
    assert read_request(ADDRESS, FORWARD_ACTIVE_ENERGY) == b"\xfe" * 4 + frame(0x11, di(FORWARD_ACTIVE_ENERGY))
    # The worked example of the protocol's users: forward active energy of meter 000102030425.
    assert read_request(ADDRESS, FORWARD_ACTIVE_ENERGY)[4:].hex() == "6825040302010068110433333433e116"


def test_wildcard_address_reads_any_meter():
    assert read_request(WILDCARD, VOLTAGE_A)[5:11] == b"\xaa" * 6


def test_a_request_buffer_is_refilled_in_place_for_the_learned_address():
    buf = bytearray(REQUEST_BYTES)
    fill_request(buf, WILDCARD, VOLTAGE_A)
    assert fill_request(buf, ADDRESS, VOLTAGE_A) is buf and bytes(buf) == b"\xfe" * 4 + frame(0x11, di(VOLTAGE_A))


def test_a_reply_is_checked_in_place_with_the_meters_address():
    buf = bytearray(64)
    reply = b"\xfe\xfe" + frame(0x91, di(FORWARD_ACTIVE_ENERGY) + bytes([0x42, 0x06, 0x12, 0x00]))
    buf[: len(reply)] = reply
    at = check_reply(buf, len(reply))
    assert at == 2 and bytes(buf[at + 1 : at + 7]) == ADDRESS
    assert read_value(buf, FORWARD_ACTIVE_ENERGY, at + 10, buf[at + 9]) == 120642  # 1206.42 kWh


def test_signed_values_carry_their_sign_in_the_top_bit():
    assert value_of(frame(0x91, di(CURRENT_A) + bytes([0x34, 0x12, 0x80 | 0x05])), CURRENT_A) == -51234  # -51.234 A
    assert value_of(frame(0x91, di(ACTIVE_POWER) + bytes([0x00, 0x50, 0x01])), ACTIVE_POWER) == 15000  # 1.5 kW
    assert value_of(frame(0x91, di(VOLTAGE_A) + bytes([0x05, 0x22])), VOLTAGE_A) == 2205  # 220.5 V
    assert value_of(frame(0x91, di(CURRENT_A) + bytes([0x99, 0x99, 0x79])), CURRENT_A) == 799999
    assert value_of(frame(0x91, di(CURRENT_A) + bytes([0x99, 0x99, 0xF9])), CURRENT_A) == -799999


def test_abnormal_reply_carries_its_error_bits():
    assert raises(MeterRefused, lambda: value_of(frame(0xD1, bytes([0x02])), VOLTAGE_A)).args[0] == 2  # no data


def test_malformed_replies_are_value_errors_never_crashes():
    good = frame(0x91, di(VOLTAGE_A) + bytes([0x05, 0x22]))
    raises(ChecksumError, lambda: value_of(good[:-2] + bytes([(good[-2] + 1) & 0xFF, 0x16]), VOLTAGE_A))
    broken = [
        b"",
        b"\xfe\xfe\xfe\xfe",
        good[:-1],
        good[:-1] + b"\x17",  # end
        good[:9] + bytes([0x11]) + good[10:],  # a request, not a reply
        good[:10] + bytes([0xF0]) + good[11:],  # length past the frame
        bytes([0x69]) + good[1:],
        frame(0xD1, b""),  # abnormal without its error byte
        b"\x68" * 40,
        frame(0x91, di(VOLTAGE_A) + bytes([0x0A, 0x22])),  # not BCD
        frame(0x91, di(VOLTAGE_A) + bytes([0x05])),  # short value
        frame(0x91, di(CURRENT_A) + bytes([0x05, 0x22])),  # a reply for another identifier
    ]
    for data in broken:
        raises(ValueError, lambda data=data: value_of(data, VOLTAGE_A))


def test_garbage_and_mutated_frames_raise_only_the_codecs_errors():
    import os

    good = frame(0x91, di(CURRENT_A) + bytes([0x34, 0x12, 0x85]))
    for _ in range(1500):
        noise = os.urandom(3)
        data = bytearray(good)
        data[noise[0] % len(data)] = noise[1]  # one byte hit
        candidates = (bytes(data), os.urandom(noise[2] % 40), bytes(data[: noise[2] % len(data)]))
        for candidate in candidates:
            try:
                value_of(candidate, CURRENT_A)
            except (ValueError, MeterRefused):
                pass
