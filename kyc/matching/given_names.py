"""Given names and their nicknames: Ted is Theodore, Ben is Benjamin, Bill is William.

Customers give the name they go by, lists the name on the passport (or the reverse: ``Bibi`` in the press,
``Benjamin`` on the list), and no letter rule turns one into the other. The pairs are the ``nicknames``
package's hand-curated table (English given names and their diminutives), read once per process (about 2,700
rows). A nickname is related to its full name only, never to another nickname of it (Ted and Theo are two
nicknames of Theodore, not one name), and two-letter nicknames (Al, Ed, Ab) are left out: they are also
particles and initials (``al-Rawi``), which a nickname must not stand for.
"""

from __future__ import annotations

import csv

import nicknames

MIN_NICKNAME_LENGTH = 3


def _read_nicknames() -> dict[str, frozenset[str]]:
    related: dict[str, set[str]] = {}
    with nicknames.with_names_csv_path() as path, path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            name, nick = row["name1"].strip().lower(), row["name2"].strip().lower()
            if row["relationship"] != "has_nickname" or len(nick) < MIN_NICKNAME_LENGTH or name == nick:
                continue
            if name.isascii() and nick.isascii() and name.isalpha() and nick.isalpha():
                related.setdefault(name, set()).add(nick)
                related.setdefault(nick, set()).add(name)
    return {name: frozenset(others) for name, others in related.items()}


NICKNAMES: dict[str, frozenset[str]] = _read_nicknames()
"""Each full name to its nicknames and each nickname to its full names, in lower-case ASCII."""


def is_nickname_of(a: str, b: str) -> bool:
    """Whether one name part is a nickname of the other (either way round)."""
    related = NICKNAMES.get(a)
    return related is not None and b in related


_PATRONYMIC_ENDINGS = (("ez", ("o", "")), ("es", ("o",)))
"""Spanish -ez (Sánchez from Sancho, Martínez from Martín) and Portuguese -es (Fernandes from Fernando, Nunes from
Nuno), with the endings of the given names they are made from. (López from Lope is left out: a name cut short at
a field's end, JUARE for Juárez, reads the same.)"""


def is_patronymic_of(a: str, b: str) -> bool:
    """Whether one part is the Iberian patronymic surname made from the other, a given name (``sanchez`` /
    ``sancho``, ``rodriguez`` / ``rodrigo``): two names, however few letters they differ by."""
    if len(a) < len(b):
        a, b = b, a
    for ending, given_endings in _PATRONYMIC_ENDINGS:
        if not a.endswith(ending):
            continue
        stem = a[: -len(ending)]
        if stem.endswith(("gu", "qu")):  # Rodríguez, Domínguez: the u keeps the g hard before e
            stem = stem[:-1]
        for given in given_endings:
            if len(stem) >= 3 and b == stem + given:
                return True
    return False
