"""common.py holds what every tab shares: the AppContext, the error decorator and the admin guard.

Callbacks stay thin: unpack inputs, call one medgemma function, map the result to components.
`UserFacingError` becomes `gr.Error(message)`; anything else is logged and shown generically.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from medgemma.auth import AdminAuth
from medgemma.chat.services import Services
from medgemma.config import Settings
from medgemma.errors import AuthError, UserFacingError

logger = logging.getLogger(__name__)

GENERIC_ERROR = "Something went wrong on the server; the error was logged."


@dataclass
class AppContext:
    """Shared, read-mostly resources for the tabs; per-user state lives in gr.State."""

    settings: Settings
    services: Services
    auth: AdminAuth
    admin_token: Any = None  # gr.State holding this browser session's admin token


def _convert(exc: BaseException) -> BaseException:
    if isinstance(exc, gr.Error):
        return exc
    if isinstance(exc, UserFacingError):  # expected (a limit, a bad value): no traceback in the server log
        return gr.Error(str(exc), print_exception=False)
    logger.exception("Unhandled error in a UI callback", exc_info=exc)
    return gr.Error(GENERIC_ERROR)


def ui_errors(fn: Callable) -> Callable:
    """Turn UserFacingError into gr.Error; log anything else. Works for plain and generator callbacks."""
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen_wrapper(*args: Any, **kwargs: Any):
            try:
                yield from fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001
                raise _convert(exc) from exc

        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001
            raise _convert(exc) from exc

    return wrapper


def admin_only(ctx: AppContext, action: str, *, audit: bool = True) -> Callable[[Callable], Callable]:
    """Server-side admin check for an event handler whose FIRST input is ctx.admin_token.

    The wrapped function receives the AdminSession as its first argument instead of the token.
    Every call is written to the admin audit log (`audit=False` for read-only polls such as a
    gr.Timer tick, which would flood it). Hiding a tab never closes its endpoint; this does.
    """

    def decorate(fn: Callable) -> Callable:
        def session_of(token: Any):
            try:
                return ctx.auth.check(token)
            except AuthError as exc:  # expected (probes, expired sessions): no traceback in the log
                raise gr.Error(str(exc), print_exception=False) from None

        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def gen_wrapper(token: Any, *args: Any, **kwargs: Any):
                session = session_of(token)
                if audit:
                    ctx.auth.audit(session.user, action, {})
                yield from ui_errors(fn)(session, *args, **kwargs)

            gen_wrapper.admin_action = action  # tests find every admin endpoint by this mark
            return gen_wrapper

        @functools.wraps(fn)
        def wrapper(token: Any, *args: Any, **kwargs: Any):
            session = session_of(token)
            if audit:
                ctx.auth.audit(session.user, action, {})
            return ui_errors(fn)(session, *args, **kwargs)

        wrapper.admin_action = action
        return wrapper

    return decorate


def admin_method(action: str, *, audit: bool = True) -> Callable[[Callable], Callable]:
    """`admin_only` for a method of a tab object (which has `ctx`): the token is the first argument after
    self, and the method receives the AdminSession in its place."""

    def decorate(method: Callable) -> Callable:
        if inspect.isgeneratorfunction(method):

            @functools.wraps(method)
            def gen_wrapper(self: Any, token: Any, *args: Any, **kwargs: Any):
                yield from admin_only(self.ctx, action, audit=audit)(functools.partial(method, self))(
                    token, *args, **kwargs
                )

            gen_wrapper.admin_action = action
            return gen_wrapper

        @functools.wraps(method)
        def wrapper(self: Any, token: Any, *args: Any, **kwargs: Any):
            return admin_only(self.ctx, action, audit=audit)(functools.partial(method, self))(
                token, *args, **kwargs
            )

        wrapper.admin_action = action
        return wrapper

    return decorate


def client_key(request: gr.Request | None, auth: AdminAuth) -> str:
    """A per-visitor key for login lock-outs: the client address, read through trusted proxies' headers."""
    if request is None:
        return "local"
    host = getattr(getattr(request, "client", None), "host", None)
    headers = getattr(request, "headers", None) or {}
    return auth.client_of(host, headers.get("x-forwarded-for"))
