"""A self-contained HTML page rendered in a real headless Chromium, seen from inside.

Debian's ``chromium`` is started headless with a private profile and a DevTools port
chosen by the browser (``--remote-debugging-port=0``); the test talks the DevTools
protocol to it over one WebSocket (``websocket-client``). The page is opened in a fresh
tab with the Page, Runtime, Log and Network domains enabled before navigation, so every
console message, uncaught exception, log entry and network request of the load is seen;
then the rendered DOM is asked how many tables and images it holds and whether every
image decoded.

``.ci/run`` installs chromium; where it is missing the :func:`chromium` fixture skips,
saying so.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

#: Executable names of Chromium, in the order they are looked for.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
#: Seconds allowed for the browser to start, and for one page to load and answer.
TIMEOUT_S = 60.0

_LISTENING = re.compile(r"DevTools listening on (ws://\S+)")

#: What the rendered page is asked (awaited): its tables, images, and each image decoded.
_PROBE = """
(async () => {
  const images = [...document.images];
  const decoded = await Promise.all(images.map(
      img => img.decode().then(() => img.naturalWidth, () => 0)));
  return JSON.stringify({
    title: document.title,
    tables: document.querySelectorAll("table").length,
    flagged: document.querySelectorAll("td.flag").length,
    images: images.length,
    natural_widths: decoded,
    headings: [...document.querySelectorAll("h2")].map(h => h.textContent),
    text: document.body.innerText,
  });
})()
"""


@dataclass
class Rendered:
    """What a page showed in the browser.

    Attributes:
        title: the document title.
        tables: ``<table>`` elements in the rendered DOM.
        flagged: cells marked as differing from their reference beyond tolerance.
        images: ``<img>`` elements.
        natural_widths: each image's natural width once decoded (0: it did not decode).
        headings: the text of every ``<h2>`` (one per report, and "Plots").
        text: the page's rendered text.
        errors: console errors, uncaught exceptions and error log entries.
        requests: the URL of every request the page made.
    """

    title: str
    tables: int
    flagged: int
    images: int
    natural_widths: list[int]
    headings: list[str]
    text: str = field(repr=False)
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list, repr=False)

    @property
    def remote_requests(self) -> list[str]:
        """Requests for anything but the page itself and ``data:`` URIs."""
        return [u for u in self.requests if not u.startswith(("file://", "data:"))]


def find_chromium() -> str | None:
    """The Chromium executable on ``PATH``, or ``None``."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


class _DevTools:
    """One DevTools connection: commands by id, events kept in arrival order."""

    def __init__(self, url: str) -> None:
        import websocket  # websocket-client

        self.ws = websocket.create_connection(url, timeout=TIMEOUT_S, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        while True:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"DevTools {method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, session: str, since: int, deadline: float) -> None:
        """Until ``session`` has sent ``method`` (among the events from index ``since``)."""
        def seen(event: dict[str, Any]) -> bool:
            return event.get("method") == method and event.get("sessionId") == session

        if any(seen(e) for e in self.events[since:]):
            return
        while time.monotonic() < deadline:
            event = json.loads(self.ws.recv())
            self.events.append(event)
            if seen(event):
                return
        raise TimeoutError(f"DevTools: no {method} within {TIMEOUT_S} s")

    def close(self) -> None:
        self.ws.close()


@dataclass
class Chromium:
    """A running headless Chromium; :meth:`render` opens one page in a new tab."""

    process: subprocess.Popen[str]
    devtools: _DevTools

    def render(self, page: Path) -> Rendered:
        """Load ``page`` (a local file), wait for its load event, and ask the DOM."""
        dt = self.devtools
        target = dt.send("Target.createTarget", url="about:blank")["targetId"]
        session = dt.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        first = len(dt.events)
        for domain in ("Page", "Runtime", "Log", "Network"):
            dt.send(f"{domain}.enable", session)
        dt.send("Page.navigate", session, url=page.resolve().as_uri())
        dt.wait_for("Page.loadEventFired", session, first, time.monotonic() + TIMEOUT_S)
        probe = dt.send("Runtime.evaluate", session, expression=_PROBE, awaitPromise=True,
                        returnByValue=True)
        if "exceptionDetails" in probe:
            raise RuntimeError(f"probe failed: {probe['exceptionDetails']}")
        seen = json.loads(probe["result"]["value"])
        dt.send("Target.closeTarget", targetId=target)
        events = [e for e in dt.events[first:] if e.get("sessionId") == session]
        return Rendered(**seen, errors=_errors(events), requests=[
            e["params"]["request"]["url"] for e in events
            if e.get("method") == "Network.requestWillBeSent"])


def _errors(events: list[dict[str, Any]]) -> list[str]:
    out = []
    for e in events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            thrown = details.get("exception", {}).get("description") or details.get("text")
            out.append(f"exception: {thrown}")
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error",
                                                                              "assert"):
            out.append(f"console.{params['type']}: {params.get('args')}")
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            out.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")
    return out


def start(executable: str, profile: Path) -> Chromium:
    """Start ``executable`` headless with the profile folder ``profile``.

    Raises:
        RuntimeError: it did not say where its DevTools listen within :data:`TIMEOUT_S`.
    """
    args = [executable, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--no-default-browser-check", "--disable-extensions", "--disable-sync",
            "--disable-background-networking", "--disable-component-update",
            "--disable-dev-shm-usage", f"--user-data-dir={profile}",
            "--remote-debugging-port=0", "about:blank"]
    process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    assert process.stderr is not None
    deadline = time.monotonic() + TIMEOUT_S
    lines = []
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        lines.append(line)
        found = _LISTENING.search(line)
        if found:  # the rest of its log is read and dropped, so that it never blocks
            threading.Thread(target=process.stderr.read, daemon=True).start()
            return Chromium(process, _DevTools(found.group(1)))
    stop(process)
    raise RuntimeError(f"{executable} did not start: {''.join(lines)[-2000:]}")


def stop(process: subprocess.Popen[str]) -> None:
    """End the browser and every process it started (its own session)."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Chromium]:
    """A headless Chromium for the whole session (skips where none is installed)."""
    executable = find_chromium()
    if executable is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium; "
                    ".ci/run installs it before the suite), so report.html cannot be "
                    "rendered")
    with tempfile.TemporaryDirectory(prefix="prosparsity-chromium-") as profile:
        browser = start(executable, Path(profile))
        try:
            yield browser
        finally:
            browser.devtools.close()
            stop(browser.process)


def check_page(browser: Chromium, page: Path, *, tables: int, images: int) -> Rendered:
    """Render ``page`` and assert what every report.html must be: ``tables`` tables and
    ``images`` images, every image decoded, no console error, no request off the page."""
    shown = browser.render(page)
    assert shown.errors == [], shown.errors
    assert shown.remote_requests == [], shown.remote_requests
    assert (shown.tables, shown.images) == (tables, images), shown.headings
    assert all(w > 0 for w in shown.natural_widths), shown.natural_widths
    return shown
