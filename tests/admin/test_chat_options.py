"""What a chat visitor may set: MEDGEMMA_PUBLIC_SETTINGS decides, on the server and on the page. By default
the model and adapter are the admin's (a visitor's pick would reload the one shared model for everybody)."""

from __future__ import annotations

import gradio as gr
import pytest
from fakes import FakeGuard, FakeKnowledge, ScriptedBackend

from admin.chat import build_tab
from admin.chat_options import check_options, default_options
from admin.common import AppContext
from medgemma.auth import AdminAuth
from medgemma.chat.services import Services
from medgemma.config import load_settings
from medgemma.errors import ConfigError, InputRejected


def context(tmp_path, public: str | None = None) -> AppContext:
    env = {"MEDGEMMA_HOME": str(tmp_path)} | (
        {"MEDGEMMA_PUBLIC_SETTINGS": public} if public is not None else {}
    )
    settings = load_settings(env=env)
    services = Services(settings, knowledge=FakeKnowledge(), guard=FakeGuard(), backend=ScriptedBackend("x"))
    return AppContext(settings, services, AdminAuth(settings))


def test_by_default_visitors_tune_the_answer_but_not_the_model(tmp_path):
    ctx = context(tmp_path)
    defaults = default_options(ctx.settings)
    assert check_options(ctx, dict(defaults, k=7, temperature=0.8, mode="extractive"))["k"] == 7
    assert check_options(ctx, defaults) == defaults  # the defaults themselves are no change
    for change in ({"model": "smollm2-135m-instruct"}, {"adapter": "my-adapter"}):
        with pytest.raises(InputRejected, match=f"{next(iter(change))} setting is chosen by the admin"):
            check_options(ctx, dict(defaults, **change))


def test_the_admin_decides_what_is_public(tmp_path):
    ctx = context(tmp_path, "k,model")
    defaults = default_options(ctx.settings)
    assert (
        check_options(ctx, dict(defaults, model="smollm2-135m-instruct"))["model"] == "smollm2-135m-instruct"
    )
    with pytest.raises(InputRejected, match="temperature setting is chosen by the admin"):
        check_options(ctx, dict(defaults, temperature=1.2))
    with pytest.raises(InputRejected, match="not offered here"):  # public, but still only what is offered
        check_options(ctx, dict(defaults, model="some-org/huge-model"))


def test_an_unknown_setting_name_is_named(tmp_path):
    with pytest.raises(ConfigError, match="unknown chat setting.*temprature"):
        check_options(context(tmp_path, "k,temprature"), {})


def test_the_page_shows_only_the_public_settings(tmp_path):
    with gr.Blocks():
        tab = build_tab(context(tmp_path))
    assert tab.accordion.visible and not tab.model.visible and not tab.adapter.visible
    with gr.Blocks():
        tab = build_tab(context(tmp_path / "b", ""))
    assert not tab.accordion.visible
    with gr.Blocks():
        tab = build_tab(context(tmp_path / "c", "model,adapter"))
    assert tab.model.visible and tab.adapter.visible
