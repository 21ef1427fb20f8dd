"""A swipe's decisions (firmware/card/swipe.py) and the card book, on CPython and MicroPython.

The card itself is not here: ``plan`` is handed the record a card read as,
and the tests check what the pile would write and do.
"""

from io import BytesIO

from firmware import prompts
from firmware.card.book import CardBook
from firmware.card.record import FREE, MONTHLY, PREPAID, CardRecord
from firmware.card.swipe import STOP, commit, plan
from firmware.port import CARD
from tests.core.scenario import Scenario

UID = "a1b2c3d4"
TAG = 0x11223344
OTHER_TAG = 0x55667788
TODAY = 9800
CARD_RULES = {"CARD_HOLD_FEN": 500, "CARD_MIN_FEN": 100, "CARD_DAY_MAX": 2, "CARD_REPEAT_S": 3}


def setup(**overrides):
    scenario = Scenario(**dict(CARD_RULES, **overrides))
    scenario.run(600)  # fresh readings on every port
    return scenario, CardBook(scenario.cfg, [None, 0])


def swipe(scenario, book, record, reason=None, uid=UID, tag=TAG):
    return plan(scenario.pile, scenario.panel, book, uid, record, reason, tag, TODAY, scenario.now)


def start_prepaid(scenario, book, port=3, balance_fen=1200):
    """Port chosen on the keypad, then a prepaid card swiped and written: (written record, prompt)."""
    scenario.keys("%d#" % port)
    order_no = scenario.pile.next_order
    prompt, number, _, written, start = swipe(scenario, book, CardRecord(PREPAID, balance_fen, 7))
    assert (prompt, number, start) == (prompts.STARTED, port, ("card", 500, order_no))
    assert book.owed.get(UID) == (order_no, port, 500, 0)  # until the session has begun
    result = commit(scenario.pile, scenario.panel, book, UID, written, number, start, scenario.now)
    scenario._drain()
    return written, result


def test_a_card_swiped_first_shows_its_balance_and_waits_for_a_port():
    scenario, book = setup()
    prompt, number, value, written, start = swipe(scenario, book, CardRecord(PREPAID, 1234, 7))
    assert (prompt, number, value, written, start) == (prompts.CARD_BALANCE, 0, "12.34Y", None, None)
    assert scenario.panel.card == UID
    scenario.keys("3#")
    assert scenario.said[-1] == "card_again"
    assert scenario.panel.port == 3


def test_a_start_holds_part_of_the_balance_and_marks_the_card_with_the_session():
    scenario, book = setup()
    order_no = scenario.pile.next_order
    written, result = start_prepaid(scenario, book)
    assert result == prompts.STARTED
    assert (written.balance_fen, written.counter, written.held_fen) == (700, 8, 500)
    assert (written.session_pile, written.session_port, written.session_order) == (TAG, 3, order_no)
    session = scenario.pile.port(3).session
    assert (session.method, session.ref, session.order_no, session.paid_mfen) == ("card", UID, order_no, 500000)
    assert book.seen_count(UID) == 8 and scenario.panel.port == 0 and scenario.panel.card is None


def test_a_low_balance_is_refused_with_the_balance_shown():
    scenario, book = setup()
    scenario.keys("3#")
    assert swipe(scenario, book, CardRecord(PREPAID, 99, 7))[:4] == (prompts.CARD_LOW, 0, "0.99Y", None)


def test_swiping_the_card_again_stops_its_session_then_puts_the_unused_part_back():
    scenario, book = setup(UNIT_MIN=1)  # 1 yuan a minute: 14 s use a part of the 5 yuan held
    started, _ = start_prepaid(scenario, book)
    scenario.load(3, 500)
    scenario.run(10000)
    scenario.run(4000)  # past the too-fast window
    prompt, number, _, written, _ = swipe(scenario, book, started)
    assert (prompt, number, written) == (STOP, 3, None)
    assert scenario.pile.stop(scenario.now, number, CARD) == prompts.STOP_CARD
    scenario._drain()
    order = scenario.orders[-1]
    assert (order["method"], order["ref"], order["reason"]) == ("card", UID, "card")
    book.owe(order["ref"], order["no"], order["port"], order["returned"])  # as the controller does
    prompt, number, value, settled, start = swipe(scenario, book, started)
    assert (prompt, number, start) == (prompts.CARD_REFUNDED, 3, None)
    assert settled.balance_fen == 700 + order["returned"] and 0 < order["returned"] < 500
    assert (settled.session_pile, settled.held_fen, settled.counter) == (0, 0, started.counter + 1)
    assert (
        commit(scenario.pile, scenario.panel, book, UID, settled, number, None, scenario.now) == prompts.CARD_REFUNDED
    )
    assert book.owed.get(UID) is None


def test_a_second_swipe_at_once_is_too_fast():
    scenario, book = setup()
    started, _ = start_prepaid(scenario, book)
    assert swipe(scenario, book, started)[0] == prompts.CARD_TOO_FAST


def test_a_card_written_for_a_session_that_never_began_gets_the_whole_hold_back():
    scenario, book = setup()
    scenario.keys("3#")
    _, number, _, written, start = swipe(scenario, book, CardRecord(PREPAID, 1200, 7))
    # The card holds the marker, but the session never began (pulled before the read-back, or a cut).
    prompt, _, value, settled, _ = swipe(scenario, book, written)
    assert (prompt, value, settled.balance_fen, settled.session_pile) == (prompts.CARD_REFUNDED, "5.00Y", 1200, 0)


def test_a_refund_never_read_back_stays_owed_and_the_desk_hears_the_counter_the_card_may_hold():
    scenario, book = setup()
    scenario.keys("3#")
    _, _, _, written, _ = swipe(scenario, book, CardRecord(PREPAID, 1200, 7))
    order_no = written.session_order
    # The refund is planned and written, but the card leaves before the read-back: no commit.
    prompt, _, _, settled, _ = swipe(scenario, book, written)
    assert (prompt, settled.counter) == (prompts.CARD_REFUNDED, 9)
    assert book.owed.get(UID) == (order_no, 3, 500, 9)
    # A grey dump (counter 8) at the desk: the pile keeps the refund and says the card may hold counter 9.
    assert book.settled([[UID, order_no]]) == [[0, 9]]
    # The card itself comes back, torn (still counter 8, still marked): the refund is written again.
    prompt, _, _, again, _ = swipe(scenario, book, written)
    assert (prompt, again.counter, again.balance_fen) == (prompts.CARD_REFUNDED, 9, 1200)
    assert commit(scenario.pile, scenario.panel, book, UID, again, 3, None, scenario.now) == prompts.CARD_REFUNDED
    assert (book.owed.get(UID), book.seen_count(UID)) == (None, 9)


def test_a_refund_that_landed_though_never_read_back_is_not_owed_once_the_card_shows_it():
    scenario, book = setup()
    scenario.keys("3#")
    _, _, _, written, _ = swipe(scenario, book, CardRecord(PREPAID, 1200, 7))
    settled = swipe(scenario, book, written)[3]
    scenario.run(4000)  # past CARD_REPEAT_S
    scenario.panel.port = 0  # the resident walked away from the keypad too
    # The card holds the refund (no marker): nothing more is owed to it here.
    assert swipe(scenario, book, settled)[0] == prompts.CARD_BALANCE
    assert book.owed.get(UID) is None


def test_a_start_refused_once_the_card_is_written_gives_the_hold_back_at_once():
    scenario, book = setup()
    scenario.keys("3#")
    _, number, _, written, start = swipe(scenario, book, CardRecord(PREPAID, 1200, 7))
    scenario.meter_ok = False
    scenario.run(6000)  # the port's reading goes stale while the card is written
    refused = commit(scenario.pile, scenario.panel, book, UID, written, number, start, scenario.now)
    assert refused == prompts.PORT_FAULT and scenario.pile.port(3).session is None
    # Planned again in the same round: the refund, not "too fast".
    prompt, _, value, settled, _ = swipe(scenario, book, written)
    assert (prompt, value, settled.balance_fen) == (prompts.CARD_REFUNDED, "5.00Y", 1200)


def test_a_payment_at_the_keypad_during_the_card_write_does_not_take_the_card_s_order_number():
    scenario, book = setup()
    scenario.keys("3#")
    _, number, _, written, start = swipe(scenario, book, CardRecord(PREPAID, 1200, 7))
    scenario.pay(5, 1)  # coins on port 5 while the card is being written
    assert commit(scenario.pile, scenario.panel, book, UID, written, number, start, scenario.now) == prompts.STARTED
    assert scenario.pile.port(3).session.order_no == written.session_order
    assert scenario.pile.port(5).session.order_no != written.session_order
    assert book.owed.get(UID) is None


def test_a_card_marked_at_another_pile_or_no_longer_owed_here_goes_to_the_desk():
    scenario, book = setup()
    marked = CardRecord(PREPAID, 700, 8)
    marked.session_pile, marked.session_port, marked.held_fen, marked.session_order = OTHER_TAG, 3, 500, 1
    assert swipe(scenario, book, marked)[0] == prompts.CARD_LOCKED
    scenario.pile.next_order = 5
    marked.session_pile = TAG
    assert swipe(scenario, book, marked)[:4] == (prompts.CARD_LOCKED, 0, "", None)


def test_a_card_settled_at_the_desk_is_no_longer_owed_here():
    scenario, book = setup()
    book.owe(UID, 4, 3, 120)
    swipe(scenario, book, CardRecord(PREPAID, 900, 9))
    assert book.owed.get(UID) is None


def test_refusals_name_their_reason_for_the_alarm():
    scenario, book = setup()
    assert swipe(scenario, book, None, "forged")[:3] == (prompts.CARD_REFUSED, 0, "forged")
    assert swipe(scenario, book, None, "torn")[:3] == (prompts.CARD_REFUSED, 0, "torn")
    assert swipe(scenario, book, None, "key")[:3] == (prompts.CARD_UNKNOWN, 0, "key")
    assert swipe(scenario, book, None, "blank")[:3] == (prompts.CARD_UNKNOWN, 0, "")
    book.saw(UID, 9)
    assert swipe(scenario, book, CardRecord(PREPAID, 5000, 8))[:3] == (prompts.CARD_REFUSED, 0, "replay")
    book.block([UID], [])
    assert swipe(scenario, book, CardRecord(PREPAID, 5000, 9))[:3] == (prompts.CARD_BLOCKED, 0, "blocked")
    book.block([], [UID])
    assert swipe(scenario, book, CardRecord(PREPAID, 5000, 9))[0] == prompts.CARD_BALANCE


def test_a_busy_port_refuses_a_card_before_anything_is_written():
    scenario, book = setup()
    scenario.pay(3, 2)
    scenario.keys("3#")
    assert swipe(scenario, book, CardRecord(PREPAID, 5000, 9))[:4] == (prompts.PORT_BUSY, 3, "", None)


def test_a_monthly_card_starts_a_free_session_within_its_validity_and_daily_cap():
    scenario, book = setup()
    monthly = CardRecord(MONTHLY, 0, 3, TODAY + 10, TODAY - 1, 2)
    scenario.keys("4#")
    order_no = scenario.pile.next_order
    prompt, number, _, written, start = swipe(scenario, book, monthly)
    assert (prompt, number, start) == (prompts.FREE_STARTED, 4, ("pass", 0, order_no))
    assert (written.last_day, written.day_sessions, written.held_fen, written.session_port) == (TODAY, 1, 0, 4)
    assert commit(scenario.pile, scenario.panel, book, UID, written, 4, start, scenario.now) == prompts.FREE_STARTED
    assert scenario.pile.port(4).session.free
    capped = CardRecord(MONTHLY, 0, 3, TODAY + 10, TODAY, 2)
    assert swipe(scenario, book, capped, uid="0badcafe")[0] == prompts.CARD_DAY_LIMIT
    expired = CardRecord(MONTHLY, 0, 3, TODAY - 1, TODAY - 3, 0)
    assert swipe(scenario, book, expired, uid="0badcafe")[0] == prompts.CARD_EXPIRED


def test_a_free_card_shows_its_kind_and_starts_free():
    scenario, book = setup()
    free = CardRecord(FREE, 0, 1, TODAY + 365)
    assert swipe(scenario, book, free)[:3] == (prompts.CARD_BALANCE, 0, "free")
    scenario.keys("5#")
    assert swipe(scenario, book, free)[4] == ("pass", 0, scenario.pile.next_order - 1)


def test_in_free_mode_a_card_is_not_charged_but_a_marked_one_still_settles():
    scenario, book = setup(FREE_MODE=True)
    assert swipe(scenario, book, CardRecord(PREPAID, 5000, 9))[:4] == (prompts.CARD_FREE_MODE, 0, "", None)
    marked = CardRecord(PREPAID, 700, 8)
    marked.session_pile, marked.session_port, marked.held_fen = TAG, 3, 500
    marked.session_order = 4
    book.owe(UID, 4, 3, 120)
    assert swipe(scenario, book, marked)[:3] == (prompts.CARD_REFUNDED, 3, "1.20Y")


def test_a_card_session_never_takes_a_second_payment():
    scenario, book = setup()
    start_prepaid(scenario, book)
    assert scenario.pile.pay(scenario.now, 3, "card", 500, "ffffffff") == prompts.PORT_BUSY
    assert scenario.pile.pay(scenario.now, 3, "pass", 0, "ffffffff") == prompts.PORT_BUSY


def test_a_session_the_desk_settled_is_owed_here_no_more():
    scenario, book = setup()
    book.owe(UID, 4, 3, 120)
    book.owe("0badcafe", 5, 2, 80)
    book.saw("0badcafe", 7)
    # The desk writes the card on these answers: [owed here until now, highest counter seen here].
    assert book.settled([[UID, 3], ["0badcafe", 5], ["c0ffee00", 1]]) == [[0, -1], [1, 7], [0, -1]]
    assert (book.owed.get(UID), book.owed.get("0badcafe")) == ((4, 3, 120, 0), None)
    assert book.settled([["0badcafe", 5]]) == [[0, 7]]
    marked = CardRecord(PREPAID, 700, 8)
    marked.session_pile, marked.session_port, marked.held_fen, marked.session_order = TAG, 2, 500, 5
    scenario.pile.next_order = 9
    # The grey record written back after the desk's unlock: the desk, never the money again.
    assert swipe(scenario, book, marked, uid="0badcafe")[:4] == (prompts.CARD_LOCKED, 0, "", None)


def blocked(book, uid):
    return book.blocked.index(uid) >= 0


def flashed(book, cfg):
    """The book as the next boot reads it back from the flash."""
    again = CardBook(cfg, [None, 0])
    assert again.load(BytesIO(b"".join(bytes(part) for part in book.record())))
    return again


def test_the_book_survives_the_flash():
    scenario, book = setup()
    book.saw(UID, 9)
    book.owe(UID, 4, 3, 120)
    book.block(["0badcafe"], [])
    book.owe("c0ffee00", 2**32 - 1, 10, 100000)  # the largest hold a config allows
    again = flashed(book, scenario.cfg)
    assert again.owed.get("c0ffee00") == (2**32 - 1, 10, 100000, 0)
    assert (again.seen_count(UID), again.owed.get(UID), blocked(again, "0badcafe")) == (9, (4, 3, 120, 0), True)
    assert (again.seen_count("0badcafe"), again.owed.get("0badcafe"), blocked(again, UID)) == (
        -1,
        None,
        False,
    )


def test_a_file_that_is_not_a_card_book_is_refused_whole():
    scenario, book = setup()
    book.saw(UID, 9)
    image = b"".join(bytes(part) for part in book.record())
    for bad in (b"", image[:-1], image + b"\0", b"XX" + image[2:], image[:2] + b"\2" + image[3:], b"{}"):
        loaded = flashed(book, scenario.cfg)
        assert not loaded.load(BytesIO(bad))
        assert loaded.seen_count(UID) == -1  # nothing half-read is kept
    too_many = bytearray(image)
    too_many[4] = 2  # 512 blocked UIDs claimed, more than a book holds
    assert not CardBook(scenario.cfg, [None, 0]).load(BytesIO(bytes(too_many)))


def test_a_full_book_drops_its_oldest_record_and_never_the_one_just_set():
    scenario, book = setup()
    for n in range(500):
        book.block(["%08x" % (0x10000000 + n)], [])
    book.block(["ffffffff", "0badcafe0b"], [])  # a 5-byte UID can never be read here: passed over
    assert len(book.blocked) == 500
    assert not blocked(book, "10000000") and blocked(book, "10000001") and blocked(book, "ffffffff")
    book.block([], ["10000002"])
    assert len(book.blocked) == 499 and not blocked(book, "10000002") and blocked(book, "10000003")
    for n in range(201):
        book.saw("%08x" % (0x20000000 + n), n)
    book.saw("20000001", 0)  # a lower counter never lowers what was seen, and makes it the newest
    book.saw("2000c0de", 5)
    assert (len(book.seen), book.seen_count("20000000"), book.seen_count("20000001")) == (200, -1, 1)
    assert book.seen_count("20000002") == -1 and book.seen_count("2000c0de") == 5
    for n in range(65):
        book.owe("%08x" % (0x30000000 + n), 100 + n, 1 + n % 10, 480)
    assert (len(book.owed), book.owed.get("30000000"), book.owed.get("30000040")) == (64, None, (164, 5, 480, 0))
    again = flashed(book, scenario.cfg)
    assert (len(again.blocked), len(again.seen), len(again.owed)) == (499, 200, 64)
    assert blocked(again, "ffffffff") and again.seen_count("2000c0de") == 5 and again.owed.get("30000001")
