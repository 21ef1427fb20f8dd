"""HIL fixtures: a rig per test, the virtual pile unless ``--rig`` names another."""

from __future__ import annotations

import pytest

from boards.sim.world.vm import DEFAULT_HEAP
from hil_tests.cloud import Cloud
from hil_tests.rig import SimRig

RIGS = {"sim": SimRig}

# Holds shortened so each stop rule shows within seconds (config, not code, changes).
FAST = {
    "UNPLUG_HOLD_S": 3,
    "FULL_HOLD_S": 4,
    "OVERLOAD_HOLD_S": 2,
    "PLUG_WAIT_S": 6,
    # Three seconds, not two: the rig's emulators share one Python process with the bridge and its
    # threads in the cloud tests, and a two-second stall there read as a lost meter.
    "METER_STALE_S": 3,
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

    def make(
        speedup: float = 1.0,
        profile: str = "mc10",
        cloud: dict | None = None,
        main_meter: bool = False,
        heap: str = DEFAULT_HEAP,
        site_key: bytes | None = None,
        **overrides,
    ):
        config = dict(FAST)
        config.update(overrides)
        rig = rig_class(
            config,
            profile=profile,
            speedup=speedup,
            cloud=cloud,
            main_meter=main_meter,
            heap=heap,
            site_key=site_key,
        )
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.close()


@pytest.fixture
def cloud(tmp_path):
    """A mosquitto with per-pile accounts, the bridge and its command channel (hil_tests/cloud.py)."""
    site = Cloud(tmp_path)
    yield site
    site.close()
