"""Power cut at every flash block write of a scripted lifecycle (each written and not written).

After each cut the flash must mount, no order be lost or duplicated, nobody
be charged more than used, the credit in doubt stay within one checkpoint
interval, and no relay be on without credit (see tools/powercut.py).
"""

import tempfile
from pathlib import Path

from tools import powercut


def test_every_block_write_index_survives_a_cut():
    with tempfile.TemporaryDirectory() as folder:
        writes = powercut.writes_in_lifecycle(Path(folder))
    assert writes > 100  # the lifecycle really exercises the flash
    results = powercut.torture(list(range(1, writes + 1)))
    summary = powercut.summary(results)
    assert summary["cuts_reached"] == summary["cuts_tried"] == 2 * writes
    assert summary["recovered"] == summary["cuts_tried"]
    assert summary["orders_lost"] == 0
    assert summary["orders_duplicated"] == 0
    assert summary["orders_phantom"] == 0
    assert summary["overcharged"] == 0
    assert summary["violations"] == 0
    assert summary["max_credit_error_mfen"] <= powercut.CREDIT_DOUBT_MFEN
    assert not summary["failed_cuts"], summary
