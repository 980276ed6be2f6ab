"""The browser of the browser tests: the system's Chromium, headless, once per session."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright

from tests.browser.support import chromium_path


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    path = chromium_path()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=path, headless=True,
            # As root (CI containers) Chromium cannot use its sandbox.
            args=["--no-sandbox"] if os.geteuid() == 0 else [])
        yield launched
        await launched.close()
