"""The modem emulator's SMS side: AT+CMGS in PDU mode, and what the modem was asked to send.

``SmsInput`` is the module's input after ``AT+CMGS=<length>``: the ``> `` prompt, the PDU typed in
hex, Ctrl-Z to send or ESC to drop it. It checks the PDU as the module does (the TPDU length given
to AT+CMGS, a PDU that parses as an SMS-SUBMIT: ``+CMS ERROR: 304`` otherwise; no network:
``331``) and keeps every message sent, decoded (boards/sim/world/sms_pdu_decode.py), so tests read
back recipients and whole texts with ``texts()``. The serial line, echo and replies stay the
modem's (boards/sim/world/modem.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from boards.sim.world.sms_pdu_decode import Message, Submit, decode_submit, reassemble

CTRL_Z = 0x1A
ESC = 0x1B
# AT+CMGS=<length>: the TPDU's octets, at most an SMS-SUBMIT with a 20-digit address, an absolute
# validity period and 140 octets of user data.
TPDU_MIN_OCTETS = 7
TPDU_MAX_OCTETS = 164
# +CMS error codes (3GPP TS 27.005 3.2.5) and the words AT+CMEE=2 gives them.
CMS_OPERATION_NOT_ALLOWED = 302
CMS_INVALID_PDU_PARAMETER = 304
CMS_SIM_NOT_INSERTED = 310
CMS_NO_NETWORK_SERVICE = 331
CMS_UNKNOWN_ERROR = 500
CMS_TEXT = {
    CMS_OPERATION_NOT_ALLOWED: "operation not allowed",
    CMS_INVALID_PDU_PARAMETER: "invalid PDU mode parameter",
    CMS_SIM_NOT_INSERTED: "SIM not inserted",
    CMS_NO_NETWORK_SERVICE: "no network service",
    CMS_UNKNOWN_ERROR: "unknown error",
}


@dataclass(frozen=True)
class Sms:
    """An SMS the modem sent: the TPDU length from AT+CMGS, the PDU as typed (hex, uppercase), the
    message reference it answered with (+CMGS: <mr>), and the PDU decoded."""

    length: int
    pdu_hex: str
    reference: int
    submit: Submit


class SmsInput:
    """AT+CMGS in PDU mode for one modem; ``sent`` is every SMS it took, in order.

    ``refusal``: a +CMS error code the network answers every message with (``CMS_UNKNOWN_ERROR``
    is what a module says when the service centre refuses), None to send normally.
    """

    def __init__(self) -> None:
        self.sent: list[Sms] = []
        self.refusal: int | None = None
        self._length: int | None = None
        self._body = bytearray()
        self._reference = 0

    @property
    def typing(self) -> bool:
        """True between the prompt and Ctrl-Z or ESC: bytes on the line are the PDU."""
        return self._length is not None

    def reset(self) -> None:
        """A power-up: no input in progress, message references start again."""
        self._length = None
        self._body.clear()
        self._reference = 0

    def begin(self, length_text: str) -> int | None:
        """``AT+CMGS=<length_text>``: None when the prompt goes out, else the +CMS error code."""
        if not length_text.isdigit() or not TPDU_MIN_OCTETS <= int(length_text) <= TPDU_MAX_OCTETS:
            return CMS_INVALID_PDU_PARAMETER
        self._length = int(length_text)
        self._body.clear()
        return None

    def type(self, byte: int, registered: bool) -> tuple[list[str], int | None] | None:
        """One byte after the prompt. None while the PDU is being typed; at Ctrl-Z or ESC, the
        answer's information lines and its +CMS error code (None: OK)."""
        if byte == ESC:
            self._length = None
            return [], None
        if byte != CTRL_Z:
            self._body.append(byte)
            return None
        length, self._length = self._length, None
        pdu_hex = self._body.decode("latin-1").strip()
        try:
            pdu = bytes.fromhex(pdu_hex)
            submit = decode_submit(pdu_hex)
        except ValueError:  # not hex, or a PduError: not an SMS-SUBMIT
            return [], CMS_INVALID_PDU_PARAMETER
        # The service centre's field (its length octet first) is not part of the TPDU AT+CMGS counts.
        if len(pdu) - 1 - pdu[0] != length:
            return [], CMS_INVALID_PDU_PARAMETER
        if not registered:
            return [], CMS_NO_NETWORK_SERVICE
        if self.refusal is not None:
            return [], self.refusal
        self._reference = (self._reference + 1) % 256
        self.sent.append(Sms(length, pdu_hex.upper(), self._reference, submit))
        return ["+CMGS: %d" % self._reference], None

    def texts(self) -> list[Message]:
        """The messages sent, concatenated parts joined: each with its recipient, text and part count.

        PduError if a concatenated message is missing a part.
        """
        return reassemble(sms.submit for sms in self.sent)
