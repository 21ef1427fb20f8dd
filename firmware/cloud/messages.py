"""The pile's upstream messages as CBOR maps, keyed as docs/cloud-protocol.md says.

Pure: a record is its (boot, seq, wall time) under keys 0, 1, 2 and its own
fields under keys 3, 4, ... in the order the protocol document lists them,
so one builder makes every kind (one function instead of one per kind keeps
the pile's heap small) and the schema is testable without a network.
"""

from firmware import cbor

ORDER_FIELDS = (
    "no",
    "port",
    "method",
    "start",
    "end",
    "wh",
    "charged_s",
    "paid",
    "used",
    "returned",
    "tier",
    "payments",
    "reason",
)


def record(boot, seq, wall_s, fields):
    """A record whose ``fields`` take keys 3, 4, ... in order; a trailing None is left out (an ack
    without data). The status map is one too: its ``seq`` is its birth's."""
    message = {0: boot, 1: seq, 2: wall_s}
    key = 3
    for value in fields:
        if value is not None:
            message[key] = value
        key += 1
    return cbor.encode(message)


def order(boot, seq, wall_s, order_record):
    """An order from the outbox (the dict the core made at the stop)."""
    fields = [order_record[name] for name in ORDER_FIELDS]
    # Orders written before payment references existed have none.
    fields.append(order_record.get("ref", ""))
    return record(boot, seq, wall_s, fields)
