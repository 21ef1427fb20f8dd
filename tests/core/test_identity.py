"""The pile's identity file: a usable one is taken, anything else is refused with its reasons."""

from firmware.shell.identity import identity_errors, load_identity
from tests.core.scenario import scratch_dir

GOOD = {
    "pile": "PILE-0042",
    "password": "s3cret",
    "host": "203.0.113.7",
    "port": 8883,
    "ca": "ca.der",
    "key": "0f" * 32,
}


def test_a_complete_identity_has_no_errors():
    assert identity_errors(GOOD) == []


def test_each_bad_field_is_named():
    assert identity_errors([]) == ["identity must be a JSON object"]
    for field, value in (
        ("pile", "pile/B"),
        ("pile", "x" * 33),
        ("pile", ""),
        ("password", ""),
        ("host", 7),
        ("host", "mqtt.example.net"),
        ("host", "203.0.113.256"),
        ("host", "203.0.113"),
        ("port", 0),
        ("port", True),
        ("ca", 5),
        ("apn", ""),
        ("key", "0f" * 31),
        ("key", "zz" * 32),
        ("key", 5),
    ):
        errors = identity_errors(dict(GOOD, **{field: value}))
        assert len(errors) == 1 and errors[0].startswith(field), (field, value, errors)


def test_a_missing_or_broken_file_turns_the_cloud_link_off():
    folder = scratch_dir()
    assert load_identity(folder + "/absent.json") is None
    path = folder + "/identity.json"
    with open(path, "w") as handle:
        handle.write('{"pile": "A", "password"')
    assert load_identity(path) is None
    with open(path, "w") as handle:
        handle.write('{"pile": "A/B", "password": "p", "host": "10.0.0.1", "port": 1883}')
    assert load_identity(path) is None
    with open(path, "w") as handle:
        handle.write('{"pile": "A", "password": "p", "host": "10.0.0.1", "port": 1883}')
    assert load_identity(path)["apn"] == "cmiot"  # the carrier's IoT default
    with open(path, "w") as handle:
        handle.write('{"pile": "A", "password": "p", "host": "10.0.0.1", "port": 1883, "apn": "ctnb"}')
    assert load_identity(path)["apn"] == "ctnb"
