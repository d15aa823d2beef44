"""An entry's detail shows its designated subject with every listing side by side (real UN and UK OFSI files)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from kyc.access import Role
from kyc.settings import Settings
from tests.support.cases import UK_OFSI, UN_2026, ingest
from tests.support.service import make_token

pytestmark = pytest.mark.usefixtures("encryption_key")


def test_entry_detail_shows_the_subject_with_every_listing(settings: Settings) -> None:
    un = ingest(settings, "un_sc", UN_2026)
    ingest(settings, "uk_ofsi", UK_OFSI)
    token = make_token(settings.database_url, Role.ANALYST)
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app(settings)) as client:
        found = client.get(f"/v1/lists/versions/{un}/entries/KPi.025", headers=headers)
        missing = client.get(f"/v1/lists/versions/{un}/entries/KPi.999", headers=headers)
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["entry"]["un_ref"] == "KPi.025" and body["subject"]["key"] == "subject:un:KPI.025"
    listings = body["subject"]["listings"]
    assert [(item["source"], item["source_ref"]) for item in listings] == [("un_sc", "KPi.025"), ("uk_ofsi", "13335")]
    assert all(item["names"] and item["programs"] for item in listings)
    assert listings[1]["basis"] == ["passport:KP:563120630", "un:KPI.025"]
    assert missing.status_code == 404
