"""chat_options.py owns what a chat visitor may set: the settings accordion's values as ChatSettings
overrides, the models and adapters offered, and the server-side check that a visitor changes only what
MEDGEMMA_PUBLIC_SETTINGS allows. It renders nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from admin.common import AppContext
from medgemma.chat.limits import admin_only_changes, public_options
from medgemma.config import Settings
from medgemma.errors import InputRejected
from medgemma.export.exporter import list_exports
from medgemma.models.adapters import adapter_choices
from medgemma.models.presets import PRESETS

ACTIVE = "__active__"


def chat_adapter_choices(ctx: AppContext) -> list[tuple[str, str]]:
    return adapter_choices(ctx.settings, active=ACTIVE, base=True)


def model_choices(ctx: AppContext) -> list[tuple[str, str]]:
    """The configured model, the presets, and verified GGUF / merged exports (GGUF runs in llama.cpp)."""

    settings = ctx.settings
    choices = [(name, name) for name in sorted({settings.model, *PRESETS})]
    for row in list_exports(settings):
        if (
            not row["verified"]
            or not row["format"].startswith(("gguf", "merged"))
            or row["format"] == "gguf-lora"
        ):
            continue
        gguf = next((f for f in row["files"] if f.endswith(".gguf")), "")
        value = str(Path(row["folder"]) / gguf) if gguf else row["folder"]
        choices.append((f"export: {Path(row['folder']).name} ({row['format']})", value))
    return choices


def default_options(settings: Settings) -> dict[str, Any]:
    """The options a visitor starts with: the admin's configuration."""
    return options_from(
        settings.retrieval_k,
        settings.retrieval_min_score,
        settings.temperature,
        settings.max_new_tokens,
        settings.model,
        ACTIVE,
        "auto",
    )


def check_options(ctx: AppContext, opts: dict[str, Any]) -> dict[str, Any]:
    """Checked on the server, whatever the page showed: a visitor changes only the settings in
    MEDGEMMA_PUBLIC_SETTINGS (by default not the model or adapter, whose change would reload the one shared
    model for everybody), and picks only the models and adapters the settings offer."""
    locked = admin_only_changes(opts, default_options(ctx.settings), public_options(ctx.settings))
    if locked:
        raise InputRejected(
            f"This chat's {', '.join(locked)} setting is chosen by the admin, not by visitors "
            "(MEDGEMMA_PUBLIC_SETTINGS)."
        )
    model, adapter = opts.get("model"), opts.get("adapter")
    if model and model not in {value for _, value in model_choices(ctx)}:
        raise InputRejected("That model is not offered here; pick one from the settings.")
    if adapter and adapter not in {value for _, value in chat_adapter_choices(ctx)}:
        raise InputRejected("That adapter is not offered here; pick one from the settings.")
    return opts


def options_from(
    k: float, min_score: float, temperature: float, max_new_tokens: float, model: str, adapter: str, mode: str
) -> dict[str, Any]:
    """The settings accordion as ChatSettings overrides (kept in a gr.State per browser session)."""
    return {
        "k": int(k),
        "min_score": float(min_score),
        "temperature": float(temperature),
        "max_new_tokens": int(max_new_tokens),
        "model": model or None,
        "adapter": None if adapter in (None, ACTIVE) else adapter,
        "mode": mode or "auto",
    }
