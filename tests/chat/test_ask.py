"""`python -m medgemma ask`: the Chat tab's question checks, the streamed answer and the --json keys.
The CLI and pipeline are real; the knowledge base, guard and model are the fakes of fakes.py."""

from __future__ import annotations

import json

import pytest
from fakes import FakeGuard, FakeKnowledge, ScriptedBackend

import medgemma.chat.services as services_module
from medgemma.cli import main

ANSWER = "Gout is caused by too much uric acid in the blood [1]."


@pytest.fixture
def knowledge(monkeypatch) -> FakeKnowledge:
    kb, real = FakeKnowledge(), services_module.Services
    monkeypatch.setattr(
        services_module,
        "Services",
        lambda settings: real(settings, knowledge=kb, guard=FakeGuard(), backend=ScriptedBackend(ANSWER)),
    )
    return kb


def test_ask_refuses_what_the_chat_refuses(knowledge, monkeypatch, capsys):
    monkeypatch.setenv("MEDGEMMA_MAX_QUESTION_CHARS", "40")
    assert main(["ask", " \x00 "]) == 2
    assert "error: Type a question first." in capsys.readouterr().err
    assert main(["ask", "why " * 11]) == 2
    assert "error: The question is too long (over 40 characters)." in capsys.readouterr().err
    assert knowledge.queries == []


def test_ask_streams_verified_sentences_then_the_sources(knowledge, capsys):
    assert main(["ask", "What causes\x1b gout?"]) == 0
    out = capsys.readouterr()
    assert knowledge.queries == ["What causes  gout?"]  # control characters never reach the pipeline
    assert out.out.startswith("Gout is caused by too much uric acid in the blood. [1] \nsupport: 100%\n")
    assert "support: 100%" in out.out and "[1] Gout — https://medlineplus.gov/gout.html" in out.out
    assert "[Searching the knowledge base ...]" in out.err


def test_ask_json_keeps_its_keys(knowledge, capsys):
    assert main(["ask", "What causes gout?", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {
        "answer",
        "citations",
        "support",
        "safety",
        "mode",
        "model",
        "backend",
        "adapter",
        "timings",
    }
    assert data["mode"] == "generative" and data["safety"] == "allowed" and data["backend"] == "scripted"
    assert data["citations"][0]["url"] == "https://medlineplus.gov/gout.html"
    assert {
        "safety_s",
        "retrieval_s",
        "generation",
        "verification_s",
        "first_token_s",
        "first_sentence_s",
        "total_s",
        "ttft_s",
        "tokens",
        "tok_per_s",
    } <= set(data["timings"]) and data["timings"]["tokens"] == 12


def test_ask_json_for_an_emergency_names_no_model(knowledge, capsys):
    assert main(["ask", "my dad's face is drooping", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["answer"] == "Call 911 now." and data["mode"] == "none" and data["model"] is None
    assert data["timings"]["tokens"] is None and knowledge.queries == []
