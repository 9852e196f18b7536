"""Malformed input, table-driven: API payloads, uploaded files, settings and recipes, huge strings, control
characters and wrong types each get an error that names the problem, and the app keeps serving."""

from __future__ import annotations

import re

import httpx
import pytest
from gradio_client import Client
from live_app import serve

from medgemma.config import load_settings
from tests.knowledge.malformed_cases import CASES, MAX_FILES, PASSWORD, Case, Env


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("malformed")
    home, files = root / "home", root / "files"
    files.mkdir()
    settings = load_settings(
        env={
            "MEDGEMMA_HOME": str(home),
            "MEDGEMMA_ADMIN_PASSWORD": PASSWORD,
            "MEDGEMMA_MAX_UPLOAD_FILES": str(MAX_FILES),
            "MEDGEMMA_MAX_UPLOAD_MB": "1",
        }
    )
    with serve(settings) as app:
        user, admin = Client(app.url, verbose=False), Client(app.url, verbose=False)
        status, *_ = admin.predict(PASSWORD, api_name="/admin_login")
        assert "Logged in" in status
        try:
            yield Env(app.url, user, admin, files, home), app
        finally:
            user.close()
            admin.close()


@pytest.fixture(autouse=True)
def uploads_where_the_app_looks(env, monkeypatch):
    monkeypatch.setenv("GRADIO_TEMP_DIR", env[1].upload_dir)


def outcome(case: Case, e: Env) -> str:
    try:
        result = case.run(e)
    except Exception as exc:  # noqa: BLE001 - the message is what is checked
        return str(exc)
    return str(result)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_malformed_input_gets_a_clear_error(env, case):
    e, app = env
    text = outcome(case, e)
    assert re.search(case.expect, text, re.S), f"{case.name}: {text[:500]}"
    assert "Something went wrong" not in text and "Traceback" not in text
    assert httpx.get(app.url + "/gradio_api/info", timeout=30).status_code == 200  # still serving


def test_the_app_still_answers_after_all_of_it(env):
    e, _ = env
    counts = {k: sum(c.kind == k for c in CASES) for k in ("api", "file", "config")}
    print(f"\n[malformed] {len(CASES)} inputs: {counts}")
    assert len(CASES) >= 30
    history, *_ = Client(e.url, verbose=False).predict("What causes gout?", [], api_name="/chat")
    assert any("uric acid" in str(m["content"]) for m in history)
    # the control characters were removed before the question reached the model
    history, *_ = Client(e.url, verbose=False).predict("What\x00 causes\x1b[31m gout?", [], api_name="/chat")
    assert history[0]["content"][0]["text"] == "What  causes [31m gout?"
