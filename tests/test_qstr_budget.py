"""The pile interns at boot every name its code will need, and the pools boot made keep room to spare
(tools/qstr_budget.py)."""

from tools.qstr_budget import measure

# Names the running pile interns beyond its modules' (about 25 seen: its id's characters, texts it formats),
# and room for more.
QSTR_HEADROOM = 64


def test_boot_interns_the_names_of_every_module_the_pile_can_load():
    figures = measure()
    assert figures["all_modules_names"] == figures["boot_names"], figures


def test_the_pools_boot_made_keep_room_for_the_names_made_at_run_time():
    figures = measure()
    assert figures["spare_names_before_next_pool"] >= QSTR_HEADROOM, figures
