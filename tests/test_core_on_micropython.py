"""The core's unit tests again, on the real MicroPython VM (the runtime of the firmware)."""

import sys
from pathlib import Path

import pytest

from boards.sim.world.vm import run_source

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted(f"tests.core.{path.stem}" for path in (ROOT / "tests" / "core").glob("test_*.py"))
# The tests compile the core from source on the VM, which takes far more heap than loading the .mpy files a
# pile runs; the pile's own heap (-X heapsize=96wK) is what the HIL tests and `pilectl bench memory` run at.
COMPILE_HEAP = "192wK"


@pytest.mark.parametrize("module", MODULES)
def test_module_passes_on_micropython(module):
    result = run_source(["tests/mp_run.py", module], timeout_s=120, heap=COMPILE_HEAP)
    sys.stdout.write(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 failed" in result.stdout and " 0 passed" not in result.stdout
