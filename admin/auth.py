"""auth.py (UI) is the admin login panel: password box and, on Spaces, a Hugging Face sign-in.

The checks themselves live in medgemma/auth.py; this module only wires components to them.
"""

from __future__ import annotations

import gradio as gr

from admin.common import AppContext, client_key
from medgemma.errors import AuthError


def oauth_sign_in(ctx: AppContext, profile: gr.OAuthProfile | None):
    """On a page load after the Hugging Face redirect: open an admin session for an allowed username
    (quiet when nobody signed in). Returns (token, status, admin area, logout button)."""
    if profile is None:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    try:
        session = ctx.auth.login_oauth(profile.username)
    except AuthError as exc:
        return None, f"**Login failed:** {exc}", gr.update(visible=False), gr.update(visible=False)
    return (
        session.token,
        f"Logged in as **{session.user}**.",
        gr.update(visible=True),
        gr.update(visible=True),
    )


def build_login(ctx: AppContext, demo: gr.Blocks) -> gr.Column:
    """Render the login panel; returns the column holding the admin tabs (hidden until login)."""
    if not ctx.auth.enabled:
        gr.Markdown(f"### Admin is disabled\n{ctx.auth.disabled_message()}", elem_id="admin-disabled")
    with gr.Row(visible=ctx.auth.password_enabled):
        password = gr.Textbox(label="Admin password", type="password", elem_id="admin-password", scale=3)
        login_btn = gr.Button("Log in", variant="primary", elem_id="admin-login", scale=1)
    oauth_btn = gr.LoginButton() if ctx.auth.oauth_enabled else None
    status = gr.Markdown("", elem_id="admin-status")
    logout_btn = gr.Button("Log out", visible=False, size="sm", elem_id="admin-logout")
    area = gr.Column(visible=False, elem_id="admin-area")

    def login(pw: str, request: gr.Request):
        try:
            session = ctx.auth.login(pw, client_key(request, ctx.auth))
        except AuthError as exc:
            return None, f"**Login failed:** {exc}", gr.update(visible=False), gr.update(visible=False), ""
        return (
            session.token,
            f"Logged in as **{session.user}**.",
            gr.update(visible=True),
            gr.update(visible=True),
            "",
        )

    def logout(token: str | None):
        ctx.auth.logout(token)
        return None, "Logged out.", gr.update(visible=False), gr.update(visible=False)

    outs = [ctx.admin_token, status, area, logout_btn]
    login_btn.click(login, [password], [*outs, password], api_name="admin_login")
    password.submit(login, [password], [*outs, password], api_visibility="undocumented")
    if oauth_btn is not None:  # after the Hugging Face redirect, the profile arrives with the page load

        def on_load(profile: gr.OAuthProfile | None):  # Gradio fills `profile` from the session
            return oauth_sign_in(ctx, profile)

        on_load.signs_in_with = oauth_sign_in  # tests find the page-load handler by this mark
        demo.load(on_load, None, outs, api_visibility="private")
    logout_btn.click(logout, [ctx.admin_token], outs, api_visibility="undocumented")
    return area
