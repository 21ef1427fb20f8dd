"""The names (qstrs) the pile's firmware interns on the VM, against the pools that hold them.

MicroPython interns every name a module it loads uses, in pools that are never
freed, each pool twice the size of the one before. On the unix port the first
six pools hold about 1260 names; the seventh asks for one contiguous block of
about 14 KB, which a running pile at -X heapsize=96wK never has. A module loaded after boot (a command's code, a
config check, a main meter read) that brings a name the pools cannot take
then fails with MemoryError, on every later try too. So every module the pile
can load must find room in the pools boot made, with headroom for the names
the pile makes as it runs (its id's characters, a broker's error text).

Run from a folder laid out like a board's flash (boards/sim/world/vm.py), so
each module's file name is the device path it was compiled with.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

from boards.sim.world.vm import link_image, micropython_executable
from tools.mpy_build import ROOT, build

# What boards/sim/main.py holds once the pile runs, and the asyncio parts it loads up front.
RESIDENT = (
    "asyncio",
    "asyncio.event",
    "asyncio.lock",
    "asyncio.funcs",
    "asyncio.stream",
    "firmware.shell.settings",
    "boards.sim.board",
    "firmware.shell.app",
    "firmware.shell.main_meter_task",
)
# Scripts the VM runs, never modules the pile imports.
ENTRY_POINTS = ("boards.sim.main", "boards.sim.lifecycle")
FRESH_NAMES_MAX = 3000

_SCRIPT = """
import micropython
for name in {resident!r}:
    __import__(name)
print("stage resident")
micropython.qstr_info()
for name in {later!r}:
    __import__(name)
print("stage all")
micropython.qstr_info()
class Fresh:
    pass
for i in range({fresh}):
    setattr(Fresh, "fresh_name_%d" % i, 0)
    micropython.qstr_info()
"""
_POOL_LINE = re.compile(r"qstr pool: n_pool=(\d+), n_qstr=(\d+), n_str_data_bytes=(\d+), n_total_bytes=(\d+)")


def device_modules(image: Path) -> list[str]:
    """Every module of the sim image the pile could import, as dotted names."""
    names = []
    for path in sorted(image.rglob("*.mpy")):
        parts = path.relative_to(image).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        name = ".".join(parts)
        if name not in ENTRY_POINTS:
            names.append(name)
    return names


def measure() -> dict:
    """Interned names after boot's modules and after every module; how many more fit before a new pool."""
    image = ROOT / "build" / "sim"
    build("sim", image)
    later = [name for name in device_modules(image) if name not in RESIDENT]
    script = _SCRIPT.format(resident=RESIDENT, later=later, fresh=FRESH_NAMES_MAX)
    with tempfile.TemporaryDirectory(prefix="qstr-budget-") as folder:
        link_image(Path(folder), image)
        result = subprocess.run(
            [micropython_executable(), "-X", "heapsize=4M", "-c", script],
            cwd=folder,
            env={"MICROPYPATH": ".frozen"},
            capture_output=True,
            text=True,
            timeout=120,
        )
    if result.returncode:
        raise RuntimeError(f"the VM failed measuring qstrs:\n{result.stdout}{result.stderr}")
    stages, fresh = {}, []
    stage = None
    for line in result.stdout.splitlines():
        if line.startswith("stage "):
            stage = line.split()[1]
            continue
        match = _POOL_LINE.match(line)
        if not match:
            continue
        pools, names, data_bytes, total_bytes = (int(group) for group in match.groups())
        if stage in ("resident", "all") and stage not in stages:
            stages[stage] = {"pools": pools, "names": names, "pool_bytes": total_bytes}
        else:
            fresh.append(pools)
    after_all = stages["all"]["pools"]
    spare = next((index for index, pools in enumerate(fresh) if pools > after_all), None)
    if spare is None:
        raise RuntimeError(f"{FRESH_NAMES_MAX} fresh names never needed a new pool")
    return {
        "bench": "qstrs",
        "resident_names": stages["resident"]["names"],
        "resident_pools": stages["resident"]["pools"],
        "resident_pool_bytes": stages["resident"]["pool_bytes"],
        "all_modules_names": stages["all"]["names"],
        "all_modules_pools": after_all,
        "spare_names_before_next_pool": spare,
    }
