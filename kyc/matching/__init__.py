"""The screening engine: normalisation, candidate index, scoring with qualifiers, explanations.

Pure: no HTTP, no Celery. ``Matcher.build`` over ``(version_id, entry)`` pairs, ``Matcher.screen(Query)``.
"""

from kyc.matching.compare import compare_names
from kyc.matching.engine import Matcher
from kyc.matching.model import ENGINE_VERSION, FeatureWeights, Match, MatchConfig, Query
from kyc.matching.normalize import NameForm, name_form

__all__ = [
    "ENGINE_VERSION",
    "FeatureWeights",
    "Match",
    "MatchConfig",
    "Matcher",
    "NameForm",
    "Query",
    "compare_names",
    "name_form",
]
