"""The try-it page in a real browser (the system Chromium, driven by Playwright): the
reasons a ticket needs a person appear in Chinese, built from the answer's review codes.

The browser's requests are answered by the app itself (a TestClient), so no server runs.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no system Chromium")

ORIGIN = "http://appeals.test"
ORDINARY = "小区楼下的烧烤摊天天占道经营，油烟太大了"


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


def _review_badge(browser: object, client: TestClient, text: str) -> str:
    """Open the page, send ``text`` and return the review badge the page shows."""

    def answer(route: object) -> None:
        request = route.request  # type: ignore[attr-defined]
        response = client.request(
            request.method,
            urlsplit(request.url).path,
            content=request.post_data_buffer,
            headers={"content-type": request.headers.get("content-type", "text/plain")},
        )
        route.fulfill(  # type: ignore[attr-defined]
            status=response.status_code,
            headers={"content-type": response.headers.get("content-type", "text/plain")},
            body=response.content,
        )

    page = browser.new_page()  # type: ignore[attr-defined]
    try:
        page.route(f"{ORIGIN}/**", answer)
        page.goto(f"{ORIGIN}/")
        page.fill("#text", text)
        page.click("#submit")
        badge = page.locator("#result .review")
        badge.wait_for(timeout=10_000)
        return str(badge.inner_text())
    finally:
        page.close()


@pytest.mark.parametrize(
    ("text", "policy", "shown", "not_shown"),
    [
        pytest.param("谢谢", {}, ["需人工复核", "超出受理范围"], ["out_of_scope", "可直接派单"],
                     id="out-of-scope"),
        pytest.param(ORDINARY, {"min_confidence": 1.0, "min_margin": 1.0},
                     ["需人工复核", "置信度低于阈值", "前两名接近（相差"],
                     ["超出受理范围", "confidence", "top two"], id="both-reasons"),
        pytest.param(ORDINARY, {"min_confidence": 1.0, "min_margin": 0.0},
                     ["置信度低于阈值（"], ["前两名接近", "超出受理范围"], id="low-confidence"),
        pytest.param(ORDINARY, {}, ["可直接派单"], ["需人工复核"], id="routed-alone"),
    ],
)  # fmt: skip
def test_the_page_shows_review_reasons_in_chinese(
    browser: object,
    make_client: object,
    text: str,
    policy: dict[str, float],
    shown: list[str],
    not_shown: list[str],
) -> None:
    client = make_client(**policy)  # type: ignore[operator]
    badge = _review_badge(browser, client, text)
    for phrase in shown:
        assert phrase in badge
    for phrase in not_shown:
        assert phrase not in badge
