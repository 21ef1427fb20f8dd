"""The names (qstrs) the pile's firmware interns on the VM, against the pools that hold them.

MicroPython interns every name a module it loads uses, in pools that are never
freed, each pool twice the size of the one before. On the unix port the first
six pools hold about 1260 names; the seventh asks for one contiguous block of
about 14 KB, which a running pile at -X heapsize=96wK never has. So the pools
boot makes must hold the names of all the code the pile loads later for a
while (commands, modem rounds, main meter reads, card swipes), with room for the names the
pile makes as it runs (its id's characters, texts it formats).

``measure`` interns the names a pile with every part fitted has after boot,
then loads every other device module, then interns fresh names until the VM
needs a new pool. It runs from a folder laid out like a board's flash
(boards/sim/world/vm.py), so each module's file name is the device path it
was compiled with.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

from boards.sim.world.vm import link_image, micropython_executable
from tools.mpy_build import ROOT, build

# What boards/sim/main.py and firmware/shell/app.py import at boot on a pile with every part fitted:
# asyncio's parts, the settings readers (forgotten after), the resident firmware, the boot's own code,
# the card reader's driver and task (and the card layout, loaded for the pile's tag).
BOOT_IMPORTS = (
    "asyncio",
    "asyncio.event",
    "asyncio.lock",
    "asyncio.funcs",
    "asyncio.stream",
    "firmware.shell.settings",
    "firmware.shell.identity",
    "firmware.config",
    "firmware.shell.json_file",
    "boards.sim.board",
    "firmware.shell.app",
    "firmware.shell.boot",
    "firmware.shell.main_meter_task",
    "drivers.main_meter",
    "drivers.mfrc522",
    "firmware.card.record",
    "firmware.shell.card_task",
)
# Scripts the VM runs, never modules the pile imports.
ENTRY_POINTS = ("boards.sim.main", "boards.sim.lifecycle")
FRESH_NAMES_MAX = 3000

_SCRIPT = """
import micropython
for name in {boot!r}:
    __import__(name)
print("stage boot")
micropython.qstr_info()
for name in {every!r}:
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
    """Names interned by boot and with every device module loaded; how many more fit before a new pool."""
    image = ROOT / "build" / "sim"
    build("sim", image)
    script = _SCRIPT.format(boot=BOOT_IMPORTS, every=device_modules(image), fresh=FRESH_NAMES_MAX)
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
        if stage in ("boot", "all") and stage not in stages:
            stages[stage] = {"pools": pools, "names": names, "pool_bytes": total_bytes}
        else:
            fresh.append(pools)
    after_all = stages["all"]["pools"]
    spare = next((index for index, pools in enumerate(fresh) if pools > after_all), None)
    if spare is None:
        raise RuntimeError(f"{FRESH_NAMES_MAX} fresh names never needed a new pool")
    return {
        "bench": "qstrs",
        "boot_names": stages["boot"]["names"],
        "boot_pools": stages["boot"]["pools"],
        "boot_pool_bytes": stages["boot"]["pool_bytes"],
        "all_modules_names": stages["all"]["names"],
        "all_modules_pools": after_all,
        "spare_names_before_next_pool": spare,
    }
