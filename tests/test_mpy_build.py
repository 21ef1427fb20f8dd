"""The .mpy build (tools/mpy_build.py): device paths as source names, stale files gone, a changed scheme
compiled again."""

from tools.mpy_build import BUILD_STAMP, build


def test_each_file_carries_its_device_path_and_the_manifest_lists_them(tmp_path):
    manifest = build("sim", tmp_path)
    assert "firmware/shell/app.mpy" in manifest
    for device_path in manifest:
        assert device_path.encode() in (tmp_path / device_path).read_bytes(), device_path


def test_a_file_whose_source_is_gone_is_removed(tmp_path):
    build("sim", tmp_path)
    stale = tmp_path / "firmware" / "retired.mpy"
    stale.write_bytes(b"M\x06")
    build("sim", tmp_path)
    assert not stale.exists()


def test_a_build_made_under_another_scheme_is_compiled_again(tmp_path):
    build("sim", tmp_path)
    app = tmp_path / "firmware" / "shell" / "app.mpy"
    first = app.stat().st_mtime_ns
    build("sim", tmp_path)
    assert app.stat().st_mtime_ns == first  # nothing changed: nothing compiled
    (tmp_path / BUILD_STAMP).write_text("an older scheme")
    build("sim", tmp_path)
    assert app.stat().st_mtime_ns != first
