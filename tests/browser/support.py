"""A real headless Chromium (the system's, never a download) against the gateway served
over real HTTP on 127.0.0.1, with axe-core's accessibility check and screenshots.

Without a browser the tests are skipped with what to install, except in CI (`CI=true`),
where a missing browser fails them: `python3 infra/bootstrap.py test` installs it there.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.async_api import Page

from tests.conftest import SUITE_DATA

HERE = Path(__file__).parent
AXE = HERE / "vendor" / "axe-core" / "axe.min.js"
# The README's pictures are made again only when asked (REGIE_UPDATE_SCREENSHOTS=1): a
# test run must not change files under version control. Otherwise they go to the
# suite's own folder (.data/tests/screenshots), where the last run's pictures stay to look at.
DOC_SCREENSHOTS = HERE.parent.parent / "docs" / "screenshots"
SCREENSHOTS = (DOC_SCREENSHOTS if os.environ.get("REGIE_UPDATE_SCREENSHOTS") == "1"
               else SUITE_DATA / "screenshots")
BROWSER_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL = ("no Chromium found (looked for REGIE_CHROMIUM, then "
           f"{', '.join(BROWSER_NAMES)} on PATH); install it with "
           "`apt-get update && apt-get install -y chromium` (Debian/Ubuntu), or set "
           "REGIE_CHROMIUM to a Chromium or Chrome executable")
# The WCAG 2.1 A and AA rules of axe-core.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def chromium_path() -> str:
    """The system's Chromium, or the test is skipped (failed in CI) with what to install."""
    configured = os.environ.get("REGIE_CHROMIUM")
    found = configured if configured and Path(configured).exists() else next(
        (path for name in BROWSER_NAMES if (path := shutil.which(name))), None)
    if found is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"browser tests must run in CI: {INSTALL}")
        pytest.skip(INSTALL)
    return found


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """`app` on a free port of 127.0.0.1 over real HTTP, in this event loop; its base
    URL. The app's lifespan is the caller's (it has started already)."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off",
                                           log_config=None, access_log=False))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # raises what stopped it
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def assert_accessible(page: Page) -> None:
    """axe-core's WCAG 2.1 A/AA rules on the page as it is now: no violations. (The
    workspace's Content-Security-Policy allows no injected script: the pages' browser
    contexts bypass it for axe alone, `new_context(bypass_csp=True)`.)"""
    await page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = await page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_TAGS)
    violations = [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(n["target"]) for n in v["nodes"][:3])
        for v in result["violations"]]
    assert not violations, f"{page.url}: " + "; ".join(violations)


async def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
