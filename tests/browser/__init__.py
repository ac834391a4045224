"""Browser tests: Debian's Chromium, headless, driven by Playwright (see conftest.py)."""
