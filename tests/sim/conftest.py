"""Shared plumbing for the emulator tests: async tests on a fresh loop, and a polling helper."""

import asyncio
import inspect
import sys
import time
from pathlib import Path

import pytest

# Make `boards` importable when pytest is run from anywhere, until the project's pytest
# configuration puts the repository root on the path.
REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

# Generous next to what each test needs (well under a second); a hung pty read fails instead.
ASYNC_TEST_TIMEOUT_S = 10.0
POLL_INTERVAL_S = 0.005


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Run `async def` tests with asyncio.run (no plugin needed), bounded in time."""
    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    kwargs = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    asyncio.run(asyncio.wait_for(pyfuncitem.obj(**kwargs), ASYNC_TEST_TIMEOUT_S))
    return True


async def _wait_until(predicate, timeout_s=1.0):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s} s")
        await asyncio.sleep(POLL_INTERVAL_S)


@pytest.fixture
def wait_until():
    """Return `async wait_until(predicate, timeout_s=1.0)`: poll until true or fail the test."""
    return _wait_until
