"""One resident's paid session on a port: its money, energy and tier."""

from firmware.compat import const
from firmware.tariff import MFEN_PER_FEN, NO_TIER

_REFUNDABLE_METHODS = const(("card", "qr"))
# Sessions nobody pays for: the free mode's, and those of monthly, free and staff cards ("pass").
FREE_METHODS = ("free", "pass")


class Session:
    """Credit paid and used, energy drawn, and the power tier of one session.

    Payments add up (a resident may add coins to a running session); the
    energy is counted from the meter's register so a meter's own reset is
    survived by re-basing.
    """

    def __init__(self, method, fen, order_no, wall_s, ref=""):
        self.order_no = order_no
        self.ref = ref  # a QR start's payment reference, or the UID (hex) of the card that paid; else ""
        self.method = method
        self.free = method in FREE_METHODS
        self.paid_mfen = fen * MFEN_PER_FEN
        self.used_mfen = 0
        self.cost_remainder = 0
        self.tier = NO_TIER
        self.settled = False
        self.settle_sum_w = 0
        self.settle_readings = 0
        self.energy_wh = 0
        self.energy_base_wh = None
        self.charged_ms = 0
        self.start_wall_s = wall_s
        self.payments = 1
        self.resumed = False

    def snapshot(self):
        """What survives a power cut: everything the order and the remaining credit depend on."""
        return {
            "no": self.order_no,
            "method": self.method,
            "paid_mfen": self.paid_mfen,
            "used_mfen": self.used_mfen,
            "tier": self.tier,
            "settled": self.settled,
            "energy_wh": self.energy_wh,
            "energy_base_wh": self.energy_base_wh,
            "charged_ms": self.charged_ms,
            "start": self.start_wall_s,
            "payments": self.payments,
            "ref": self.ref,
        }

    def add(self, fen):
        """A further payment for the same session."""
        self.paid_mfen += fen * MFEN_PER_FEN
        self.payments += 1

    def left_mfen(self):
        """Unused credit, never negative."""
        left = self.paid_mfen - self.used_mfen
        return left if left > 0 else 0

    def used_up(self):
        """True once a paid session has used all it paid for; a free one never is."""
        return not self.free and self.used_mfen >= self.paid_mfen

    def count_energy(self, meter_wh):
        """Follow the port's energy register; a register that went backwards is re-based."""
        if self.energy_base_wh is None or meter_wh < self.energy_base_wh + self.energy_wh:
            self.energy_base_wh = meter_wh - self.energy_wh
        self.energy_wh = meter_wh - self.energy_base_wh

    def settle(self):
        """(paid, used, returned) in whole fen for the order.

        Used is rounded down: the resident is never charged more than was
        provably used. Cash cannot be handed back, so only card and QR
        payments get the unused part returned; for coins it stays with the
        pile (a full charge clears the remaining time, as field piles do).
        """
        paid = self.paid_mfen // MFEN_PER_FEN
        used = self.used_mfen // MFEN_PER_FEN
        if used > paid:
            used = paid
        returned = paid - used if self.method in _REFUNDABLE_METHODS else 0
        return paid, used, returned
