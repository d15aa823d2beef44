"""The two ways review refuses an action, shared by decisions, notifications and block lifts."""

from __future__ import annotations

from kyc.errors import Conflict, Refused


class ReviewError(Conflict):
    """The action does not fit the current state (someone else decided first, nothing to approve, already done)."""


class DecisionRefused(Refused):
    """The caller may not do this: missing permission, or four eyes would collapse into one person."""
