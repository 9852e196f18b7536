"""Dated sources and crisis numbers only from the guard (issue 15 point 6), on real MedQuAD pages and a real
PDF from ../shared/data: each source says where it came from and as of when; a page's own hotline number
(MedQuAD's Suicide page still gives the pre-2022 1-800-273-TALK) never reaches the screen or the answer."""

from __future__ import annotations

import re

import pytest
from fakes import FakeGuard, FakeKnowledge
from medquad_pages import MEDQUAD, SHARED_DATA, hits, rows

from admin.chat_render import render_sources
from medgemma.chat import provenance
from medgemma.chat.events import Sentence, Sources
from medgemma.chat.pipeline import ChatSettings, answer
from medgemma.chat.provenance import Lines
from medgemma.chat.services import Services
from medgemma.config import load_settings
from medgemma.knowledge.ingest import read_documents

pytestmark = pytest.mark.skipif(not MEDQUAD.is_file(), reason="../shared/data is not present")
OLD_LINE = re.compile(r"273-?(?:TALK|8255)|\(8255\)")


def test_the_old_suicide_hotline_on_a_medquad_page_is_found_and_replaced():
    [page] = rows("Suicide", "MPlusHealthTopics")
    assert "1-800-273-TALK (8255)" in page["answer"]  # the page as MedQuAD has it
    assert provenance.crisis_numbers(page["answer"]) == ["1-800-273-TALK (8255)"]
    shown = provenance.scrub(page["answer"], Lines(crisis="988", emergency="911"))
    assert not OLD_LINE.search(shown)
    assert "National Suicide Prevention Lifeline at the crisis line 988 (this app's number" in shown


def test_a_sentence_with_several_numbers_for_one_line_gets_one_pointer():
    [page] = [r for r in rows("Depression", "NIHSeniorHealth") if "1-800-273-8255" in r["answer"]][:1]
    shown = provenance.scrub(page["answer"], Lines(crisis="116 123", emergency="999"))
    assert not OLD_LINE.search(shown) and "4TTY" not in shown and "Call 911" not in shown
    assert "the crisis line 116 123" in shown and "your emergency number (999)" in shown


def test_ordinary_numbers_stay():
    text = "Call the NIDDK information line at 1-800-860-8747. It affects 1 in 911 people."
    assert provenance.crisis_numbers(text) == []
    assert provenance.scrub(text, Lines()) == text


def test_the_configured_line_comes_from_the_guard_settings():
    gb = Lines.from_settings(load_settings(overrides={"locale": "GB"}))
    assert (gb.crisis, gb.emergency) == ("116 123", "999")
    none = Lines.from_settings(load_settings(overrides={"locale": "IT"}))  # no crisis line configured
    assert provenance.scrub("call the Lifeline at 1-800-273-8255", none) == (
        f"call the Lifeline at your emergency number ({none.emergency})"
    )


def suicide_turn(**settings):
    config = load_settings(overrides=settings)
    passages = hits(("Suicide", "MPlusHealthTopics", None))
    services = Services(config, knowledge=FakeKnowledge(passages), guard=FakeGuard())
    chat = ChatSettings.from_settings(config, mode="extractive")
    return list(answer("What should I do if someone talks about suicide?", [], chat, services))


def test_neither_the_sources_nor_the_answer_show_the_page_number():
    events = suicide_turn(locale="GB")
    [sources] = [e for e in events if isinstance(e, Sources)]
    panel = render_sources(sources.passages)
    done = events[-1]
    for text in (panel, done.text, *(p.text for p in sources.passages), str(done.evidence["passages"])):
        assert not OLD_LINE.search(text)
    assert any("the crisis line 116 123" in p.text for p in sources.passages)
    said = [e.check.text for e in events if isinstance(e, Sentence)]
    assert said and not any("crisis line" in s or "Lifeline" in s for s in said)  # never an answer sentence


def test_each_source_says_where_it_came_from_and_as_of_when():
    events = suicide_turn()
    [sources] = [e for e in events if isinstance(e, Sources)]
    p = sources.passages[0]
    assert (p.publisher, p.date) == ("MedlinePlus, NIH National Library of Medicine", "2017")
    assert "MedlinePlus, NIH National Library of Medicine · as of 2017 · MedQuAD/MPlusHealthTopics" in (
        render_sources(sources.passages)
    )
    done = events[-1]
    cited = [c.to_dict() for c in done.citations]  # what `ask --json` prints
    assert cited and all(c["publisher"] and c["date"] == "2017" for c in cited)


def test_origin_of_other_sources():
    from medgemma.types import Chunk

    gard = Chunk("c", "d", "text", source="MedQuAD/GARD")
    assert (
        provenance.origin(gard).label()
        == "NIH Genetic and Rare Diseases Information Center (GARD) · as of 2017"
    )
    upload = Chunk("c", "leaflet", "text", source="leaflet.txt")
    found = provenance.origin(upload, {"added_at": "2026-12-02T17:00:00+0000", "source": "leaflet.txt"})
    assert found == provenance.Origin("uploaded file leaflet.txt", "upload of 2026-12-02")
    pdf = provenance.origin(Chunk("c", "x", "t", source="guide.pdf"), {"meta": {"date": "2016-11-07"}})
    assert pdf.date == "2016-11-07"


def test_a_pdf_carries_its_own_date():
    docs = read_documents(SHARED_DATA / "pdfs" / "cdc_infection_prevention_outpatient.pdf")
    assert docs[0].meta["date"] == "2016-11-07" and all(d.meta == docs[0].meta for d in docs)


@pytest.mark.slow
def test_an_indexed_pdf_and_text_file_show_their_dates(tmp_path):
    from medgemma.knowledge.base import KnowledgeBase

    note = tmp_path / "clinic_note.txt"
    note.write_text("Gout is a form of arthritis. Drink water and see your doctor.", encoding="utf-8")
    kb = KnowledgeBase(load_settings(overrides={"home": str(tmp_path / "home")}))
    kb.add_files([SHARED_DATA / "pdfs" / "medmcqa_poster.pdf", note], limits=False)
    records = provenance.document_records(kb)
    by_source = {r["source"]: r for r in records.values()}
    poster, txt = by_source["medmcqa_poster.pdf"], by_source["clinic_note.txt"]
    assert poster["meta"]["date"] == "2022-03-29"
    chunk = next(
        h.chunk for h in kb.search("gout arthritis", k=4, min_score=-1) if h.chunk.source == "clinic_note.txt"
    )
    found = provenance.origin(chunk, txt)
    assert found.publisher == "uploaded file clinic_note.txt" and found.date.startswith("upload of 20")
