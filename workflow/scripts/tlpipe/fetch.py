"""Verified, resumable downloads from HTTP(S), ``file://`` URLs or local paths.

``requests`` + urllib3's ``Retry`` handle connection set-up, redirects and retries of
transient HTTP statuses with exponential backoff. What they do not do is continue a
body that broke off half-way, so :func:`fetch` keeps the bytes received in
``<dest>.part`` and asks for the rest with an HTTP ``Range`` request, on the next
attempt and on the next run alike. The file moves to ``dest`` only once its size and
sha256 are right, so ``dest`` is never a partial or unverified file.
"""

from __future__ import annotations

import logging
import os
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import requests
import urllib3
from requests.adapters import HTTPAdapter
from tqdm import tqdm
from urllib3.util.retry import Retry

from tlpipe.errors import PipelineError
from tlpipe.fileio import CHUNK_SIZE, describe_expected, hash_matches, sha256_file

log = logging.getLogger(__name__)

TRANSIENT_STATUSES = (408, 425, 429, 500, 502, 503, 504)
STREAM_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.Timeout,
    # _body_chunks reads urllib3's response directly, so its errors arrive unwrapped.
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.ReadTimeoutError,
    urllib3.exceptions.SSLError,
)


def is_remote(url: str) -> bool:
    """True for http(s) URLs, False for ``file://`` URLs and plain local paths."""
    return urllib.parse.urlsplit(url).scheme.lower() in ("http", "https")


def local_source_path(url: str) -> Path:
    """Map a ``file://`` URL or a plain path to a local path."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme.lower() == "file":
        return Path(urllib.request.url2pathname(parts.path))
    return Path(url)


def source_filename(url: str) -> str:
    """The file name a URL or path ends in (``.../hymenoptera_data.zip`` → that name)."""
    if is_remote(url) or urllib.parse.urlsplit(url).scheme.lower() == "file":
        name = Path(urllib.parse.unquote(urllib.parse.urlsplit(url).path)).name
    else:
        name = Path(url).name
    if not name:
        raise PipelineError(f"cannot tell a file name from the URL {url!r}; end it with one")
    return name


def part_path(dest: Path) -> Path:
    """Where the bytes of an unfinished download of ``dest`` are kept between attempts."""
    return dest.with_name(dest.name + ".part")


def fetch(
    url: str,
    dest: str | os.PathLike[str],
    sha256: str | None = None,
    *,
    setting: str = "data.",
    retries: int = 3,
    backoff: float = 0.5,
    timeout: float = 30.0,
    progress: bool = True,
) -> Path:
    """Download or copy ``url`` to ``dest`` and verify its sha256 (skipped when None).

    ``setting`` is the prefix of the config keys naming the source (``data.`` for
    ``data.url``/``data.sha256``, ``model.weights_`` for the weights), so error
    messages say which keys to change.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)
    if is_remote(url):
        _download_http(url, part, setting, retries, backoff, timeout, progress)
    else:
        _copy_local(url, part, setting, progress)
    actual = sha256_file(part)
    if sha256 is not None and not hash_matches(actual, sha256):
        size = part.stat().st_size
        part.unlink()  # a wrong file must not be resumed next time
        raise PipelineError(
            f"{url}: sha256 mismatch: expected {describe_expected(sha256)}, got {actual} "
            f"({size:,} bytes); "
            f"nothing was saved to {dest}. The source is corrupt or not the file configured: "
            f"fix {setting}url, or set {setting}sha256 to the right hash (null skips the check)."
        )
    os.replace(part, dest)
    log.info("saved %s (%s bytes)", dest, f"{dest.stat().st_size:,}")
    return dest


def _copy_local(url: str, part: Path, setting: str, progress: bool) -> None:
    source = local_source_path(url)
    if not source.is_file():
        raise PipelineError(
            f"{source}: no such file (from {setting}url={url!r}); "
            f"set {setting}url to an existing local path, a file:// URL or an http(s) URL"
        )
    log.info("copying %s", source)
    with (
        open(source, "rb") as src,
        open(part, "wb") as dst,
        _progress_bar(source.stat().st_size, 0, source.name, progress) as bar,
    ):
        for chunk in iter(lambda: src.read(CHUNK_SIZE), b""):
            dst.write(chunk)
            bar.update(len(chunk))


def _session(retries: int, backoff: float) -> requests.Session:
    retry = Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        backoff_factor=backoff,
        status_forcelist=TRANSIENT_STATUSES,
        allowed_methods=frozenset({"GET", "HEAD"}),
        raise_on_status=False,
    )
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    session.headers["User-Agent"] = "tlpipe-fetch/1.0"
    # The bytes as stored: Range offsets and Content-Length count them, not decoded ones.
    session.headers["Accept-Encoding"] = "identity"
    return session


def _offline_error(url: str, setting: str, reason: object) -> PipelineError:
    return PipelineError(
        f"could not download {url}: {reason}. If this machine is offline or cannot reach "
        f"the server, download the file elsewhere and set {setting}url to its local path "
        f"or a file:// URL (keep {setting}sha256 so it is still verified)."
    )


def _download_http(
    url: str,
    part: Path,
    setting: str,
    retries: int,
    backoff: float,
    timeout: float,
    progress: bool,
) -> None:
    session = _session(retries, backoff)
    failures_without_progress = 0
    while True:
        before = part.stat().st_size if part.exists() else 0
        try:
            if _download_attempt(session, url, part, setting, timeout, progress):
                return
            last_error: object = "the body ended early"
        except STREAM_ERRORS as err:
            last_error = err
        after = part.stat().st_size if part.exists() else 0
        # urllib3 already retried the connection with backoff; a broken-off body is
        # resumed for as long as each attempt brings new bytes.
        failures_without_progress = 0 if after > before else failures_without_progress + 1
        if failures_without_progress > 1:
            raise _offline_error(url, setting, last_error)
        delay = backoff * 2**failures_without_progress
        log.warning("download interrupted (%s); resuming in %.1f s", last_error, delay)
        time.sleep(delay)


def _download_attempt(
    session: requests.Session, url: str, part: Path, setting: str, timeout: float, progress: bool
) -> bool:
    """One request, resuming from ``part``. True when the file is complete."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    with session.get(url, headers=headers, stream=True, timeout=timeout) as response:
        if response.status_code == 416:
            # Our partial file is as long as (or longer than) the resource: start over.
            part.unlink(missing_ok=True)
            return False
        if response.status_code >= 400:
            raise PipelineError(
                f"could not download {url}: HTTP {response.status_code} {response.reason}; "
                f"check {setting}url, or set it to the path of a local copy"
            )
        if response.status_code == 206:
            total = _total_from_content_range(response.headers.get("Content-Range"))
            mode = "ab"
            log.info("resuming %s at byte %s", part.name, f"{offset:,}")
        else:  # 200: the server ignored the Range header; start from byte 0
            length = response.headers.get("Content-Length")
            total = int(length) if length is not None else None
            offset, mode = 0, "wb"
        with (
            open(part, mode) as handle,
            _progress_bar(total, offset, part.name.removesuffix(".part"), progress) as bar,
        ):
            for chunk in _body_chunks(response):
                handle.write(chunk)
                bar.update(len(chunk))
    size = part.stat().st_size
    if total is not None and size != total:
        if size > total:
            part.unlink()
        return False
    return True


def _body_chunks(response: requests.Response) -> Iterator[bytes]:
    """The body as it arrives, undecoded (Range offsets count the bytes sent).

    Not ``iter_content``: it fills a whole chunk before handing it over, so the bytes of
    the unfinished chunk (up to CHUNK_SIZE) were lost when the connection broke, and a
    body shorter than a chunk was never resumed. ``read1`` returns what has arrived.
    """
    while chunk := response.raw.read1(CHUNK_SIZE, decode_content=False):
        yield chunk


def _total_from_content_range(header: str | None) -> int | None:
    match = re.fullmatch(r"bytes \d+-\d+/(\d+)", header or "")
    return int(match.group(1)) if match else None


def _progress_bar(total: int | None, initial: int, name: str, enabled: bool) -> tqdm:
    return tqdm(
        total=total,
        initial=initial,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc=name,
        disable=not enabled,
        mininterval=1.0,
    )
