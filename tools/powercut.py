"""Cutting the power at every flash block write of a scripted lifecycle, and checking what survives.

Each cut runs ``boards/sim/lifecycle.py`` twice on a fresh copy of a provisioned
image: ``run`` until the armed block program (which completes or not), killed
there like a board losing power, then ``restore``, which boots from that flash,
resumes, stops every session and lists the outbox. The checks: the flash
mounts, no order is lost or duplicated, nobody is charged more than they used,
the credit in doubt stays within one checkpoint interval, and no relay is on
without credit.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from boards.sim.world.flash import provision
from boards.sim.world.vm import DEFAULT_HEAP, micropython_executable
from tools.mpy_build import ROOT, build

IMAGE = ROOT / "build" / "sim"
RUN_TIMEOUT_S = 60
# UNIT_MIN=10 in the lifecycle: 100 fen per 600 s, so one 5 s checkpoint interval plus one
# 200 ms step of use is 875 milli-fen.
CREDIT_DOUBT_MFEN = (5000 + 200) * 100 * 1000 // (10 * 60 * 1000)


@dataclass
class CutResult:
    """What one cut left behind."""

    index: int
    completes: bool
    reached: bool = False
    recovered: bool = False
    lost: list[int] = field(default_factory=list)
    duplicated: list[int] = field(default_factory=list)
    phantom: list[int] = field(default_factory=list)
    overcharged: list[int] = field(default_factory=list)
    credit_error_mfen: int = 0
    violations: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the cut broke none of the rules."""
        return (
            self.recovered
            and not (self.lost or self.duplicated or self.phantom or self.overcharged or self.violations)
            and self.credit_error_mfen <= CREDIT_DOUBT_MFEN
        )


def run_lifecycle(args: list[str], image: Path) -> list[str]:
    """Run the lifecycle script to its end; its output lines."""
    return _vm(args, image, stop_at_cut=False)


def _vm(args: list[str], image: Path, stop_at_cut: bool) -> list[str]:
    """Run the lifecycle on the VM; with ``stop_at_cut`` it is killed when the cut is reached."""
    process = subprocess.Popen(
        [micropython_executable(), "-X", f"heapsize={DEFAULT_HEAP}", "-m", "boards.sim.lifecycle", *args],
        cwd=image.parent,
        env={"MICROPYPATH": f".frozen:{IMAGE}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    assert process.stdout
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if stop_at_cut and line.startswith("E cut"):
            process.kill()
            break
    process.wait(RUN_TIMEOUT_S)
    return lines


def provisioned_image(folder: Path) -> Path:
    """A freshly formatted flash image, built once per folder."""
    image = folder / "pristine.img"
    if not image.exists():
        build("sim", IMAGE)
        provision(image)
    return image


def writes_in_lifecycle(folder: Path) -> int:
    """How many block programs the uncut lifecycle makes (the cut indices are 1..this)."""
    image = folder / "count.img"
    shutil.copy(provisioned_image(folder), image)
    lines = _vm(["run", str(image), "0", "1"], image, stop_at_cut=False)
    return int(next(line for line in lines if line.startswith("END")).split()[1])


def cut_once(folder: Path, index: int, completes: bool) -> CutResult:
    """Cut at block program ``index``, restore, and check."""
    result = CutResult(index, completes)
    image = folder / f"cut-{index}-{int(completes)}.img"
    shutil.copy(provisioned_image(folder), image)
    try:
        before = _vm(["run", str(image), str(index), str(int(completes))], image, stop_at_cut=True)
        result.reached = any(line.startswith("E cut") for line in before)
        after = _vm(["restore", str(image)], image, stop_at_cut=False)
    finally:
        image.unlink(missing_ok=True)
    result.recovered = any(line.startswith("END") for line in after)
    truth: dict[int, int] = {}
    persisted: set[int] = set()
    for line in before:
        kind, *words = line.split()
        if kind in ("T", "U"):
            number, used = int(words[0]), int(words[1])
            truth[number] = max(truth.get(number, 0), used)
        if kind == "W" and words[0] in ("session", "order"):
            persisted.add(int(words[1]))
        if kind == "V":
            result.violations.append("before: " + line)
    orders = [json.loads(line[2:]) for line in after if line.startswith("O ")]
    restored = [json.loads(line[2:]) for line in after if line.startswith("R ")]
    result.violations += ["after: " + line for line in after if line.startswith("V")]
    numbers = [order["no"] for order in orders]
    result.duplicated = sorted({n for n in numbers if numbers.count(n) > 1})
    result.lost = sorted(persisted - set(numbers))
    result.phantom = sorted(set(numbers) - persisted - set(truth))
    for snapshot in restored:
        used_at_cut = truth.get(snapshot["no"], 0)
        if snapshot["used_mfen"] > used_at_cut:
            result.overcharged.append(snapshot["no"])
        result.credit_error_mfen = max(result.credit_error_mfen, used_at_cut - snapshot["used_mfen"])
    return result


def torture(indices: list[int], workers: int = 2) -> list[CutResult]:
    """Cut at each index, once with the block written and once without."""
    with tempfile.TemporaryDirectory(prefix="powercut-") as name:
        folder = Path(name)
        provisioned_image(folder)
        jobs = [(index, completes) for index in indices for completes in (True, False)]
        with ThreadPoolExecutor(workers) as pool:
            return list(pool.map(lambda job: cut_once(folder, *job), jobs))


def summary(results: list[CutResult]) -> dict:
    """The figures of a torture run."""
    return {
        "cuts_tried": len(results),
        "cuts_reached": sum(r.reached for r in results),
        "recovered": sum(r.recovered for r in results),
        "orders_lost": sum(len(r.lost) for r in results),
        "orders_duplicated": sum(len(r.duplicated) for r in results),
        "orders_phantom": sum(len(r.phantom) for r in results),
        "overcharged": sum(len(r.overcharged) for r in results),
        "max_credit_error_mfen": max((r.credit_error_mfen for r in results), default=0),
        "credit_doubt_bound_mfen": CREDIT_DOUBT_MFEN,
        "violations": sum(len(r.violations) for r in results),
        "failed_cuts": [(r.index, r.completes) for r in results if not r.ok][:10],
    }
