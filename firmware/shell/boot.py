"""Rebuilding the pile from its flash after a boot, whatever write a power cut interrupted.

The Controller writes records in an order (see its ``_settle``) that leaves
every interrupted step recognisable here:

- a payment whose session write did not finish: ``pending`` in the counters
  names it, no session or order shows it, so its coins go back to the panel;
- coins an order gave back: ``returning`` names the order before it is
  written; if the order made it to the outbox and the credit did not make it
  to the counters, the coins are credited now;
- a session whose order is already in the outbox: the stop finished but for
  removing the file (the Store drops it);
- order numbers: never below the outbox's or any saved session's, so a number
  is never used twice even when the counters write was the one cut.
"""

from firmware.frontpanel import FrontPanel
from firmware.pile import Pile


def _payment_landed(pending, snapshots, store):
    number, order_no, payments = pending[0], pending[1], pending[2]
    for port, snapshot in snapshots:
        if port == number and snapshot.get("no") == order_no and snapshot.get("payments", 0) >= payments:
            return True
    return store.order(order_no) is not None


def restore_from_flash(store, cfg, now_ms, wall_s):
    """(pile, panel, counters, snapshots, refused ports) rebuilt from ``store``; counters saved."""
    counters = store.counters()
    snapshots = store.sessions()
    pile = Pile(cfg, now_ms)
    pile.wall_s = wall_s
    panel = FrontPanel(pile, cfg)
    credit = counters.get("credit_fen", 0)
    pending = counters.get("pending")
    if pending and pending[4] == "coin" and not _payment_landed(pending, snapshots, store):
        credit += pending[3]
    returning = counters.get("returning")
    if returning and store.order(returning[0]) is not None:
        credit += returning[1]
    order_numbers = store.order_numbers()
    panel.credit_fen = credit
    next_order = counters.get("next_order", 1)
    if order_numbers and order_numbers[-1] >= next_order:
        next_order = order_numbers[-1] + 1
    for _, snapshot in snapshots:
        number = snapshot.get("no")
        if isinstance(number, int) and number >= next_order:
            next_order = number + 1
    refused = pile.restore(now_ms, next_order, snapshots)
    for port in refused:
        store.set_aside_session(port)
    counters["next_order"] = pile.next_order
    counters["credit_fen"] = panel.credit_fen
    counters["pending"] = None
    counters["returning"] = None
    counters["wall"] = counters.get("wall", wall_s)
    counters.setdefault("boots", [])
    store.save_counters(counters)
    return pile, panel, counters, snapshots, refused
