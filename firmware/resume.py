"""Sessions taken back after a power cut (pure; boot-only code, loaded by the boot and forgotten after).

A saved session queues under the pile's cap with its relay off; once admitted the relay closes
to check the charger is still there (RESUME_CHECK_S). Nothing is billed for the time the power
was off.
"""

from firmware.port import CREDIT
from firmware.session import Session


def session_from(snapshot):
    """A Session rebuilt from ``snapshot``, marked as resumed after a power cut.

    Raises KeyError or TypeError for a snapshot that is not one of ours.
    """
    session = Session(snapshot["method"], 0, snapshot["no"], snapshot["start"], str(snapshot.get("ref", "")))
    session.paid_mfen = int(snapshot["paid_mfen"])
    session.used_mfen = int(snapshot["used_mfen"])
    session.tier = int(snapshot["tier"])
    session.settled = bool(snapshot["settled"])
    session.energy_wh = int(snapshot["energy_wh"])
    base = snapshot["energy_base_wh"]
    session.energy_base_wh = None if base is None else int(base)
    session.charged_ms = int(snapshot["charged_ms"])
    session.payments = int(snapshot["payments"])
    session.resumed = True
    return session


def resume_sessions(pile, now_ms, next_order, snapshots):
    """Give ``pile`` back the sessions in ``snapshots`` ((port, snapshot) pairs), each to wait its turn
    to be checked, and its next order number; returns the port numbers whose snapshot could not be used."""
    pile.next_order = next_order
    refused = []
    for number, snapshot in snapshots:
        port = pile.port(number)
        try:
            session = session_from(snapshot)
        except (KeyError, TypeError, ValueError):
            refused.append(number)
            continue
        if port is None or port.busy():
            refused.append(number)
            continue
        port.begin(session, now_ms)
        pile.queue.append(number)
        if session.order_no >= pile.next_order:
            pile.next_order = session.order_no + 1
        if session.used_up():
            # Nothing left to resume: close it without ever closing the relay.
            pile.stop(now_ms, number, CREDIT)
    return refused
