"""What the pile sends up next, and under which sequence number: the cloud link's pure core.

One record is in flight at a time. It keeps its ``seq`` and its bytes until
its PUBACK, through any number of reconnects, so the bridge can recognise a
retransmission. Each connection starts with a birth whose ``seq`` is taken
before connecting, because the connection's Last Will names it; a birth that
never got its PUBACK keeps that ``seq`` for the next try, so no number is
skipped by a failed connect.

Telemetry goes when a port changes state (no more often than
``telemetry_min_ms``), every ``telemetry_ms`` while a port is charging, and
in full after every connect; it is not kept while offline.
"""

from firmware.cloud import messages
from firmware.port import CHARGING
from firmware.ticks import NEVER, since_ms

BIRTH = "birth"
ORDER = "order"
TELEMETRY = "tele"
ALARM = "alarm"
ACK = "ack"
METER = "meter"


class Uplink:
    """Sequence numbers, the record in flight and the telemetry schedule of one boot."""

    def __init__(self, boot, port_count, telemetry_ms, telemetry_min_ms):
        self.boot = boot
        self.seq = 0
        self.in_flight = None  # (kind, payload, order no or 0)
        self.birth_seq = 0
        self.birth_acked = False
        self.telemetry_ms = telemetry_ms
        self.telemetry_min_ms = telemetry_min_ms
        self._sent_states = [-1] * (port_count + 1)
        self._telemetry_at_ms = NEVER

    def _take_seq(self):
        self.seq += 1
        return self.seq

    def connecting(self):
        """A connection is about to open: the ``seq`` its birth and its Last Will carry."""
        if self.birth_acked or not self.birth_seq:
            self.birth_seq = self._take_seq()
            self.birth_acked = False
        # The cloud's view of the ports is refreshed in full on every connection.
        for number in range(len(self._sent_states)):
            self._sent_states[number] = -1
        return self.birth_seq

    def status(self, wall_s, online):
        """The online/offline map of the current connection (not a record: it shares the birth's seq)."""
        return messages.record(self.boot, self.birth_seq, wall_s, (online,))

    def take_birth(self, wall_s, firmware, config_version, ports, outbox):
        """Put this connection's birth in flight."""
        payload = messages.record(self.boot, self.birth_seq, wall_s, (firmware, config_version, ports, outbox))
        self.in_flight = (BIRTH, payload, 0)

    def take_order(self, wall_s, order):
        """Put an outbox order in flight; KeyError or TypeError if the record is not an order.

        Here and below the ``seq`` is taken only once the message is encoded, so a record that
        fails (not an order, no memory left) skips no number.
        """
        self.in_flight = (ORDER, messages.order(self.boot, self.seq + 1, wall_s, order), order["no"])
        self.seq += 1

    def take(self, kind, wall_s, fields):
        """Put a record of ``kind`` (alarm, ack, meter) with ``fields`` (keys 3, 4, ...) in flight."""
        self.in_flight = (kind, messages.record(self.boot, self.seq + 1, wall_s, fields), 0)
        self.seq += 1

    def take_telemetry(self, now_ms, wall_s, pile):
        """Put telemetry in flight if some is due; True if so."""
        last = self._telemetry_at_ms
        quiet_ms = NEVER if last == NEVER else since_ms(now_ms, last)
        periodic = quiet_ms == NEVER or (quiet_ms >= self.telemetry_ms and _any_charging(pile))
        if not periodic and quiet_ms < self.telemetry_min_ms:
            return False
        sent = self._sent_states
        entries = []
        for port in pile.ports:
            if periodic or port.state != sent[port.number]:
                entries.append([port.number, port.state, port.power_w, pile.seconds_left(port)])
        if not entries:
            return False
        self.in_flight = (TELEMETRY, messages.record(self.boot, self.seq + 1, wall_s, (entries,)), 0)
        self.seq += 1
        for entry in entries:
            sent[entry[0]] = entry[1]
        self._telemetry_at_ms = now_ms
        return True

    def acked(self):
        """The broker acknowledged the record in flight; returns its (kind, order no)."""
        kind, _, number = self.in_flight  # type: ignore[misc]  # only called with a record in flight
        self.in_flight = None
        if kind == BIRTH:
            self.birth_acked = True
        return kind, number


def _any_charging(pile):
    for port in pile.ports:
        if port.state == CHARGING:
            return True
    return False
