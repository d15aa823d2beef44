"""Ad hoc screening of a name by an officer, with a stated purpose: audited (by purpose and counts, never the name)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from api.deps import SessionDep, SettingsDep
from api.ui.security import form_page, page
from api.ui.templating import render
from kyc import audit
from kyc.access import Permission
from kyc.errors import Invalid
from kyc.logins import SessionInfo
from kyc.matcher_cache import config_from_settings, matcher_cache
from kyc.matching import Query
from kyc.text import refuse_forbidden

router = APIRouter(prefix="/ui/search", include_in_schema=False)
Searcher = Annotated[SessionInfo, Depends(page(Permission.SEARCH))]
SearchForm = Annotated[SessionInfo, Depends(form_page(Permission.SEARCH))]
PURPOSES = ("onboarding_check", "investigation", "authority_request", "quality_control")
SCHEMAS = ("Person", "Organization", "LegalEntity", "Vessel")


@router.get("")
def search_form(request: Request, settings: SettingsDep, info: Searcher) -> Response:
    return render(request, "search.html", settings, info, purposes=PURPOSES, schemas=SCHEMAS, form={}, hits=None)


@router.post("")
def search(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    info: SearchForm,
    name: Annotated[str, Form(max_length=500)] = "",
    birth_date: Annotated[str, Form(max_length=10)] = "",
    nationality: Annotated[str, Form(max_length=64)] = "",
    schema_: Annotated[str, Form(alias="schema", max_length=32)] = "Person",
    purpose: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    form = {"name": name, "birth_date": birth_date, "nationality": nationality, "schema": schema_, "purpose": purpose}
    if purpose not in PURPOSES:
        raise Invalid("state the purpose of this search", field="purpose")
    try:
        query = Query.model_validate(
            {
                "name": refuse_forbidden(name.strip()),
                "schema": schema_ if schema_ in SCHEMAS else "Person",
                "birth_date": birth_date or None,
                "nationality": nationality or None,
            }
        )
    except (ValidationError, ValueError) as exc:
        raise Invalid("check the name, birth date (YYYY[-MM[-DD]]) and nationality", field="name") from exc
    matcher = matcher_cache.get(settings.database_url, config_from_settings(settings))
    matches = matcher.screen(query, limit=20)
    hits: list[dict[str, Any]] = [
        {
            "source": m.source,
            "source_ref": m.source_ref,
            "score": m.score,
            "matched_name": m.matched_name,
            "caption": m.entry.primary_name,
            "version_id": m.version_id,
            "explanation": m.explanation,
            "programs": list(m.entry.programs),
            "birth_dates": [d.date for d in m.entry.birth_dates],
            "nationalities": list(m.entry.nationalities),
        }
        for m in matches
    ]
    audit.record(
        session,
        actor=info.principal,
        action="search.adhoc",
        object_type="screening",
        object_id="adhoc",
        purpose=purpose,
        details={"schema": str(query.schema_), "hits": len(hits), "entries": matcher.entry_count},
    )
    return render(request, "search.html", settings, info, purposes=PURPOSES, schemas=SCHEMAS, form=form, hits=hits)
