"""SMS from the pile through its 4G modem: PDU mode, one AT+CMGS per part, the data call kept up.

The PDUs come from firmware/sms_pdu.py. While the call carries PPP the modem is taken back to
commands (``Modem.suspend``, the "+++" escape) and returned to the call afterwards (``Modem.resume``,
ATO), whatever became of the text. On a board whose PPP reads the UART (network.PPP), call it through
``PppLink.at_work``, which sets PPP aside first; the engine is then in command mode and this module
leaves the call alone.
"""

from drivers.modem_at import AtError
from firmware.compat import const
from firmware.sms_pdu import submit_pdus

_PDU_MODE = const("AT+CMGF=0")
_SEND = const("AT+CMGS=%d")
_SENT = const("+CMGS:")
_MODE_TIMEOUT_MS = const(1000)
# The module's bound for AT+CMGS (Quectel: 120 s): the service centre's answer comes over the network.
_SEND_TIMEOUT_MS = const(120000)


async def send_text(modem, number, text, ref):
    """Send ``text`` to ``number`` through ``modem`` (a drivers.modem.Modem); how many parts went out.

    ``ref`` tells this text's parts from another's when it is long (firmware/sms_pdu.py). ValueError
    for a number or text the encoder refuses, before the modem is touched; AtError (AtTimeout) when
    the modem refuses a part or does not answer, kept in ``modem.last_error`` (parts before it have
    gone). If the call was up it is resumed either way; a call that has gone meanwhile does not undo
    a text that went out: the count is returned, ``modem.at.data_mode`` stays false and
    ``modem.last_error`` says NO CARRIER, as after ``PppLink.at_work``.
    """
    parts = submit_pdus(number, text, ref)
    at = modem.at
    in_call = at.data_mode
    if in_call:
        await modem.suspend()
    try:
        await at.command(_PDU_MODE, _MODE_TIMEOUT_MS)
        for length, pdu in parts:
            await at.send_body(_SEND % length, pdu, _SEND_TIMEOUT_MS, _SENT)
    except AtError as error:
        modem.last_error = str(error)
        raise
    finally:
        if in_call:
            try:
                await modem.resume()
            except AtError:
                pass  # the call has gone: at.data_mode and modem.last_error say so
    return len(parts)
