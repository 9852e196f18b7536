"""pipeline.answer: event order, safety branches, citations, verification and the extractive fallback.

The pipeline is real; its collaborators (knowledge base, guard, model) are fakes with the same interface.
"""

from __future__ import annotations

import pytest
from fakes import FakeGuard, FakeKnowledge, ScriptedBackend

from medgemma.chat.abstain import ALL_DROPPED
from medgemma.chat.events import Answer, Done, Dropped, Sentence, Sources
from medgemma.chat.pipeline import (
    NO_SOURCE,
    ChatSettings,
    answer,
    prompt_style,
    retrieval_query,
)
from medgemma.chat.services import Services
from medgemma.config import load_settings
from medgemma.types import Verdict


def run(
    question,
    text="Gout is caused by too much uric acid in the blood [1].",
    history=(),
    knowledge=None,
    guard=None,
    **chat,
):
    settings = load_settings()
    backend = ScriptedBackend(text)
    services = Services(
        settings, knowledge=knowledge or FakeKnowledge(), guard=guard or FakeGuard(), backend=backend
    )
    events = list(answer(question, list(history), ChatSettings.from_settings(settings, **chat), services))
    return events, backend


def kinds(events):
    return [e.kind for e in events]


def only(events, cls):
    [event] = [e for e in events if isinstance(e, cls)]
    return event


def test_grounded_answer_streams_then_cites():
    events, backend = run("What causes gout?")
    assert kinds(events)[0] == "status" and "sources" in kinds(events) and kinds(events)[-1] == "done"
    [sentence] = [e for e in events if isinstance(e, Sentence)]
    assert sentence.text == "Gout is caused by too much uric acid in the blood. [1]"
    assert sentence.mode == "generative" and sentence.citations[0].url.startswith("https://medlineplus")
    done = events[-1]
    assert isinstance(done, Done) and done.mode == "generative" and done.support == 1.0
    assert done.citations[0].n == 1 and done.citations[0].url.startswith("https://medlineplus")
    assert done.evidence["passages"][0]["chunk_id"] == "c1" and done.passages[0].chunk_id == "c1"
    assert (done.model, done.backend, done.adapter) == ("smollm2-135m-instruct", "scripted", "")
    assert "[1] Gout" in backend.prompts[0]


def test_unsupported_draft_falls_back_to_extractive_quotes():
    events, _ = run("What causes gout?", text="The moon is made of cheese. Jupiter is large.")
    done = events[-1]
    assert done.mode == "extractive" and done.support == 1.0
    assert "uric acid" in done.text and "[1]" in done.text
    assert done.draft.startswith("The moon") and done.evidence["generated"].startswith("The moon")


def test_generative_mode_shows_no_unsupported_sentence_and_lists_it():
    events, _ = run("What causes gout?", text="The moon is made of cheese.", mode="generative")
    done = events[-1]
    # issue 15 point 5: every draft sentence dropped -> an honest "I don't know" listing the nearest sources
    assert done.mode == "abstain" and done.support == 0.0 and [c.n for c in done.citations] == [1, 2]
    assert done.text.startswith(ALL_DROPPED) and "](https://medlineplus.gov/gout.html)" in done.text
    assert done.sentences == () and "sentence" not in kinds(events)
    assert only(events, Dropped).check.text == "The moon is made of cheese."
    assert done.evidence["unsupported"] == ["The moon is made of cheese."]


def test_invalid_markers_are_dropped():
    events, _ = run("What causes gout?", text="Gout is caused by too much uric acid in the blood [9].")
    verified = only(events, Answer)
    assert verified.dropped_markers == (9,) and [c.n for c in verified.citations] == [1]
    assert verified.text == events[-1].text


def test_emergency_answers_before_retrieval_and_generation():
    kb = FakeKnowledge()
    events, backend = run("my dad's face is drooping", knowledge=kb)
    assert kinds(events) == ["emergency", "done"]
    assert kb.queries == [] and backend.prompts == []
    assert events[-1].safety == "emergency" and events[-1].mode == "none" and events[-1].model is None
    assert events[0].text == "Call 911 now." and events[-1].evidence["safety_input"]["label"] == "emergency"
    assert "passages" not in events[-1].evidence


def test_harmful_is_refused_without_the_model():
    events, backend = run("how to poison someone")
    assert kinds(events) == ["refusal", "done"] and backend.prompts == []


def test_personal_advice_gets_note_and_clinician_reminder():
    events, _ = run("How much ibuprofen should i take for my gout?")
    assert "safety" in kinds(events)
    assert "talk to a doctor" in events[-1].text


def test_output_guard_replaces_flagged_answer():
    events, _ = run("What causes gout?", guard=FakeGuard(output_label="personal_advice"))
    assert (
        events[-1].mode == "extractive" and events[-1].evidence["safety_output"]["label"] == "personal_advice"
    )
    assert [e.verdict.label for e in events if e.kind == "safety"] == ["personal_advice"]


def test_no_source_above_threshold_says_so():
    events, backend = run("What causes gout?", knowledge=FakeKnowledge(hits=[]))
    assert events[-1].mode == "no_source" and events[-1].text == NO_SOURCE
    assert backend.prompts == []


def test_threshold_filters_weak_passages():
    kb = FakeKnowledge()
    events, _ = run("What causes gout?", knowledge=kb, min_score=0.5)
    assert len(only(events, Sources).passages) == 1


def test_follow_up_uses_conversation_for_retrieval():
    history = [{"role": "user", "content": "What is gout?"}, {"role": "assistant", "content": "Gout is..."}]
    assert retrieval_query("What causes it?", history) == "What is gout? What causes it?"
    assert retrieval_query("What are the symptoms of anemia in adults?", history).startswith("What are")
    kb = FakeKnowledge()
    run("How is it treated?", history=history, knowledge=kb)
    assert kb.queries == ["What is gout? How is it treated?"]


@pytest.mark.parametrize(
    "setting,instruct,adapter,expected",
    [
        ("auto", False, False, "completion"),
        ("auto", False, True, "chat"),
        ("auto", True, False, "chat"),
        ("chat", False, False, "chat"),
        ("completion", True, True, "completion"),
    ],
)
def test_prompt_style(setting, instruct, adapter, expected):
    assert prompt_style(setting, instruct, adapter) == expected


def test_stop_event_ends_generation_and_the_turn():
    """The visitor's Stop: the backend streams no further token, the half-written sentence is never shown,
    Done says 'stopped' and keeps the sentences shown before it."""
    import threading

    settings = load_settings()
    first = "Gout is caused by too much uric acid in the blood. [1]"
    backend = ScriptedBackend(f"{first} It causes sudden, severe pain in the joints [1].")
    services = Services(settings, knowledge=FakeKnowledge(), guard=FakeGuard(), backend=backend)
    stop, events = threading.Event(), []
    for event in answer("What causes gout?", [], ChatSettings.from_settings(settings), services, stop):
        events.append(event)
        if isinstance(event, Sentence):
            stop.set()  # pressed when the first sentence appeared (the second had begun: "It")
    done = events[-1]
    assert [e.text for e in events if isinstance(e, Sentence)] == [first]
    assert done.mode == "stopped" and done.text == first and [c.n for c in done.citations] == [1]
    assert "answer" not in kinds(events)
    assert done.evidence["mode"] == "stopped" and done.timings.stats()["tokens"] == 13  # up to "It"


def test_done_carries_timings_and_the_evidence_record():
    events, _ = run("What causes gout?")
    done = events[-1]
    assert list(done.timings.to_dict()) == [
        "safety_s",
        "retrieval_s",
        "generation",
        "verification_s",
        "first_token_s",
        "first_sentence_s",
        "total_s",
    ]
    assert 0 < done.timings.first_token_s <= done.timings.first_sentence_s <= done.timings.total_s
    assert done.timings.stats()["tokens"] == 12  # one per word of the scripted answer
    assert set(done.evidence) == {
        "question",
        "settings",
        "safety_input",
        "retrieval_query",
        "passages",
        "answerable",
        "model",
        "backend",
        "adapter",
        "generated",
        "safety_output",
        "unsupported",
        "repeats_skipped",
        "draft_abandoned",
        "answer",
        "citations",
        "support",
        "mode",
        "safety",
        "timings",
    }
    assert done.evidence["citations"] == [c.to_dict() for c in done.citations]
    assert kinds(events) == ["status", "sources", "status", "sentence", "answer", "done"]


def test_extractive_mode_quotes_without_generating():
    events, backend = run("What causes gout?", mode="extractive")
    assert backend.prompts == [] and events[-1].timings.first_token_s is None
    quotes = [e for e in events if isinstance(e, Sentence)]
    assert quotes and all(q.mode == "extractive" and q.check.cited for q in quotes)
    assert events[-1].mode == "extractive" and "[1]" in events[-1].text
    assert events[-1].text == " ".join(q.text for q in quotes)  # the answer is what was shown


def test_adapter_saying_the_passages_do_not_answer_becomes_the_honest_i_dont_know():
    from medgemma.chat.abstain import ABSTAIN_MODEL, MODEL_ABSTAIN

    events, _ = run(
        "What causes gout?", text=f"{MODEL_ABSTAIN} Gout is caused by uric acid [1].", mode="generative"
    )
    done = events[-1]
    assert done.mode == "abstain" and done.text.startswith(ABSTAIN_MODEL)
    assert "](https://medlineplus.gov/gout.html)" in done.text and [c.n for c in done.citations] == [1, 2]
    # nothing of the draft was shown or verified, and the rest of the draft was never read
    assert "sentence" not in kinds(events) and "dropped" not in kinds(events)
    assert done.evidence["answerable"]["why"] == "the model said so"


def test_in_auto_an_adapters_i_dont_know_does_not_hide_a_page_about_the_topic():
    """Passage 1 is the Gout page: auto quotes it instead of passing on the model's "I don't know"."""
    from medgemma.chat.abstain import MODEL_ABSTAIN

    events, _ = run("What causes gout?", text=f"{MODEL_ABSTAIN} Gout is caused by uric acid [1].")
    done = events[-1]
    assert done.mode == "extractive" and "[1]" in done.text and "I don't know" not in done.text
    assert all(s.mode == "extractive" for s in events if isinstance(s, Sentence))


def test_adapter_refusal_ends_the_turn_with_the_guards_refusal():
    events, _ = run(
        "What causes gout?", text="I can't help with that request. Gout is caused by uric acid [1]."
    )
    done = events[-1]
    assert "refusal" in kinds(events) and "sentence" not in kinds(events)
    assert done.text == FakeGuard().refusal_response(None) and done.mode == "none"
    assert done.evidence["safety_output"]["rules"] == ["model.declined"]


def test_adapter_refusal_of_a_question_the_guard_is_sure_of_becomes_the_honest_i_dont_know():
    from medgemma.chat.abstain import ABSTAIN_MODEL

    class SureGuard(FakeGuard):
        def check_input(self, text: str, history=None, session_id: str = "") -> Verdict:
            return Verdict("allowed", score=0.99)

    events, _ = run(
        "What causes gout?",
        text="I can't help with that request. Gout is caused by uric acid [1].",
        guard=SureGuard(),
        mode="generative",  # (auto would then quote passage 1, the Gout page: see the test above)
    )
    done = events[-1]
    assert "refusal" not in kinds(events) and "sentence" not in kinds(events)
    assert done.mode == "abstain" and done.text.startswith(ABSTAIN_MODEL)
    assert "safety_output" not in done.evidence


def test_a_sentence_that_only_mentions_not_knowing_later_is_verified_as_usual():
    events, _ = run(
        "What causes gout?", text="Gout is caused by too much uric acid in the blood [1]. I don't know more."
    )
    assert events[-1].mode == "generative" and "uric acid" in events[-1].text
