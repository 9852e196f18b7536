"""An honest "I don't know" (issue 15 point 5): when the passages do not answer the question the answer says
so in one sentence and lists the nearest sources as links. Real MedQuAD pages from ../shared/data; the
pipeline is real, its knowledge base and guard are fakes with the same interface."""

from __future__ import annotations

import pytest
from fakes import FakeGuard, FakeKnowledge, ScriptedBackend
from medquad_pages import MEDQUAD, hits

from medgemma.chat import abstain
from medgemma.chat.events import Answer, Done, Sentence
from medgemma.chat.pipeline import ChatSettings, answer
from medgemma.chat.services import Services
from medgemma.config import load_settings

pytestmark = pytest.mark.skipif(not MEDQUAD.is_file(), reason="../shared/data is not present")

UNRELATED = (("Gout", "NIHSeniorHealth", "information"), ("Depression", "NIHSeniorHealth", "treatment"))


def run(question, passages, mode="extractive", draft="The moon is made of cheese."):
    settings = load_settings()
    services = Services(
        settings, knowledge=FakeKnowledge(passages), guard=FakeGuard(), backend=ScriptedBackend(draft)
    )
    return list(answer(question, [], ChatSettings.from_settings(settings, mode=mode), services))


@pytest.mark.parametrize(
    "question",
    [
        "What are the symptoms of Kniest dysplasia ?",  # its page is not among the passages
        "How do I taper off sertraline without withdrawal?",  # an antidepressant question, no such page
        "what causes rib cage pain",
        "Is Perry syndrome inherited ?",
    ],
)
def test_passages_that_do_not_name_the_topic_do_not_answer(question):
    decision = abstain.decide(question, hits(*UNRELATED))
    assert not decision.answers and decision.passages == ()
    assert "no passage holds" in decision.why


@pytest.mark.parametrize(
    ("question", "page"),
    [
        ("What are the symptoms of Kniest dysplasia ?", ("Kniest dysplasia", "GHR", None)),
        ("Is Perry syndrome inherited ?", ("Perry syndrome", "GHR", None)),
        ("What is gout?", ("Gout", "MPlusHealthTopics", None)),
        ("Can depression be treated in older adults?", ("Depression", "NIHSeniorHealth", "treatment")),
    ],
)
def test_the_page_that_answers_is_found_and_only_it_may_be_quoted(question, page):
    passages = hits(*UNRELATED[:1], page)
    decision = abstain.decide(question, passages)
    assert decision.answers
    own = [n for n, h in enumerate(passages, 1) if h.chunk.title == page[0]]
    assert set(decision.passages) <= set(own) | {
        n for n, h in enumerate(passages, 1) if (h.dense or 0) >= 0.65
    }
    assert set(decision.passages) & set(own)


def test_the_answer_says_so_in_one_sentence_and_lists_the_nearest_sources():
    passages = hits(UNRELATED[0])[:2] + hits(UNRELATED[1])[:1]  # two chunks of one page, one of another
    events = run("What are the symptoms of Kniest dysplasia ?", passages)
    done = events[-1]
    assert isinstance(done, Done) and done.mode == "abstain"
    assert not [e for e in events if isinstance(e, Sentence)]  # nothing loosely related is quoted
    head, _, listed = done.text.partition("\n\n")
    assert head == abstain.ABSTAIN and head.count(". ") == 0
    links = listed.splitlines()
    assert links[0].startswith("- [Gout](http://nihseniorhealth.gov/") and "NIHSeniorHealth" in links[0]
    assert "as of 2017" in links[0] and len(links) == 2  # distinct documents, nearest first
    assert [c.title for c in done.citations] == ["Gout", "Depression"]
    assert done.citations[0].publisher.startswith("NIHSeniorHealth") and done.citations[0].date == "2017"
    [final] = [e for e in events if isinstance(e, Answer)]
    assert final.mode == "abstain" and final.text == done.text
    assert done.evidence["answerable"]["answers"] is False


def test_the_same_question_with_its_page_indexed_is_quoted():
    events = run("What is (are) Kniest dysplasia ?", hits(("Kniest dysplasia", "GHR", "information")))
    done = events[-1]
    assert done.mode == "extractive" and done.sentences
    assert all("Kniest" in c.title for c in done.citations)


def test_auto_abstains_before_the_model_writes_a_word():
    settings = load_settings()
    backend = ScriptedBackend("Kniest dysplasia is caused by eating gout.")
    services = Services(
        settings, knowledge=FakeKnowledge(hits(*UNRELATED)), guard=FakeGuard(), backend=backend
    )
    done = list(answer("What is Kniest dysplasia ?", [], ChatSettings.from_settings(settings), services))[-1]
    assert done.mode == "abstain" and backend.prompts == []


def test_generative_answer_with_every_sentence_dropped_says_it_does_not_know():
    events = run("What is gout?", hits(("Gout", "MPlusHealthTopics", "information")), mode="generative")
    done = events[-1]
    assert done.mode == "abstain" and done.text.startswith(abstain.ALL_DROPPED)
    assert "](https://www.nlm.nih.gov/medlineplus/gout.html)" in done.text or "](http" in done.text
    assert done.evidence["unsupported"] == ["The moon is made of cheese."]


def test_a_page_without_the_kind_of_answer_asked_for_is_not_quoted():
    # GHR's treatment "answer" is only a list of resources: quoting the definition would not answer
    passages = hits(("polycythemia vera", "GHR", None))
    done = run("What are the treatments for polycythemia vera ?", passages)[-1]
    assert done.mode == "abstain" and "'treatment' question" in done.evidence["answerable"]["why"]
    assert "Genetic Testing Registry" not in done.text
    quoted = run("What is (are) polycythemia vera ?", passages)[-1]
    assert quoted.mode == "extractive" and quoted.text.startswith("Polycythemia vera is a condition")


def test_an_uploaded_file_names_its_topic_in_its_text():
    from medgemma.types import Chunk, Hit

    text = "Anal cancer is rare. Most people with anal cancer are treated with chemoradiation."
    leaflet = Hit(Chunk("c", "leaflet", text, title="clinic leaflet", source="leaflet.txt"), 0.03, dense=0.4)
    assert abstain.decide("What is the outlook for anal cancer?", [leaflet]).answers
    elsewhere = Hit(Chunk("c", "y", "Cancer can spread to the lungs.", title="notes", source="y.txt"), 0.03)
    assert not abstain.decide("What is the outlook for anal cancer?", [elsewhere]).answers
    # a MedQuAD section is a templated question: its shared template words do not name the topic
    yersinia = hits(("Yersinia", "CDC", "prevention"))[:1]
    assert not abstain.decide(
        "what are public health agencies doing to prevent or control botulism?", yersinia
    ).answers
