"""The Chat tab's handlers, called as Gradio calls them: the question checks and rate limit on the server,
events mapped to messages and panels, and Stop reaching only that visitor's answer. The pipeline is real;
its collaborators are the fakes of fakes.py. tests/test_app.py drives the same tab over HTTP."""

from __future__ import annotations

import copy
import json
from types import SimpleNamespace

import gradio as gr
import pytest
from fakes import FakeGuard, FakeKnowledge, ScriptedBackend

from admin.chat import ChatTab, build_tab, last_question, plain_history
from admin.chat_render import ChatView, render_answer
from admin.common import AppContext
from medgemma.auth import AdminAuth
from medgemma.chat.citations import SentenceCheck
from medgemma.chat.events import Answer, Done, Dropped, Emergency, Safety, Sentence, Sources, Status, Timings
from medgemma.chat.services import Services
from medgemma.config import load_settings
from medgemma.types import Citation, Passage, Verdict

ANSWER = "Gout is caused by too much uric acid in the blood [1]."


@pytest.fixture
def tab(isolated_home) -> ChatTab:
    limits = {"MEDGEMMA_CHAT_RATE_PER_MINUTE": "3", "MEDGEMMA_MAX_QUESTION_CHARS": "100"}
    # the test's own data home (an env= without it would rate answers into the real ~/.medgemma)
    settings = load_settings(env={"MEDGEMMA_HOME": str(isolated_home), **limits})
    services = Services(
        settings, knowledge=FakeKnowledge(), guard=FakeGuard(), backend=ScriptedBackend(ANSWER)
    )
    with gr.Blocks():
        return build_tab(AppContext(settings, services, AdminAuth(settings)))


def visitor(name: str) -> SimpleNamespace:
    return SimpleNamespace(session_hash=name)  # what gr.Request gives a handler


def ask(tab: ChatTab, question: str, who: str = "alice", st: dict | None = None) -> list[dict]:
    """Every update respond yields, as Gradio would send it at that moment (the history list grows in place)."""
    return [
        {k: copy.deepcopy(v) for k, v in u.items()}
        for u in tab.respond(question, [], st or {}, {}, visitor(who))
    ]


def answers(history: list[dict]) -> list[str]:
    return [m["content"] for m in history if m["role"] == "assistant" and not m.get("metadata")]


def test_respond_streams_then_shows_the_verified_answer_and_the_evidence(tab):
    updates = ask(tab, "  What causes\x00 gout? ")
    first, last = updates[0], updates[-1]
    assert first[tab.chatbot] == [{"role": "user", "content": "What causes  gout?"}] and first[tab.box] == ""
    assert first[tab.emergency_panel]["visible"] is False and first[tab.evidence]["visible"] is False
    assert len(updates) > 5 and tab.emergency_panel not in last  # no emergency: the panel is left alone
    [text] = answers(last[tab.chatbot])
    assert '[[1]](https://medlineplus.gov/gout.html "Gout")' in text and "Support: 100%" in text
    panels = [m["metadata"]["title"] for m in last[tab.chatbot] if m.get("metadata")]
    assert panels == ["📚 Sources (2)"]
    st = last[tab.state]
    assert st["last"]["question"] == "What causes  gout?" and "uric acid" in st["last"]["answer"]
    record = json.loads(open(last[tab.evidence]["value"], encoding="utf-8").read())
    assert record["mode"] == "generative" and record["passages"][0]["chunk_id"] == "c1"


def test_questions_are_checked_and_rate_limited_per_visitor(tab):
    for bad, message in (("   ", "Type a question first"), ("x" * 101, r"too long \(over 100 characters\)")):
        with pytest.raises(gr.Error, match=message):
            ask(tab, bad)
    for _ in range(3):
        ask(tab, "What causes gout?")
    with pytest.raises(gr.Error, match="Too many messages: at most 3 per minute"):
        ask(tab, "What causes gout?")
    assert answers(ask(tab, "What causes gout?", who="bob")[-1][tab.chatbot])  # bob has his own budget


def test_a_crafted_request_cannot_pick_a_model(tab):
    """By default the model is the admin's (MEDGEMMA_PUBLIC_SETTINGS): even an offered preset is refused."""
    for model in ("/etc/passwd", "smollm2-135m-instruct"):
        with pytest.raises(gr.Error, match="model setting is chosen by the admin"):
            list(tab.respond("What causes gout?", [], {}, {"model": model}, visitor("eve")))


def test_stop_ends_only_that_visitors_answer_on_the_server(tab):
    """Two visitors' answers stream side by side; Alice's Stop sets her signal only: her backend stream
    ends at once and her turn ends 'stopped', while Bob's answer is written in full and verified."""
    mine = tab.respond("What causes gout?", [], {}, {}, visitor("alice"))
    theirs = tab.respond("What causes gout?", [], {}, {}, visitor("bob"))
    for gen in (mine, theirs):
        while not answers(next(gen)[tab.chatbot]):  # up to the "Writing ..." status
            pass
    tab.stop({}, visitor("alice"))
    mine_last, theirs_last = list(mine)[-1], list(theirs)[-1]
    # the half-written draft never showed: not even its first word
    assert answers(mine_last[tab.chatbot]) == ["Stopped before a sentence was verified."]
    assert mine_last[tab.state]["last"]["mode"] == "stopped"
    assert theirs_last[tab.state]["last"]["mode"] == "generative"
    assert "uric acid" in answers(theirs_last[tab.chatbot])[0]
    assert not tab.stops.stop("alice") and not tab.stops.stop("bob")  # finished answers leave no signal


def test_feedback_clear_and_retry(tab, isolated_home):
    st = ask(tab, "What causes gout?")[-1][tab.state]
    note, comment = tab.rate_up(st, "clear")
    assert note == "Thanks — your feedback was saved. (with comment)" and comment == ""
    assert (isolated_home / "feedback" / "feedback.jsonl").is_file()  # saved in the test's home
    with pytest.raises(gr.Error, match="no answer to rate"):
        tab.rate_down({}, "")
    cleared = tab.clear({}, visitor("alice"))
    assert cleared[tab.chatbot] == [] and cleared[tab.state] == {} and cleared[tab.feedback_note] == ""
    history = [
        {"role": "user", "content": "What is gout?"},
        {"role": "assistant", "content": "Gout is..."},
        {"role": "assistant", "content": "2 passages", "metadata": {"title": "📚 Sources (2)"}},
    ]
    assert tab.retry(history) == ("What is gout?", []) == last_question(history)
    assert plain_history(history) == history[:2]


def test_chat_view_maps_events_to_messages_and_the_emergency_panel():
    view = ChatView([{"role": "user", "content": "help"}])
    verdict = Verdict("emergency", ("stroke sign",), ("emergency.stroke",), 1.0)
    view.apply(Emergency("Call 911 now.", verdict))
    assert view.emergency == "## 🚨 Emergency\nCall 911 now."
    assert view.history[1] == {"role": "assistant", "content": "Call 911 now."}
    assert "stroke sign" in view.history[2]["content"] and "emergency.stroke" in view.history[2]["content"]
    view = ChatView([])
    view.apply(Sources((Passage(1, "d", "c", "Local leaflet", source="leaflet.pdf", page=3, score=0.5),)))
    assert view.history[0]["metadata"]["title"] == "📚 Sources (1)"
    assert (
        "**[1]** Local leaflet" in view.history[0]["content"]
        and "leaflet.pdf, page 3" in view.history[0]["content"]
    )


def test_chat_view_shows_verified_sentences_and_lists_the_dropped_ones_collapsed():
    view = ChatView([])
    view.apply(Status("Writing the answer ..."))
    assert view.history[0]["content"].startswith("⏳")  # a status, not a word of the draft
    rest = SentenceCheck("Rest helps.", [1], 1, 0.9, True)
    leaflet = Citation(n=1, doc_id="d", chunk_id="c", title="Leaflet", url="", source="leaflet.pdf")
    view.apply(Sentence(rest, (leaflet,), "generative"))  # a file without a URL: [1] stays plain text
    view.apply(Dropped(SentenceCheck("The moon is cheese.", [], 0, 0.1, False)))
    view.apply(Sentence(SentenceCheck("Fluids too.", [], 1, 0.8, True), (), "generative"))
    view.apply(Dropped(SentenceCheck("Mars <b>is</b> red.", [], 0, 0.1, False)))
    assert view.history[0]["content"] == "Rest helps. [1] Fluids too."
    panel = view.history[1]
    assert panel["metadata"] == {
        "title": "🔍 Not supported by the sources (2), left out of the answer",
        "status": "done",  # Gradio starts a 'done' thought collapsed
    }
    assert panel["content"] == "- The moon is cheese.\n- Mars &lt;b&gt;is&lt;/b&gt; red."
    view.apply(Answer("Rest helps. [1]", (rest,), (leaflet,), 0.5, "generative"))
    assert view.history[0]["content"].startswith("Rest helps. [1]\n\n<sub>Support: 50%")
    assert "2 left out" in view.history[0]["content"] and len(view.history) == 2


def test_an_answer_with_no_sentence_shown_says_so_with_its_support_line():
    assert render_answer(Answer("No source.", (), (), 0.0, "no_source")) == "No source."
    shown = render_answer(Answer("None is supported.", (), (), 0.0, "generative"), left_out=2)
    assert shown.startswith("None is supported.\n\n<sub>Support: 0%") and "2 left out" in shown


def test_chat_view_replaces_the_writing_status_when_no_sentence_came():
    view = ChatView([])
    view.apply(Status("Writing the answer ..."))
    view.apply(Done("", "stopped", "allowed", Timings(), {}))
    assert view.history[0]["content"] == "Stopped before a sentence was verified."


def test_chat_view_shows_the_urgent_note_in_full_before_the_answer():
    view = ChatView([{"role": "user", "content": "my calf is hot and swollen"}])
    verdict = Verdict("urgent", ("possible blood clot",), ("redflag.limbs.dvt",), 1.0)
    view.apply(Safety("**This needs a doctor today, not an ambulance:** call 111.", verdict))
    view.apply(Status("Writing the answer ..."))
    view.apply(Sentence(SentenceCheck("A DVT is a clot in a deep vein.", [], 1, 0.9, True), (), "generative"))
    note, panel, answer = view.history[1:]
    assert note == {
        "role": "assistant",
        "content": "🩺 **This needs a doctor today, not an ambulance:** call 111.",
    }
    assert panel["metadata"]["title"].startswith("🩺 Urgent") and "redflag.limbs.dvt" in panel["content"]
    assert answer["content"] == "A DVT is a clot in a deep vein." and not view.emergency
