"""The try-it page in a real browser (the system's Chromium, driven by Playwright): a person
types a ticket, presses 派单, and sees the deciding words marked in the title and the body as
they typed them.

Skipped when Playwright or Chromium is missing (CI installs both: Debian's ``chromium``, the
``playwright`` package; Playwright's own browser download is never used).
"""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from service.app import create_app
from service.settings import Settings, get_settings

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

CHROMIUM = next(
    (path for name in ("chromium", "chromium-browser") if (path := shutil.which(name))), None
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def base_url(models_dir: Path) -> Iterator[str]:
    """The service on a free loopback port, in a thread of this process."""
    import uvicorn

    settings = Settings(models_dir=models_dir)
    app = create_app()
    app.dependency_overrides[get_settings] = lambda: settings
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(600):
            if server.started:
                break
            thread.join(0.1)
        assert server.started, "the server did not start within 60 s"
        assert app.state.holder.wait_first_load(60), "the model did not load within 60 s"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture(scope="module")
def page(base_url: str) -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("no system Chromium (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            tab = browser.new_page()
            tab.goto(base_url + "/")
            yield tab
        finally:
            browser.close()


def _route(page: Any, title: str, text: str) -> dict[str, list[str]]:
    """Type a ticket, press 派单, and read the marked words of the title and of the body."""
    page.fill("#title", title)
    page.fill("#text", text)
    with page.expect_response(lambda response: response.url.endswith("/v1/classify")):
        page.click("#submit")
    page.wait_for_selector("#result .dept")
    return {
        "title": page.locator("#result .ticket-title mark").all_inner_texts(),
        "text": page.locator("#result .ticket-text mark").all_inner_texts(),
        "ticket": [page.locator("#result .ticket").inner_text()],
    }


def test_the_page_marks_title_terms(page: Any) -> None:
    marked = _route(page, "燃气泄漏", "请尽快派人来看看")
    assert marked["title"] == ["燃气泄漏"]
    assert not {"请", "尽快", "请尽快"} & set(marked["text"])
    assert marked["ticket"][0].startswith("燃气泄漏")  # the title is shown above the body


def test_the_page_marks_traditional_input_as_typed(page: Any) -> None:
    text = "廚房裡燃氣洩漏了，請儘快派人來看看"
    marked = _route(page, "燃氣洩漏", text)
    assert marked["title"] == ["燃氣洩漏"]
    assert "燃氣洩漏" in marked["text"]
    assert all(word in text for word in marked["text"])  # as typed, not simplified
    assert "燃氣洩漏" in page.locator("#result .terms").inner_text()
