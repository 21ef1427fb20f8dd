"""HIL fixtures: a rig per test, the virtual pile unless ``--rig`` names another."""

from __future__ import annotations

import pytest

from hil_tests.rig import SimRig

RIGS = {"sim": SimRig}

# Holds shortened so each stop rule shows within seconds (config, not code, changes).
FAST = {
    "UNPLUG_HOLD_S": 3,
    "FULL_HOLD_S": 4,
    "OVERLOAD_HOLD_S": 2,
    "PLUG_WAIT_S": 6,
    "METER_STALE_S": 2,
    "WDT_TIMEOUT_S": 2,
    "STOPPED_SHOW_S": 5,
    "SETTLE_S": 3,
    "TIER_UP_HOLD_S": 3,
    "COIN_GAP_MS": 150,
    "STATUS_LOG_S": 1,
}


def pytest_addoption(parser):
    parser.addoption("--rig", default="sim", choices=sorted(RIGS), help="which rig runs the HIL suite")


@pytest.fixture
def make_rig(request):
    """Start a rig with config overrides (on top of FAST); closed after the test."""
    rigs = []
    rig_class = RIGS[request.config.getoption("--rig")]

    def make(speedup: float = 1.0, profile: str = "mc10", **overrides):
        config = dict(FAST)
        config.update(overrides)
        rig = rig_class(config, profile=profile, speedup=speedup)
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.close()
