"""model_guard.py runs a hub safety model as an extra input check where a GPU and a network exist
(`MEDGEMMA_SAFETY_MODEL`): Llama Guard 3/4, ShieldGemma or Qwen3Guard, each with its own prompt and its
own output parsing, mapped onto the guard's labels.

Their policies count specialised medical advice as unsafe (Llama Guard's S6); here that is
`personal_advice` (answered with general information and a note), never a block. Self-harm categories
map to `emergency` (the crisis response). It knows no rules and no thresholds of the classifier.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medgemma.errors import ModelNotAvailable

# MLCommons hazard taxonomy as Llama Guard 3 and 4 number it.
LLAMA_GUARD_CATEGORIES = {
    "S1": "Violent Crimes",
    "S2": "Non-Violent Crimes",
    "S3": "Sex-Related Crimes",
    "S4": "Child Sexual Exploitation",
    "S5": "Defamation",
    "S6": "Specialized Advice",
    "S7": "Privacy",
    "S8": "Intellectual Property",
    "S9": "Indiscriminate Weapons",
    "S10": "Hate",
    "S11": "Suicide & Self-Harm",
    "S12": "Sexual Content",
    "S13": "Elections",
    "S14": "Code Interpreter Abuse",
}
QWEN3GUARD_CATEGORIES = (
    "Violent",
    "Non-violent Illegal Acts",
    "Sexual Content or Sexual Acts",
    "PII",
    "Suicide & Self-Harm",
    "Unethical Acts",
    "Politically Sensitive Topics",
    "Copyright Violation",
    "Jailbreak",
)
# Categories that are not a block here: medical advice is this product's job, done with care.
ADVICE = {"S6", "Specialized Advice"}
SELF_HARM = {"S11", "Suicide & Self-Harm"}
SHIELDGEMMA_POLICIES = {
    "Dangerous Content": "The prompt shall not contain or seek generation of content that harms oneself "
    "and/or others (e.g., accessing or building firearms and explosive devices, promotion of terrorism, "
    "instructions for suicide).",
    "Harassment": "The prompt shall not contain or seek generation of content that is malicious, "
    "intimidating, bullying, or abusive content targeting another individual.",
    "Hate Speech": "The prompt shall not contain or seek generation of content that targets identity "
    "and/or protected attributes, dehumanizing, or inciting violence or hatred.",
    "Sexually Explicit Information": "The prompt shall not contain or seek generation of content that "
    "contains references to sexual acts or other lewd content.",
}


@dataclass(frozen=True)
class ModelVerdict:
    """What a guard model said about one message, in the guard's terms."""

    label: str  # allowed, emergency, personal_advice or harmful
    categories: tuple[str, ...]
    score: float
    detail: str


def family_of(model_id: str) -> str:
    name = model_id.lower()
    for family, marks in (
        ("llama_guard", ("llama-guard", "llamaguard", "llama_guard")),
        ("shieldgemma", ("shieldgemma",)),
        ("qwen3guard", ("qwen3guard", "qwen3-guard")),
    ):
        if any(m in name for m in marks):
            return family
    raise ModelNotAvailable(
        f"'{model_id}' is not a known safety model: MEDGEMMA_SAFETY_MODEL takes a Llama Guard 3/4, "
        "ShieldGemma or Qwen3Guard id or folder (the name must say which), or '' for none."
    )


def _label_for(categories: tuple[str, ...]) -> str:
    if any(c in SELF_HARM for c in categories):
        return "emergency"
    if categories and all(c in ADVICE for c in categories):
        return "personal_advice"
    return "harmful"


# ---- prompts (used when the tokenizer has no chat template of its own) ------------------------
def llama_guard_prompt(text: str) -> str:
    cats = "\n".join(f"{k}: {v}." for k, v in LLAMA_GUARD_CATEGORIES.items())
    return (
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nTask: Check if there is unsafe content "
        "in 'User' messages in conversations according our safety policy with the below categories.\n\n"
        f"<BEGIN UNSAFE CONTENT CATEGORIES>\n{cats}\n<END UNSAFE CONTENT CATEGORIES>\n\n"
        f"<BEGIN CONVERSATION>\n\nUser: {text.strip()}\n\n<END CONVERSATION>\n\n"
        "Provide your safety assessment for ONLY THE LAST User message in the above conversation:\n"
        " - First line must read 'safe' or 'unsafe'.\n"
        " - If unsafe, a second line must include a comma-separated list of violated categories."
        "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
    )


def shieldgemma_prompt(text: str, policy: str) -> str:
    return (
        "You are a policy expert trying to help determine whether a user prompt is in violation of the "
        f"defined safety policies.\n\n<start_of_turn>\nHuman Question: {text.strip()}\n<end_of_turn>\n\n"
        f'Our safety principle is defined in the below:\n\n* "{policy}": {SHIELDGEMMA_POLICIES[policy]}\n\n'
        "===\n\nDoes the human question violate the above principle? Your answer must start with 'Yes' or "
        "'No'. And then walk through step by step to be sure we answer correctly.\n\n"
    )


def qwen3guard_prompt(text: str) -> str:
    cats = "\n".join(f"- {c}" for c in QWEN3GUARD_CATEGORIES)
    return (
        "<|im_start|>user\n# Task:\n1) Evaluate whether THE LAST USER's query belongs to safe or unsafe "
        f"content based on our safety policy.\n2) Identify the category of unsafe content found.\n\n"
        f"<BEGIN SAFETY POLICY>\n**Safety: Safe**, **Safety: Unsafe**, **Safety: Controversial**\n"
        f"<END SAFETY POLICY>\n\n<BEGIN UNSAFE CONTENT CATEGORIES>\n{cats}\n- None\n"
        f"<END UNSAFE CONTENT CATEGORIES>\n\n<BEGIN CONVERSATION>\n\nUSER: {text.strip()}\n\n"
        "<END CONVERSATION>\n\nProvide your safety assessment for ONLY THE LAST **USER's query** in the "
        "above conversation:\n - The first line must be one of: 'Safety: Safe', 'Safety: Unsafe', "
        "'Safety: Controversial'.\n - The second line should start with 'Categories:' followed by a list "
        "of any unsafe content categories, separated by commas. If the content is safe, use "
        "'Categories: None'.<|im_end|>\n<|im_start|>assistant\n"
    )


# ---- parsing ----------------------------------------------------------------------------------
def parse_llama_guard(reply: str) -> ModelVerdict:
    """'safe' | 'unsafe\\nS1,S6' (Llama Guard 3 and 4)."""
    lines = [ln.strip() for ln in reply.strip().splitlines() if ln.strip()]
    head = lines[0].split()[0].lower() if lines else ""
    if head == "safe":
        return ModelVerdict("allowed", (), 0.0, "safe")
    if head != "unsafe":
        return ModelVerdict("allowed", (), 0.0, f"unparsed reply: {reply.strip()[:60]!r}")
    codes = tuple(dict.fromkeys(re.findall(r"\bS(?:1[0-4]|[1-9])\b", " ".join(lines[1:]))))
    names = ", ".join(f"{c} {LLAMA_GUARD_CATEGORIES[c]}" for c in codes) or "no category"
    return ModelVerdict(_label_for(codes), codes, 1.0, f"unsafe: {names}")


def parse_qwen3guard(reply: str) -> ModelVerdict:
    """'Safety: Unsafe\\nCategories: Violent' ('Controversial' is not a block: recorded, allowed)."""
    m = re.search(r"Safety:\s*(Safe|Unsafe|Controversial)", reply)
    if not m:
        return ModelVerdict("allowed", (), 0.0, f"unparsed reply: {reply.strip()[:60]!r}")
    found = tuple(c for c in QWEN3GUARD_CATEGORIES if c in reply)
    level = m.group(1)
    if level != "Unsafe":
        return ModelVerdict("allowed", found, 0.5 if level == "Controversial" else 0.0, level.lower())
    return ModelVerdict(_label_for(found), found, 1.0, f"unsafe: {', '.join(found) or 'no category'}")


def parse_shieldgemma(p_yes: dict[str, float], threshold: float = 0.5) -> ModelVerdict:
    """P('Yes') per policy; any policy above the threshold flags the message (Dangerous Content on
    suicide instructions included: ShieldGemma does not separate self-harm, so it is `harmful`)."""
    hit = tuple(p for p, v in p_yes.items() if v > threshold)
    top = max(p_yes.values()) if p_yes else 0.0
    detail = ", ".join(f"{p} {v:.2f}" for p, v in p_yes.items())
    return ModelVerdict("harmful" if hit else "allowed", hit, round(top, 3), detail)


class ModelGuard:
    """One safety model (Hub id or folder), loaded with transformers; `check(text)` -> ModelVerdict."""

    def __init__(self, model_id: str, device: str = "auto", model: Any = None, tokenizer: Any = None) -> None:
        """`model`/`tokenizer` take already loaded objects (tests build tiny ones); else they load."""
        self.model_id = model_id
        self.family = family_of(model_id)
        if model is None or tokenizer is None:
            model, tokenizer = self._load(model_id, device)
        self.model, self.tokenizer = model.eval(), tokenizer

    @staticmethod
    def _load(model_id: str, device: str) -> tuple[Any, Any]:
        local = model_id.startswith(("/", ".", "~")) or Path(model_id).expanduser().exists()
        if local and not (Path(model_id).expanduser() / "config.json").is_file():
            raise ModelNotAvailable(
                f"Safety model '{model_id}' is not a model folder (no config.json there). "
                "Set MEDGEMMA_SAFETY_MODEL to a Hub id or a downloaded model folder, or to ''."
            )
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(model_id)
            model = AutoModelForCausalLM.from_pretrained(model_id)
            if device in ("auto", "cuda") and torch.cuda.is_available():
                model = model.to("cuda")
        except Exception as exc:  # noqa: BLE001 - any load failure becomes one clear message
            raise ModelNotAvailable(
                f"Safety model '{model_id}' could not be loaded ({type(exc).__name__}: {exc}). "
                "Download it first (set HF_TOKEN for gated models) or set MEDGEMMA_SAFETY_MODEL='' "
                "to run the guard without it."
            ) from None
        return model, tokenizer

    def prompt(self, text: str, policy: str = "Dangerous Content") -> str:
        """The model's own chat template when it ships one (hub models do), else the documented format."""
        if self.family == "shieldgemma":
            return shieldgemma_prompt(text, policy)
        if getattr(self.tokenizer, "chat_template", None):
            return self.tokenizer.apply_chat_template(
                [{"role": "user", "content": text}], tokenize=False, add_generation_prompt=True
            )
        return llama_guard_prompt(text) if self.family == "llama_guard" else qwen3guard_prompt(text)

    def check(self, text: str) -> ModelVerdict:
        import torch

        if self.family == "shieldgemma":
            return parse_shieldgemma({p: self._p_yes(text, p) for p in SHIELDGEMMA_POLICIES})
        enc = self.tokenizer(self.prompt(text), return_tensors="pt", add_special_tokens=False)
        enc = {k: v.to(self.model.device) for k, v in enc.items()}
        pad = self.tokenizer.pad_token_id
        with torch.inference_mode():
            out = self.model.generate(
                **enc, max_new_tokens=20, do_sample=False, pad_token_id=pad if pad is not None else 0
            )
        reply = self.tokenizer.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True)
        return parse_llama_guard(reply) if self.family == "llama_guard" else parse_qwen3guard(reply)

    def _p_yes(self, text: str, policy: str) -> float:
        import torch

        enc = self.tokenizer(shieldgemma_prompt(text, policy), return_tensors="pt")
        enc = {k: v.to(self.model.device) for k, v in enc.items()}
        with torch.inference_mode():
            logits = self.model(**enc).logits[0, -1]
        ids = [self.tokenizer.convert_tokens_to_ids(w) for w in ("Yes", "No")]
        return float(torch.softmax(logits[ids].float(), dim=0)[0])
