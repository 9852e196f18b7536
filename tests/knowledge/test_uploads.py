"""Upload checks by content: magic bytes, decodability, JSON/CSV shape, size and count caps, gzip bombs."""

from __future__ import annotations

import gzip
import json

import pytest
from pdf_factory import text_pdf

from medgemma.config import load_settings
from medgemma.errors import IngestError, InputRejected
from medgemma.knowledge import uploads

GOOD = [
    ("notes.txt", b"Influenza is a contagious respiratory illness.\n"),
    ("notes.md", b"# Flu\nGet a vaccine every year.\n"),
    ("latin.txt", "Caf\xe9 au lait spots are flat patches.".encode("cp1252")),
    ("bom.txt", b"\xef\xbb\xbfText with a byte order mark."),
    ("utf16.txt", "Text in UTF-16.".encode("utf-16")),
    ("docs.json", json.dumps([{"title": "Flu", "text": "Flu is an infection."}]).encode()),
    ("docs.jsonl", b'{"text": "one"}\n{"text": "two"}\n'),
    ("docs.csv", b'title,text\nFlu,Flu is an infection.\nGout,"Gout, a form of arthritis"\n'),
    ("one-column.csv", b"text\nFlu is an infection.\n"),
    ("docs.tsv", b"title\ttext\nFlu\tFlu is an infection.\n"),
    ("page.xml", b"<?xml version='1.0'?><Document><Focus>Flu</Focus></Document>"),
    ("notes.txt.gz", gzip.compress(b"Gout is caused by uric acid crystals.")),
]

BAD = [
    ("fake.pdf", b"Hello, I am not a PDF", "not a PDF"),
    ("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "PNG image"),
    ("archive.json", b"PK\x03\x04\x14\x00\x00\x00", "ZIP archive"),
    ("program.md", b"\x7fELF\x02\x01\x01\x00", "program"),
    ("nul.txt", b"text\x00with\x00nul bytes", "NUL bytes"),
    ("controls.txt", bytes(range(1, 9)) * 50, "control characters"),
    ("broken.json", b'{"text": "unterminated', "not valid JSON"),
    ("prose.jsonl", b"this is not json\nnor is this\n", "not JSON Lines"),
    ("json.csv", b'[{"text": "a"}]\n', "looks like JSON"),
    ("prose.csv", ("word " * 100).encode() + b"\nmore\n", "header of column names"),
    ("empty.txt", b"   \n\n", "empty"),
    ("notxml.xml", b"just words", "not XML"),
    ("bad.txt.gz", b"not gzip at all", "not gzip"),
    ("cut.txt.gz", gzip.compress(b"x" * 10_000)[:-12], "damaged gzip"),
    ("virus.exe", b"MZ\x90\x00", "unsupported file type"),
    ("pickle.json", b"\x80\x04\x95\x10\x00\x00", "pickle"),
]


@pytest.fixture
def settings():
    return load_settings(overrides={"max_upload_mb": 1, "max_upload_files": 3})


@pytest.mark.parametrize("name,data", GOOD, ids=[g[0] for g in GOOD])
def test_good_files_pass(tmp_path, settings, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    assert uploads.file_problem(path, settings) is None


@pytest.mark.parametrize("name,data,problem", BAD, ids=[b[0] for b in BAD])
def test_bad_files_are_named_and_explained(tmp_path, settings, name, data, problem):
    path = tmp_path / name
    path.write_bytes(data)
    assert problem in (uploads.file_problem(path, settings) or "")
    with pytest.raises(InputRejected, match=rf"^{name}: .*{problem}"):
        uploads.check_file(path, settings)


def test_real_pdf_passes_and_uploaded_name_decides_the_kind(tmp_path, settings):
    pdf = text_pdf(tmp_path / "leaflet.pdf", [["Asthma is a chronic disease of the airways."]])
    assert uploads.file_problem(pdf, settings) is None
    # the name given (the original upload name) decides the kind the content must match
    assert "PDF" in uploads.file_problem(pdf, settings, name="leaflet.txt")
    text = tmp_path / "upload-123"
    text.write_bytes(b"plain words")
    assert "not a PDF" in uploads.file_problem(text, settings, name="claims.pdf")


def test_size_and_count_caps(tmp_path, settings):
    big = tmp_path / "big.txt"
    big.write_bytes(b"word " * 250_000)  # 1.25 MB > 1 MB
    assert "too large (1.2 MB; the limit is 1 MB)" in uploads.file_problem(big, settings)
    uploads.check_count(3, settings)
    with pytest.raises(InputRejected, match="4 files given; at most 3"):
        uploads.check_count(4, settings)
    assert uploads.file_problem(tmp_path / "missing.txt", settings) == "file not found"
    assert uploads.file_problem(tmp_path, settings, name="folder.txt") == "not a regular file"


def test_gzip_bomb_is_refused_without_expanding_it_all(tmp_path, settings):
    bomb = tmp_path / "bomb.txt.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as fh:
        for _ in range(25):
            fh.write(b"\0" * 1_000_000)  # 25 MB of zeros, ~25 KB on disk
    assert bomb.stat().st_size < 100_000
    assert "expands to more than 20 MB" in uploads.file_problem(bomb, settings)


def test_long_json_lines_file_is_sniffed_not_read_whole(tmp_path, settings):
    path = tmp_path / "big.jsonl"
    line = json.dumps({"text": "a" + "é" * 300}, ensure_ascii=False) + "\n"
    path.write_text(line * 1000, encoding="utf-8")  # ~600 KB; the sniff cuts a line (and a character)
    assert uploads.file_problem(path, settings) is None


def test_kinds_and_sizes_checked_before_any_reader(tmp_path, settings):
    from medgemma.knowledge.ingest import expand_paths, read_documents

    assert uploads.type_problem("notes.md.gz") is None and uploads.type_problem("Data.CSV") is None
    assert "unsupported file type '.pptx'" in uploads.type_problem("slides.pptx")
    assert "unsupported file type 'README'" in uploads.type_problem("README")
    (tmp_path / "docs").mkdir()
    for name in ("a.txt", "b.pptx", "c.jsonl.gz"):
        (tmp_path / "docs" / name).write_bytes(b"x")
    assert [n for _, n in expand_paths([tmp_path / "docs"])] == ["docs/a.txt", "docs/c.jsonl.gz"]
    with pytest.raises(
        IngestError, match=r"unsupported file type '\.pptx'"
    ):  # the reader asks uploads.py too
        read_documents(tmp_path / "docs" / "b.pptx")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    assert uploads.size_problem(empty, settings) == "the file is empty"
    big = tmp_path / "big.csv"
    big.write_bytes(b"a" * 1_100_000)
    assert uploads.size_problem(big, settings) == "too large (1.1 MB; the limit is 1 MB)"
    assert uploads.size_problem(tmp_path / "docs" / "a.txt", settings) is None
