"""A pile as the bridge sees it: CBOR maps built from docs/cloud-protocol.md, published over MQTT."""

from __future__ import annotations

import cbor2
import paho.mqtt.client as paho

T0 = 1_760_000_000


def order_body(order_no: int, port: int = 3, paid: int = 200, used: int = 150) -> dict:
    """The keys 3..15 of an order (the caller adds boot, seq, t)."""
    return {
        3: order_no,
        4: port,
        5: "coin",
        6: T0,
        7: T0 + 3600,
        8: 420,
        9: 3500,
        10: paid,
        11: used,
        12: paid - used,
        13: 0,
        14: 1,
        15: "full",
    }


class Pile:
    """Publishes records the way a pile does: numbered within a boot, QoS 1, in order, one connection."""

    def __init__(self, broker_port: int, pile: str = "p1", boot: int = 1, password: str | None = None) -> None:
        self.pile, self.boot, self.seq = pile, boot, 0
        self.birth_seq = 0
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="pile-%s" % pile)
        if password is not None:
            self.client.username_pw_set(pile, password)  # a pile's MQTT user name is its id
        self.client.connect("127.0.0.1", broker_port)
        self.client.loop_start()

    def close(self) -> None:
        """Disconnect."""
        self.client.disconnect()
        self.client.loop_stop()

    def publish(self, kind: str, payload: bytes, retain: bool = False) -> None:
        """Publish ``payload`` on ``pile/<pile>/up/<kind>`` and wait for the broker's PUBACK."""
        info = self.client.publish("pile/%s/up/%s" % (self.pile, kind), payload, qos=1, retain=retain)
        info.wait_for_publish(5)

    def record(self, kind: str, body: dict, seq: int | None = None) -> bytes:
        """Publish a record with the next seq (or ``seq``: a retransmission or a late one); its payload."""
        if seq is None:
            self.seq += 1
            seq = self.seq
        payload = cbor2.dumps({0: self.boot, 1: seq, 2: T0 + seq, **body})
        self.publish(kind, payload)
        return payload

    def skip(self, count: int) -> None:
        """Lose the next ``count`` records (as if they never got out)."""
        self.seq += count

    def reboot(self) -> None:
        """A new boot: the boot counter goes up, seq starts again."""
        self.boot += 1
        self.seq = 0

    def connect_records(self, outbox: int = 0, config_version: int = 7) -> None:
        """What a pile sends on every connection: its birth, then the retained online status."""
        self.record("birth", {3: "1.4.0", 4: config_version, 5: 10, 6: outbox})
        self.birth_seq = self.seq
        self.status(True)

    def status(self, online: bool) -> None:
        """The online status (or, as the broker sends the will, offline) of the current connection."""
        body = {0: self.boot, 1: self.birth_seq, 2: T0 + self.birth_seq, 3: online}
        self.publish("status", cbor2.dumps(body), retain=True)

    def order(self, order_no: int, **fields) -> bytes:
        """Publish an order record."""
        return self.record("order", order_body(order_no, **fields))

    def telemetry(self, readings: list[list[int]]) -> bytes:
        """Publish a telemetry record of ``[port, state, W, seconds left]`` entries."""
        return self.record("tele", {3: readings})

    def alarm(self, name: str = "meter_lost", port: int = 0, detail: str = "no reading for 5 s") -> bytes:
        """Publish an alarm record."""
        return self.record("alarm", {3: name, 4: port, 5: detail})
