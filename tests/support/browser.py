"""End-to-end workbench tests: the real app served by uvicorn on a free local port, Debian's Chromium driven by
Playwright (never a browser download), people with passwords and TOTP, and helpers to log in and take screenshots.

Screenshots go to ``var/screenshots``; with ``KYC_UPDATE_SCREENSHOTS=1`` also to ``docs/screenshots`` (committed,
shown in the README).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pyotp
import pytest
import uvicorn

from api.app import create_app
from kyc import crypto, logins
from kyc.access import Role, create_user
from kyc.settings import Settings
from kyc.storage.access import User
from kyc.storage.base import utcnow
from kyc.storage.db import transaction
from kyc.storage.logins import Credential
from tests.support.env import REPO

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
]
PASSWORD = "a long enough password"
SHOTS = REPO / "var" / "screenshots"
DOCS_SHOTS = REPO / "docs" / "screenshots"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """uvicorn serving ``create_app(settings)`` in a thread of this process (so tests share its caches)."""

    def __init__(self, settings: Settings, enqueue: Callable[[str], None] | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(settings, enqueue=enqueue), host="127.0.0.1", port=self.port, log_config=None, lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the workbench server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (scripts/browser.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def person(settings: Settings, name: str, role: Role, *, totp: bool = False) -> str | None:
    """A user with a password (and, when ``totp``, an enrolled second factor: its secret is returned)."""
    with transaction(settings.database_url) as session:
        create_user(session, name, role)
        logins.set_password(session, name, PASSWORD, actor="test")
        if not totp:
            return None
        secret = pyotp.random_base32()
        user_id = session.query(User.id).filter(User.name == name).scalar()
        credential = session.get(Credential, user_id)
        assert credential is not None
        credential.totp_secret = crypto.encrypt(secret)
        credential.totp_confirmed_at = utcnow()
        return secret


def login(page: object, base: str, name: str, secret: str | None = None, password: str = PASSWORD) -> None:
    page.goto(f"{base}/ui/login")  # type: ignore[attr-defined]
    page.fill("#username", name)  # type: ignore[attr-defined]
    page.fill("#password", password)  # type: ignore[attr-defined]
    if secret:
        page.fill("#totp", pyotp.TOTP(secret).now())  # type: ignore[attr-defined]
    page.click("button[type=submit] >> text=/Log in|Kirjaudu/")  # type: ignore[attr-defined]


def screenshot(page: object, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)  # type: ignore[attr-defined]
    if os.environ.get("KYC_UPDATE_SCREENSHOTS") == "1":
        DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOCS_SHOTS / path.name)
    return path
