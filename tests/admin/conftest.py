"""Fixtures of the admin tab tests: one tab built on its own, with the app's real context (settings,
services, admin auth), so a test calls the tab's handlers as the events do and reads their updates."""

from __future__ import annotations

import gradio as gr
import pytest

from admin.common import AppContext
from medgemma.auth import AdminAuth
from medgemma.chat.services import Services


@pytest.fixture
def build_tab():
    """build_tab(module, settings) -> (tab, ctx): the tab object its build_tab returns, in its own Blocks."""

    def build(module, settings):
        ctx = AppContext(settings=settings, services=Services(settings), auth=AdminAuth(settings))
        with gr.Blocks():
            ctx.admin_token = gr.State(None)
            tab = module.build_tab(ctx)
        return tab, ctx

    return build
