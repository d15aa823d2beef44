"""What every source adapter provides, and the small parsing helpers they share."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import ClassVar

from kyc.dates import date_parts
from kyc.entry import PartialDate
from kyc.errors import Invalid
from kyc.versions import ParsedList, RawFile


class ParseError(Invalid):
    """The file is not a valid instance of the source's format. The message says where and why."""


class Adapter(ABC):
    """One official source.

    ``parse`` is pure: bytes in, entries out. Fetching, storing and diffing are the caller's business, so that an
    adapter is tested on the real files without a database or a network.
    """

    source: ClassVar[str]
    title: ClassVar[str]
    default_url: ClassVar[str | None] = None
    """The official download URL (None where the source has no machine-readable feed)."""
    parser_version: ClassVar[str] = "1"
    requires_approval: ClassVar[bool] = False
    """Manual imports (fi_national) become active only after a second user approves them."""

    @abstractmethod
    def parse(self, files: Sequence[RawFile]) -> ParsedList:
        """Parse one file or a file set (OFAC's CSV set) into entries; raise :class:`ParseError` when invalid."""


def decode_text(raw: RawFile, encodings: Sequence[str] = ("utf-8-sig", "cp1252")) -> str:
    """Decode with the first encoding that fits; sources mix UTF-8 and Windows-1252."""
    for encoding in encodings:
        try:
            return raw.data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ParseError(f"{raw.name}: not valid text in any of {', '.join(encodings)}")


_EXCEL_EPOCH = date(1899, 12, 30)


def excel_serial_date(value: float | int) -> date:
    """Excel stores dates as days since 1899-12-30 (DFAT's Control Date)."""
    return _EXCEL_EPOCH + timedelta(days=int(value))


def utc_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


_MONTHS = {
    m: i
    for i, m in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)
}
_DMY_TEXT = re.compile(r"^(?:(\d{1,2})\s+)?([A-Za-z]{3})[a-z]*\.?\s+(\d{4})$")
_ISO = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")
_DMY_NUM = re.compile(r"^(\d{1,2})[/.](\d{1,2})[/.](\d{4})$")


def partial_date(text: str | None, *, approximate: bool = False) -> PartialDate | None:
    """Parse the date shapes sources use: ``1963``, ``1963-07-28``, ``28 Jul 1963``, ``Jul 1963``, ``28/07/1963``.

    ``00`` for an unknown day or month (UK) lowers the precision instead of failing. Returns None for text that
    is not a date, so that callers can keep it as a remark.
    """
    if text is None:
        return None
    text = text.strip().rstrip(".")
    if not text:
        return None
    year: int
    month = day = 0
    if m := _ISO.match(text):
        year, month, day = int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0)
    elif m := _DMY_NUM.match(text):
        day, month, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
    elif m := _DMY_TEXT.match(text):
        month = _MONTHS.get(m.group(2).lower(), -1)
        if month < 0:
            return None
        day, year = int(m.group(1) or 0), int(m.group(3))
    else:
        return None
    return make_partial_date(year, month, day, approximate=approximate)


def make_partial_date(year: int, month: int = 0, day: int = 0, *, approximate: bool = False) -> PartialDate | None:
    """The most precise valid date from parts, where 0 means unknown: an impossible day or month lowers the
    precision (``kyc.dates``) rather than losing the date or the entry."""
    value = date_parts(year, month, day)
    return PartialDate(date=value, approximate=approximate) if value else None


def clean(value: str | None) -> str | None:
    """Collapse white space; empty becomes None."""
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text or None
