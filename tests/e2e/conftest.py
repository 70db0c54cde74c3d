"""Browser fixtures: the app launched in-process on a free port, Debian's chromium driven
by Playwright (never a downloaded browser), and helpers to drive the page."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(__file__).resolve().parents[2] / "assets" / "screenshots"
TINY_PRESET = "Test fixture: tiny target + tiny drafter"


def pytest_collection_modifyitems(items):
    if os.path.exists(CHROMIUM):
        return
    reason = f"{CHROMIUM} is absent: apt-get install -y chromium chromium-driver"
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def app_url():
    from playground.ui import build_demo, launch_kwargs
    from playground.worker import ModelCache, Worker

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = build_demo(Worker(ModelCache(budget=4 * 2**30)))
    demo.queue(max_size=8).launch(
        server_name="127.0.0.1",
        server_port=port,
        quiet=True,
        prevent_thread_lock=True,
        **launch_kwargs(),
    )
    yield f"http://127.0.0.1:{port}/"
    demo.close()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


class App:
    """One visitor's page, with the few gestures the tests need."""

    def __init__(self, page, url: str):
        self.page = page
        page.goto(url)
        page.wait_for_selector("#sl-run", timeout=60_000)

    def choose(self, label: str, option: str) -> None:
        self.page.get_by_label(label, exact=True).click()
        self.page.get_by_role("option", name=option, exact=True).click()

    def set_number(self, elem_id: str, value: float) -> None:
        box = self.page.locator(f"#{elem_id} input[type=number]").first
        box.fill(str(value))
        box.press("Enter")
        box.blur()

    def tiny_pair(self) -> None:
        self.choose("preset pair", TINY_PRESET)
        self.page.wait_for_function(
            "document.querySelector('#sl-compat')?.innerText.includes('fit')", timeout=30_000
        )

    def status(self) -> str:
        return self.page.locator("#sl-status").inner_text()

    def wait_status(self, *words: str, timeout: float = 120) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.status()
            if any(w in text for w in words):
                return text
            time.sleep(0.1)
        raise AssertionError(f"status never showed {words}; it shows {self.status()!r}")

    def tab(self, name: str) -> None:
        """Select view tab NAME as a visitor would: in the tab bar, or through Gradio's
        "More tabs" menu when the bar has no room for it."""
        from playwright.sync_api import expect

        tab = self.page.get_by_role("tab", name=name, exact=True)
        if tab.is_visible():
            tab.click()
            expect(tab).to_have_attribute("aria-selected", "true")
        else:
            self.page.get_by_role("button", name="More tabs").click()
            menu = self.page.locator(".overflow-dropdown")
            menu.get_by_role("button", name=name, exact=True).click()
        time.sleep(0.8)

    def shot(self, name: str, whole_page: bool = False) -> None:
        """The views column (or the whole page) as assets/screenshots/NAME."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        if whole_page:
            self.page.screenshot(path=str(SHOTS / name), full_page=True)
        else:
            self.page.locator("#sl-main").screenshot(path=str(SHOTS / name))


@pytest.fixture
def open_app(browser, app_url):
    contexts = []

    def make() -> App:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        contexts.append(context)
        return App(context.new_page(), app_url)

    yield make
    for context in contexts:
        context.close()
