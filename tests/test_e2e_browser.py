"""What a person sees, in headless Chromium (Debian's /usr/bin/chromium driven by Playwright): a streamed
answer with clickable citations, the emergency panel, admin login, and an uploaded PDF that appears in the
documents list and becomes searchable. The knowledge base is real (MiniLM, a tiny corpus); the model and
the safety guard are fakes. Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fakes import FakeGuard, ScriptedBackend
from live_app import serve
from pdf_factory import text_pdf

from medgemma.chat.services import Services
from medgemma.config import load_settings

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parent.parent
SHOTS = REPO / "artifacts" / "screenshots"
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
PASSWORD = "e2e password"
GOUT_URL = "https://medlineplus.gov/gout.html"
CORPUS = [
    {
        "title": "Gout",
        "url": GOUT_URL,
        "text": "Gout is a form of arthritis caused by too much uric acid in the "
        "blood. Uric acid crystals build up in a joint, often the big toe, and cause sudden pain and swelling.",
    },
    {
        "title": "Anemia",
        "url": "https://medlineplus.gov/anemia.html",
        "text": "Anemia is a condition in which "
        "the blood has fewer healthy red blood cells than normal. Iron deficiency is its most common cause.",
    },
]
PDF_LINES = [
    "Zebra fever is a fictional tropical illness spread by striped mosquitoes.",
    "Rest, fluids and mosquito nets help people recover from zebra fever within a week.",
]
TIMEOUT_MS = 60_000


class SlowScriptedBackend(ScriptedBackend):
    """The scripted answer, one word every 60 ms, so a browser can see it stream."""

    def stream(self, prompt, params, stats=None, stop_event=None):
        for piece in super().stream(prompt, params, stats, stop_event):
            time.sleep(0.06)
            yield piece


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package (scripts/setup.sh test does)")
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    settings = load_settings(env={"MEDGEMMA_HOME": str(root / "home"), "MEDGEMMA_ADMIN_PASSWORD": PASSWORD})
    corpus = root / "medlineplus.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in CORPUS))
    services = Services(  # the real knowledge base, as the app wires it (shared with the Knowledge tab)
        settings,
        guard=FakeGuard(),
        backend=SlowScriptedBackend("Gout is caused by too much uric acid in the blood [1]."),
    )
    kb = services.knowledge()
    assert [s.status for s in kb.add_files([corpus], limits=False)] == ["indexed"]
    SHOTS.mkdir(parents=True, exist_ok=True)
    with serve(settings, services) as live:
        yield live, root


@pytest.fixture(autouse=True)
def uploads_where_the_app_looks(app, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", app[0].upload_dir)  # conftest gives each test its own


@pytest.fixture
def page(browser, app):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    context.route(
        "https://**/*",
        lambda route: route.fulfill(
            status=200, content_type="text/html", body="<title>source</title>offline stand-in"
        ),
    )
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(app[0].url)
    page.wait_for_selector("#question textarea")
    yield page
    context.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def ask(page, question: str) -> None:
    page.fill("#question textarea", question)
    page.click("#send")


def open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def test_chat_streams_an_answer_with_clickable_citations(page):
    page.evaluate("""() => {  // record every length the answer text passes through
        window.answerLengths = [];
        new MutationObserver(() => {
            const bots = document.querySelectorAll('#chatbot .message.bot, #chatbot [data-testid="bot"]');
            const text = Array.from(bots).map(b => b.innerText).join('\\n');
            const n = text.length, seen = window.answerLengths;
            if (n && seen[seen.length - 1] !== n) seen.push(n);
        }).observe(document.querySelector('#chatbot'), {subtree: true, childList: true, characterData: true});
    }""")
    ask(page, "What causes gout?")
    link = page.locator(f'#chatbot a[href="{GOUT_URL}"]').first
    link.wait_for(state="visible")
    page.get_by_text("Support:").first.wait_for()
    shot(page, "chat-answer-with-citations")
    assert "uric acid" in page.inner_text("#chatbot")
    assert len(page.evaluate("window.answerLengths")) >= 4  # the answer grew in several steps
    assert link.inner_text().strip() in {"[1]", "1"}
    with page.context.expect_page() as opened:
        link.click()
    source = opened.value
    source.wait_for_load_state()
    assert source.url == GOUT_URL  # the citation opens its source


def test_an_emergency_message_shows_the_emergency_panel(page):
    assert not page.locator("#emergency-panel").is_visible()
    ask(page, "my dad's face is drooping and he can't lift his arm")
    panel = page.locator("#emergency-panel")
    panel.wait_for(state="visible")
    page.wait_for_function("document.querySelector('#emergency-panel').innerText.includes('Call 911')")
    shot(page, "emergency-panel")
    assert "Emergency" in panel.inner_text()


def login(page, password: str, expect: str) -> None:
    open_tab(page, "Admin")
    page.fill("#admin-password input", password)
    page.click("#admin-login")
    page.wait_for_function("t => document.querySelector('#admin-status').innerText.includes(t)", arg=expect)


def test_admin_login_fails_with_a_wrong_password_and_works_with_the_right_one(page):
    login(page, "not it", expect="Login failed: Wrong admin password.")
    assert not page.locator("#admin-area").is_visible()
    shot(page, "admin-login-wrong-password")
    login(page, PASSWORD, expect="Logged in as admin")
    page.locator("#admin-area").wait_for(state="visible")
    shot(page, "admin-logged-in")


def table(page, header: str):
    """The Dataframe whose columns include `header` (the innermost block holding that header cell)."""
    return page.locator("div.block").filter(has=page.locator(f'th[title="{header}"]')).last


def cell(block, text: str):
    """A visible body cell of a Dataframe holding `text`."""
    return block.locator('[data-testid^="cell-"]', has_text=text).first


def test_an_uploaded_pdf_is_listed_and_retrievable(page, app, tmp_path):
    pdf = text_pdf(tmp_path / "zebra-fever.pdf", [PDF_LINES], title="Zebra fever leaflet")
    login(page, PASSWORD, expect="Logged in as admin")
    open_tab(page, "Knowledge base")
    page.locator("#kb-upload input[type=file]").set_input_files(str(pdf))
    page.get_by_text("zebra-fever.pdf").first.wait_for()
    page.click("#kb-add")
    cell(table(page, "details"), "indexed").wait_for()
    documents = table(page, "doc id")
    cell(documents, "zebra-fever.pdf").wait_for()
    shot(page, "kb-pdf-uploaded")
    page.fill("#kb-query textarea", "how do people recover from zebra fever")
    page.click("#kb-search")
    hits = table(page, "passage")
    cell(hits, "mosquito nets").wait_for()
    shot(page, "kb-pdf-search-hit")
    assert "zebra-fever.pdf" in hits.inner_text()
    # and the chat's retriever (same index) finds it too
    kb = app[0].ctx.services.knowledge()
    assert kb.search("zebra fever recovery", k=1)[0].chunk.source == "zebra-fever.pdf"
