"""Scores on yente's scale: our threshold lands on yente's 0.70 (see the package docstring)."""

from __future__ import annotations

from kyc.screening_api.protocol import DEFAULT_THRESHOLD


def calibrate(raw: float, threshold: float) -> float:
    """Our engine score on yente's scale: our threshold lands on ``DEFAULT_THRESHOLD``."""
    t = min(max(threshold, 0.01), 0.99)
    if raw < t:
        value = raw * DEFAULT_THRESHOLD / t
    else:
        value = DEFAULT_THRESHOLD + (raw - t) * (1 - DEFAULT_THRESHOLD) / (1 - t)
    return round(min(max(value, 0.0), 1.0), 4)


def uncalibrate(score: float, threshold: float) -> float:
    """The raw engine score that reports as ``score`` (the inverse of ``calibrate``)."""
    t = min(max(threshold, 0.01), 0.99)
    if score < DEFAULT_THRESHOLD:
        return score * t / DEFAULT_THRESHOLD
    return t + (score - DEFAULT_THRESHOLD) * (1 - t) / (1 - DEFAULT_THRESHOLD)
