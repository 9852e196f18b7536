"""Nothing typed is lost: a message sent while the visitor's previous answer is still streaming is read by
the guard at once (an emergency is shown immediately), and any other is shown queued and answered after
the current one. The tab, its sessions and the pipeline are real; the collaborators are fakes.py's.
tests/test_e2e_chat_stream.py drives the same thing in Chromium."""

from __future__ import annotations

import copy
import threading
from types import SimpleNamespace

import gradio as gr
import pytest
from fakes import FakeGuard, FakeKnowledge, ScriptedBackend

from admin.chat import ChatTab, build_tab
from admin.chat_session import QUEUED, STOPPED, Conversation
from admin.common import AppContext
from medgemma.auth import AdminAuth
from medgemma.chat.services import Services
from medgemma.config import load_settings

ANSWER = "Gout is caused by too much uric acid in the blood [1]. It often starts in the big toe [1]."
STROKE = "my dad's face is drooping and his speech is slurred"


@pytest.fixture
def tab() -> ChatTab:
    settings = load_settings()
    backend = ScriptedBackend(ANSWER)
    services = Services(settings, knowledge=FakeKnowledge(), guard=FakeGuard(), backend=backend)
    with gr.Blocks():
        tab = build_tab(AppContext(settings, services, AdminAuth(settings)))
    tab.backend = backend
    return tab


def visitor(name: str = "alice") -> SimpleNamespace:
    return SimpleNamespace(session_hash=name)


def step(gen, tab) -> list[dict]:
    return copy.deepcopy(next(gen)[tab.chatbot])


def texts(history: list[dict]) -> list[str]:
    return [str(m["content"]) for m in history]


def titles(history: list[dict]) -> list[str]:
    return [m["metadata"]["title"] for m in history if m.get("metadata")]


def until_first_sentence(gen, tab) -> list[dict]:
    """Step an answer up to its first verified sentence (its second one is still being written)."""
    while True:
        history = step(gen, tab)
        if any(t.startswith("Gout is caused") for t in texts(history)):
            return history


def test_an_emergency_sent_while_an_answer_streams_is_shown_at_once_and_both_are_answered(tab):
    first = tab.respond("What causes gout?", [], {}, {}, visitor())
    until_first_sentence(first, tab)
    emergency = [u for u in tab.respond(STROKE, [], {}, {}, visitor())]  # runs to its end at once
    shown = emergency[-1][tab.chatbot]
    assert emergency[-1][tab.emergency_panel]["visible"] is True
    assert "Call 911 now." in emergency[-1][tab.emergency_panel]["value"]
    # the first exchange stays above, still being written; the emergency follows it
    assert texts(shown)[0] == "What causes gout?" and STROKE in texts(shown)
    assert texts(shown).index(STROKE) < texts(shown).index("Call 911 now.")
    assert len(tab.backend.prompts) == 1  # the emergency never reached the model
    rest = [u[tab.chatbot] for u in first]
    final = rest[-1]
    assert "Call 911 now." in texts(final)  # the first answer's updates keep the emergency on screen
    answer = next(t for t in texts(final) if t.startswith("Gout is caused"))
    assert "Support: 100%" in answer
    assert texts(final).index(answer) < texts(final).index(STROKE)  # answered in its own place


def test_a_question_sent_while_an_answer_streams_is_queued_visibly_then_answered(tab):
    first = tab.respond("What causes gout?", [], {}, {}, visitor())
    until_first_sentence(first, tab)
    second = tab.respond("What is anemia?", [], {}, {}, visitor())
    queued = step(second, tab)
    assert titles(queued)[-1] == QUEUED and texts(queued)[-2] == "What is anemia?"
    assert len(tab.backend.prompts) == 1  # it waits: its retrieval and generation have not started
    list(first)  # the first answer finishes
    final = [u[tab.chatbot] for u in second][-1]
    assert QUEUED not in titles(final) and len(tab.backend.prompts) == 2
    at = [i for i, t in enumerate(texts(final)) if t.startswith("Gout is caused")]
    assert len(at) == 2  # both questions got their answer, in the order they were sent
    assert at[0] < texts(final).index("What is anemia?") < at[1]


def test_stop_ends_the_answer_and_marks_the_queued_ones_unanswered(tab):
    first = tab.respond("What causes gout?", [], {}, {}, visitor())
    until_first_sentence(first, tab)
    second = tab.respond("What is anemia?", [], {}, {}, visitor())
    step(second, tab)
    shown = tab.stop({}, visitor())[tab.chatbot]
    assert STOPPED in titles(shown)
    assert list(first)[-1][tab.state]["last"]["mode"] == "stopped"
    assert list(second) and len(tab.backend.prompts) == 1  # the queued one was never answered
    assert not tab.sessions.busy("alice")  # nothing is left waiting for this visitor
    later = [u for u in tab.respond("What causes gout?", [], {}, {}, visitor())][-1][tab.chatbot]
    assert texts(later)[0] == "What causes gout?" and len(tab.backend.prompts) == 2  # a fresh start


def test_a_question_cancelled_while_it_waits_stays_marked_not_answered_never_queued_again():
    """Stop lands while the queued message's event is inside its wait: it must not mark itself queued again
    (the browser showed both notes in 2 of 4 runs before the wait kept the flag under the lock)."""
    convo = Conversation([])
    convo.add("What causes gout?")
    second = convo.add("What is anemia?")
    assert not convo.wait_turn(second, 0) and second.queued
    waiter = threading.Thread(target=convo.wait_turn, args=(second, 5.0))
    waiter.start()
    convo.cancel()
    waiter.join()
    assert second.cancelled and not second.queued
    assert STOPPED in titles(convo.render()) and QUEUED not in titles(convo.render())
