"""The pile's identity and broker account (``identity.json``), read once at boot.

Boot-only: read through firmware/shell/settings.py before the rest of the
firmware is imported, while the heap is still in one piece (the TLS context
needs a few KB in one block), then forgotten.
"""

from firmware.compat import const
from firmware.shell.json_file import read_json
from firmware.shell.log import alarm, note

_DEFAULT_APN = const("cmiot")
_PILE_ID_MAX = const(32)
_ID_CHARS = const("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
# The broker account: all of it or none (a pile provisioned before its cloud account: cards, no link).
_BROKER_FIELDS = const(("password", "host", "port"))


def identity_errors(identity):
    """Problems with a pile identity record (empty when it can be used)."""
    if not isinstance(identity, dict):
        return ["identity must be a JSON object"]
    errors = []
    pile = identity.get("pile")
    if not isinstance(pile, str) or not 0 < len(pile) <= _PILE_ID_MAX or any(c not in _ID_CHARS for c in pile):
        errors.append("pile must be 1 to 32 of A-Z a-z 0-9 _ -")
    if any(name in identity for name in _BROKER_FIELDS):
        errors.extend(_broker_errors(identity))
    if "apn" in identity and (not isinstance(identity["apn"], str) or not identity["apn"]):
        errors.append("apn must be the SIM's access point name")
    if "key" in identity and not _is_key(identity["key"]):
        errors.append("key must be the pile's command key: 64 hex digits")
    if "site_key" in identity and not _is_key(identity["site_key"]):
        errors.append("site_key must be the site's card key: 64 hex digits")
    if "ca" in identity and not isinstance(identity["ca"], str):
        errors.append("ca must name the broker's CA certificate file (DER)")
    return errors


def _broker_errors(identity):
    errors = []
    password = identity.get("password")
    if not isinstance(password, str) or not password:
        errors.append("password must be a non-empty string")
    if not _is_ipv4(identity.get("host")):
        # MicroPython resolves names with a blocking getaddrinfo, which would stall every task.
        errors.append("host must be the broker's IPv4 address (a name lookup would block the pile)")
    port = identity.get("port")
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        errors.append("port must be an integer 1..65535")
    return errors


def _is_key(text):
    return isinstance(text, str) and len(text) == 64 and all(c in "0123456789abcdefABCDEF" for c in text)


def _is_ipv4(text):
    if not isinstance(text, str):
        return False
    parts = text.split(".")
    return len(parts) == 4 and all(part.isdigit() and len(part) <= 3 and int(part) < 256 for part in parts)


def load_identity(path):
    """The pile's identity and broker account from ``path``; None (logged) if absent or invalid. An
    identity without a broker account names the pile (and may carry the site's card key) with the cloud
    link off."""
    identity = read_json(path, "identity", "cloud link off")
    if identity is None:
        return None
    errors = identity_errors(identity)
    for message in errors:
        note("identity rejected: " + message)
    if errors:
        return None
    # The SIM's access point name: the carrier's usual IoT one unless the identity names another.
    identity.setdefault("apn", _DEFAULT_APN)
    return identity


def tls_context(ca_path):
    """A client context that trusts only the broker's CA (pinned), read from ``ca_path`` (DER).

    OSError if the file cannot be read, ValueError if it is not a certificate.
    """
    import tls

    with open(ca_path, "rb") as handle:
        ca = handle.read()
    context = tls.SSLContext(tls.PROTOCOL_TLS_CLIENT)
    context.verify_mode = tls.CERT_REQUIRED  # type: ignore[attr-defined]  # the stubs lack it
    context.load_verify_locations(ca)
    return context


def load(path):
    """(identity, TLS context or None) from ``path``; (None, None) turns the cloud link off."""
    identity = load_identity(path)
    if identity is None or "ca" not in identity:
        return identity, None
    try:
        return identity, tls_context(identity["ca"])
    except (OSError, ValueError, MemoryError) as error:
        alarm("cloud_fault", detail="broker CA: %r" % error)
        return None, None
