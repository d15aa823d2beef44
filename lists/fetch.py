"""Downloading list files: conditional GET, timeouts, a size cap and retries with backoff.

``file://`` URLs and plain paths are read from disk so that the same code path serves manual imports and tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import httpx
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential

from kyc.errors import Unavailable
from kyc.versions import RawFile


class FetchError(Unavailable):
    """The download failed; the active version keeps serving."""


@dataclass(frozen=True)
class Fetched:
    file: RawFile | None
    """None when the server answered 304 Not Modified."""
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.file is None


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, httpx.TransportError):
        return True
    return isinstance(exc, httpx.HTTPStatusError) and (
        exc.response.status_code >= 500 or exc.response.status_code == 429
    )


def _file_name(url: str, response: httpx.Response | None = None) -> str:
    if response is not None:
        disposition = response.headers.get("content-disposition", "")
        if "filename=" in disposition:
            return str(disposition.split("filename=", 1)[1].strip('"; '))
    name = Path(unquote(urlparse(url).path)).name
    return name or "download"


def read_local(path: str | Path) -> RawFile:
    file_path = Path(path)
    if not file_path.is_file():
        raise FetchError(f"{file_path}: no such file")
    return RawFile(file_path.name, file_path.read_bytes())


def fetch(
    url: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    timeout: float = 60.0,
    max_bytes: int = 256 * 1024 * 1024,
    retries: int = 3,
    backoff: float = 1.0,
) -> Fetched:
    """Fetch ``url`` once, conditionally; retry transient failures (network errors, 5xx, 429) with backoff."""
    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        return Fetched(read_local(unquote(parsed.path) if parsed.scheme else url))
    if parsed.scheme not in ("http", "https"):
        raise FetchError(f"{url}: unsupported URL scheme {parsed.scheme!r}")
    headers = {"User-Agent": "kyc-screening/0.1 (+list ingestion)"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    retrying = Retrying(
        retry=retry_if_exception(_transient),
        stop=stop_after_attempt(max(1, retries)),
        wait=wait_exponential(multiplier=backoff, max=30),
        reraise=True,
    )
    try:
        return retrying(_get, url, headers, timeout, max_bytes)
    except httpx.HTTPStatusError as exc:
        raise FetchError(f"{url}: HTTP {exc.response.status_code}") from exc
    except httpx.HTTPError as exc:
        raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from exc


def _get(url: str, headers: dict[str, str], timeout: float, max_bytes: int) -> Fetched:
    with (
        httpx.Client(timeout=timeout, follow_redirects=True) as client,
        client.stream("GET", url, headers=headers) as response,
    ):
        if response.status_code == 304:
            return Fetched(None, response.headers.get("etag"), response.headers.get("last-modified"))
        response.raise_for_status()
        declared = response.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            raise FetchError(f"{url}: {declared} bytes is over the {max_bytes}-byte cap")
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise FetchError(f"{url}: download exceeds the {max_bytes}-byte cap")
            chunks.append(chunk)
        return Fetched(
            RawFile(_file_name(url, response), b"".join(chunks)),
            response.headers.get("etag"),
            response.headers.get("last-modified"),
        )
