"""Every module the pile can load after boot finds its names in the qstr pools boot made (tools/qstr_budget.py)."""

from tools.qstr_budget import measure

# Names the running pile interns beyond its modules' (about 35 measured: its id's characters, texts it
# formats), and room for more.
QSTR_HEADROOM = 64


def test_no_module_loaded_after_boot_needs_a_new_qstr_pool():
    figures = measure()
    assert figures["all_modules_pools"] == figures["resident_pools"], figures
    assert figures["spare_names_before_next_pool"] >= QSTR_HEADROOM, figures
