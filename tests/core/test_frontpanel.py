"""The keypad and coins: clear prompts for every wrong step, and no money lost."""

from firmware import prompts
from tests.core.scenario import Scenario


def ready(**overrides):
    s = Scenario(**overrides)
    s.run(400)
    return s


def test_invalid_port_is_refused():
    s = ready()
    s.keys("11#")
    assert s.said[-1] == "invalid_port"
    s.keys("0#")
    assert s.said[-1] == "invalid_port"
    assert not any(s.pile.relay)


def test_coins_before_a_port_wait_for_one():
    s = ready()
    s.coins(2)
    assert s.said[-1] == "choose_port_first"
    assert s.panel.credit_fen == 200
    s.load(6, 150)
    s.keys("6#")
    assert s.state(6) == "wait_plug"
    assert s.panel.credit_fen == 0
    s.run(600)
    assert s.state(6) == "charging"


def test_port_then_coins_then_confirm():
    s = ready()
    s.keys("7#")
    assert s.said[-1] == "insert_coins"
    s.coins(1)
    assert s.said[-1] == "coin_in"
    s.coins(1)
    s.keys("#")
    assert s.said[-1] == "started"
    assert s.pile.port(7).session.paid_mfen == 200000


def test_port_ten_is_two_digits():
    s = ready()
    s.keys("10#")
    s.coins(1)
    s.keys("#")
    assert s.state(10) == "wait_plug"


def test_confirm_without_anything_asks_for_a_port():
    s = ready()
    s.keys("#")
    assert s.said[-1] == "welcome"


def test_second_payment_on_busy_port_is_added_with_a_prompt():
    s = ready()
    s.load(2, 150)
    s.pay(2, 1)
    s.run(600)
    s.pay(2, 1)
    assert s.said[-1] == "added"
    assert s.pile.port(2).session.payments == 2


def test_free_session_on_port_refuses_a_coin_payment():
    s = ready(FREE_MODE=True)
    s.keys("4#")
    assert s.said[-1] == "free_started"
    assert s.pile.port(4).session.method == "free"
    assert s.pile.pay(s.now, 4, "coin", 100) == prompts.PORT_BUSY
    assert s.pile.port(4).session.payments == 1
    assert s.pile.port(4).session.paid_mfen == 0


def test_busy_port_refuses_other_payment_method_and_keeps_money():
    s = ready()
    s.load(2, 150)
    s.pile.pay(s.now, 2, "free", 0)
    s.pay(2, 1)
    assert s.said[-1] == "port_busy"
    assert s.panel.credit_fen == 100


def test_entry_timeout_starts_a_paid_port_rather_than_lose_money():
    s = ready(ENTRY_TIMEOUT_S=10)
    s.keys("3#")
    s.coins(1)
    s.run(9000)
    assert s.state(3) == "idle"
    s.run(1400)
    assert s.state(3) == "wait_plug"


def test_cancel_clears_entry_but_keeps_money():
    s = ready()
    s.keys("3#")
    s.coins(1)
    s.keys("*")
    assert s.said[-1] == "cancelled"
    assert s.panel.port == 0 and s.panel.credit_fen == 100


def test_query_a_port():
    s = ready()
    s.load(8, 150)
    s.pay(8, 1)
    s.run(1000)
    s.keys("A8#")
    assert s.said[-1] == "port_info"
    assert s.pile.notice_value.startswith("150W 3h59m") or s.pile.notice_value.startswith("150W 4h")


def test_stop_an_idle_port_says_so():
    s = ready()
    s.keys("D5#")
    assert s.said[-1] == "port_idle"


def test_entry_line_shows_what_is_typed():
    s = ready()
    s.keys("1")
    assert s.panel.entry() == "Port 1_"
    s.keys("*A7")
    assert s.panel.entry() == "Ask port 7_"
    s.keys("*D")
    assert s.panel.entry() == "Stop: port no. #"
