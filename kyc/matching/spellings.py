"""Spellings of one name part across romanisations that letter rules cannot fold: Arabic and Korean names.

The Cyrillic variants fold by rules (``normalize.skeleton``), because each system writes one Cyrillic letter its
own way. Arabic and Korean names vary otherwise: short vowels are not written in Arabic and each country spells
them as its language hears them (Yusuf, Yousef, Youssef; Husayn, Hussein, Hossein; Qasim, Kassem), and Korean
surnames have a North Korean, a Revised and a Western spelling (Pak, Bak, Park; Ri, Yi, Lee; Choe, Choi).

rigour's person-name data (Wikidata given and family names, each with the spellings it is known under) holds most
of these groups — husayn/hussein/hossein share one symbol, so do pak/park/bak, choe/choi, ri/lee, usama/osama —
but loading it costs about 8 s and 430 MB per process, which every ``kyc screen`` would pay, and it lacks some
pairs the lists need (Yusuf/Youssef, Qasim/Kassem). So the groups are kept here, small and reviewed, and
``tests/kyc/matching/test_spellings.py`` checks them against rigour's data where it has the pair.

Two spellings of one group compare as romanisation variants (0.95) and share an index key (the group's first
spelling); the group is not a skeleton, so typos are still measured on the spelling written (Yu, a Korean given
name, is not a typo of Ryu).
"""

from __future__ import annotations

ARABIC: tuple[tuple[str, ...], ...] = (
    ("yusuf", "yousef", "youssef", "yusef", "yousif", "yusif", "yousuf", "youcef", "youssouf", "yussuf"),
    ("husayn", "hussein", "husein", "hossein", "hussain", "husain", "hosein", "houssein", "husseyn", "hoseyn"),
    ("hasan", "hassan", "hassen", "hasen"),
    ("qasim", "qassim", "qassem", "qasem", "kassem", "kasim", "kassim", "kacem", "gasim"),
    ("muhammad", "mohammed", "mohammad", "mohamed", "muhammed", "mohamad", "muhamad", "mohammed", "mouhamed"),
    ("ahmad", "ahmed"),
    ("mahmud", "mahmoud", "mahmood"),
    ("umar", "omar"),
    ("usama", "osama", "oussama", "ousama"),
    ("said", "saeed", "saied", "saiid"),
    ("khalid", "khaled"),
    ("mustafa", "mostafa", "moustafa", "mustapha", "mostapha", "moustapha"),
    ("ibrahim", "ebrahim", "ibraheem", "brahim"),
    ("ismail", "esmail", "ismael", "ismayil", "esmaeel", "ismaeel"),
    ("yahya", "yahia", "yehia", "yahiya"),
    ("jamal", "gamal"),
    ("abdullah", "abdallah", "abdulla", "abdalla", "abdellah"),
    ("uthman", "othman", "osman", "usman", "otman"),
    ("husni", "hosni"),
    ("hamid", "hameed"),
    ("rashid", "rasheed", "rachid"),
    ("majid", "majeed", "madjid"),
    ("karim", "kareem"),
    ("rahim", "raheem"),
    ("bashir", "basheer", "bachir"),
    ("jamil", "jameel", "djamil"),
    ("aziz", "azeez"),
    ("habib", "habeeb"),
    ("sharif", "shareef", "cherif", "sherif"),
    ("walid", "waleed", "oualid"),
    ("farid", "fareed"),
    ("zakariya", "zakaria", "zakariyya", "zakariyah"),
    ("suleiman", "sulaiman", "sulayman", "soleiman", "soliman", "slimane"),
    ("nasir", "nasser", "naser", "nacer"),
    ("abu", "abou"),
    ("nur", "noor", "nour"),
)
"""Given names and name elements written several ways from one Arabic (or Persian) spelling."""

KOREAN: tuple[tuple[str, ...], ...] = (
    ("pak", "park", "bak", "bahk"),
    ("choe", "choi", "choy", "chwe"),
    ("ri", "lee", "yi", "rhee"),
    ("kim", "gim"),
    ("jong", "jeong", "chong", "chung", "jung"),
    ("kang", "gang"),
    ("ko", "koh", "go"),
    ("yun", "yoon"),
    ("jang", "chang"),
    ("jo", "cho"),
    ("ryu", "yu", "yoo", "ryoo"),
    ("rim", "lim", "im"),
    ("ryom", "yeom", "yom"),
    ("kwon", "gwon"),
    ("so", "seo", "suh"),
    ("kye", "gye"),
    ("ju", "joo"),
)
"""Korean surnames: the DPRK's McCune-Reischauer forms (lists name most Koreans from there), the Revised
Romanisation and the usual Western spelling."""

_GROUPS = (*ARABIC, *KOREAN)

VARIANTS: dict[str, str] = {spelling: group[0] for group in _GROUPS for spelling in group}
"""Each spelling to its group's first spelling."""


def canonical(token: str) -> str | None:
    """The group spelling of a name part, or None when it has no listed variants."""
    return VARIANTS.get(token)


BALTIC_ENDINGS = ("s", "as", "is", "us")
"""Latvian and Lithuanian give every foreign name a nominative ending (Sergejs Lavrovs, Vladimiras Putinas)."""
MIN_BALTIC_STEM = 4


def baltic_stem(skel: str) -> str | None:
    """The skeleton without its Latvian or Lithuanian nominative ending, when it may have one (``lavrovs``:
    ``lavrov``), so that the index finds the name either way; None otherwise."""
    if not skel.endswith("s"):  # every ending does: nearly every part stops here
        return None
    for ending in BALTIC_ENDINGS:
        stem = skel[: -len(ending)]
        if skel.endswith(ending) and len(stem) >= MIN_BALTIC_STEM and stem[-1] not in "aeous":
            return stem
    return None


def baltic_form(a: str, b: str) -> bool:
    """One skeleton is the other with a Latvian or Lithuanian nominative ending added to a name ending in a
    consonant or -i (the skeleton of -j, -y: ``sergejs`` / ``sergey``, ``lavrovs`` / ``lavrov``, ``putinas`` /
    ``putin``): the name as those languages write it, not a typo."""
    if len(a) < len(b):
        a, b = b, a
    if len(b) < MIN_BALTIC_STEM or not a.startswith(b) or b[-1] in "aeous":
        return False
    return a[len(b) :] in BALTIC_ENDINGS
