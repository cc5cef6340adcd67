"""Unit tests of tlpipe.fetch and download.py: local copies, hashes, and a real HTTP server.

The server runs on 127.0.0.1 in a thread and can break off a body, ignore ``Range``,
answer 503 a few times, 404, or gzip what it sends, so resuming and retrying are
checked against real sockets. Every test passes ``backoff=0`` and finishes in well
under a second.
"""

from __future__ import annotations

import gzip
import hashlib
import random
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import download
import pytest
from conftest import REPO, cli_error_line, run

from tlpipe.errors import PipelineError
from tlpipe.fetch import fetch, part_path, source_filename

PAYLOAD = random.Random(20240501).randbytes(300 * 1024)
PAYLOAD_SHA256 = hashlib.sha256(PAYLOAD).hexdigest()
WRONG_SHA256 = "0" * 64
DROP_AT = 100_000  # bytes the "drop" mode sends before it closes the connection


class FakeServer:
    """What the handler should do, and what it saw (one entry per GET)."""

    def __init__(self) -> None:
        self.mode = "normal"
        self.unavailable = 0  # answer this many GETs with 503 first
        self.ranges: list[str | None] = []  # the Range header of each GET
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/files/archive.zip"


class Handler(BaseHTTPRequestHandler):
    """Serves PAYLOAD, honouring ``Range: bytes=N-`` unless told otherwise."""

    def log_message(self, format, *args) -> None:  # keep test output clean
        pass

    def send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        state: FakeServer = self.server.state  # type: ignore[attr-defined]
        first = not state.ranges
        header = self.headers.get("Range")
        state.ranges.append(header)
        if state.mode == "404":
            return self.send(404, b"not here")
        if state.unavailable:
            state.unavailable -= 1
            return self.send(503, b"busy")
        if state.mode in ("drop", "drop-no-range") and first:
            # A full Content-Length, then only part of the body and a closed connection.
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[:DROP_AT])
            self.close_connection = True
            return None
        if state.mode == "gzip" and "gzip" in self.headers.get("Accept-Encoding", ""):
            return self.send(200, gzip.compress(PAYLOAD), {"Content-Encoding": "gzip"})
        match = re.fullmatch(r"bytes=(\d+)-", header or "")
        if match is None or state.mode in ("no-range", "drop-no-range"):
            return self.send(200, PAYLOAD)
        start = int(match.group(1))
        if start >= len(PAYLOAD):
            return self.send(416, b"", {"Content-Range": f"bytes */{len(PAYLOAD)}"})
        content_range = f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}"
        return self.send(206, PAYLOAD[start:], {"Content-Range": content_range})


@pytest.fixture
def server():
    state = FakeServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.state = state  # type: ignore[attr-defined]
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def quick_fetch(url: str, dest: Path, sha256: str | None = PAYLOAD_SHA256, **kwargs) -> Path:
    options = {"retries": 2, "backoff": 0, "timeout": 5, "progress": False} | kwargs
    return fetch(url, dest, sha256, **options)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- local paths and file:// URLs ------------------------------------------------------


@pytest.fixture
def source(tmp_path) -> Path:
    path = tmp_path / "src" / "archive.zip"
    path.parent.mkdir()
    path.write_bytes(PAYLOAD)
    return path


@pytest.mark.parametrize("as_uri", [False, True], ids=["path", "file-url"])
def test_copy_local(tmp_path, source, as_uri):
    dest = tmp_path / "out" / "raw" / "archive.zip"
    url = source.as_uri() if as_uri else str(source)
    assert quick_fetch(url, dest) == dest
    assert dest.read_bytes() == PAYLOAD
    assert leftovers(dest.parent) == ["archive.zip"]  # no .part


def test_file_url_with_escaped_characters(tmp_path):
    source = tmp_path / "my data" / "ants & bees.zip"
    source.parent.mkdir()
    source.write_bytes(b"abc")
    dest = tmp_path / "dest.zip"
    assert "/my%20data/ants%20%26%20bees.zip" in source.as_uri()
    quick_fetch(source.as_uri(), dest, hashlib.sha256(b"abc").hexdigest())
    assert dest.read_bytes() == b"abc"
    assert source_filename(source.as_uri()) == "ants & bees.zip"


@pytest.mark.parametrize(
    ("setting", "key"), [("data.", "data.sha256"), ("model.weights_", "model.weights_sha256")]
)
def test_sha256_mismatch(tmp_path, source, setting, key):
    dest = tmp_path / "out" / "archive.zip"
    with pytest.raises(PipelineError) as excinfo:
        quick_fetch(str(source), dest, WRONG_SHA256, setting=setting)
    message = str(excinfo.value)
    assert str(source) in message and str(dest) in message
    assert WRONG_SHA256 in message and PAYLOAD_SHA256 in message
    assert key in message
    assert "\n" not in message  # the CLI prints it as one line
    assert leftovers(dest.parent) == []  # neither dest nor dest.part


def test_hash_is_case_insensitive_and_none_skips_it(tmp_path, source):
    quick_fetch(str(source), tmp_path / "a.zip", PAYLOAD_SHA256.upper())
    quick_fetch(str(source), tmp_path / "b.zip", None)
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes() == PAYLOAD


def test_failed_fetch_leaves_existing_dest_untouched(tmp_path, source):
    dest = tmp_path / "archive.zip"
    dest.write_bytes(b"the good file from an earlier run")
    with pytest.raises(PipelineError, match="sha256 mismatch"):
        quick_fetch(str(source), dest, WRONG_SHA256)
    with pytest.raises(PipelineError, match="no such file"):
        quick_fetch(str(tmp_path / "missing.zip"), dest)
    assert dest.read_bytes() == b"the good file from an earlier run"
    assert leftovers(tmp_path) == ["archive.zip", "src"]


def test_successful_fetch_replaces_dest(tmp_path, source):
    dest = tmp_path / "archive.zip"
    dest.write_bytes(b"an older file")
    quick_fetch(str(source), dest)
    assert dest.read_bytes() == PAYLOAD


@pytest.mark.parametrize("as_uri", [False, True], ids=["path", "file-url"])
def test_missing_local_file(tmp_path, as_uri):
    missing = tmp_path / "nowhere" / "archive.zip"
    dest = tmp_path / "out" / "archive.zip"
    with pytest.raises(PipelineError) as excinfo:
        quick_fetch(missing.as_uri() if as_uri else str(missing), dest)
    message = str(excinfo.value)
    assert message.startswith(f"{missing}: no such file")
    assert "data.url" in message
    assert leftovers(dest.parent) == []


# --- HTTP -----------------------------------------------------------------------------


def test_http_download(tmp_path, server):
    dest = tmp_path / "archive.zip"
    quick_fetch(server.url, dest)
    assert dest.read_bytes() == PAYLOAD
    assert server.ranges == [None]
    assert leftovers(tmp_path) == ["archive.zip"]


def test_http_resumes_a_broken_body(tmp_path, server):
    server.mode = "drop"
    dest = tmp_path / "archive.zip"
    quick_fetch(server.url, dest)
    assert dest.read_bytes() == PAYLOAD
    # Every byte received before the connection broke is kept: the resume asks for the rest.
    assert server.ranges == [None, f"bytes={DROP_AT}-"]
    assert leftovers(tmp_path) == ["archive.zip"]


def test_http_restarts_when_range_is_ignored(tmp_path, server):
    server.mode = "drop-no-range"
    dest = tmp_path / "archive.zip"
    quick_fetch(server.url, dest)
    assert server.ranges == [None, f"bytes={DROP_AT}-"]
    assert dest.read_bytes() == PAYLOAD  # the 200 body overwrote the part, not appended


def test_http_partial_from_earlier_run_is_continued(tmp_path, server):
    dest = tmp_path / "archive.zip"
    part_path(dest).write_bytes(PAYLOAD[:12_345])
    quick_fetch(server.url, dest)
    assert server.ranges == ["bytes=12345-"]
    assert dest.read_bytes() == PAYLOAD
    assert leftovers(tmp_path) == ["archive.zip"]


def test_http_partial_ignored_by_server(tmp_path, server):
    server.mode = "no-range"
    dest = tmp_path / "archive.zip"
    part_path(dest).write_bytes(b"stale bytes of some other file")
    quick_fetch(server.url, dest)
    assert server.ranges == ["bytes=30-"]
    assert dest.read_bytes() == PAYLOAD


def test_http_complete_part_starts_over_after_416(tmp_path, server):
    dest = tmp_path / "archive.zip"
    part_path(dest).write_bytes(PAYLOAD + b"extra")  # as long as the file, or longer
    quick_fetch(server.url, dest)
    assert server.ranges == [f"bytes={len(PAYLOAD) + 5}-", None]
    assert dest.read_bytes() == PAYLOAD


def test_http_wrong_part_is_discarded_after_mismatch(tmp_path, server):
    dest = tmp_path / "archive.zip"
    part_path(dest).write_bytes(b"x" * 1000)  # an earlier run of another file
    with pytest.raises(PipelineError, match="sha256 mismatch"):
        quick_fetch(server.url, dest)
    assert leftovers(tmp_path) == []  # the bad part is gone, so the next run starts over
    quick_fetch(server.url, dest)
    assert server.ranges == ["bytes=1000-", None]
    assert dest.read_bytes() == PAYLOAD


def test_http_transient_503_is_retried(tmp_path, server):
    server.unavailable = 2
    dest = tmp_path / "archive.zip"
    quick_fetch(server.url, dest, retries=3)
    assert server.ranges == [None, None, None]
    assert dest.read_bytes() == PAYLOAD


def test_http_persistent_503_gives_up(tmp_path, server):
    server.unavailable = 100
    with pytest.raises(PipelineError, match="HTTP 503") as excinfo:
        quick_fetch(server.url, tmp_path / "archive.zip", retries=1)
    assert server.url in str(excinfo.value)
    assert len(server.ranges) == 2  # the first try and one retry
    assert leftovers(tmp_path) == []


def test_http_404_fails_at_once(tmp_path, server):
    server.mode = "404"
    start = time.monotonic()
    with pytest.raises(PipelineError) as excinfo:
        quick_fetch(server.url, tmp_path / "archive.zip", retries=5, backoff=1.0)
    assert time.monotonic() - start < 2  # no retries with backoff for a client error
    message = str(excinfo.value)
    assert "HTTP 404" in message and server.url in message and "data.url" in message
    assert server.ranges == [None]
    assert leftovers(tmp_path) == []


def test_http_asks_for_the_bytes_as_stored(tmp_path, server):
    # Range offsets and Content-Length count the bytes sent: a gzip-encoded answer
    # would not match them, so fetch asks for no content encoding.
    server.mode = "gzip"
    dest = tmp_path / "archive.zip"
    quick_fetch(server.url, dest)
    assert dest.read_bytes() == PAYLOAD


def test_http_sha256_mismatch(tmp_path, server):
    dest = tmp_path / "archive.zip"
    with pytest.raises(PipelineError) as excinfo:
        quick_fetch(server.url, dest, WRONG_SHA256, setting="model.weights_")
    message = str(excinfo.value)
    assert server.url in message and PAYLOAD_SHA256 in message
    assert "model.weights_sha256" in message
    assert leftovers(tmp_path) == []


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_server(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/hymenoptera_data.zip"
    start = time.monotonic()
    with pytest.raises(PipelineError) as excinfo:
        quick_fetch(url, tmp_path / "archive.zip", retries=2, timeout=2)
    assert time.monotonic() - start < 5
    message = str(excinfo.value)
    assert message.startswith(f"could not download {url}")
    assert "set data.url to its local path or a file:// URL" in message
    assert leftovers(tmp_path) == []


# --- download.py ------------------------------------------------------------------------


def test_optional_hash():
    assert [download.optional_hash(v) for v in ("none", "NULL", "")] == [None, None, None]
    assert download.optional_hash(PAYLOAD_SHA256) == PAYLOAD_SHA256


def test_cli_main(tmp_path, source):
    dest = tmp_path / "raw" / "archive.zip"
    args = download.get_args_parser().parse_args(
        ["--url", source.as_uri(), "--out", str(dest), "--sha256", "none"]
    )
    assert args.sha256 is None and args.config_prefix == "data." and args.retries == 3
    download.main(args)
    assert dest.read_bytes() == PAYLOAD


def test_cli_main_mismatch_raises(tmp_path, source):
    argv = ["--url", str(source), "--out", str(tmp_path / "w.pth"), "--sha256", WRONG_SHA256]
    args = download.get_args_parser().parse_args([*argv, "--config-prefix", "model.weights_"])
    with pytest.raises(PipelineError, match=r"set model\.weights_sha256 to the right hash"):
        download.main(args)


def test_cli_exits_1_with_one_error_line(tmp_path, source):
    dest = tmp_path / "archive.zip"
    argv = ["--url", str(source), "--out", str(dest), "--sha256", WRONG_SHA256]
    error = cli_error_line("download.py", *argv, timeout=60)
    assert "sha256 mismatch" in error and "data.sha256" in error
    assert not dest.exists() and not part_path(dest).exists()


def test_download_script_imports_no_torch():
    """Fetching a file needs no torch, whose import costs every download job seconds
    (torchvision is imported only to look up `weights_url: auto`)."""
    code = "import sys, download; print(sorted({'torch', 'torchvision'} & set(sys.modules)))"
    result = run([sys.executable, "-c", code], cwd=REPO / "workflow/scripts")
    assert result.stdout.strip() == "[]"
