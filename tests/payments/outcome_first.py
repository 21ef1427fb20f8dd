"""The real command channel, its ``send`` held back until the command's outcome has been handed over.

The ledger records a start's command id after ``send`` returns; an answer that comes sooner is kept until
then. Through a broker and a bridge the answer is never that fast in a test, so this makes it certain:
everything is the real channel's doing, only the return of ``send`` waits for its outcome.
"""

from __future__ import annotations

import threading

from cloud_bridge.channel import CommandChannel
from cloud_bridge.payment_channel import OutcomeCallback


class OutcomeFirst:
    """``channel`` as the ledger uses it (``payment_channel.CommandChannel``), outcome before the id."""

    def __init__(self, channel: CommandChannel) -> None:
        self._channel = channel
        self._reported: set[tuple[str, int]] = set()
        self._change = threading.Condition()

    def on_outcome(self, callback: OutcomeCallback) -> None:
        """``callback`` on the channel, followed by a note that the outcome has been through it."""
        self._channel.on_outcome(callback)
        self._channel.on_outcome(self._note)

    def send(self, pile: str, kind: str, args: dict, ttl_s: int) -> int:
        """The channel's ``send``, returning once the command's outcome has been handed over."""
        command_id = self._channel.send(pile, kind, args, ttl_s)
        with self._change:
            assert self._change.wait_for(lambda: (pile, command_id) in self._reported, 10), "no outcome"
        return command_id

    def status(self, pile: str, command_id: int):
        return self._channel.status(pile, command_id)

    def _note(self, pile: str, command_id: int, *_outcome) -> None:
        with self._change:
            self._reported.add((pile, command_id))
            self._change.notify_all()
