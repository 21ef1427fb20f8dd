"""The resident at the keypad: prompts for each mistake, the display and the voice, and no lost money."""

import re


def test_invalid_port_is_prompted(make_rig):
    rig = make_rig()
    rig.press("12#")
    rig.wait_until(lambda: "No such port" in rig.display()[1], 2, "invalid port prompt")
    rig.wait_until(lambda: "invalid_port" in rig.voice(), 3, "invalid port voice prompt")


def test_coins_with_no_port_chosen_wait_for_a_port(make_rig):
    rig = make_rig()
    rig.insert_coins(2)
    rig.wait_until(lambda: "Choose port first" in rig.display()[1], 2, "choose port prompt")
    assert "Credit 2.00Y" in rig.display()[3]
    rig.plug(6, "ebike")
    rig.press("6#")
    rig.wait_until(lambda: rig.relay(6) == 1, 3, "port 6 started with the waiting coins")
    rig.press("D6#")
    assert rig.wait_order(6, 3)["paid"] == 200


def test_second_payment_on_a_busy_port_adds_time_with_a_prompt(make_rig):
    rig = make_rig()
    rig.plug(2, "ebike")
    rig.pay_coins(2, 1)
    rig.wait_until(lambda: rig.relay(2) == 1, 3, "port 2 on")
    rig.pay_coins(2, 1)
    rig.wait_until(lambda: "time added" in rig.display()[1], 2, "added prompt")
    rig.wait_until(lambda: rig.records("ports")[-1]["ports"][1][2] > 4 * 3600, 3, "more than 4 h left")
    rig.press("D2#")
    order = rig.wait_order(2, 3)
    assert order["paid"] == 200 and order["payments"] == 2


def test_display_shows_port_states_and_power(make_rig):
    rig = make_rig()
    rig.plug(1, "tricycle")
    rig.pay_coins(1, 1)
    rig.wait_until(lambda: rig.display()[0].startswith("C........."), 3, "port 1 charging on the status line")
    rig.wait_until(lambda: int(rig.display()[0].split()[1].rstrip("W")) > 200, 3, "total power shown")
    assert rig.voice()[-1] in ("started", "coin_in")


def test_query_a_port_from_the_keypad(make_rig):
    rig = make_rig()
    rig.plug(8, "ebike")
    rig.pay_coins(8, 1)
    rig.wait_until(lambda: rig.relay(8) == 1, 3, "port 8 on")
    rig.press("A8#")
    rig.wait_until(lambda: re.match(r"P8: \d+W 3h5\dm", rig.display()[1]), 2, "port 8's power and time left")


def test_bad_config_file_is_rejected_and_logged(make_rig):
    rig = make_rig(PORT_MAX_W=99999)
    notes = [r["text"] for r in rig.records("note")]
    assert any("PORT_MAX_W" in n for n in notes)
    rig.plug(1, "ebike")
    rig.pay_coins(1, 1)
    rig.wait_until(lambda: rig.relay(1) == 1, 3, "the pile still works on defaults")


def test_coin_acceptor_pulses_per_coin(make_rig):
    rig = make_rig(COIN_PULSES=3, COIN_FEN=50)
    rig.press("4#")
    rig.insert_coins(2)  # three pulses each
    rig.wait_until(lambda: "Credit 1.00Y" in rig.display()[1], 2, "two coins of 0.50 counted")


def test_coin_line_bounce_counts_once(make_rig):
    rig = make_rig(COIN_DEBOUNCE_MS=20)
    rig.press("4#")
    rig.coin_pulse_train(3, low_ms=2, high_ms=2)  # one pulse whose contact bounced
    rig.wait_until(lambda: "Credit 1.00Y" in rig.display()[1], 2, "one coin")
    rig.hold(1, lambda: "Credit 1.00Y" in rig.display()[1], "counted once")
    assert rig.said().count("coin_in") == 1
