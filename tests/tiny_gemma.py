"""A tiny Gemma 3 causal LM built in-process for fast tests: 2 layers, hidden 64, ~1k-token vocab.

The tokenizer is a sentencepiece BPE model (byte fallback, Gemma's special ids: <pad>=0 <eos>=1 <bos>=2
<unk>=3) trained in-process on MedQuAD answers (or a built-in paragraph), saved as tokenizer.model next
to tokenizer.json, so AutoTokenizer loads it and llama.cpp's convert_hf_to_gguf can read it.
Use the session fixture `tiny_gemma_dir` (import it in conftest.py) or call `build_tiny_gemma(path)`.
"""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
SPECIALS = ["<mask>", "<start_of_turn>", "<end_of_turn>"]  # ids 4, 5, 6 (user-defined, like Gemma's)
FALLBACK_TEXT = """\
Diabetes is a disease in which blood glucose levels are above normal. Most of the food people eat is
turned into glucose, or sugar, for the body to use for energy. The pancreas makes a hormone called insulin
to help glucose get into the cells of the body. High blood pressure, also called hypertension, raises the
risk of heart disease and stroke. Asthma is a chronic disease that affects the airways of the lungs.
Symptoms include wheezing, coughing, chest tightness and shortness of breath. Treatment may include
medicines, a healthy diet, physical activity and regular visits to a doctor. Talk with your health care
provider about tests, vaccines, infections, cancer screening, and how to manage pain and fever. [1] [2] [3]
Question: Answer: Passages: What are the symptoms of anemia? What causes kidney disease?"""


def _training_text(max_records: int = 400) -> str:
    path = SHARED_DATA / "corpus" / "medquad_answered.jsonl.gz"
    lines = [FALLBACK_TEXT]
    if path.is_file():
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for n, line in enumerate(fh):
                if n >= max_records:
                    break
                r = json.loads(line)
                lines.append(f"{r['question']}\n{' '.join(r['answer'].split())[:1500]}")
    return "\n".join(lines)


def _train_sentencepiece(text: str, vocab_size: int) -> bytes:
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter([s for s in text.splitlines() if s.strip()]),
        model_writer=model,
        vocab_size=vocab_size,
        model_type="bpe",
        byte_fallback=True,
        character_coverage=1.0,
        pad_id=0,
        eos_id=1,
        bos_id=2,
        unk_id=3,
        pad_piece="<pad>",
        eos_piece="<eos>",
        bos_piece="<bos>",
        unk_piece="<unk>",
        user_defined_symbols=SPECIALS,
        add_dummy_prefix=False,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        split_digits=True,
        num_threads=1,
        minloglevel=2,
        hard_vocab_limit=False,
    )
    return model.getvalue()


def build_tiny_gemma(path: Path, vocab_size: int = 1024, seed: int = 0) -> Path:
    """Write a tiny random-weight Gemma3ForCausalLM + Gemma tokenizer to `path`; returns `path`."""
    import torch
    from transformers import AutoTokenizer, Gemma3ForCausalLM, Gemma3TextConfig, GemmaTokenizer

    from medgemma.chat.prompts import GEMMA_JINJA

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    sp_file = path / "tokenizer.model"
    sp_file.write_bytes(_train_sentencepiece(_training_text(), vocab_size))
    (path / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "GemmaTokenizer",
                "bos_token": "<bos>",
                "eos_token": "<eos>",
                "pad_token": "<pad>",
                "unk_token": "<unk>",
                "mask_token": "<mask>",
                "add_bos_token": True,
                "add_eos_token": False,
            }
        )
    )
    tokenizer = GemmaTokenizer.from_pretrained(path)  # converts tokenizer.model into a fast tokenizer
    tokenizer.chat_template = GEMMA_JINJA
    tokenizer.model_max_length = 512

    config = Gemma3TextConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=512,
        sliding_window=64,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
        tie_word_embeddings=True,
        query_pre_attn_scalar=16,  # = head_dim, as in the real Gemma 3 (llama.cpp scales by head_dim)
    )
    torch.manual_seed(seed)
    model = Gemma3ForCausalLM(config)
    model.generation_config.pad_token_id = 0
    model.save_pretrained(path, safe_serialization=True)
    keep = sp_file.read_bytes()
    tokenizer.save_pretrained(path)
    sp_file.write_bytes(keep)  # the sentencepiece model stays beside tokenizer.json (for GGUF conversion)
    config_file = path / "tokenizer_config.json"
    saved = json.loads(config_file.read_text())
    for key in ("vocab_file", "is_local", "local_files_only"):  # absolute paths of this build
        saved.pop(key, None)
    # llama.cpp's converter types the turn markers CONTROL only when they are listed here
    saved["added_tokens_decoder"] = {
        str(i): {
            "content": t,
            "special": True,
            "lstrip": False,
            "rstrip": False,
            "normalized": False,
            "single_word": False,
        }
        for i, t in enumerate(["<pad>", "<eos>", "<bos>", "<unk>", *SPECIALS])
    }
    config_file.write_text(json.dumps(saved, indent=2))
    # prove it loads the way the platform loads models
    AutoTokenizer.from_pretrained(path)
    return path


_BUILT: dict[str, Path] = {}


@pytest.fixture(scope="session")
def tiny_gemma_dir(tmp_path_factory) -> Path:
    """A session-wide tiny Gemma 3 folder (a few seconds to build, once per session even when several
    test modules import this fixture). Treat it as read-only: copy it before changing anything."""
    if "path" not in _BUILT or not (_BUILT["path"] / "config.json").is_file():
        _BUILT["path"] = build_tiny_gemma(tmp_path_factory.mktemp("tiny-gemma") / "model")
    return _BUILT["path"]
