"""A wrong configuration is refused with reasons, and the pile keeps safe defaults."""

from firmware import config


def test_defaults_are_valid():
    assert config.validate({}) == []


def test_bad_values_are_each_reported():
    errors = config.validate({"PORT_MAX_W": "lots", "FULL_HOLD_S": -1, "NOPE": 1, "TARIFF_MODE": "gold"})
    assert len(errors) == 4, errors
    assert any("PORT_MAX_W" in e for e in errors)
    assert any("unknown setting" in e for e in errors)


def test_inconsistent_limits_are_refused():
    assert config.validate({"PORT_MAX_W": 1500, "PORT_TRIP_W": 1200})


def test_reserve_above_the_pile_limit_is_refused():
    assert config.validate({"PILE_MAX_W": 500, "START_RESERVE_W": 600})


def test_tiers_must_rise():
    assert config.validate({"TIERS": [[400, 100], [200, 300]]})
    assert config.validate({"TIERS": []})
    assert not config.validate({"TIERS": [[200, 300], [1000, 100]]})


def test_rejected_file_falls_back_to_defaults_and_logs():
    seen = []
    cfg = config.load({"PORT_MAX_W": 99999, "PRICE_FEN": 50}, seen.append)
    assert cfg["PORT_MAX_W"] == 1000 and cfg["PRICE_FEN"] == 100
    assert seen and "PORT_MAX_W" in seen[0]


def test_valid_file_applies():
    cfg = config.load({"PORT_MAX_W": 600, "PILE_MAX_W": 6000}, print)
    assert cfg["PORT_MAX_W"] == 600


def test_booleans_are_not_integers():
    assert config.validate({"PORT_MAX_W": True})
    assert config.validate({"FREE_MODE": 1})
