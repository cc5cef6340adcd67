"""Open a local, self-contained HTML file in headless Chromium and inspect it.

The helper drives Debian's Chromium (``apt-get install chromium``) through the Chrome
DevTools Protocol (CDP) over ``--remote-debugging-pipe``: the browser reads JSON commands
from file descriptor 3 and writes JSON replies and events to file descriptor 4, each
message terminated by a NUL byte.  This needs nothing beyond the standard library: no
websocket package, no TCP port, no ``DevToolsActivePort`` polling, and if the browser
dies the pipe closes at once instead of a socket hanging.

:func:`inspect_page` loads the file, waits for ``load`` and for every ``<img>`` to settle,
records every request that is not the file itself or a ``data:``/``blob:`` URL (those
requests are also *blocked*, so the page never reaches the network and an unreachable
host cannot stall the ``load`` event), collects console errors and warnings and uncaught
exceptions, and writes a full-page PNG screenshot.  The browser process group and its
temporary profile are always removed, also on errors and timeouts.

Typical use in a test::

    chromium = find_chromium()
    if chromium is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    report = inspect_page(html, tmp_path / "shot.png", chromium=chromium)
    assert report.ok, report.summary()
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import math
import os
import select
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self
from urllib.parse import unquote, urldefrag

__all__ = ["BrowserError", "PageReport", "chromium_flags", "find_chromium", "inspect_page"]

#: Environment variable that, when set, names the Chromium executable to use.
CHROMIUM_ENV = "CHROMIUM_PATH"

# The real binary first: Debian's /usr/bin/chromium is a shell wrapper that sources
# /etc/chromium.d/* and adds flags of its own (extensions, GPU rasterization, ...).
_CANDIDATES = (
    "/usr/lib/chromium/chromium",
    "chromium",
    "chromium-browser",
    "google-chrome-stable",
    "google-chrome",
)

# URL schemes that never leave the page: they are neither reported nor blocked.
_LOCAL_SCHEMES = ("data:", "blob:", "about:")

# Everything that could reach the network is blocked (and still reported).
# URLPattern syntax (CDP `urlPatterns`): "http://*" alone would only match the default port.
_BLOCK_SCHEMES = ("http", "https", "ws", "wss", "ftp")

_CLOSE_GRACE = 2.0  # seconds Chromium gets to exit on Browser.close before SIGKILL
_DATA_PREFIX = 80  # how much of a data: URI to keep in PageReport.images_broken
_SRC_MAX = 500  # and of any other src

# Runs in the page after `load`: makes lazy images eager, waits (bounded) for every image
# and for web fonts, lets two frames render, then reports each image's state.
_IMAGES_JS = """
(async (limitMs) => {
  const imgs = Array.from(document.images);
  for (const img of imgs) { if (img.loading === 'lazy') img.loading = 'eager'; }
  const settle = (img) => img.decode().catch(() => null);  // rejects for broken images
  const timeout = new Promise((resolve) => setTimeout(() => resolve(null), limitMs));
  await Promise.race([Promise.all(imgs.map(settle)), timeout]);
  await Promise.race([document.fonts ? document.fonts.ready : null, timeout]);
  await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
  return imgs.map((img) => ({
    src: img.currentSrc || img.src || img.getAttribute('src') || '',
    complete: img.complete,
    naturalWidth: img.naturalWidth,
    naturalHeight: img.naturalHeight,
  }));
})
"""


class BrowserError(RuntimeError):
    """Chromium could not be started, broke the protocol, crashed or timed out."""


@dataclass
class PageReport:
    """What :func:`inspect_page` found out about one page."""

    url: str
    """The ``file://`` URL that was loaded."""
    screenshot_path: Path
    """Where the full-page PNG was written."""
    images_total: int = 0
    """Number of ``<img>`` elements in the document."""
    images_broken: list[str] = field(default_factory=list)
    """``src`` of each image that did not load (not complete or ``naturalWidth == 0``);
    ``data:`` URIs are cut to their first 80 characters."""
    external_requests: list[str] = field(default_factory=list)
    """URLs requested other than the page itself and ``data:``/``blob:`` URLs, in order,
    without duplicates.  All of them were blocked; a blocked http(s) request logs no console
    error, a missing local file logs ``Failed to load resource``."""
    console_errors: list[str] = field(default_factory=list)
    """``console.error``/``console.assert`` calls, uncaught exceptions and browser-side
    errors (e.g. ``Failed to load resource``)."""
    console_warnings: list[str] = field(default_factory=list)
    """``console.warn`` calls and browser-side warnings."""
    page_size: tuple[int, int] = (0, 0)
    """CSS size (width, height) of the whole document, as captured."""
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds spent in each phase: ``start`` (browser up, tab attached), ``load``,
    ``images`` (image wait plus *settle*), ``screenshot``, and ``total`` (teardown included)."""

    @property
    def ok(self) -> bool:
        """True when all images loaded, nothing was requested and nothing was logged as error."""
        return not (self.images_broken or self.external_requests or self.console_errors)

    def summary(self) -> str:
        """Describe the findings on a few lines, handy as an assertion message."""
        lines = [
            f"page {self.url}: {self.images_total} image(s), screenshot {self.screenshot_path}",
            f"broken images: {self.images_broken or 'none'}",
            f"external requests: {self.external_requests or 'none'}",
            f"console errors: {self.console_errors or 'none'}",
            f"console warnings: {self.console_warnings or 'none'}",
        ]
        return "\n".join(lines)


def find_chromium() -> str | None:
    """Return the path of a Chromium executable, or ``None`` when there is none.

    ``$CHROMIUM_PATH`` wins when it names an executable file; then Debian's real binary
    ``/usr/lib/chromium/chromium``; then ``chromium``, ``chromium-browser`` and
    ``google-chrome`` on ``$PATH``.
    """
    env = os.environ.get(CHROMIUM_ENV)
    if env:
        found = shutil.which(env)
        return found if found else None
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_flags(user_data_dir: str | os.PathLike[str], width: int, height: int) -> list[str]:
    """Return the command-line flags for a quiet, offline, headless Chromium run as root."""
    return [
        "--headless",
        "--no-sandbox",  # root cannot use the setuid/user-namespace sandbox
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--disable-extensions",
        "--disable-default-apps",
        "--disable-domain-reliability",
        "--disable-breakpad",
        "--disable-crash-reporter",
        "--disable-dev-shm-usage",  # small /dev/shm in containers crashes renderers
        "--disable-features=Translate,MediaRouter,OptimizationHints,AutofillServerCommunication",
        "--metrics-recording-only",
        "--no-pings",
        "--password-store=basic",
        "--use-mock-keychain",
        "--mute-audio",
        "--hide-scrollbars",
        "--force-color-profile=srgb",
        "--force-device-scale-factor=1",
        # Any host name resolves to "not found" at once: a DNS look-up can neither leak
        # nor stall, whatever slips past the request blocking below.
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--window-size={width},{height}",
        f"--user-data-dir={os.fspath(user_data_dir)}",
        "--remote-debugging-pipe",
        "about:blank",
    ]


class _Deadline:
    """An absolute point in (monotonic) time that every wait is bounded by."""

    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds
        self.seconds = seconds

    def remaining(self, what: str) -> float:
        """Seconds left; raises :class:`BrowserError` naming *what* when none are."""
        left = self.end - time.monotonic()
        if left <= 0:
            raise BrowserError(f"timed out after {self.seconds:g} s while {what}")
        return left


def _high_fd(fd: int) -> int:
    """Move *fd* to a close-on-exec descriptor >= 10, so that dup2 onto 3/4 cannot clash."""
    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return new


class _Browser:
    """A Chromium process group plus its CDP pipe; :meth:`close` always cleans up."""

    def __init__(self, executable: str, width: int, height: int, deadline: _Deadline) -> None:
        self._deadline = deadline
        self._buf = bytearray()
        self._scanned = 0  # self._buf[:self._scanned] holds no NUL
        self._next_id = 0
        self._pid: int | None = None
        self._to_browser = -1
        self._from_browser = -1
        self._tmp = Path(tempfile.mkdtemp(prefix="inspect-page-"))
        self._log = self._tmp / "chromium.log"
        profile = self._tmp / "profile"
        profile.mkdir()
        self.on_event: Callable[[dict[str, Any]], None] = lambda _msg: None
        try:
            self._spawn(executable, chromium_flags(profile, width, height))
        except BaseException:
            self.close()
            raise

    def _spawn(self, executable: str, flags: list[str]) -> None:
        cmd_r, cmd_w = (_high_fd(fd) for fd in os.pipe())
        evt_r, evt_w = (_high_fd(fd) for fd in os.pipe())
        self._to_browser, self._from_browser = cmd_w, evt_r
        log = os.open(self._log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            self._pid = os.posix_spawn(
                executable,
                [executable, *flags],
                dict(os.environ),
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_DUP2, log, 1),
                    (os.POSIX_SPAWN_DUP2, log, 2),
                    (os.POSIX_SPAWN_DUP2, cmd_r, 3),  # browser reads commands from fd 3
                    (os.POSIX_SPAWN_DUP2, evt_w, 4),  # and writes replies/events to fd 4
                ],
                setsid=True,  # own process group: killpg() takes the renderers too
            )
        except OSError as exc:
            raise BrowserError(f"cannot start {executable}: {exc}") from exc
        finally:
            for fd in (log, cmd_r, evt_w):
                os.close(fd)
        os.set_blocking(self._to_browser, False)

    def log_tail(self, chars: int = 2000) -> str:
        """Return the end of Chromium's stdout/stderr, for error messages."""
        try:
            return self._log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    # -- protocol -------------------------------------------------------------------------

    def send(
        self, method: str, params: dict[str, Any] | None = None, session_id: str | None = None
    ) -> int:
        """Send one command without waiting; returns its id."""
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session_id:
            msg["sessionId"] = session_id
        data = memoryview(json.dumps(msg).encode() + b"\0")
        while data:
            _, ready, _ = select.select(
                [], [self._to_browser], [], self._deadline.remaining(f"sending {method}")
            )
            if ready:
                try:
                    data = data[os.write(self._to_browser, data) :]
                except BrokenPipeError:
                    raise BrowserError(self._died(f"sending {method}")) from None
        return self._next_id

    def call(
        self, method: str, params: dict[str, Any] | None = None, session_id: str | None = None
    ) -> dict[str, Any]:
        """Send a command and return its result, dispatching events that arrive meanwhile."""
        msg_id = self.send(method, params, session_id)
        reply = self.wait(lambda m: m.get("id") == msg_id, f"waiting for {method}")
        if "error" in reply:
            raise BrowserError(f"{method} failed: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    def wait(self, predicate: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        """Read messages (events go to :attr:`on_event`) until one satisfies *predicate*."""
        while True:
            msg = self._read(self._deadline.remaining(what), what)
            if msg is None:
                continue
            if "method" in msg:
                self.on_event(msg)
            if predicate(msg):
                return msg

    def pump(self, seconds: float) -> None:
        """Dispatch events for *seconds* (0: only those already waiting), within the deadline."""
        end = min(time.monotonic() + seconds, self._deadline.end)
        while msg := self._read(max(0.0, end - time.monotonic()), "collecting events"):
            if "method" in msg:
                self.on_event(msg)
            if time.monotonic() > end + 1.0:  # a page that never stops logging
                break

    def _read(self, timeout: float, what: str) -> dict[str, Any] | None:
        """Return the next message, or ``None`` when *timeout* passes first."""
        end = time.monotonic() + timeout
        while (nul := self._buf.find(b"\0", self._scanned)) < 0:
            self._scanned = len(self._buf)  # a screenshot arrives in many chunks
            left = end - time.monotonic()
            ready, _, _ = select.select([self._from_browser], [], [], max(left, 0.0))
            if not ready:
                return None
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise BrowserError(self._died(what))
            self._buf += chunk
        raw = bytes(self._buf[:nul])
        del self._buf[: nul + 1]
        self._scanned = 0
        msg: dict[str, Any] = json.loads(raw)
        return msg

    def _died(self, what: str) -> str:
        status = ""
        for _ in range(20):  # the pipe closes a moment before the process is reapable
            if self._pid is None:
                break
            with contextlib.suppress(ChildProcessError):
                pid, code = os.waitpid(self._pid, os.WNOHANG)
                if pid:
                    self._pid = None
                    status = f" (exit status {os.waitstatus_to_exitcode(code)})"
                    break
            time.sleep(0.05)
        return f"Chromium closed the DevTools pipe while {what}{status}:\n{self.log_tail()}"

    # -- teardown -------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the browser, kill what is left of its process group, delete the profile.

        ``Browser.close`` first, so that Chromium reaps its own helper processes (killed
        orphans are left to PID 1 to reap); SIGKILL to the whole group after
        :data:`_CLOSE_GRACE` seconds, or at once when the pipe is already gone.
        """
        if self._pid is not None:
            if self._to_browser >= 0:
                with contextlib.suppress(OSError):  # full or broken pipe: just kill
                    os.write(self._to_browser, b'{"id":0,"method":"Browser.close"}\0')
                    end = time.monotonic() + _CLOSE_GRACE
                    while time.monotonic() < end and os.waitpid(self._pid, os.WNOHANG)[0] == 0:
                        time.sleep(0.02)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(self._pid, 0)
            self._pid = None
        for fd in (self._to_browser, self._from_browser):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._to_browser = self._from_browser = -1
        # Renderers may still be exiting and writing to the profile: retry briefly.
        for _ in range(5):
            shutil.rmtree(self._tmp, ignore_errors=True)
            if not self._tmp.exists():
                break
            time.sleep(0.1)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _same_document(url: str, page_url: str) -> bool:
    return unquote(urldefrag(url)[0]) == unquote(urldefrag(page_url)[0])


def _short_src(src: str) -> str:
    return src[: _DATA_PREFIX if src.startswith("data:") else _SRC_MAX]


def _where(url: str | None, line: int | None) -> str:
    if not url:
        return ""
    return f" ({url}:{line + 1})" if line is not None else f" ({url})"


def _remote_object_text(obj: dict[str, Any]) -> str:
    if "value" in obj:
        value = obj["value"]
        return value if isinstance(value, str) else json.dumps(value)
    return str(obj.get("description") or obj.get("unserializableValue") or obj.get("type", ""))


class _Collector:
    """Turns the CDP events of one page session into report fields."""

    def __init__(self, browser: _Browser, session_id: str, page_url: str) -> None:
        self.browser = browser
        self.session_id = session_id
        self.page_url = page_url
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.loaded = False
        self._handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            "Inspector.targetCrashed": self._crashed,
            "Page.javascriptDialogOpening": self._dialog,
            "Page.loadEventFired": self._load,
            "Network.requestWillBeSent": lambda p: self._request(p["request"]["url"]),
            "Network.webSocketCreated": lambda p: self._request(p["url"]),
            "Runtime.consoleAPICalled": self._console,
            "Runtime.exceptionThrown": self._exception,
            "Log.entryAdded": self._log_entry,
        }

    def __call__(self, msg: dict[str, Any]) -> None:
        """Handle one event (installed as :attr:`_Browser.on_event`)."""
        method, params = msg["method"], msg.get("params", {})
        if method == "Target.detachedFromTarget" and params.get("sessionId") == self.session_id:
            raise BrowserError(f"the page target went away:\n{self.browser.log_tail()}")
        handler = self._handlers.get(method)
        if handler is not None and msg.get("sessionId") == self.session_id:
            handler(params)

    def _crashed(self, _params: dict[str, Any]) -> None:
        raise BrowserError(f"the renderer crashed:\n{self.browser.log_tail()}")

    def _dialog(self, params: dict[str, Any]) -> None:
        # alert()/confirm()/prompt() would block the page until answered.
        self.warnings.append(f"dialog {params.get('type')}: {params.get('message', '')}")
        self.browser.send("Page.handleJavaScriptDialog", {"accept": False}, self.session_id)

    def _load(self, _params: dict[str, Any]) -> None:
        self.loaded = True

    def _request(self, url: str) -> None:
        if url.startswith(_LOCAL_SCHEMES) or _same_document(url, self.page_url):
            return
        if url not in self.requests:
            self.requests.append(url)

    def _console(self, params: dict[str, Any]) -> None:
        kind = params.get("type", "")
        text = " ".join(_remote_object_text(a) for a in params.get("args", []))
        frame = ((params.get("stackTrace") or {}).get("callFrames") or [{}])[0]
        text = f"console.{kind}: {text}{_where(frame.get('url'), frame.get('lineNumber'))}"
        if kind in ("error", "assert"):
            self.errors.append(text)
        elif kind == "warning":
            self.warnings.append(text)

    def _exception(self, params: dict[str, Any]) -> None:
        details = params.get("exceptionDetails", {})
        exc = details.get("exception") or {}
        text = exc.get("description") or details.get("text", "exception")
        where = _where(details.get("url"), details.get("lineNumber"))
        self.errors.append(f"uncaught exception: {text}{where}")

    def _log_entry(self, params: dict[str, Any]) -> None:
        entry = params.get("entry", {})
        text = f"{entry.get('source', 'browser')}: {entry.get('text', '')}"
        text += _where(entry.get("url"), entry.get("lineNumber"))
        if entry.get("level") == "error":
            self.errors.append(text)
        elif entry.get("level") == "warning":
            self.warnings.append(text)


def _block_network(browser: _Browser, sid: str) -> None:
    """Make the page fail every network request before it leaves the browser.

    Blocked requests still raise ``Network.requestWillBeSent`` (so they are reported) and
    fail at once with ``blockedReason: inspector``; Chromium logs no console error for them.
    """
    patterns = [{"urlPattern": f"{scheme}://*:*/*", "block": True} for scheme in _BLOCK_SCHEMES]
    try:
        browser.call("Network.setBlockedURLs", {"urlPatterns": patterns}, session_id=sid)
    except BrowserError:  # Chromium before `urlPatterns`: the older glob form
        urls = [f"{scheme}://*" for scheme in _BLOCK_SCHEMES]
        browser.call("Network.setBlockedURLs", {"urls": urls}, session_id=sid)


def _open_page(browser: _Browser, url: str, width: int, height: int) -> _Collector:
    """Create and attach a tab, enable the domains and blocking; returns its collector."""
    browser.call("Browser.getVersion")  # answered once the browser is up
    target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})
    sid: str = session["sessionId"]
    collector = _Collector(browser, sid, url)
    browser.on_event = collector
    for domain in ("Inspector", "Page", "Runtime", "Log", "Network"):
        browser.call(f"{domain}.enable", session_id=sid)
    _block_network(browser, sid)
    browser.call(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        session_id=sid,
    )
    return collector


def _check_images(browser: _Browser, sid: str, limit_s: float) -> list[dict[str, Any]]:
    """Wait (at most *limit_s* in the page) for all images; returns their states."""
    result = browser.call(
        "Runtime.evaluate",
        {
            "expression": f"({_IMAGES_JS})({int(max(limit_s, 0.0) * 1000)})",
            "awaitPromise": True,
            "returnByValue": True,
        },
        session_id=sid,
    )
    if "exceptionDetails" in result:
        raise BrowserError(f"image check failed: {result['exceptionDetails']}")
    images: list[dict[str, Any]] = result["result"]["value"]
    return images


def _capture(
    browser: _Browser, sid: str, shot: Path, viewport: tuple[int, int], max_height: int
) -> tuple[int, int]:
    """Write a PNG of the whole document to *shot*; returns its CSS size."""
    metrics = browser.call("Page.getLayoutMetrics", session_id=sid)
    size = metrics.get("cssContentSize") or metrics["contentSize"]
    full_w = max(viewport[0], math.ceil(size["width"]))
    full_h = min(max(viewport[1], math.ceil(size["height"])), max_height)
    png = browser.call(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": full_w, "height": full_h, "scale": 1},
        },
        session_id=sid,
    )
    shot.parent.mkdir(parents=True, exist_ok=True)
    shot.write_bytes(base64.b64decode(png["data"]))
    return full_w, full_h


def inspect_page(
    html_path: str | os.PathLike[str],
    screenshot_path: str | os.PathLike[str],
    timeout: float = 60.0,
    *,
    chromium: str | None = None,
    width: int = 1366,
    height: int = 900,
    settle: float = 0.3,
    max_height: int = 16384,
) -> PageReport:
    """Load *html_path* in headless Chromium, inspect it and write a full-page screenshot.

    Args:
        html_path: the local HTML file.  It is opened as a ``file://`` URL.
        screenshot_path: where to write the PNG (parent folders are created).
        timeout: overall limit in seconds, browser start and teardown included.
        chromium: the executable; :func:`find_chromium` by default.
        width: viewport width in CSS pixels (the screenshot is at least this wide).
        height: viewport height in CSS pixels.
        settle: seconds to keep listening after the images settled, for late console
            messages and requests (e.g. from timers or chart libraries).
        max_height: the screenshot is cut at this many CSS pixels.

    Returns:
        A :class:`PageReport`.

    Raises:
        FileNotFoundError: *html_path* does not exist.
        BrowserError: Chromium is missing, failed, crashed or the timeout passed.  The
            browser and its temporary profile are removed in every case.

    """
    started = mark = time.monotonic()
    page = Path(html_path).resolve(strict=True)
    executable = chromium or find_chromium()
    if executable is None:
        raise BrowserError(f"no Chromium found (apt-get install chromium, or set ${CHROMIUM_ENV})")
    deadline = _Deadline(timeout)
    report = PageReport(url=page.as_uri(), screenshot_path=Path(screenshot_path))

    def lap(name: str) -> None:
        nonlocal mark
        now = time.monotonic()
        report.timings[name] = round(now - mark, 3)
        mark = now

    with _Browser(executable, width, height, deadline) as browser:
        collector = _open_page(browser, report.url, width, height)
        lap("start")

        nav = browser.call("Page.navigate", {"url": report.url}, session_id=collector.session_id)
        if nav.get("errorText"):
            raise BrowserError(f"navigating to {report.url} failed: {nav['errorText']}")
        if not collector.loaded:
            browser.wait(lambda _msg: collector.loaded, "waiting for the load event")
        lap("load")

        # Leave the page's own image wait a few seconds short of the deadline, so that a
        # hanging image is reported as broken rather than as a timeout.
        limit_s = min(30.0, deadline.remaining("checking images") - 5.0)
        images = _check_images(browser, collector.session_id, limit_s)
        report.images_total = len(images)
        report.images_broken = [
            _short_src(str(img["src"]))
            for img in images
            if not (img["complete"] and img["naturalWidth"] > 0)
        ]
        browser.pump(settle)
        lap("images")

        report.page_size = _capture(
            browser, collector.session_id, report.screenshot_path, (width, height), max_height
        )
        browser.pump(0)  # events already in the pipe
        lap("screenshot")

    report.external_requests = list(collector.requests)
    report.console_errors = list(collector.errors)
    report.console_warnings = list(collector.warnings)
    report.timings["total"] = round(time.monotonic() - started, 3)
    return report
