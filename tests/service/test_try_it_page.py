"""The try-it page in a real browser (the system's Chromium, driven by Playwright): a person
types a ticket, presses 派单, and sees the deciding words marked in the title and the body as
they typed them, and why a person should check, in Chinese.

The browser's requests are answered by the app itself (a TestClient per test, with the
settings the test needs), so no server runs. Skipped when Playwright or Chromium is missing
(CI installs both: Debian's ``chromium``, the ``playwright`` package; Playwright's own browser
download is never used).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import MakeClient
from fastapi.testclient import TestClient

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

CHROMIUM = next(
    (path for name in ("chromium", "chromium-browser") if (path := shutil.which(name))), None
)
ORIGIN = "http://appeals.test"
ORDINARY = "小区楼下的烧烤摊天天占道经营，油烟太大了"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("no system Chromium (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield launched
        finally:
            launched.close()


def open_page(browser: Any, client: TestClient) -> Any:
    """A tab on the try-it page whose requests ``client``'s app answers."""

    def answer(route: Any) -> None:
        request = route.request
        response = client.request(
            request.method,
            urlsplit(request.url).path,
            content=request.post_data_buffer,
            headers={"content-type": request.headers.get("content-type", "text/plain")},
        )
        route.fulfill(
            status=response.status_code,
            headers={"content-type": response.headers.get("content-type", "text/plain")},
            body=response.content,
        )

    page = browser.new_page()
    page.route(f"{ORIGIN}/**", answer)
    page.goto(f"{ORIGIN}/")
    return page


@pytest.fixture
def page(browser: Any, client: TestClient) -> Iterator[Any]:
    tab = open_page(browser, client)
    yield tab
    tab.close()


def send(page: Any, title: str, text: str) -> None:
    """Type a ticket and press 派单; return when its answer is shown (not the one before:
    the page replaces the answer shown, so the old one leaves the page first)."""
    page.fill("#title", title)
    page.fill("#text", text)
    shown = page.query_selector("#result .review")
    page.click("#submit")
    if shown is not None:
        shown.wait_for_element_state("hidden", timeout=10_000)  # detached counts as hidden
    page.wait_for_selector("#result .review", timeout=10_000)


def marked(page: Any) -> dict[str, list[str]]:
    """The marked words of the title and of the body, and the ticket as shown."""
    return {
        "title": page.locator("#result .ticket-title mark").all_inner_texts(),
        "text": page.locator("#result .ticket-text mark").all_inner_texts(),
        "ticket": [page.locator("#result .ticket").inner_text()],
    }


def test_the_page_marks_title_terms(page: Any) -> None:
    send(page, "燃气泄漏", "请尽快派人来看看")
    words = marked(page)
    assert words["title"] == ["燃气泄漏"]
    assert not {"请", "尽快", "请尽快"} & set(words["text"])
    assert words["ticket"][0].startswith("燃气泄漏")  # the title is shown above the body


def test_the_page_marks_traditional_input_as_typed(page: Any) -> None:
    text = "廚房裡燃氣洩漏了，請儘快派人來看看"
    send(page, "燃氣洩漏", text)
    words = marked(page)
    assert words["title"] == ["燃氣洩漏"]
    assert "燃氣洩漏" in words["text"]
    assert all(word in text for word in words["text"])  # as typed, not simplified
    assert "燃氣洩漏" in page.locator("#result .terms").inner_text()


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
    browser: Any,
    make_client: MakeClient,
    text: str,
    policy: dict[str, float],
    shown: list[str],
    not_shown: list[str],
) -> None:
    tab = open_page(browser, make_client(**policy))
    try:
        send(tab, "", text)
        badge = tab.locator("#result .review").inner_text()
    finally:
        tab.close()
    for phrase in shown:
        assert phrase in badge
    for phrase in not_shown:
        assert phrase not in badge


DEMO = Path(__file__).resolve().parents[2] / "data" / "demo"
DISPATCH_SETTINGS = {
    "urgency": True,
    "problems": True,
    "gazetteer": DEMO / "gazetteer.csv",
    "gazetteer_city": "江州市",
    "routing_table": DEMO / "routing.toml",
}


def test_the_page_shows_urgency_place_units_and_each_problem(
    browser: Any, make_client: MakeClient
) -> None:
    tab = open_page(browser, make_client(**DISPATCH_SETTINGS))
    try:
        send(tab, "燃气", "燃气泄漏了，闻到很大的煤气味，在锦绣华庭3栋")
        badge = tab.locator("#result .dept ~ .urgency")
        assert badge.inner_text() == "紧急"
        assert "urgent" in (badge.get_attribute("class") or "")
        assert "紧急事项，请立即处理" in tab.locator("#result .review").inner_text()
        assert "东湖区 / 建设街道 / 锦绣社区" in tab.locator("#result .place").inner_text()
        assert tab.locator("#result .units .lead").inner_text() == "市燃气集团抢修中心"
        assert "市消防救援支队" in tab.locator("#result .units .assist").all_inner_texts()
        assert tab.locator("#result .problems").count() == 0  # one problem: no list

        send(tab, "", "工地噪音太大，晚上打桩；另外桂花路128号下水道堵了")
        assert tab.locator("#result .dept ~ .urgency").inner_text() == "一般"
        labels = tab.locator("#result .problems .problem-label").all_inner_texts()
        assert labels == ["住建", "水务"]
        assert all(tab.locator("#result .problems .problem-lead").all_inner_texts())
        texts = tab.locator("#result .problems .problem-text").all_inner_texts()
        assert texts == ["工地噪音太大，晚上打桩", "桂花路128号下水道堵了"]
    finally:
        tab.close()


def test_the_page_leaves_out_what_is_not_configured(browser: Any, make_client: MakeClient) -> None:
    tab = open_page(browser, make_client(urgency=False, problems=False))
    try:
        send(tab, "", ORDINARY)
        assert tab.locator("#result .urgency").count() == 0
        assert tab.locator("#result .dispatch").count() == 0
    finally:
        tab.close()
