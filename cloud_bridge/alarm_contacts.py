"""Who is told about a pile's alarms: the site each pile stands at, and each site's contacts per class."""

from __future__ import annotations

from cloud_bridge.alarm_kinds import CRITICAL, NORMAL
from cloud_bridge.alarm_policy import Contact, canonical
from cloud_bridge.alarm_tables import next_id
from cloud_bridge.db import Database

CONTACT_COLUMNS = ("id", "site", "alarm_class", "level", "name", "number", "added_at")
SITE_COLUMNS = ("pile", "site", "label", "set_at")


def set_site(db: Database, pile: str, site: str, label: str, now: float) -> None:
    """Put ``pile`` at ``site``, named ``label`` in messages ("" for its id); replaces where it was."""
    if not site:
        raise ValueError("a site needs a name")
    with db.transaction():
        db.execute("DELETE FROM pile_sites WHERE pile = ?", (pile,))
        db.execute("INSERT INTO pile_sites VALUES (?, ?, ?, ?)", (pile, site, label, now))


def sites(db: Database) -> list[dict]:
    """Every pile with a site, by site and pile."""
    rows = db.query("SELECT %s FROM pile_sites ORDER BY site, pile" % ", ".join(SITE_COLUMNS))
    return [dict(zip(SITE_COLUMNS, row, strict=True)) for row in rows]


def add_contact(db: Database, site: str, alarm_class: str, level: int, name: str, number: str, now: float) -> int:
    """Add a contact of ``site`` for alarms of ``alarm_class`` at ``level`` (1 or 2); its id. The number is
    kept as ``alarm_policy.canonical`` makes it, so the pile's reports and the daily cap compare it.
    ``ValueError`` for a bad class or level; a number listed already for that class and level raises the
    database's conflict error."""
    if alarm_class not in (CRITICAL, NORMAL) or level not in (1, 2):
        raise ValueError("class must be critical or normal and level 1 or 2")
    number = canonical(number)
    if not number:
        raise ValueError("a contact needs a number")
    with db.transaction():
        contact_id = next_id(db, "contacts")
        db.execute(
            "INSERT INTO contacts VALUES (?, ?, ?, ?, ?, ?, ?)",
            (contact_id, site, alarm_class, level, name, number, now),
        )
    return contact_id


def remove_contact(db: Database, contact_id: int) -> None:
    """Remove a contact; ``LookupError`` if there is none with that id."""
    with db.transaction():
        if not db.query("SELECT id FROM contacts WHERE id = ?", (contact_id,)):
            raise LookupError("no contact %d" % contact_id)
        db.execute("DELETE FROM contacts WHERE id = ?", (contact_id,))


def contacts(db: Database, site: str | None = None) -> list[dict]:
    """The contacts, of one site or all, by site, class, level and id."""
    where, params = (" WHERE site = ?", (site,)) if site is not None else ("", ())
    rows = db.query(
        "SELECT %s FROM contacts%s ORDER BY site, alarm_class, level, id" % (", ".join(CONTACT_COLUMNS), where), params
    )
    return [dict(zip(CONTACT_COLUMNS, row, strict=True)) for row in rows]


def audience(db: Database, pile: str, alarm_class: str) -> tuple[str, str, list[Contact]]:
    """The site of ``pile``, its label, and the site's contacts for ``alarm_class``; a pile without a site
    has no contacts ("" for its site, its id for its label)."""
    placed = db.query("SELECT site, label FROM pile_sites WHERE pile = ?", (pile,))
    if not placed:
        return "", pile, []
    site, label = placed[0]
    rows = db.query(
        "SELECT name, number, level FROM contacts WHERE site = ? AND alarm_class = ? ORDER BY level, id",
        (site, alarm_class),
    )
    return site, label or pile, [Contact(name, number, level) for name, number, level in rows]
