"""The control path: core decisions turned into relay writes, log lines and prompts.

Every call into the core goes through here, so its relay decisions are
applied at once, and any exception in the control path ends in every relay
off and an alarm (safety invariant 3), latched until the board restarts,
instead of a relay left on by a core in an unknown state.
"""

from firmware import prompts
from firmware.compat import const
from firmware.pile import EVENT_ALARM, EVENT_ORDER, EVENT_SAY
from firmware.port import FUSE, SHORT, SMOKE, WELDED
from firmware.shell.log import alarm, log
from firmware.shell.settings import forget
from firmware.ticks import since_ms

_WHERE_AND_ERROR = const("%s: %r")

_CARD_METHODS = const(("card", "pass"))
# Loaded while the card book is open only: a swipe, a card session's end, a cards command.
_BOOK_MODULES = const(("firmware.card.book",))


class Controller:
    """Owns the Pile and FrontPanel, the relays they decide and the records they keep."""

    def __init__(self, pile, panel, relays, voice_queue, store, counters, cfg):
        self.pile = pile
        self.panel = panel
        self.relays = relays
        self.voice_queue = voice_queue
        self.store = store
        self.counters = counters
        self.outbox_max = cfg["OUTBOX_MAX"]
        self.wall_save_s = cfg["CHECKPOINT_S"]
        self.safe_window_ms = cfg["SAFE_WINDOW_S"] * 1000
        self.started_ms = pile.boot_ms
        self.cards_cfg = None  # the card book's settings, on a pile with a card reader
        self.card_last = [None, 0]  # the last card written and when (firmware/card/book.py)
        self.book = None  # the card book while it is open (open_cards)
        self.cards_open = 0  # how many users have it open
        self.failed = False
        self.store_failed = False
        # The alarm texts for the modem (firmware/shell/modem_task.py AlarmTexts), on a board with one.
        self.texts = None
        pile.outbox_full = store.outbox_count() >= self.outbox_max

    # Each entry point has its own try: passing the core's method and arguments to a
    # shared helper would allocate a bound method and a tuple on every meter reading.

    def readings(self, now_ms, readings):
        """A meter reading arrived (a whole scan, or one port of a per-port meter bus)."""
        try:
            self.pile.on_readings(now_ms, readings)
        except Exception as error:  # noqa: BLE001 - any doubt ends in relays off
            self._fail("readings", error)
        self._settle(now_ms)

    def tick(self, now_ms, wall_s, temp_dc=None):
        """Time passed; ``temp_dc``: the cabinet's temperature (deci-degrees C), None without a thermometer."""
        try:
            self.pile.tick(now_ms, wall_s, temp_dc)
            self.panel.tick(now_ms)
        except Exception as error:  # noqa: BLE001
            self._fail("tick", error)
        self._settle(now_ms)
        # The last known time survives a cut that also stops a board's clock.
        if wall_s - self.counters["wall"] >= self.wall_save_s:
            self.save_counters()
        # A run that lasted the safe-mode window ends any boot loop: older boots no longer count.
        if self.counters.get("boots") and since_ms(now_ms, self.started_ms) >= self.safe_window_ms:
            self.counters["boots"] = []
            self.save_counters()

    def key(self, now_ms, key):
        """A key was pressed on the front panel."""
        log("key", key=key)
        try:
            self.panel.on_key(now_ms, key)
        except Exception as error:  # noqa: BLE001
            self._fail("key", error)
        self._settle(now_ms)

    def coins(self, now_ms, count):
        """``count`` coins were accepted."""
        log("coins", count=count)
        try:
            self.panel.on_coins(now_ms, count)
        except Exception as error:  # noqa: BLE001
            self._fail("coins", error)
        self._settle(now_ms)

    def apply(self, now_ms, where, change, *args):
        """A change from outside the front panel (a cloud command): ``change(*args)`` on the core, then
        relays and records as after any input; its answer, or None if the control path failed."""
        answer = None
        try:
            answer = change(*args)
        except Exception as error:  # noqa: BLE001
            self._fail(where, error)
        self._settle(now_ms)
        return answer

    def smoke_edge(self, _pin):
        """The smoke detector's input rose (its pin interrupt): every relay opens now, and stays open
        whatever the core decides until the input task has latched the smoke in it (``relays.held_off``)."""
        self.relays.hold_off()

    def _settle(self, now_ms):
        """Relays first (an off never waits for the flash), then the records, in an order a cut
        at any write can be recovered from (see firmware/shell/boot.py):

        1. orders, each before its session file goes; for an order giving coins back, the
           counters name it (``returning``) first, then the order, then the credited counters;
        2. a new payment: the counters first (credit taken, ``pending`` naming the payment),
           then the session, then the counters without ``pending``;
        3. other session changes, and counters that changed.
        """
        if self.failed:
            self.relays.all_off()
        else:
            self.relays.apply(self.pile.relay)
        pile = self.pile
        counters = self.counters
        unsaved_ports = None
        latches_changed = False
        events = pile.events
        while events:
            kind, detail = events.pop(0)
            if kind == EVENT_SAY:
                self.voice_queue.append(detail)
                log("say", prompt=prompts.name(detail))
            elif kind == EVENT_ORDER:
                detail["boot"] = counters.get("boot", 0)
                log("order", **detail)
                book = self.open_cards() if detail["method"] in _CARD_METHODS else None
                if book is not None:
                    # Owed before the order is kept: a cut between the two leaves the session file, and the
                    # session's end (after the next boot) owes the card the same again, never twice.
                    try:
                        book.owe(detail["ref"], detail["no"], detail["port"], detail["returned"])
                        self.save_cards()
                    except MemoryError as error:
                        # Not owed here, then: the desk settles it from the order. The control path goes on.
                        alarm("card_fault", detail="refund not kept: %r" % (error,))
                    finally:
                        self.close_cards()
                coins_back = detail["returned"] if detail["method"] == "coin" else 0
                if coins_back:
                    counters["returning"] = [detail["no"], coins_back]
                    self.save_counters()
                if not self._keep(self.store.put_order, detail):
                    unsaved_ports = unsaved_ports or []
                    unsaved_ports.append(detail["port"])
                elif coins_back:
                    self.panel.credit_back(now_ms, coins_back)
                    counters["returning"] = None
                    self.save_counters()
            elif kind == EVENT_ALARM:
                name, number, state, text = detail
                alarm(name, number, text, state)
                if state == 1 and self.texts is not None:
                    self.texts.queue(name, number, text, now_ms, pile.wall_s)
                # Smoke and a port's fault stay latched through a restart until a manager clears them.
                latches_changed = latches_changed or name in (SMOKE, SHORT, FUSE, WELDED)
        payment = pile.payment
        if payment is not None:
            pile.payment = None
            counters["pending"] = list(payment)
            self.save_counters()
        for port in pile.ports:
            if port.dirty:
                port.dirty = False
                if port.session is not None:
                    self._keep(self.store.save_session, port.number, port.session.snapshot())
                elif unsaved_ports is None or port.number not in unsaved_ports:
                    # With its order unsaved the session file stays: the next boot closes it again.
                    self._keep(self.store.drop_session, port.number)
        if payment is not None or latches_changed:
            counters["pending"] = None
            self.save_counters()
        elif counters["next_order"] != pile.next_order or counters["credit_fen"] != self.panel.credit_fen:
            self.save_counters()
        if not self.store_failed:
            pile.outbox_full = self.store.outbox_count() >= self.outbox_max

    def prepare_restart(self):
        """Before a restart the pile chose (reboot or config command): every running session and the
        counters saved now, and the boot marked as planned so it does not count towards safe mode."""
        for port in self.pile.ports:
            if port.session is not None:
                self._keep(self.store.save_session, port.number, port.session.snapshot())
        self.counters["planned"] = True
        self.save_counters()

    def save_counters(self):
        """Write the counters with the core's current numbers and the wall time."""
        counters = self.counters
        counters["next_order"] = self.pile.next_order
        counters["credit_fen"] = self.panel.credit_fen
        counters["wall"] = self.pile.wall_s
        counters["latches"] = self.pile.latches()
        self._keep(self.store.save_counters, counters)

    def open_cards(self):
        """The card book, its code loaded and its tables read from flash, for a change (``close_cards``
        after); None without a card reader, or if the book cannot be read: nothing may then be written over
        it. Opened again while open (a session ending in a card's round), it is the same book, not read
        again."""
        if self.cards_cfg is None:
            return None
        if self.cards_open:
            self.cards_open += 1
            return self.book
        try:
            from firmware.card.book import CardBook

            book = CardBook(self.cards_cfg, self.card_last)
            if not self.store.cards(book.load):
                alarm("card_fault", detail="card book set aside")
        except (OSError, MemoryError) as error:
            forget(_BOOK_MODULES)
            alarm("card_fault", detail="card book not read: %r" % (error,))
            return None
        self.book = book
        self.cards_open = 1
        return book

    def close_cards(self):
        """Done with the book ``open_cards`` gave: the book and its code leave the heap when the first
        opener is done with it."""
        self.cards_open -= 1
        if not self.cards_open:
            self.book = None
            forget(_BOOK_MODULES)

    def save_cards(self):
        """Write the open card book (``open_cards``); True if it is on flash."""
        if self.book is not None:
            try:
                return self._keep(self.store.save_cards, self.book.record())
            except MemoryError as error:
                # The change is lost (the flash keeps the book before it); the control path goes on.
                alarm("card_fault", detail="card book not saved: %r" % (error,))
        return False

    def _keep(self, write, *args):
        """A flash write; True if it went through. If the flash fails, no new money is taken
        (running sessions go on)."""
        try:
            write(*args)
            return True
        except OSError as error:
            if not self.store_failed:
                alarm("flash_fault", detail=repr(error))
            self.store_failed = True
            self.pile.outbox_full = True
            return False

    def _fail(self, where, error):
        """Latch the fault: relays stay off and payments are refused until the board restarts."""
        self.relays.all_off()
        if not self.failed:
            self.failed = True
            alarm("control_fault", detail=_WHERE_AND_ERROR % (where, error))
        self.pile.halt()
