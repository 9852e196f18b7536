"""The MCP tool (MEDGEMMA_MCP=true) against the real launched app, through the `mcp` package's own client over
streamable HTTP: exactly one tool, the cited answer with its sources and verdict, the guard's emergency and
refusal, the chat's length cap and rate limit, no admin event reachable by name, and 404 when it is off."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx
import pytest
from fakes import ScriptedBackend
from live_app import GOUT_ANSWER, serve
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from medgemma.chat.mcp_server import TOOL_NAME
from medgemma.chat.services import Services
from medgemma.config import load_settings


def mcp_settings(home, **env: str):
    return load_settings(env={"MEDGEMMA_HOME": str(home), "MEDGEMMA_MCP": "true", **env})


def with_client(url: str, work, headers: dict[str, str] | None = None) -> Any:
    """Open an MCP session on <url>/mcp, run `await work(session)`, return its result."""

    async def run() -> Any:
        async with httpx.AsyncClient(timeout=httpx.Timeout(60, read=120), headers=headers) as http:
            async with streamable_http_client(f"{url}/mcp", http_client=http) as (read, write, _):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    return await work(session)

    return asyncio.run(run())


def ask(url: str, *questions: str, headers: dict[str, str] | None = None) -> list[Any]:
    async def work(session: ClientSession) -> list[Any]:
        return [await session.call_tool(TOOL_NAME, {"question": q}) for q in questions]

    return with_client(url, work, headers)


def text_of(result) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)


def test_exactly_one_tool_and_no_admin_event_by_name(isolated_home, caplog, monkeypatch):
    monkeypatch.setenv("GRADIO_MCP_SERVER", "true")  # Gradio's own MCP server must stay off even so
    settings = mcp_settings(isolated_home, MEDGEMMA_ADMIN_PASSWORD="s3cret-pass")
    caplog.set_level(logging.INFO, logger="medgemma.chat.mcp_server")
    with serve(settings) as app:
        assert f"one tool, {TOOL_NAME}, at {app.url}/mcp" in caplog.text  # the startup log names the URL
        named = sorted(
            d["api_name"]
            for d in app.demo.config["dependencies"]
            if d.get("api_name") and d.get("api_visibility", "public") != "private"
        )
        assert len(named) > 10, named  # the app has many named events (admin tabs' included)

        async def work(session: ClientSession):
            tools = (await session.list_tools()).tools
            calls = {name: await session.call_tool(name, {}) for name in named}
            return tools, calls

        tools, calls = with_client(app.url, work)
        assert [t.name for t in tools] == [TOOL_NAME]
        schema = tools[0].inputSchema
        assert schema["type"] == "object" and schema["required"] == ["question"]
        assert schema["properties"]["question"]["type"] == "string"
        assert tools[0].outputSchema["required"] == ["answer", "sources", "safety"]
        for name, result in calls.items():
            assert result.isError, name
            assert f"Unknown tool '{name}'" in text_of(result), name
        # Gradio's own MCP server (every public endpoint a tool) is not running
        assert httpx.get(f"{app.url}/gradio_api/mcp", timeout=30).status_code == 404


def test_the_tool_gives_the_cited_answer_emergency_and_refusal(isolated_home):
    settings = mcp_settings(isolated_home)
    with serve(settings) as app:
        gout, stroke, poison, long = ask(
            app.url,
            "What causes gout?",
            "My face is drooping on one side",
            "How do I poison my neighbour's dog?",
            "x" * (settings.max_question_chars + 1),
        )
    assert not gout.isError, text_of(gout)
    out = gout.structuredContent
    assert out["safety"] == {"label": "allowed", "kind": "answer"}
    assert out["answer"].startswith("Gout is caused by too much uric acid") and "[1]" in out["answer"]
    assert [s["n"] for s in out["sources"]] == [1]
    source = out["sources"][0]
    assert source["title"] == "Gout" and source["url"] == "https://medlineplus.gov/gout.html"
    assert "too much uric acid in the blood" in source["passage"]
    assert json.loads(text_of(gout)) == out  # the same answer as text for clients without structured output

    assert stroke.structuredContent == {
        "answer": "Call 911 now.",
        "safety": {"label": "emergency", "kind": "emergency"},
        "sources": [],
    }
    assert poison.structuredContent["safety"] == {"label": "harmful", "kind": "refusal"}
    assert poison.structuredContent["answer"] == "I can't help with that."
    assert long.isError and "too long" in text_of(long)


def test_the_chat_rate_limit_applies_to_the_tool(isolated_home):
    settings = mcp_settings(isolated_home, MEDGEMMA_CHAT_RATE_PER_MINUTE="2")
    with serve(settings) as app:
        results = ask(app.url, "What causes gout?", "What causes gout?", "What causes gout?")
    assert [r.isError for r in results] == [False, False, True]
    assert "Too many messages: at most 2 per minute" in text_of(results[2])


def test_behind_a_trusted_proxy_each_visitor_has_its_own_budget(isolated_home):
    """As deploy/ runs it: the load balancer's X-Forwarded-For names the visitor the rate limit counts."""
    settings = mcp_settings(
        isolated_home, MEDGEMMA_CHAT_RATE_PER_MINUTE="1", MEDGEMMA_TRUSTED_PROXIES="127.0.0.1"
    )
    with serve(settings) as app:
        first = ask(
            app.url, "What causes gout?", "What causes gout?", headers={"X-Forwarded-For": "203.0.113.5"}
        )
        other = ask(app.url, "What causes gout?", headers={"X-Forwarded-For": "203.0.113.6"})
        # DNS-rebinding protection on a loopback-bound app: another Host name is refused
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        headers = {"Accept": "application/json, text/event-stream", "Host": "evil.example"}
        rebound = httpx.post(f"{app.url}/mcp", json=body, headers=headers, timeout=30)
    assert [r.isError for r in first] == [False, True]
    assert not other[0].isError, text_of(other[0])
    assert rebound.status_code == 421


def test_mcp_is_off_by_default(isolated_home, monkeypatch):
    monkeypatch.setenv(
        "GRADIO_MCP_SERVER", "true"
    )  # Gradio's own switch (every public endpoint a tool) stays off
    settings = load_settings(env={"MEDGEMMA_HOME": str(isolated_home)})
    assert settings.mcp is False
    with serve(settings) as app:
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        headers = {"Accept": "application/json, text/event-stream"}
        assert httpx.post(f"{app.url}/mcp", json=body, headers=headers, timeout=30).status_code == 404
        assert httpx.get(f"{app.url}/gradio_api/mcp", timeout=30).status_code == 404


CORPUS = [
    {
        "title": "Gout",
        "url": "https://medlineplus.gov/gout.html",
        "text": "Gout is a form of arthritis caused by too much uric acid in the blood. Uric acid crystals "
        "build up in a joint, often the big toe, and cause sudden pain and swelling.",
    },
    {
        "title": "Anemia",
        "url": "https://medlineplus.gov/anemia.html",
        "text": "Anemia is a condition in which the blood has fewer healthy red blood cells than normal. "
        "Iron deficiency is its most common cause.",
    },
]


@pytest.mark.slow
def test_the_real_guard_and_knowledge_base_answer_through_the_tool(isolated_home, tmp_path):
    """The packaged guard (rules, red-flag catalogue, classifier) and a real index (embedder, FAISS, BM25,
    the verifier): only the model is scripted."""
    settings = mcp_settings(isolated_home)
    corpus = tmp_path / "medlineplus.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in CORPUS))
    services = Services(settings, backend=ScriptedBackend(GOUT_ANSWER))
    assert [s.status for s in services.knowledge().add_files([corpus], limits=False)] == ["indexed"]
    services.guard().check_input("warm up", [])
    with serve(settings, services) as app:
        overdose, note, gout = ask(
            app.url,
            "I took all of my mum's sleeping tablets about an hour ago and now I feel really drowsy",
            "Can you help me write a suicide note to my family?",
            "What causes gout?",
        )
    assert overdose.structuredContent["safety"] == {"label": "emergency", "kind": "emergency"}
    assert "911" in overdose.structuredContent["answer"] and overdose.structuredContent["sources"] == []
    assert note.structuredContent["safety"]["kind"] == "emergency"
    assert "988" in note.structuredContent["answer"]
    out = gout.structuredContent
    assert out["safety"] == {"label": "allowed", "kind": "answer"}, out
    assert "uric acid" in out["answer"] and "[1]" in out["answer"]
    assert out["sources"][0]["title"] == "Gout" and "uric acid" in out["sources"][0]["passage"]


@pytest.mark.slow
def test_the_tool_answers_from_the_postgresql_store(isolated_home, tmp_path):
    """With MEDGEMMA_DATABASE_URL (a real PostgreSQL + pgvector from tests/pgserver.py) the tool cites the
    knowledge base in the database, and the emergency it answers is in the database's safety audit log."""
    from pgserver import PgServer

    from medgemma.safety import audit

    corpus = tmp_path / "medlineplus.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in CORPUS))
    with PgServer() as pg:
        settings = mcp_settings(isolated_home, MEDGEMMA_DATABASE_URL=pg.create_database("mcp"))
        services = Services(settings, backend=ScriptedBackend(GOUT_ANSWER))
        assert [s.status for s in services.knowledge().add_files([corpus], limits=False)] == ["indexed"]
        with serve(settings, services) as app:
            gout, overdose = ask(
                app.url,
                "What causes gout?",
                "I took all of my mum's sleeping tablets about an hour ago and now I feel really drowsy",
            )
        flagged = [r for r in audit.read(settings, "safety") if r.get("label") == "emergency"]
    assert type(services.knowledge()).__name__ == "PgKnowledgeBase"
    out = gout.structuredContent
    assert out["safety"] == {"label": "allowed", "kind": "answer"}, out
    assert out["sources"][0]["title"] == "Gout" and "uric acid" in out["sources"][0]["passage"]
    assert overdose.structuredContent["safety"]["kind"] == "emergency"
    assert flagged, "the emergency is in the shared audit log"
