"""The CBOR codec: known encodings from RFC 8949 appendix A, round trips, and hostile input."""

from firmware.cbor import Encoded, encode
from firmware.cbor_decode import decode

# (value, hex) pairs from RFC 8949 appendix A.
KNOWN = (
    (0, "00"),
    (23, "17"),
    (24, "1818"),
    (100, "1864"),
    (1000, "1903e8"),
    (1000000, "1a000f4240"),
    (1000000000000, "1b000000e8d4a51000"),
    (-1, "20"),
    (-100, "3863"),
    (-1000, "3903e7"),
    (False, "f4"),
    (True, "f5"),
    (None, "f6"),
    ("", "60"),
    ("a", "6161"),
    ("IETF", "6449455446"),
    ("\u6c34", "63e6b0b4"),
    (b"\x01\x02\x03\x04", "4401020304"),
    ([], "80"),
    ([1, [2, 3], [4, 5]], "8301820203820405"),
    ({}, "a0"),
    ({1: 2, 3: 4}, "a201020304"),
    ({"a": 1, "b": [2, 3]}, "a26161016162820203"),
)


def test_known_encodings():
    for value, hex_text in KNOWN:
        assert encode(value).hex() == hex_text, (value, encode(value).hex())
        assert decode(bytes.fromhex(hex_text)) == value


def test_floats_from_other_encoders():
    assert decode(bytes.fromhex("f93e00")) == 1.5  # half precision
    assert decode(bytes.fromhex("fa47c35000")) == 100000.0  # single
    assert decode(encode(0.1)) == 0.1


def test_order_round_trip():
    order = {1: 42, 2: 3, 3: "coin", 4: 1700000000, 5: 1700003600, 6: 150, 7: 200, 8: 120, 9: 0, 10: "full"}
    assert decode(encode(order)) == order


def test_an_encoded_item_goes_into_a_message_as_it_is():
    ports = [[1, 3, 150, 3600], [2, 0, 0, -1]]
    assert encode({3: 7, 6: Encoded(encode(ports))}) == encode({3: 7, 6: ports})


def refused(data):
    try:
        decode(data)
    except ValueError:
        return True
    return False


def test_hostile_input_is_refused_with_value_error():
    assert refused(b"")
    assert refused(bytes.fromhex("19"))  # argument missing
    assert refused(bytes.fromhex("6461"))  # text shorter than its length
    assert refused(bytes.fromhex("0000"))  # trailing byte
    assert refused(bytes.fromhex("9f01ff"))  # indefinite array
    assert refused(bytes.fromhex("c11a514b67b0"))  # a tag
    assert refused(bytes.fromhex("9b7fffffffffffffff"))  # huge array length, no elements
    assert refused(bytes.fromhex("bb7fffffffffffffff"))  # huge map length
    assert refused(bytes.fromhex("62c328"))  # invalid UTF-8
    assert refused(bytes.fromhex("a1800102"))  # a list as a map key, then trailing
    assert refused(b"\x81" * 40 + b"\x00")  # nested deeper than allowed
    assert refused(bytes.fromhex("f8ff"))  # unsupported simple value


def test_every_truncation_of_a_message_is_refused():
    data = encode({1: [1, 2, 3], 2: "text", 3: b"\x00" * 30, 4: -70000})
    for length in range(len(data)):
        assert refused(data[:length]), length
