"""Quotes that read like an answer (issue 15 point 4), on real MedQuAD pages from ../shared/data: lists stay
lists, no sentence twice, the sentence that fits the question's type, no boilerplate, a readable length."""

from __future__ import annotations

import pytest
from medquad_pages import MEDQUAD, hits

from medgemma.chat import citations, quotes

pytestmark = pytest.mark.skipif(not MEDQUAD.is_file(), reason="../shared/data is not present")


def lines(units):
    return [ln.removeprefix("- ").strip() for u in units for ln in u.text.split("\n") if ln.strip()]


@pytest.mark.parametrize(
    ("question", "qtype"),
    [
        ("What is gout?", "information"),
        ("What are the symptoms of vertigo?", "symptoms"),
        ("what causes my rib cage pain", "causes"),
        ("How is psoriasis treated?", "treatment"),
        ("How can I prevent type 2 diabetes?", "prevention"),
        ("Is Huntington disease inherited?", "inheritance"),
        ("What is the outlook for ARDS?", "outlook"),
        ("How many people are affected by Perry syndrome ?", "frequency"),
        ("How to diagnose Gout ?", "exams and tests"),
        ("Who is at risk for Gout? ?", "susceptibility"),
        ("What are the genetic changes related to Perry syndrome ?", "genetic changes"),
    ],
)
def test_question_type_from_the_question_words(question, qtype):
    assert quotes.question_type(question) == qtype
    assert quotes.question_type(question, "treatment") == "treatment"  # a known qtype wins


def test_balance_symptoms_are_quoted_as_a_list_not_run_on_text():
    # NIHSeniorHealth's page joins its bullets with spaces and then repeats them flattened
    passages = hits(("Balance Problems", "NIHSeniorHealth", "symptoms"))
    chosen = quotes.choose("What are the symptoms of a balance problem?", passages)
    [listed] = [u for u in chosen if u.is_list]
    assert (
        "\n- dizziness or vertigo (a spinning sensation)\n- falling or feeling as if you are going to fall"
        in (listed.text)
    )
    assert "blurred vision confusion" not in listed.text  # the flattened repeat is gone
    assert len(lines(chosen)) == len(set(lines(chosen)))


def test_what_is_gout_quotes_a_definition_not_the_more_information_line():
    passages = hits(("Gout", None, "information"))
    assert any("has more information about gout" in h.chunk.text for h in passages)
    chosen = quotes.choose("What is gout?", passages)
    text = " ".join(u.text for u in chosen)
    assert chosen[0].text.startswith("Gout is a")
    assert "more information" not in text and "Key Words" not in text
    assert sum(u.words for u in chosen) <= quotes.MAX_WORDS


def test_no_sentence_twice_on_pages_that_repeat_their_items():
    # GARD/NIHSeniorHealth gout pages say each risk-factor item twice ("Genetics. Many ... Genetics. Many ...")
    passages = hits(("Gout", "NIHSeniorHealth", "causes"), ("Gout", "NIHSeniorHealth", "susceptibility"))
    for question in ("Who is at risk for gout?", "What causes gout?", "Is gout genetic?"):
        chosen = quotes.choose(question, passages)
        said = lines(chosen)
        assert said and len(said) == len(set(said)), said
        for i, a in enumerate(said):
            assert not any(citations.same_sentence(a, b) for b in said[i + 1 :]), a


def test_boilerplate_and_contact_lines_are_never_quoted():
    for line in (
        "The National Institute of Arthritis and Musculoskeletal and Skin Diseases (NIAMS) at NIH has more "
        "information about gout.",
        "These resources address the diagnosis or management of Perry syndrome:",
        "See the Genetics Home Reference page on this condition for more.",
        "You can contact the center by phone at 1-800-860-8747 or by e-mail.",
    ):
        assert not quotes.quotable(line)
    assert quotes.quotable("Gout is a common, painful form of arthritis.")


def test_a_flattened_symptom_frequency_table_is_not_quoted():
    """Seen in benchmarks/answers.py: GARD's table quoted as the answer to 'symptoms of Sjogren syndrome'."""
    row = (
        "50% Paresthesia 50% Pulmonary fibrosis 50% Pulmonary infiltrates 50% Recurrent respiratory "
        "infections 50% Sinusitis 7.5% Alopecia 7.5% Arrhythmia 7.5% Asthma"
    )
    assert not quotes.quotable(row)
    for sentence in (
        "About 20% of people with the condition have kidney stones, and 5% need surgery.",
        "Survival at 5 years is 90%, 80%, 60% and 40% for stages 1, 2, 3 and 4 of the cancer in adults.",
    ):
        assert quotes.quotable(sentence)


def test_the_quote_stops_at_a_readable_length():
    passages = hits(("Gout", None, None))  # every answer of every gout page: dozens of chunks
    for question in ("What is gout?", "How is gout treated?", "What are the symptoms of gout?"):
        chosen = quotes.choose(question, passages)
        assert 1 <= len(chosen) <= 3
        assert sum(u.words for u in chosen) <= quotes.MAX_LIST_WORDS
        assert sum(u.is_list for u in chosen) <= 1


def test_treatment_question_quotes_a_treatment_sentence():
    passages = hits(("Gout", "NIHSeniorHealth", None))
    chosen = quotes.choose("How is gout treated?", passages)
    assert any(("NSAID" in u.text or "treat" in u.text.lower()) for u in chosen), [u.text for u in chosen]


def test_extractive_answer_keeps_the_list_in_its_own_paragraph():
    passages = hits(("Balance Problems", "NIHSeniorHealth", "symptoms"))
    text = citations.extractive_answer("What are the symptoms of a balance problem?", passages)
    assert "\n- blurred vision" in text and "[1]" in text
    v = citations.verify(text, passages)
    assert v.support == 1.0


def test_a_resource_list_is_boilerplate_and_a_glued_heading_is_cut():
    passages = hits(("polycythemia vera", "GHR", "treatment"))
    assert quotes.units(1, passages[0].chunk.text) == []
    assert quotes.unglue("Risk Factors These risk factors are associated with gout.") == (
        "These risk factors are associated with gout."
    )
    assert (
        quotes.unglue("Alpha-1 Antitrypsin Deficiency is rare.") == "Alpha-1 Antitrypsin Deficiency is rare."
    )
