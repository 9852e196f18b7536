"""uploads.py owns every check of uploaded files before anything parses them: the kinds of file the
knowledge base reads, count and size caps from the settings, and the type judged by content (magic bytes,
decodability), not by the name alone. It knows nothing about indexes, training or Gradio; the readers
(knowledge/ingest.py, training/datasets.py) still do the full parse afterwards.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from pathlib import Path

from medgemma.config import Settings
from medgemma.errors import InputRejected

HEAD_BYTES = 64 * 1024  # how much of a file is sniffed (JSON is parsed whole; it is size-capped)
GZIP_RATIO_CAP = 20  # a .gz may expand to at most 20x the size cap (stops decompression bombs)
TEXT_KINDS = {".txt", ".text", ".md", ".markdown"}
JSON_LINES_KINDS = {".jsonl", ".ndjson"}
CSV_KINDS = {".csv", ".tsv"}
KNOWN_KINDS = TEXT_KINDS | JSON_LINES_KINDS | CSV_KINDS | {".json", ".pdf", ".xml"}
# Binary formats people upload by mistake, recognised by their first bytes.
MAGIC = [
    (b"%PDF-", "a PDF"),
    (b"PK\x03\x04", "a ZIP archive (or Office document)"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x7fELF", "a program (ELF)"),
    (b"\x1f\x8b", "gzip data"),
    (b"\xd0\xcf\x11\xe0", "an old Office document"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
    (b"\x80\x04\x95", "a Python pickle"),
    (b"\x80\x03", "a Python pickle"),
    (b"\x80\x02", "a Python pickle"),
]


def kind_of(name: str) -> str:
    """The format suffix, looking through a trailing .gz ('notes.txt.gz' -> '.txt')."""
    path = Path(name.lower())
    if path.suffix == ".gz":
        path = path.with_suffix("")
    return path.suffix


def type_problem(name: str) -> str | None:
    """Why a file of this name is refused by its type (looking through .gz), or None for a kind read here."""
    kind = kind_of(name)
    if kind not in KNOWN_KINDS:
        return (
            f"unsupported file type '{kind or name}' (use {', '.join(sorted(KNOWN_KINDS))}, or .gz of them)"
        )
    return None


def is_supported(path: str | Path) -> bool:
    """Is this file (by its name) of a kind the knowledge base reads? Folders are expanded to these."""
    return type_problem(Path(path).name) is None


def size_problem(path: str | Path, settings: Settings) -> str | None:
    """Why this file is refused before it is read: missing, not a regular file, over settings.max_upload_mb,
    or empty; None when its size is fine."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError:
        return "file not found"
    if not path.is_file():
        return "not a regular file"
    if size > settings.max_upload_mb * 1_000_000:
        return f"too large ({size / 1e6:.1f} MB; the limit is {settings.max_upload_mb} MB)"
    if size == 0:
        return "the file is empty"
    return None


def check_count(count: int, settings: Settings) -> None:
    """Refuse an upload of more files than settings.max_upload_files."""
    if count > settings.max_upload_files:
        raise InputRejected(f"{count} files given; at most {settings.max_upload_files} per upload.")


def file_problem(path: str | Path, settings: Settings, name: str | None = None) -> str | None:
    """Why this uploaded file is refused (size, type, content), or None when it looks like what it says."""
    path = Path(path)
    name = name or path.name
    problem = size_problem(path, settings) or type_problem(name)
    if problem:
        return problem
    kind, size, limit = kind_of(name), path.stat().st_size, settings.max_upload_mb * 1_000_000
    try:
        if name.lower().endswith(".gz"):
            head, whole = _gunzip_head(path, limit * GZIP_RATIO_CAP)
        else:
            with path.open("rb") as fh:
                head = fh.read(HEAD_BYTES if kind != ".json" else limit)
            whole = size <= len(head)
    except _Refused as exc:
        return str(exc)
    except OSError as exc:
        return f"cannot read the file: {exc.strerror or exc}"
    return content_problem(head, kind, whole)


def check_file(path: str | Path, settings: Settings, name: str | None = None) -> None:
    """Raise InputRejected naming the file and the problem, if `file_problem` finds one."""
    problem = file_problem(path, settings, name)
    if problem:
        raise InputRejected(f"{name or Path(path).name}: {problem}")


def content_problem(head: bytes, kind: str, whole: bool = True) -> str | None:
    """Does this content match its claimed kind? `head` is the start of the file (all of it if `whole`)."""
    if not head.strip():
        return "the file is empty"
    if kind == ".pdf":
        return None if b"%PDF-" in head[:1024] else "not a PDF (a PDF file starts with %PDF-)"
    found = _binary_kind(head)
    if found:
        return f"the content is {found}, not {kind.lstrip('.').upper()} text (wrong file extension?)"
    text, problem = _decode(head, whole)
    if problem:
        return problem
    if kind == ".json":
        if not whole:
            return None
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            return f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
    elif kind in JSON_LINES_KINDS:
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        if not whole:
            lines = lines[:-1] or lines  # the last line may be cut at the sniff boundary
        if not any(_parses(ln) for ln in lines[:50]):
            return "not JSON Lines (none of the first lines is a JSON object)"
    elif kind in CSV_KINDS:
        return _csv_problem(text, kind)
    elif kind == ".xml" and not text.lstrip("\ufeff \t\r\n").startswith("<"):
        return "not XML (an XML file starts with '<')"
    return None


class _Refused(Exception):
    pass


def _gunzip_head(path: Path, cap: int) -> tuple[bytes, bool]:
    """The first HEAD_BYTES of a gzip file, after checking that it is gzip and expands to at most `cap`."""
    with path.open("rb") as fh:
        if fh.read(2) != b"\x1f\x8b":
            raise _Refused("not gzip data (the name ends in .gz)")
    head, total = b"", 0
    try:
        with gzip.open(path, "rb") as fh:
            while block := fh.read(1 << 20):
                if len(head) < HEAD_BYTES:
                    head += block[: HEAD_BYTES - len(head)]
                total += len(block)
                if total > cap:
                    raise _Refused(f"expands to more than {cap / 1e6:.0f} MB when decompressed")
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise _Refused(f"damaged gzip data ({exc})") from None
    return head, total <= len(head)


def _binary_kind(head: bytes) -> str | None:
    for magic, what in MAGIC:
        if head.startswith(magic):
            return what
    return None


def _decode(head: bytes, whole: bool) -> tuple[str, str | None]:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return head.decode("utf-16"), None
        except UnicodeDecodeError:
            return "", "not decodable UTF-16 text"
    if b"\x00" in head[:8192]:
        return "", "binary data, not text (it contains NUL bytes)"
    body = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        if not whole and exc.start >= len(body) - 4:  # a character cut at the sniff boundary
            text = body[: exc.start].decode("utf-8")
        else:
            try:
                text = body.decode("cp1252")
            except UnicodeDecodeError:
                return "", "not decodable text (neither UTF-8 nor Windows-1252)"
    controls = sum(1 for c in text[:8192] if ord(c) < 32 and c not in "\t\n\r\f")
    if controls > max(8, len(text[:8192]) // 20):
        return "", "binary data, not text (too many control characters)"
    return text, None


def _parses(line: str) -> bool:
    try:
        return isinstance(json.loads(line), (dict, list, str))
    except json.JSONDecodeError:
        return False


def _csv_problem(text: str, kind: str) -> str | None:
    """A CSV/TSV needs a header row of column names; prose or JSON under a .csv name is refused."""
    delimiter = "\t"
    if kind != ".tsv":
        try:
            delimiter = csv.Sniffer().sniff(text[:8192], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    try:
        header = next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
    except csv.Error as exc:
        return f"not readable CSV ({exc})"
    if not any(h.strip() for h in header):
        return "not CSV (the first row, the header, is empty)"
    if header[0].lstrip().startswith(("{", "[")):
        return "not CSV (it looks like JSON; name it .json or .jsonl)"
    if any(len(h) > 200 for h in header):
        return "not CSV (the first row should be a header of column names, each under 200 characters)"
    return None
