"""The card book on flash (firmware/shell/controller.py, store.py): its tables are in the heap only while
a swipe, a session's end or a command has them open, and a file that is not a book is set aside whole."""

import os

from drivers.relays import RelayBank
from firmware.shell.controller import Controller
from firmware.shell.store import Store
from tests.core.scenario import Scenario, scratch_dir

UID = "a1b2c3d4"


class LevelPin:
    def value(self, level):
        pass


def controller_with_book():
    s = Scenario()
    root = scratch_dir()
    counters = {"next_order": s.pile.next_order, "credit_fen": 0, "wall": s.wall}
    controller = Controller(s.pile, s.panel, RelayBank([LevelPin()]), [], Store(root, print), counters, s.cfg)
    controller.cards_cfg = s.cfg
    return controller, root


def test_the_tables_are_read_for_a_change_and_leave_the_heap_after_it():
    controller, _ = controller_with_book()
    book = controller.open_cards()
    book.owe(UID, 7, 3, 450)
    book.saw(UID, 4)
    assert controller.save_cards()
    controller.close_cards()
    assert controller.book is None
    book = controller.open_cards()
    assert (book.owed.get(UID), book.seen_count(UID)) == ((7, 3, 450, 0), 4)
    # A session ending inside a card's round opens the same book again: not read over the round's changes,
    # and still open for the round once the session's end is done with it.
    book.block([UID], [])
    assert controller.open_cards() is book
    controller.close_cards()
    assert book.blocked.index(UID) == 0 and controller.book is book
    controller.close_cards()
    assert controller.book is None


def test_a_file_that_is_not_a_card_book_is_kept_aside_and_never_written_over():
    controller, root = controller_with_book()
    with open(root + "/cards.bin", "wb") as handle:
        handle.write(b"not a card book")
    book = controller.open_cards()
    assert book is not None and len(book.owed) == 0
    book.owe(UID, 1, 2, 300)
    assert controller.save_cards()
    controller.close_cards()
    with open(root + "/cards.bin.bad", "rb") as handle:
        assert handle.read() == b"not a card book"
    assert controller.open_cards().owed.get(UID) == (1, 2, 300, 0)
    controller.close_cards()
    assert sorted(name for name in os.listdir(root) if name.startswith("cards")) == ["cards.bin", "cards.bin.bad"]
