"""Tests of tests/browser.py, the headless-Chromium page inspector, on small generated pages.

Tests that need a browser skip when Chromium is absent (``apt-get install chromium``).
"""

from __future__ import annotations

import base64
import os
import struct
import tempfile
import time
import zlib
from pathlib import Path

import pytest
from browser import BrowserError, PageReport, find_chromium, inspect_page  # tests/ is on sys.path

RED = (220, 20, 20)


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """Encode a solid-colour RGB PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(b"\0" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _decode_png(data: bytes, max_rows: int) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA, non-interlaced PNG (what Chromium writes).

    Returns width, height and the first *max_rows* rows as RGB bytes.
    """
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    width = height = channels = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
    raw, stride = zlib.decompress(idat), width * channels
    rows: list[bytes] = []
    prev = bytearray(stride)
    for y in range(min(height, max_rows)):
        filt, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b, c = prev[i], prev[i - channels] if i >= channels else 0
            if filt == 1:
                line[i] = (line[i] + a) & 0xFF
            elif filt == 2:
                line[i] = (line[i] + b) & 0xFF
            elif filt == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif filt == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(v for j, v in enumerate(line) if j % channels < 3))
        prev = line
    return width, height, rows


def _page(tmp_path: Path, body: str, name: str = "page.html") -> Path:
    html = tmp_path / name
    html.write_text(
        f'<!doctype html><html><head><meta charset="utf-8"><title>t</title></head>'
        f"<body>{body}</body></html>",
        encoding="utf-8",
    )
    return html


@pytest.fixture(scope="module")
def chromium() -> str:
    """The Chromium executable; skips the test when there is none."""
    found = find_chromium()
    if found is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return found


def test_good_page_loads_cleanly(tmp_path: Path, chromium: str) -> None:
    png = base64.b64encode(_png(40, 20, RED)).decode()
    svg = (
        "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='60' height='30'%3E"
        "%3Crect width='60' height='30' fill='navy'/%3E%3C/svg%3E"
    )
    body = (
        "<h1>Report é</h1>"
        f'<img alt="red" src="data:image/png;base64,{png}" width="400" height="200">'
        f'<img alt="svg" src="{svg}">'
        '<div style="height:2400px"></div>'
        "<p>bottom</p><script>console.log('fine'); console.info('also fine')</script>"
    )
    # A space and a non-ASCII letter in the name: the page's own URL must still match.
    html = _page(tmp_path, body, name="my report é.html")
    shot = tmp_path / "shots" / "good.png"

    report = inspect_page(html, shot, chromium=chromium)

    assert isinstance(report, PageReport)
    assert report.ok, report.summary()
    assert report.images_total == 2
    assert report.images_broken == []
    assert report.external_requests == []
    assert report.console_errors == []
    assert report.console_warnings == []
    assert report.screenshot_path == shot
    width, height, rows = _decode_png(shot.read_bytes(), max_rows=400)
    assert width == 1366
    assert height >= 2400  # the full page, not just the 900 px viewport
    assert report.page_size == (width, height)
    # The red image sits near the top left: the screenshot shows it.
    red = [
        (x, y)
        for y in range(0, 400, 4)
        for x in range(0, 600, 4)
        if abs(rows[y][3 * x] - RED[0]) < 8 and rows[y][3 * x + 1] < 40
    ]
    assert red, "the embedded PNG is not visible in the screenshot"
    assert set(report.timings) == {"start", "load", "images", "screenshot", "total"}


def test_external_image_and_console_error_are_reported(tmp_path: Path, chromium: str) -> None:
    html = _page(
        tmp_path,
        '<img src="https://example.com/x.png"><script>console.error("boom", 42)</script>',
    )
    started = time.monotonic()

    report = inspect_page(html, tmp_path / "ext.png", chromium=chromium)

    # The request is recorded and blocked: an unreachable network must not stall the page.
    assert time.monotonic() - started < 30
    assert report.external_requests == ["https://example.com/x.png"]
    assert report.images_broken == ["https://example.com/x.png"]
    assert any("console.error: boom 42" in e for e in report.console_errors), report.summary()
    assert not report.ok
    assert (tmp_path / "ext.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_kind_of_request_is_reported(tmp_path: Path, chromium: str) -> None:
    html = _page(
        tmp_path,
        '<link rel="stylesheet" href="http://127.0.0.1:9/style.css">'
        '<iframe src="https://example.org/frame"></iframe>'
        "<script>"
        "fetch('https://api.example.net/data?q=1').catch(() => {});"
        "new WebSocket('wss://example.org/socket');"
        "</script>",
    )

    report = inspect_page(html, tmp_path / "kinds.png", chromium=chromium)

    assert set(report.external_requests) == {
        "http://127.0.0.1:9/style.css",
        "https://example.org/frame",
        "https://api.example.net/data?q=1",
        "wss://example.org/socket",
    }, report.summary()


def test_broken_image_is_reported(tmp_path: Path, chromium: str) -> None:
    good = base64.b64encode(_png(4, 4, RED)).decode()
    html = _page(
        tmp_path,
        f'<img src="data:image/png;base64,{good}"><img src="data:image/png;base64,AAAAbroken">',
    )

    report = inspect_page(html, tmp_path / "broken.png", chromium=chromium)

    assert report.images_total == 2
    assert report.images_broken == ["data:image/png;base64,AAAAbroken"]
    assert report.external_requests == []  # data: URIs are not requests
    assert not report.ok


def test_missing_local_file_is_a_request_and_a_broken_image(tmp_path: Path, chromium: str) -> None:
    html = _page(tmp_path, '<img src="figures/missing.png">')

    report = inspect_page(html, tmp_path / "missing.png", chromium=chromium)

    missing = (tmp_path / "figures" / "missing.png").as_uri()
    assert report.external_requests == [missing]
    assert report.images_broken == [missing]
    assert any("ERR_FILE_NOT_FOUND" in e for e in report.console_errors), report.summary()


def test_exceptions_warnings_and_dialogs(tmp_path: Path, chromium: str) -> None:
    html = _page(
        tmp_path,
        "<script>"
        "console.warn('careful');"
        "alert('hello');"  # would block the page if left unanswered
        "setTimeout(() => { throw new Error('kaput'); }, 0);"
        "</script>",
    )

    report = inspect_page(html, tmp_path / "exc.png", chromium=chromium)

    assert any("uncaught exception" in e and "kaput" in e for e in report.console_errors)
    assert any("console.warning: careful" in w for w in report.console_warnings)
    assert any("dialog alert: hello" in w for w in report.console_warnings)
    assert report.external_requests == []


def test_timeout_kills_browser_and_removes_profile(
    tmp_path: Path, chromium: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    html = _page(tmp_path, "<script>while (true) {}</script>")
    started = time.monotonic()

    with pytest.raises(BrowserError, match="timed out"):
        inspect_page(html, tmp_path / "hang.png", timeout=2, chromium=chromium)

    assert time.monotonic() - started < 15
    assert list(scratch.iterdir()) == []  # the temporary profile is gone
    leftovers = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(scratch).encode() in cmdline.read_bytes():
                leftovers.append(cmdline.parent.name)
        except OSError:  # the process ended meanwhile
            pass
    assert leftovers == [], f"Chromium processes still running: {leftovers}"
    assert not (tmp_path / "hang.png").exists()


def test_missing_browser_or_page_raise(tmp_path: Path) -> None:
    html = _page(tmp_path, "<p>hi</p>")
    with pytest.raises(BrowserError, match="cannot start"):
        inspect_page(html, tmp_path / "x.png", chromium=str(tmp_path / "no-such-chromium"))
    with pytest.raises(FileNotFoundError):
        inspect_page(tmp_path / "absent.html", tmp_path / "x.png", chromium="/bin/true")


def test_find_chromium_honours_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHROMIUM_PATH", "/no/such/browser")
    assert find_chromium() is None
    monkeypatch.setenv("CHROMIUM_PATH", "/bin/sh")
    assert find_chromium() == "/bin/sh"
    monkeypatch.delenv("CHROMIUM_PATH")
    found = find_chromium()
    assert found is None or os.access(found, os.X_OK)
