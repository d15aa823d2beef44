"""One family for every domain error, so that callers map a kind of failure once instead of per module.

The kinds say what the caller can do about it, not where it happened:

* :class:`NotFound` — no such record (or none the caller may see: the two are not told apart);
* :class:`Conflict` — the record's current state does not allow it (already decided, already ended): re-read;
* :class:`Refused` — this caller may not do it (role, four eyes, policy);
* :class:`Invalid` — the input is wrong; ``field`` names it, the message gives the reason, never the value;
* :class:`Unavailable` — a precondition or dependency is missing for now (no active list, an outage): retry later.

The API maps the family in one handler (``api/errors.py``); the CLI turns it into an exit code. Each class also
derives from the closest built-in exception, so code that catches ``LookupError`` or ``ValueError`` keeps working.
"""

from __future__ import annotations


class KycError(Exception):
    """Base of every domain error. ``code`` is a stable machine-readable name for the kind."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFound(KycError, LookupError):
    code = "not_found"


class Conflict(KycError):
    code = "conflict"


class Refused(KycError):
    code = "forbidden"


class Invalid(KycError, ValueError):
    """Bad input. ``field`` is the path a client can act on (``persons.0.birth_date``), when there is one."""

    code = "validation_error"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Unavailable(KycError):
    """Try again later; ``retry_after`` is a hint in seconds."""

    code = "unavailable"

    def __init__(self, message: str, retry_after: int = 30) -> None:
        super().__init__(message)
        self.retry_after = retry_after
