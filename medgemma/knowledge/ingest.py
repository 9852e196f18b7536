"""ingest.py reads user files into Documents: TXT, Markdown, JSON, JSONL, CSV/TSV and PDF (pages kept).

MedQuAD and PubMed packs are recognised here and parsed by knowledge/corpus.py. Every failure is an
IngestError whose message names the problem. It knows nothing about chunking or indexes.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medgemma.errors import IngestError
from medgemma.knowledge import corpus
from medgemma.knowledge.chunking import normalize_text
from medgemma.knowledge.uploads import CSV_KINDS, TEXT_KINDS, is_supported, kind_of, type_problem
from medgemma.types import Document

logger = logging.getLogger(__name__)
logging.getLogger("pypdf").setLevel(logging.ERROR)  # font-encoding chatter on every other PDF


TEXT_KEYS = (
    "text",
    "content",
    "contents",
    "body",
    "answer",
    "abstract",
    "passage",
    "document",
    "page_content",
    "summary",
    "description",
)
TITLE_KEYS = ("title", "name", "heading", "focus", "question", "subject", "topic")
URL_KEYS = ("url", "link", "href", "source_url", "uri")
_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


@dataclass(frozen=True)
class ColumnMap:
    """Which record fields hold the text, title and URL (empty = guess from common names)."""

    text: str = ""
    title: str = ""
    url: str = ""


def file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def slug(name: str) -> str:
    """A doc id stem from a file name: keeps letters, digits, dot, dash and underscore."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "document"


def read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped when the name ends in .gz."""
    try:
        data = Path(path).read_bytes()
        if path.name.lower().endswith(".gz"):
            data = gzip.decompress(data)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise IngestError(f"cannot read file: {exc}") from None
    return data


def decode_text(data: bytes) -> str:
    """Decode text: BOMs first, then UTF-8, then Windows-1252, then Latin-1; binary data is refused."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    if b"\x00" in data[:8192]:
        raise IngestError("binary data, not text (wrong file extension?)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("cp1252")
        logger.info("decoded a non-UTF-8 file as Windows-1252")
        return text
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _pretty_title(name: str) -> str:
    stem = name.split(".")[0]
    return re.sub(r"[_-]+", " ", stem).strip() or name


def read_text_file(data: bytes, name: str) -> list[Document]:
    """A TXT or Markdown file: one Document per Markdown section (one for plain text)."""
    text = normalize_text(decode_text(data))
    if not text:
        raise IngestError("the file holds no text")
    doc_id = slug(name)
    title = _pretty_title(name)
    sections: list[tuple[str, list[str]]] = [("", [])]
    markdown = kind_of(name) in {".md", ".markdown"}
    for line in text.split("\n"):
        m = _HEADING.match(line) if markdown else None
        if m:
            heading = m.group(2).strip()
            if len(m.group(1)) == 1 and not any("".join(b).strip() for _, b in sections):
                title = heading
            sections.append((heading, []))
        else:
            sections[-1][1].append(line)
    if not markdown:
        first = text.split("\n", 1)[0].strip()
        if 0 < len(first) <= 100 and "\n" in text:
            title = first
    docs = []
    for heading, body in sections:
        body_text = "\n".join(body).strip()
        if body_text:
            docs.append(
                Document(
                    doc_id=doc_id,
                    text=body_text,
                    title=title,
                    source=name,
                    section="" if heading == title else heading,
                )
            )
    if not docs:
        raise IngestError("the file holds headings but no text")
    return docs


def pdf_date(reader) -> str:
    """The PDF's own date (modified, else created) as YYYY-MM-DD; "" when it has none or it is unreadable."""
    info = reader.metadata
    for getter in ("modification_date", "creation_date"):
        try:
            value = getattr(info, getter, None) if info is not None else None
        except (ValueError, TypeError, KeyError):  # pypdf raises on malformed date strings
            value = None
        if value is not None:
            return value.strftime("%Y-%m-%d")
    return ""


def read_pdf(data: bytes, name: str) -> list[Document]:
    """A PDF: one Document per page that has text, with 1-based page numbers."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise IngestError("the PDF is password-protected")
        pages = list(reader.pages)
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
        dated = pdf_date(reader)
    except IngestError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, AssertionError) as exc:
        raise IngestError(f"not a readable PDF ({type(exc).__name__}: {exc})") from None
    if not pages:
        raise IngestError("the PDF has no pages")
    title = meta_title.strip() if 3 <= len(meta_title.strip()) <= 200 else _pretty_title(name)
    doc_id = slug(name)
    docs = []
    for number, page in enumerate(pages, start=1):
        try:
            text = normalize_text(page.extract_text() or "")
        except Exception as exc:  # pypdf raises many types on damaged content streams
            logger.warning("%s: page %d could not be read: %s", name, number, exc)
            continue
        if len(text) >= 20:
            meta = {"date": dated} if dated else {}
            docs.append(Document(doc_id=doc_id, text=text, title=title, source=name, page=number, meta=meta))
    if not docs:
        raise IngestError("no extractable text (a scanned or image-only PDF needs OCR first)")
    return docs


def _pick(keys: Iterable[str], wanted: str, candidates: tuple[str, ...]) -> str:
    lowered = {k.lower().strip(): k for k in keys if isinstance(k, str)}
    if wanted:
        return lowered.get(wanted.lower().strip(), "")
    return next((lowered[c] for c in candidates if c in lowered), "")


def records_to_documents(records: list[tuple[str, Any]], name: str, columns: ColumnMap) -> list[Document]:
    """Records (row id, dict or str) -> one Document each; a missing text column is an error."""
    records = [(rid, {"text": r} if isinstance(r, str) else r) for rid, r in records]
    records = [(rid, r) for rid, r in records if isinstance(r, dict)]
    if not records:
        raise IngestError("no records found")
    keys: list[str] = []
    for _, r in records[:200]:
        keys.extend(k for k in r if k not in keys)
    text_key = _pick(keys, columns.text, TEXT_KEYS)
    if not text_key:
        wanted = f"'{columns.text}'" if columns.text else "one of " + ", ".join(TEXT_KEYS[:6])
        raise IngestError(
            f"no text column: expected {wanted}; the file has {', '.join(map(str, keys)) or 'no columns'}"
            " (choose one with the text column option)"
        )
    title_key = _pick(keys, columns.title, TITLE_KEYS)
    url_key = _pick(keys, columns.url, URL_KEYS)
    base = slug(name)
    docs = []
    for rid, r in records:
        text = normalize_text(str(r.get(text_key) or ""))
        if not text:
            continue
        title = str(r.get(title_key) or "").strip() if title_key else ""
        url = str(r.get(url_key) or "").strip() if url_key else ""
        docs.append(
            Document(
                doc_id=f"{base}#{rid}",
                text=text,
                title=title or f"{_pretty_title(name)} {rid}",
                source=name,
                url=url if url.startswith(("http://", "https://")) else "",
            )
        )
    if not docs:
        raise IngestError(f"every record has an empty '{text_key}' field")
    return docs


def read_csv(data: bytes, name: str, columns: ColumnMap) -> list[Document]:
    text = decode_text(data)
    if not text.strip():
        raise IngestError("the file is empty")
    if kind_of(name) == ".tsv":
        delimiter = "\t"
    else:
        try:
            delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    csv.field_size_limit(1 << 24)
    try:
        reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
        rows = [(str(i), row) for i, row in enumerate(reader, start=1)]
    except csv.Error as exc:
        raise IngestError(f"not a readable CSV file: {exc}") from None
    if not reader.fieldnames:
        raise IngestError("the CSV file has no header row")
    return records_to_documents(rows, name, columns)


def _json_records(obj: Any) -> list[tuple[str, Any]]:
    if isinstance(obj, list):
        return [(str(i), r) for i, r in enumerate(obj, start=1)]
    if isinstance(obj, dict):
        for key in ("documents", "docs", "data", "records", "items", "rows", "passages"):
            if isinstance(obj.get(key), list):
                return _json_records(obj[key])
        if any(k.lower() in TEXT_KEYS for k in obj):
            return [("1", obj)]
        if obj and all(isinstance(v, dict) for v in obj.values()):
            return [(slug(str(k)), v) for k, v in obj.items()]
    raise IngestError("unsupported JSON layout: expected a list of records or an object holding one")


def read_json(data: bytes, name: str, columns: ColumnMap) -> list[Document]:
    text = decode_text(data).strip()
    if not text:
        raise IngestError("the file is empty")
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise IngestError(f"not valid JSON: {exc}") from None
    return records_to_documents(_json_records(obj), name, columns)


def read_jsonl(data: bytes, name: str, columns: ColumnMap) -> list[Document]:
    text = decode_text(data)
    records: list[tuple[str, Any]] = []
    bad = 0
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        try:
            records.append((str(number), json.loads(line)))
        except json.JSONDecodeError:
            bad += 1
    if not records:
        raise IngestError("the file is empty" if not bad else f"no valid JSON lines ({bad} bad)")
    if bad:
        logger.warning("%s: skipped %d lines that are not JSON", name, bad)
    first = records[0][1]
    if isinstance(first, dict) and corpus.is_medquad_record(first):
        return corpus.medquad_from_records([r for _, r in records], name)
    return records_to_documents(records, name, columns)


def read_documents(path: Path, columns: ColumnMap | None = None, name: str | None = None) -> list[Document]:
    """Parse one file into Documents, choosing the reader from its extension (looking through .gz)."""
    path = Path(path)
    name = name or path.name
    kind = kind_of(name)
    if problem := type_problem(name):
        raise IngestError(problem)
    if not path.is_file():
        raise IngestError("file not found")
    if path.stat().st_size == 0:
        raise IngestError("the file is empty")
    columns = columns or ColumnMap()
    if kind == ".xml":
        return corpus.read_xml(path, name)
    data = read_bytes(path)
    if not data.strip():
        raise IngestError("the file is empty")
    if kind == ".pdf":
        return read_pdf(data, name)
    if kind in TEXT_KINDS:
        return read_text_file(data, name)
    if kind in CSV_KINDS:
        return read_csv(data, name, columns)
    if kind == ".json":
        return read_json(data, name, columns)
    return read_jsonl(data, name, columns)


def expand_paths(paths: Iterable[str | Path]) -> list[tuple[Path, str]]:
    """(path, name) pairs: files as given (named by their file name), folders expanded to the
    supported files inside them (sorted, recursive; named by their path below the folder's parent)."""
    out: list[tuple[Path, str]] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out.extend(
                (f, f.relative_to(p.parent).as_posix())
                for f in sorted(p.rglob("*"))
                if f.is_file() and is_supported(f)
            )
        else:
            out.append((p, p.name))
    return out
