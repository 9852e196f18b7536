"""Publishing: repo id validation, the dry run lists exactly the export's files, tampered folders are
refused, the token never shows up, and without a network (HF_HUB_OFFLINE=1 here) the message says so."""

from __future__ import annotations

import json

import pytest

from medgemma.errors import InputRejected, PublishError
from medgemma.export.card import CardInfo, write_card_and_manifest
from medgemma.export.publish import publish, validate_repo_id

SECRET = "hf_abcdefghijklmnopqrstuvwxyz012345"


@pytest.fixture
def export_folder(tmp_path):
    folder = tmp_path / "tiny-med-gguf-q8_0"
    folder.mkdir()
    (folder / "tiny-med-q8_0.gguf").write_bytes(b"GGUF" + bytes(1000))
    info = CardInfo(
        name="tiny-med",
        fmt="gguf-q8_0",
        label="GGUF q8_0 (llama.cpp)",
        base_model="gemma-3-270m",
        base_hub_id="google/gemma-3-270m",
        datasets=["medquad-rag"],
        files=["tiny-med-q8_0.gguf"],
    )
    write_card_and_manifest(folder, info, {"format": "gguf-q8_0", "adapter": "tiny-med", "verified": True})
    return folder


@pytest.mark.parametrize("repo_id", ["my-org/medgemma-270m-lora", "User_1/model.v2", "a/b"])
def test_valid_repo_ids(repo_id):
    assert validate_repo_id(f"  {repo_id} ") == repo_id


@pytest.mark.parametrize(
    "repo_id",
    [
        "",
        "no-namespace",
        "a/b/c",
        "org/-bad",
        "org/bad.",
        "org/a--b",
        "org/a..b",
        "org/name.git",
        "org/spa ce",
        "org/" + "x" * 97,
        "../etc",
    ],
)
def test_invalid_repo_ids_are_refused(repo_id):
    with pytest.raises(InputRejected, match="Invalid Hugging Face repo id"):
        validate_repo_id(repo_id)


def test_dry_run_lists_exactly_the_export(export_folder, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", SECRET)
    result = publish(export_folder, "my-org/tiny-med", private=True, dry_run=True)
    assert (
        result["dry_run"] and result["private"] and result["url"] == "https://huggingface.co/my-org/tiny-med"
    )
    assert [f["path"] for f in result["files"]] == ["README.md", "manifest.json", "tiny-med-q8_0.gguf"]
    assert result["total_bytes"] == sum(p.stat().st_size for p in export_folder.iterdir())
    assert result["token"] == "HF_TOKEN" and SECRET not in json.dumps(result)
    card = (export_folder / "README.md").read_text()
    assert "base_model: google/gemma-3-270m" in card and "base_model_relation: quantized" in card


def test_cli_dry_run_and_bad_repo(export_folder, capsys):
    from medgemma.cli import main

    assert main(["publish", "--folder", str(export_folder), "--repo-id", "my-org/tiny-med", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would upload 3 files" in out and "public" in out and "tiny-med-q8_0.gguf" in out
    assert main(["publish", "--folder", str(export_folder), "--repo-id", "tiny-med", "--dry-run"]) == 2
    assert "namespace/name" in capsys.readouterr().err


def test_tampered_or_unfinished_folders_are_refused(export_folder, tmp_path):
    (export_folder / "notes.txt").write_text("not part of the export")
    with pytest.raises(InputRejected, match="no longer matches its manifest"):
        publish(export_folder, "my-org/x", dry_run=True)
    (export_folder / "notes.txt").unlink()
    (export_folder / "tiny-med-q8_0.gguf").write_bytes(b"GGUF" + bytes(10))
    with pytest.raises(InputRejected, match="changed since it was exported"):
        publish(export_folder, "my-org/x", dry_run=True)
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputRejected, match="not a finished export"):
        publish(tmp_path / "empty", "my-org/x", dry_run=True)


def test_upload_needs_a_token_and_a_network(export_folder, monkeypatch, caplog):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    with pytest.raises(InputRejected, match="No Hugging Face token"):
        publish(export_folder, "my-org/tiny-med")
    with pytest.raises(PublishError, match="offline mode") as info:  # conftest sets HF_HUB_OFFLINE=1
        publish(export_folder, "my-org/tiny-med", token=SECRET)
    assert SECRET not in str(info.value) and SECRET not in caplog.text
