"""Ingestion of every supported format with real and generated files, and the corpus packs."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from pdf_factory import blank_pdf, text_pdf

from medgemma.errors import IngestError
from medgemma.knowledge import corpus
from medgemma.knowledge.ingest import ColumnMap, decode_text, expand_paths, read_documents
from medgemma.knowledge.uploads import kind_of

MEDQUAD_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Document id="0000001" source="NIDDK" url="http://www.niddk.nih.gov/acromegaly.aspx">
<Focus>Acromegaly</Focus>
<QAPairs>
  <QAPair pid="1">
    <Question qid="0000001-1" qtype="information">What is (are) Acromegaly ?</Question>
    <Answer>Acromegaly is a hormonal disorder that results from too much growth hormone (GH) in the body.
                The pituitary, a small gland in the brain, makes GH.</Answer>
  </QAPair>
  <QAPair pid="2">
    <Question qid="0000001-2" qtype="symptoms">What are the symptoms of Acromegaly ?</Question>
    <Answer>Swelling of the hands and feet is often an early feature &amp; rings stop fitting.</Answer>
  </QAPair>
  <QAPair pid="3">
    <Question qid="0000001-3" qtype="treatment">What are the treatments for Acromegaly ?</Question>
    <Answer></Answer>
  </QAPair>
</QAPairs>
</Document>
"""

PUBMED_XML = """<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2019//EN" "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_190101.dtd">
<PubmedArticleSet>
  <PubmedArticle><MedlineCitation Status="MEDLINE" Owner="NLM"><PMID Version="1">111</PMID>
    <Article PubModel="Print"><Journal><JournalIssue><PubDate><Year>2000</Year></PubDate></JournalIssue>
      <Title>Current biology</Title></Journal>
      <ArticleTitle>Dopamine modulates responses to <i>cocaine</i> in Drosophila.</ArticleTitle>
      <Abstract>
        <AbstractText Label="BACKGROUND">Drugs of abuse release dopamine.</AbstractText>
        <AbstractText Label="RESULTS">Flies respond to cocaine through dopamine.</AbstractText>
      </Abstract></Article></MedlineCitation></PubmedArticle>
  <PubmedArticle><MedlineCitation><PMID Version="1">222</PMID>
    <Article><ArticleTitle>A letter without abstract.</ArticleTitle></Article></MedlineCitation></PubmedArticle>
  <PubmedArticle><MedlineCitation><PMID Version="1">333</PMID>
    <Article><ArticleTitle>Aspirin and stroke.</ArticleTitle>
      <Abstract><AbstractText>Aspirin lowers the risk of a second stroke.</AbstractText></Abstract>
    </Article></MedlineCitation></PubmedArticle>
</PubmedArticleSet>
"""


def write(path: Path, data: str | bytes) -> Path:
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


# ---- text formats ---------------------------------------------------------------------------
def test_txt_and_markdown(tmp_path):
    [doc] = read_documents(
        write(tmp_path / "notes.txt", "Flu basics\nRest and drink fluids.\nSee a doctor if worse.")
    )
    assert doc.doc_id == "notes.txt" and doc.title == "Flu basics" and "Rest and drink" in doc.text
    md = write(
        tmp_path / "guide.md",
        "# Asthma guide\n\nIntro text.\n\n## Triggers\nCold air and smoke.\n\n## Treatment\nInhalers help.\n",
    )
    docs = read_documents(md)
    assert [d.section for d in docs] == ["", "Triggers", "Treatment"]
    assert {d.title for d in docs} == {"Asthma guide"} and {d.doc_id for d in docs} == {"guide.md"}


def test_non_utf8_text_is_decoded(tmp_path):
    path = write(tmp_path / "latin.txt", b"Caf\xe9 au lait and na\xefve \x93quotes\x94 about fever.")
    [doc] = read_documents(path)
    assert "Café" in doc.text and "naïve" in doc.text and "“quotes”" in doc.text
    assert decode_text("ü".encode("utf-16")) == "ü"
    assert decode_text(b"\xef\xbb\xbfhello") == "hello"


@pytest.mark.parametrize(
    "name,data,reason",
    [
        ("empty.txt", b"", "empty"),
        ("blank.md", b"  \n\n  ", "empty"),
        ("binary.txt", b"\x00\x01\x02binary\x00data", "binary"),
        ("slides.docx", b"PK\x03\x04", "unsupported file type"),
        ("empty.json", b"", "empty"),
        ("bad.json", b"{not json", "not valid JSON"),
        ("bad.jsonl", b"{oops\n[also bad\n", "no valid JSON lines"),
        ("odd.xml", b"<root><item>hello</item></root>", "unsupported XML"),
        ("broken.jsonl.gz", b"not gzip at all", "cannot read file"),
    ],
)
def test_bad_files_fail_with_a_reason(tmp_path, name, data, reason):
    with pytest.raises(IngestError, match=reason):
        read_documents(write(tmp_path / name, data))


# ---- records --------------------------------------------------------------------------------
def test_csv_default_and_chosen_columns(tmp_path):
    path = write(
        tmp_path / "faq.csv",
        "question,answer,link\n"
        "What is flu?,Flu is a viral infection.,https://example.org/flu\n"
        "What is a cold?,A cold is a mild virus.,not-a-url\n"
        "Empty row?,,\n",
    )
    docs = read_documents(path)
    assert [d.title for d in docs] == ["What is flu?", "What is a cold?"]
    assert docs[0].url == "https://example.org/flu" and docs[1].url == ""  # only http(s) URLs are kept
    assert docs[0].doc_id == "faq.csv#1"
    chosen = read_documents(path, ColumnMap(text="question", title="answer"))
    assert chosen[0].text == "What is flu?"


def test_csv_missing_columns(tmp_path):
    no_text = write(tmp_path / "meta.csv", "title,url\nFlu,https://x.org\n")
    with pytest.raises(IngestError, match="no text column.*title, url"):
        read_documents(no_text)
    with pytest.raises(IngestError, match="no text column: expected 'body'"):
        read_documents(write(tmp_path / "t.csv", "text\nhello\n"), ColumnMap(text="body"))
    ragged = write(tmp_path / "ragged.csv", "title,text,url\nOnly a title\nFull,Some real text here.,\n")
    [doc] = read_documents(ragged)  # the short row has no text and is skipped; the good one is kept
    assert doc.title == "Full"


def test_tsv_json_jsonl_and_gzip(tmp_path):
    tsv = write(tmp_path / "a.tsv", "title\tcontent\nT1\tTab separated text.\n")
    assert read_documents(tsv)[0].text == "Tab separated text."
    as_list = write(
        tmp_path / "l.json", json.dumps([{"title": "A", "text": "Alpha text."}, {"text": "Beta."}])
    )
    assert [d.title for d in read_documents(as_list)] == ["A", "l 2"]
    wrapped = write(tmp_path / "w.json", json.dumps({"documents": [{"body": "Wrapped body."}]}))
    assert read_documents(wrapped)[0].text == "Wrapped body."
    by_id = write(
        tmp_path / "pubmedqa.json", json.dumps({"123": {"QUESTION": "Q?", "abstract": "Abs text."}})
    )
    [doc] = read_documents(by_id)
    assert doc.doc_id == "pubmedqa.json#123" and doc.text == "Abs text."
    lines = "\n".join(json.dumps({"text": f"Line {i} text.", "url": f"https://e.org/{i}"}) for i in range(3))
    gz = write(tmp_path / "recs.jsonl.gz", gzip.compress(lines.encode()))
    assert kind_of(gz.name) == ".jsonl"
    docs = read_documents(gz)
    assert len(docs) == 3 and docs[2].url == "https://e.org/2"


# ---- PDF ------------------------------------------------------------------------------------
def test_generated_pdf_keeps_pages(tmp_path):
    path = text_pdf(
        tmp_path / "leaflet.pdf",
        [
            ["Page one talks about asthma inhalers and triggers."],
            ["Page two explains peak flow meters for asthma."],
        ],
        title="Asthma leaflet",
    )
    docs = read_documents(path)
    assert [d.page for d in docs] == [1, 2]
    assert docs[0].title == "Asthma leaflet" and "peak flow" in docs[1].text


def test_real_pdfs(shared_data):
    docs = read_documents(shared_data / "pdfs" / "niddk_eating_and_diabetes.pdf")
    assert len(docs) >= 40 and docs[-1].page >= 45
    assert any("diabetes" in d.text.lower() for d in docs)
    poster = read_documents(shared_data / "pdfs" / "medmcqa_poster.pdf")
    assert len(poster) == 1 and poster[0].page == 1 and len(poster[0].text) > 500


def test_image_only_and_corrupt_pdfs(tmp_path, shared_data):
    with pytest.raises(IngestError, match="no extractable text"):
        read_documents(blank_pdf(tmp_path / "scan.pdf"))
    with pytest.raises(IngestError, match="not a readable PDF"):
        read_documents(write(tmp_path / "junk.pdf", b"%PDF-1.4\nthis is not really a pdf"))
    truncated = (shared_data / "pdfs" / "medmcqa_poster.pdf").read_bytes()[:3000]
    with pytest.raises(IngestError):
        read_documents(write(tmp_path / "truncated.pdf", truncated))


# ---- corpus packs ---------------------------------------------------------------------------
def test_medquad_jsonl_slice_groups_pages_consumer_sources_first(tmp_path, shared_data):
    with gzip.open(shared_data / "corpus" / "medquad_answered.jsonl.gz", "rt") as fh:
        rows = [json.loads(next(fh)) for _ in range(12)]
    mplus = [
        json.loads(line)
        for line in gzip.open(shared_data / "corpus" / "medquad_answered.jsonl.gz", "rt")
        if '"MPlusHealthTopics"' in line
    ][:4]
    path = write(tmp_path / "medquad.jsonl", "\n".join(json.dumps(r) for r in rows + mplus))
    docs = read_documents(path)
    assert docs[0].meta["medquad_source"] == "MPlusHealthTopics"  # consumer-health pages first
    assert docs[-1].meta["medquad_source"] == "CancerGov"
    cancer = [d for d in docs if d.meta["medquad_source"] == "CancerGov"]
    assert len({d.doc_id for d in cancer}) == len({r["url"] for r in rows})
    assert cancer[0].title == rows[0]["focus"] and cancer[0].url == rows[0]["url"]
    assert cancer[0].section == rows[0]["question"] and cancer[0].source == "MedQuAD/CancerGov"


def test_medquad_xml_page_and_folder(tmp_path):
    folder = tmp_path / "MedQuAD" / "5_NIDDK_QA"
    folder.mkdir(parents=True)
    page = write(folder / "0000001.xml", MEDQUAD_XML)
    docs = read_documents(page)
    assert len(docs) == 2  # the empty (copyright-removed) answer is skipped
    assert docs[0].doc_id == "medquad:NIDDK:0000001" and docs[0].title == "Acromegaly"
    assert "&" in docs[1].text and docs[1].url.endswith("acromegaly.aspx")
    src = corpus.medquad_folder_source(tmp_path / "MedQuAD")
    assert src is not None and src.kind == "medquad" and len(src.load()) == 2
    empty = write(
        tmp_path / "noanswers.xml",
        MEDQUAD_XML.replace("Acromegaly is", "").split('<QAPair pid="1">')[0] + "</QAPairs></Document>",
    )
    with pytest.raises(IngestError, match="no answers"):
        read_documents(empty)


def test_pubmed_xml_and_gz(tmp_path):
    docs = read_documents(write(tmp_path / "pubmed.xml", PUBMED_XML))
    assert [d.doc_id for d in docs] == ["pmid:111", "pmid:333"]  # the citation without abstract is skipped
    assert docs[0].title == "Dopamine modulates responses to cocaine in Drosophila."
    assert docs[0].text.startswith("Background: Drugs of abuse") and "Results: Flies" in docs[0].text
    assert docs[0].url == "https://pubmed.ncbi.nlm.nih.gov/111/" and docs[0].meta["year"] == "2000"
    gz = write(tmp_path / "pubmed21n0001.xml.gz", gzip.compress(PUBMED_XML.encode()))
    assert [d.doc_id for d in read_documents(gz)] == ["pmid:111", "pmid:333"]
    with pytest.raises(IngestError, match="not valid PubMed XML"):
        read_documents(write(tmp_path / "cut.xml", PUBMED_XML[:900]))


def test_find_starter_prefers_medquad_then_pubmed(tmp_path):
    data = tmp_path / "data"
    (data / "corpus").mkdir(parents=True)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    write(downloads / "pubmed21n1298.xml.gz", gzip.compress(PUBMED_XML.encode()))
    src = corpus.find_starter("auto", data, downloads, allow_network=False)
    assert src.kind == "pubmed" and [d.doc_id for d in src.load()] == ["pmid:111", "pmid:333"]
    rows = [
        {
            "qid": "1-1",
            "qtype": "information",
            "question": "What is flu?",
            "answer": "Flu is a virus.",
            "focus": "Flu",
            "source": "MPlusHealthTopics",
            "url": "https://medlineplus.gov/flu.html",
            "doc_id": "1",
            "subset": "4_MPlus",
        }
    ]
    write(data / "corpus" / "medquad_answered.jsonl.gz", gzip.compress(json.dumps(rows[0]).encode()))
    src = corpus.find_starter("auto", data, downloads, allow_network=False)
    assert src.kind == "medquad" and src.load()[0].title == "Flu"
    assert corpus.find_starter("none", data, downloads) is None


def test_expand_paths_walks_folders(tmp_path):
    (tmp_path / "docs" / "sub").mkdir(parents=True)
    write(tmp_path / "docs" / "a.txt", "A text.")
    write(tmp_path / "docs" / "sub" / "b.md", "# B\nB text.")
    write(tmp_path / "docs" / "sub" / "c.exe", "nope")
    single = write(tmp_path / "single.csv", "text\nx\n")
    found = expand_paths([tmp_path / "docs", single])
    assert [name for _, name in found] == ["docs/a.txt", "docs/sub/b.md", "single.csv"]
