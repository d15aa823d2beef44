"""Ongoing monitoring: delta screening on every new list version, risk-based full rescreens.

**Active parties** (``population``). A customer is monitored while its relationship has not ended. Its *current
screening* is its latest completed job; the parties of that job are the customer's active parties, and monitoring
adds its hits to that job (``Hit.origin`` says what raised them) and recomputes that job's and the customer's
outcome. A new onboarding screening of the customer becomes the current one; dismissals carry over to it through
suppressions. A party is identified across monitoring runs by its row in the current job, and across jobs by its
fingerprint (``kyc.suppression``).

**Reconciling** (``reconcile``) a screening's matches with the hits the parties already have: a new match is a new
hit (suppressed when a dismissal still covers it); a match whose party or entry changed reopens a dismissed,
suppressed or delisted hit with the reason and lifts its suppression. When the evidence changes under a
``proposed`` hit the proposal lapses: the hit goes back to ``open`` and a second officer can no longer approve a
proposal made on other evidence. A ``confirmed`` hit's evidence is never overwritten: the changed match is raised as
a new ``open`` hit beside it.

**Delta screening** (``delta``). All active parties against only the added and changed entries of a version (a
small matcher built over them); hits on removed entries are marked ``delisted``. Each version is delta-screened
once (``runs``: ``monitoring_runs`` is unique per kind and version).

**Full rescreen** (``rescreen``). All parties of a set of customers against every active list; due by customer risk
(``kyc.customers.schedule``), for everybody when the matcher's configuration changes, and at once after a party's
data is corrected. Ending the relationship (``kyc.customers``) stops all of it.

Nothing here makes an adverse decision: new and reopened hits are ``open`` and put the outcome to ``review``.
"""

from kyc.monitoring.delta import (
    DeltaPlan,
    delta_chunk,
    delta_screen,
    monitored_changes,
    plan_delta,
    unscreened_versions,
)
from kyc.monitoring.population import active_parties, all_active_customers, current_jobs_query, due_customers
from kyc.monitoring.reconcile import ACTOR, RunStats
from kyc.monitoring.rescreen import config_changed, correct_and_rescreen, record_config, rescreen_customers
from kyc.monitoring.runs import chunks

__all__ = [
    "ACTOR",
    "DeltaPlan",
    "RunStats",
    "active_parties",
    "all_active_customers",
    "chunks",
    "config_changed",
    "correct_and_rescreen",
    "current_jobs_query",
    "delta_chunk",
    "delta_screen",
    "due_customers",
    "monitored_changes",
    "plan_delta",
    "record_config",
    "rescreen_customers",
    "unscreened_versions",
]
