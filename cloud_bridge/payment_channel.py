"""What the payment flow needs of the bridge's command channel (``channel.CommandChannel``).

The channel signs a command for a pile, publishes it, and later reports what became of it (the pile's
ack, or its expiry). The payment flow codes against this shape only, so wiring the channel is one
argument.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

# Command states (``commands``): pending until the pile answers or the command expires unanswered.
PENDING, DONE, REFUSED, EXPIRED = "pending", "done", "refused", "expired"

# callback(pile, command_id, kind, state, result code or None, detail or None, data decoded)
OutcomeCallback = Callable[[str, int, str, str, int | None, str | None, Any], None]


class CommandStatus(Protocol):
    """A command as it stands (``commands.Command``): ``data`` is the pile's answer data, decoded."""

    state: str
    result: int | None
    detail: str | None
    data: Any


class CommandChannel(Protocol):
    """The bridge's signed command channel, as the payment flow uses it."""

    def send(self, pile: str, kind: str, args: dict[str, Any], ttl_s: int) -> int:
        """Commit, sign and publish a command that expires ``ttl_s`` from now; its id."""
        ...

    def status(self, pile: str, command_id: int) -> CommandStatus | None:
        """What became of a command so far; None for an id it never made."""
        ...

    def on_outcome(self, callback: OutcomeCallback) -> None:
        """Have ``callback`` called once a command leaves ``pending`` (done, refused, expired)."""
        ...
