"""HMAC-SHA256 against RFC 4231's test cases, and the constant-time comparison (CPython and MicroPython)."""

from firmware.mac import hmac_sha256, same_bytes


def test_hmac_matches_rfc_4231_case_2():
    digest = hmac_sha256(b"Jefe", b"what do ya want for nothing?")
    assert digest.hex() == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


def test_hmac_with_a_key_longer_than_a_block_matches_rfc_4231_case_6():
    digest = hmac_sha256(b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First")
    assert digest.hex() == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"


def test_same_bytes_compares_whole_strings():
    assert same_bytes(b"abc", b"abc")
    assert not same_bytes(b"abc", b"abd")
    assert not same_bytes(b"abc", b"ab")
