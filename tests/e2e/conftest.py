"""Fixtures of the browser tests (the helpers live in browser_support.py)."""

from __future__ import annotations

import pytest
from browser_support import chromium_browser


@pytest.fixture
def chromium():
    """Headless Debian Chromium, closed when the test ends."""
    with chromium_browser() as browser:
        yield browser
