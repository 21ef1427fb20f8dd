"""No module the pile loads after boot needs a new qstr pool, and the pools boot made keep room to spare
(tools/qstr_budget.py)."""

from tools.qstr_budget import measure

# Names the running pile interns beyond its modules' (about 25 seen: its id's characters, texts it formats).
# Past the sixth pool the VM asks for one block of about 14 KB, which a pile with cards and the cloud link
# cannot spare at 96wK: new code pays for its names with private const()s (README, "Memory").
QSTR_HEADROOM = 32


def test_no_module_loaded_after_boot_needs_a_new_qstr_pool():
    figures = measure()
    assert figures["all_modules_pools"] == figures["boot_pools"], figures


def test_the_pools_boot_made_keep_room_for_the_names_made_at_run_time():
    figures = measure()
    assert figures["spare_names_before_next_pool"] >= QSTR_HEADROOM, figures
