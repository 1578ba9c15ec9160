"""Helpers for the admin's browser tests (Playwright's sync API, with the `browser`
fixture of tests/conftest.py, Debian's headless Chromium).

- `assert_accessible(page, name)`: axe-core on the page as it is now; fails on any
  violation of impact "serious" or "critical" and writes axe's whole result to
  artifacts/axe/<name>.json.
- `screenshot_widths(page, name)`: full-page screenshots at 1,280 and 1,920 px wide to
  artifacts/screenshots/<name>-<width>.png, with how far the page overflows sideways.
- `horizontal_overflow(page)`: how many pixels the page is wider than the window at
  1,280 px (0: it fits).
- `visit(page, name, url)`: go there, wait for the page, and do both of the above.

axe-core comes from axe-playwright-python, which ships axe.min.js inside the package:
nothing is downloaded while the tests run. artifacts/ is git-ignored; CI keeps it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import Axe

from erasure.management.commands.seed_demo import DEMO_PASSWORD
from tests.conftest import ROOT

ARTIFACTS = ROOT / "artifacts"
AXE_RESULTS = ARTIFACTS / "axe"
SCREENSHOTS = ARTIFACTS / "screenshots"

BLOCKING_IMPACTS = ("serious", "critical")
WIDTHS = (1280, 1920)
HEIGHT = 900
# How much of each failing node a message shows.
MAX_TARGETS = 3
MAX_SNIPPET = 200

_AXE = Axe()


@dataclass(frozen=True)
class Screenshot:
    width: int
    path: Path
    overflow: int  # px the document is wider than the window at this width (0: it fits)


def _file_name(name: str) -> str:
    """`name` as a safe file name: letters, digits, '.', '_' and '-' only."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    if not cleaned:
        raise ValueError(f"no usable file name in {name!r}")
    return cleaned


def axe_run(page: Any, name: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run axe-core (its default rules, or `options` as `axe.run` takes them) on the page
    as it is now; write the whole result to artifacts/axe/<name>.json and return it.

    axe goes in through Playwright's evaluate (DevTools), which the admin's
    Content-Security-Policy does not block, so the page needs no change for it."""
    result = _AXE.run(page, options=options).response
    AXE_RESULTS.mkdir(parents=True, exist_ok=True)
    path = AXE_RESULTS / f"{_file_name(name)}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    return result


def blocking_violations(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The violations in an axe result whose impact is serious or critical."""
    return [v for v in result.get("violations", []) if v.get("impact") in BLOCKING_IMPACTS]


def describe_violations(violations: list[dict[str, Any]]) -> str:
    """One readable block per violation: rule id, impact, help, and for each failing node
    its first few target selectors and its HTML (shortened)."""
    lines = []
    for violation in violations:
        nodes = violation.get("nodes", [])
        lines.append(
            f"- {violation['id']} ({violation.get('impact')}): {violation.get('help')} "
            f"[{len(nodes)} node(s)] {violation.get('helpUrl', '')}".rstrip()
        )
        for node in nodes:
            targets = [_target_text(t) for t in node.get("target", [])[:MAX_TARGETS]]
            snippet = " ".join(node.get("html", "").split())
            if len(snippet) > MAX_SNIPPET:
                snippet = snippet[: MAX_SNIPPET - 1] + "…"
            lines.append(f"    target: {', '.join(targets)}")
            lines.append(f"    html:   {snippet}")
            summary = " ".join(node.get("failureSummary", "").split())
            if summary:
                lines.append(f"    why:    {summary}")
    return "\n".join(lines)


def _target_text(target: Any) -> str:
    # A node inside a shadow root or frame has a list of selectors, outermost first.
    return " >>> ".join(target) if isinstance(target, list) else str(target)


def assert_accessible(page: Any, name: str, options: dict[str, Any] | None = None) -> dict:
    """axe-core on the current page: fail, naming each one, if it finds any violation of
    impact serious or critical. The whole result goes to artifacts/axe/<name>.json either
    way; it is also returned."""
    result = axe_run(page, name, options)
    blocking = blocking_violations(result)
    if blocking:
        raise AssertionError(
            f"{len(blocking)} serious or critical accessibility violation(s) on {name} "
            f"({page.url}); full result in {AXE_RESULTS / _file_name(name)}.json:\n"
            + describe_violations(blocking)
        )
    return result


def _overflow_now(page: Any) -> int:
    # The root element's clientWidth is the window less any vertical scrollbar, so a page
    # that fits gives 0 whether or not the browser draws scrollbars. The admin's lists
    # scroll inside their own box (`.results`): a column cut off there counts too.
    return int(
        page.evaluate(
            """() => Math.max(
                document.documentElement.scrollWidth - document.documentElement.clientWidth,
                ...[...document.querySelectorAll('.results')].map(
                    e => e.scrollWidth - e.clientWidth))"""
        )
    )


def _viewport(page: Any) -> dict[str, int]:
    size = page.viewport_size
    if size is None:  # a context made with no_viewport: take the window's own size
        size = page.evaluate("() => ({width: window.innerWidth, height: window.innerHeight})")
    return {"width": int(size["width"]), "height": int(size["height"])}


def horizontal_overflow(page: Any, width: int | None = 1280) -> int:
    """How many px the document is wider than the window (0: no sideways scrolling), at
    `width` px (the viewport is set for the measure and put back), or as it is if None."""
    if width is None:
        return _overflow_now(page)
    original = _viewport(page)
    try:
        page.set_viewport_size({"width": width, "height": HEIGHT})
        return _overflow_now(page)
    finally:
        page.set_viewport_size(original)


def screenshot_widths(
    page: Any, name: str, widths: tuple[int, ...] = WIDTHS, height: int = HEIGHT
) -> list[Screenshot]:
    """A full-page screenshot at each width (`height` px window) to
    artifacts/screenshots/<name>-<width>.png; the viewport is put back afterwards.
    Each `Screenshot` also says how far the page overflowed sideways at that width."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    original = _viewport(page)
    shots = []
    try:
        for width in widths:
            page.set_viewport_size({"width": width, "height": height})
            path = SCREENSHOTS / f"{_file_name(name)}-{width}.png"
            page.screenshot(path=str(path), full_page=True)
            shots.append(Screenshot(width=width, path=path, overflow=_overflow_now(page)))
    finally:
        page.set_viewport_size(original)
    return shots


def visit(page: Any, name: str, url: str | None = None) -> list[Screenshot]:
    """Go to `url` (if given), wait for the page to load, fail on serious or critical
    axe violations, and take the screenshots at 1,280 and 1,920 px; returns those."""
    if url is not None:
        page.goto(url)
    page.wait_for_load_state("load")
    assert_accessible(page, name)
    return screenshot_widths(page, name)


def admin_login(page: Any, base_url: str, username: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in at the admin's login form and wait for the admin index (by default with
    the password of the demo users that `seed_demo` makes)."""
    page.goto(f"{base_url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(re.compile(r"/admin/$"))


def page_check(page: Any, name: str, url: str | None = None) -> None:
    """`visit`, and the page fits a 1,280 px window without sideways scrolling."""
    shots = visit(page, name, url)
    narrow = [shot for shot in shots if shot.width == 1280]
    assert narrow and narrow[0].overflow == 0, (
        f"{name} is {narrow[0].overflow} px wider than a 1,280 px window"
    )


def tab_to(page: Any, selector: str, *, limit: int = 150) -> None:
    """Press Tab until the element matching `selector` has the focus, as a person using
    the keyboard alone would; fail if it is never reached."""
    for _ in range(limit):
        if page.evaluate("(s) => document.activeElement?.matches(s) ?? false", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"{selector} cannot be reached with the Tab key ({page.url})")


def dead_links(page: Any) -> list[tuple[str, int]]:
    """The page's links (same origin, not the logout) that answer its viewer with an
    error status: (url, status) for each; empty when every link can be followed."""
    origin = page.evaluate("() => location.origin")
    urls = page.evaluate(
        """(origin) => [...new Set([...document.querySelectorAll('a[href]')]
            .map(a => a.href.split('#')[0])
            .filter(h => h.startsWith(origin) && !h.includes('/logout')))]""",
        origin,
    )
    broken = []
    for url in urls:
        status = page.request.get(url, max_redirects=0).status
        if status >= 400:
            broken.append((url, status))
    return broken
