"""What a visitor sees of a quoted list and of an "I don't know" (admin/chat_render.py on real MedQuAD text):
a list keeps its lines on screen, the sentence after it is not glued to its last item, and the honest
answer's source links stay as written."""

from __future__ import annotations

import pytest
from fakes import FakeGuard, FakeKnowledge
from medquad_pages import MEDQUAD, hits

from admin.chat_render import ChatView, render_answer
from medgemma.chat.events import Answer, Sentence
from medgemma.chat.pipeline import ChatSettings, answer
from medgemma.chat.services import Services
from medgemma.config import load_settings

pytestmark = pytest.mark.skipif(not MEDQUAD.is_file(), reason="../shared/data is not present")


def turn(question, passages):
    settings = load_settings()
    services = Services(settings, knowledge=FakeKnowledge(passages), guard=FakeGuard())
    return list(answer(question, [], ChatSettings.from_settings(settings, mode="extractive"), services))


def test_a_quoted_list_is_shown_as_a_list_while_streaming_and_at_the_end():
    events = turn(
        "What are the symptoms of a balance problem?",
        hits(("Balance Problems", "NIHSeniorHealth", "symptoms")),
    )
    assert any(isinstance(e, Sentence) and "\n- " in e.check.text for e in events)
    history: list[dict] = []
    view = ChatView(history)
    streamed = []
    for event in events:
        view.apply(event)
        if isinstance(event, Sentence):
            streamed.append(history[view.answer_index]["content"])
    final = history[view.answer_index]["content"]
    for shown in (streamed[-1], final):
        assert (
            "\n\nYou might experience other symptoms such as:\n- dizziness or vertigo (a spinning sensation)\n"
            in shown
        )
        last = shown.index("- confusion or disorientation.")
        after = shown[last:].split("\n", 1)
        assert len(after) == 1 or after[1].startswith("\n")  # what follows the list is a paragraph of its own
    assert "the model's draft" not in final  # extractive mode wrote no draft


def test_the_i_dont_know_answer_is_shown_with_its_links():
    events = turn("What is Kniest dysplasia ?", hits(("Gout", "NIHSeniorHealth", "information"))[:2])
    [final] = [e for e in events if isinstance(e, Answer)]
    shown = render_answer(final)
    assert shown == final.text and "- [Gout](http://nihseniorhealth.gov/gout/toc.html)" in shown
