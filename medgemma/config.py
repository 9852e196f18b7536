"""config.py is the only module that reads environment variables.

Settings are one frozen dataclass: defaults here, then an optional YAML file, then `MEDGEMMA_*`
environment variables, then explicit overrides (CLI flags); later wins. Secrets come only from
the environment and are never printed (they are excluded from `repr` and from `public_dict`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medgemma.errors import ConfigError
from medgemma.storage import read_yaml

ENV_PREFIX = "MEDGEMMA_"
REPO_ROOT = Path(__file__).resolve().parent.parent


def _default_data_dir() -> str:
    """The shared medical data folder next to the checkout, when there is one."""
    candidate = REPO_ROOT.parent / "shared" / "data"
    return str(candidate) if candidate.is_dir() else ""


def _secret(doc: str) -> Any:
    return field(default="", repr=False, metadata={"doc": doc, "secret": True})


def _f(default: Any, doc: str, choices: tuple[str, ...] = ()) -> Any:
    return field(default=default, metadata={"doc": doc, "choices": choices})


@dataclass(frozen=True)
class Settings:
    """Every setting of the platform; the README's configuration table is generated from this."""

    home: str = _f("~/.medgemma", "Data home: models, indexes, runs, logs and feedback live under it.")
    data_dir: str = _f(
        _default_data_dir(), "Folder with the public medical data (MedQuAD, MIRAGE, ...); empty if none."
    )
    model: str = _f("gemma-3-270m", "Chat model: a preset name, a Hub id or a local path.")
    backend: str = _f("auto", "Generation backend.", ("auto", "transformers", "llamacpp", "openai"))
    device: str = _f("auto", "Torch device.", ("auto", "cuda", "mps", "cpu"))
    dtype: str = _f("auto", "Torch dtype.", ("auto", "bfloat16", "float16", "float32"))
    quantization: str = _f("none", "bitsandbytes loading for transformers.", ("none", "4bit", "8bit"))
    adapter: str = _f(
        "reference",
        "Active LoRA adapter (run name or folder); none (or empty) = the base model. reference = the "
        "project's cited-answer adapter for gemma-3-270m, shipped in medgemma/models/reference (see its "
        "MODEL_CARD.md); other models run without it.",
    )
    prompt_style: str = _f(
        "auto",
        "auto = one-shot completion prompt for base models without an adapter, chat template otherwise.",
        ("auto", "chat", "completion"),
    )
    max_new_tokens: int = _f(200, "Upper bound on generated tokens per answer.")
    temperature: float = _f(0.2, "Sampling temperature (0 = greedy).")
    top_p: float = _f(0.9, "Nucleus sampling threshold.")
    repetition_penalty: float = _f(1.1, "Penalty on repeated tokens.")
    context_window: int = _f(4096, "Prompt + answer token budget.")
    threads: int = _f(0, "CPU threads for llama.cpp and torch (0 = all cores).")
    llamacpp_extra_buffers: bool = _f(
        False,
        "Let llama.cpp repack weights into its CPU extra buffers (AMX / AVX-512 kernels); off by default: "
        "llama-cpp-python 0.3.36 segfaulted in decode with them on an AMX Xeon (medgemma/models/llamacpp_load.py).",
    )
    openai_base_url: str = _f(
        "", "OpenAI-compatible endpoint (vLLM, TGI, llama.cpp server) for backend=openai."
    )
    openai_api_key: str = _secret("API key for the OpenAI-compatible endpoint (environment only).")
    openai_model: str = _f(
        "", "Model name sent to the OpenAI-compatible endpoint (empty: the model setting's Hub id or name)."
    )
    openai_timeout_s: float = _f(
        60.0, "Seconds to wait for the OpenAI-compatible endpoint to connect or send the next piece."
    )
    embedding_model: str = _f(
        "auto", "Sentence-transformers model: auto = all-mpnet-base-v2 on CUDA, all-MiniLM-L6-v2 otherwise."
    )
    embedding_backend: str = _f(
        "auto",
        "Encoder runtime: auto = the fastest one measured to keep retrieval quality on this device "
        "(embeddings.AUTO_BACKEND_CPU), torch, onnx or onnx-int8 (exported once into the data home).",
        ("auto", "torch", "onnx", "onnx-int8"),
    )
    retrieval_k: int = _f(4, "Passages put into the prompt.")
    retrieval_min_score: float = _f(0.25, "Minimum dense cosine similarity for a passage to count.")
    answer_without_sources: bool = _f(False, "Let the model answer when retrieval finds nothing.")
    starter_corpus: str = _f("auto", "Corpus built on first run.", ("auto", "medquad", "pubmed", "none"))
    host: str = _f("127.0.0.1", "Address the app listens on.")
    port: int = _f(7860, "Port the app listens on.")
    share: bool = _f(False, "Create a public Gradio share link (needs internet).")
    admin_password: str = _secret("Admin password; admin tabs are disabled when empty.")
    admin_users: str = _f("", "Comma-separated Hugging Face usernames allowed as admins (Spaces OAuth).")
    trusted_proxies: str = _f(
        "auto",
        "Reverse proxies whose X-Forwarded-For names the visitor (comma-separated IPs or CIDRs) for per-visitor "
        "login lock-outs; auto = the private ranges on a Hugging Face Space, none elsewhere.",
    )
    max_upload_mb: int = _f(25, "Largest accepted upload, in MB.")
    max_upload_files: int = _f(20, "Most files accepted in one upload.")
    max_question_chars: int = _f(2000, "Longest accepted chat message.")
    public_settings: str = _f(
        "k,min_score,temperature,max_new_tokens,mode",
        "Chat settings any visitor may change, comma-separated from k, min_score, temperature, max_new_tokens, "
        "mode, model, adapter; the others stay as the admin configured them (model and adapter by default: "
        "one visitor's choice would reload the shared model for everyone).",
    )
    chat_rate_per_minute: int = _f(20, "Chat messages allowed per session per minute.")
    locale: str = _f("US", "Country code for emergency numbers.")
    emergency_number: str = _f("", "Emergency number; empty = derived from locale (US 911, EU 112, UK 999).")
    crisis_line: str = _f(
        "988",
        "Suicide and crisis line shown with self-harm emergencies; left at 988, "
        "other locales show their own line (GB 116 123, ES 024, AU 13 11 14, ...).",
    )
    audit_raw_text: bool = _f(False, "Store raw message text in the safety audit log.")
    safety_learned: bool = _f(
        True,
        "Use the safety guard's trained classifier (fine-tuned MiniLM, data/safety_classifier.safetensors) "
        "besides its rules.",
    )
    safety_model: str = _f(
        "",
        "Optional hub safety model (Llama Guard 3/4, ShieldGemma or Qwen3Guard id or folder, e.g. "
        "meta-llama/Llama-Guard-3-1B); its medical-advice category means personal_advice, not a block.",
    )
    database_url: str = _secret(
        "PostgreSQL URL (postgresql://user:pass@host/db, pgvector installed) for the knowledge base and the "
        "shared state of several app replicas; empty = files under the data home (environment only)."
    )
    mcp: bool = _f(
        False,
        "Also serve an MCP server with one tool: ask a question, get the cited answer, sources and verdict.",
    )
    log_level: str = _f("INFO", "Logging level.", ("DEBUG", "INFO", "WARNING", "ERROR"))

    # ---- derived paths -------------------------------------------------------------
    @property
    def home_path(self) -> Path:
        return Path(os.path.expanduser(self.home)).resolve()

    @property
    def data_path(self) -> Path | None:
        return Path(os.path.expanduser(self.data_dir)).resolve() if self.data_dir else None

    def path(self, *parts: str) -> Path:
        """A path under the data home (created on demand by the caller)."""
        return self.home_path.joinpath(*parts)

    def public_dict(self) -> dict[str, Any]:
        """All non-secret settings, safe to log or show."""
        return {
            f.name: getattr(self, f.name) for f in dataclasses.fields(self) if not f.metadata.get("secret")
        }


def _coerce(name: str, raw: Any, kind: type) -> Any:
    try:
        if kind is bool:
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(raw)
        if kind is int:
            if isinstance(raw, bool):
                raise ValueError(raw)
            return int(str(raw).strip())
        if kind is float:
            return float(str(raw).strip())
        return str(raw)
    except (TypeError, ValueError):
        raise ConfigError(f"Setting '{name}' expects {kind.__name__}, got {raw!r}.") from None


_TYPES = {"str": str, "int": int, "float": float, "bool": bool}


def field_specs() -> list[dataclasses.Field]:
    return list(dataclasses.fields(Settings))


def _validate(values: dict[str, Any]) -> None:
    for f in field_specs():
        choices = f.metadata.get("choices") or ()
        if choices and values[f.name] not in choices:
            raise ConfigError(
                f"Setting '{f.name}' must be one of {', '.join(choices)}; got {values[f.name]!r}."
            )
    for name in (
        "port",
        "max_new_tokens",
        "context_window",
        "retrieval_k",
        "max_upload_mb",
        "max_upload_files",
        "max_question_chars",
        "chat_rate_per_minute",
    ):
        if values[name] <= 0:
            raise ConfigError(f"Setting '{name}' must be positive; got {values[name]}.")
    if not 0.0 <= values["temperature"] <= 5.0:
        raise ConfigError(f"Setting 'temperature' must be within 0..5; got {values['temperature']}.")
    if not 0.0 < values["top_p"] <= 1.0:
        raise ConfigError(f"Setting 'top_p' must be within (0, 1]; got {values['top_p']}.")


def load_settings(
    yaml_path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Build Settings from defaults, YAML, `MEDGEMMA_*` variables and overrides (later wins)."""
    env = os.environ if env is None else env
    specs = {f.name: f for f in field_specs()}
    values: dict[str, Any] = {name: f.default for name, f in specs.items()}

    yaml_path = yaml_path or env.get(ENV_PREFIX + "CONFIG") or None
    layers: list[tuple[str, Mapping[str, Any]]] = []
    if yaml_path:
        layers.append((f"config file {yaml_path}", read_yaml(yaml_path)))
    layers.append(
        (
            "environment",
            {name: env[ENV_PREFIX + name.upper()] for name in specs if ENV_PREFIX + name.upper() in env},
        )
    )
    if overrides:
        layers.append(("overrides", {k: v for k, v in overrides.items() if v is not None}))

    for origin, layer in layers:
        for key, raw in layer.items():
            f = specs.get(key)
            if f is None:
                raise ConfigError(f"Unknown setting '{key}' in {origin}.")
            if f.metadata.get("secret") and origin != "environment":
                raise ConfigError(
                    f"Setting '{key}' is a secret: set it with {ENV_PREFIX}{key.upper()} in the environment only."
                )
            values[key] = _coerce(key, raw, _TYPES[f.type] if isinstance(f.type, str) else f.type)
    _validate(values)
    return Settings(**values)


def child_environment(settings_yaml: str | Path, settings: Settings | None = None) -> dict[str, str]:
    """The environment for a `python -m medgemma` job that must run with exactly the settings its parent
    wrote to `settings_yaml`: this process's environment without its non-secret MEDGEMMA_* variables (they
    would override the file), with MEDGEMMA_CONFIG naming the file. Secrets stay in the environment; the
    ones set in `settings` (e.g. the database URL of an app built from its own Settings) are passed on too."""
    secret_fields = [f.name for f in field_specs() if f.metadata.get("secret")]
    secrets = {ENV_PREFIX + name.upper() for name in secret_fields}
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX) or k in secrets}
    for name in secret_fields if settings is not None else ():
        if getattr(settings, name):
            env[ENV_PREFIX + name.upper()] = getattr(settings, name)
    env[ENV_PREFIX + "CONFIG"] = str(settings_yaml)
    return env


def env_var(name: str) -> str | None:
    """Read a non-MEDGEMMA variable the platform honours (e.g. HF_TOKEN). Only this module reads os.environ."""
    return os.environ.get(name)


def markdown_table() -> str:
    """The README's configuration table, generated from Settings (a test keeps the README in sync)."""
    rows = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for f in field_specs():
        default = "" if f.metadata.get("secret") else f.default
        if f.name == "data_dir":
            default = "../shared/data next to the checkout, if present"
        choices = f.metadata.get("choices") or ()
        doc = f.metadata.get("doc", "") + (f" One of: {', '.join(choices)}." if choices else "")
        shown = f"`{default}`" if default not in ("", None) else "(empty)"
        rows.append(f"| `{ENV_PREFIX}{f.name.upper()}` | {shown} | {doc} |")
    return "\n".join(rows)
