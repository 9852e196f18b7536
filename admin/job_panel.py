"""job_panel.py is the one job panel every admin tab uses: start buttons and Cancel, a status with a progress
line, the equivalent command, the log tail, and the gr.Timer that polls medgemma.jobs.progress.

It shows any job through medgemma.jobs (start, progress, cancel); what a job does and how its progress is
read belong to the job's kind. Its poll and cancel handlers check the admin session on the server.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gradio as gr

from admin.common import AppContext, admin_only
from medgemma import jobs
from medgemma.jobs import JobProgress

Updates = dict[Any, Any]  # {component: new value}, what a handler returns


def progress_bar(fraction: float, width: int = 30) -> str:
    """A text progress bar for Markdown: ████░░░░ 40%."""
    filled = int(width * max(0.0, min(1.0, fraction)))
    return "█" * filled + "░" * (width - filled) + f" {fraction:.0%}"


def status_text(p: JobProgress, notes: Sequence[str] = ()) -> str:
    """**job id** — state, the progress line, the tab's notes and the error, one per line."""
    lines = [f"**{p.job_id}** — {p.state}"]
    if p.message or p.fraction:
        lines.append(f"`{progress_bar(p.fraction)}` {p.message}")
    lines += [n for n in notes if n]
    if p.error:
        lines.append(f"⚠️ {p.error}")
    return "  \n".join(lines)


class JobPanel:
    """Renders where it is created: a row of the tab's start buttons (`buttons[key]`, elem_id
    "<prefix>-<key>") and Cancel, then status, command and log. `notes(p)` adds lines to the status,
    `view(p)` updates more components on every show, `finished(p, *poll_inputs)` on the last tick."""

    def __init__(
        self,
        ctx: AppContext,
        prefix: str,
        buttons: Sequence[tuple[str, str, str]],
        *,
        idle: str,
        notes: Callable[[JobProgress], Sequence[str]] | None = None,
        view: Callable[[JobProgress], Updates] | None = None,
        finished: Callable[..., Updates] | None = None,
        log_lines: int = 6,
    ) -> None:
        self.ctx, self.prefix, self.idle = ctx, prefix, idle
        self.notes, self.view, self.finished = notes, view, finished
        self.watched = gr.State("")  # the job this browser session started or watches
        with gr.Row():
            self.buttons = {
                key: gr.Button(label, variant=variant, elem_id=f"{prefix}-{key}")
                for key, label, variant in buttons
            }
            self.cancel = gr.Button("■ Cancel", variant="stop", elem_id=f"{prefix}-cancel")
        self.status = gr.Markdown("", elem_id=f"{prefix}-status")
        self.command = gr.Textbox(
            "", label="Equivalent command", interactive=False, buttons=["copy"], elem_id=f"{prefix}-command"
        )
        self.log = gr.Textbox(
            "",
            label="Log (tail)",
            lines=log_lines,
            max_lines=2 * log_lines,
            autoscroll=True,
            interactive=False,
        )
        self.timer = gr.Timer(2.0, active=False)
        self.outputs: list[Any] = [self.watched, self.status, self.command, self.log, self.timer]
        self.poll_inputs: list[Any] = []
        self.on_poll = admin_only(ctx, f"{prefix}-poll", audit=False)(self._poll)
        self.on_cancel = admin_only(ctx, f"{prefix}-cancel")(self._cancel)

    def show(self, p: JobProgress, poll: bool | None = None) -> Updates:
        """The panel's updates for a job; `poll` forces the timer on (just started) or off."""
        out: Updates = {
            self.watched: p.job_id,
            self.status: status_text(p, self.notes(p) if self.notes else ()),
            self.command: p.command,
            self.log: p.log,
            self.timer: gr.Timer(active=p.active if poll is None else poll),
        }
        return {**out, **(self.view(p) if self.view else {})}

    def started(self, job_id: str) -> Updates:
        """After jobs.start: show the new job and poll until it ends (even if it already has)."""
        return self.show(jobs.progress(self.ctx.settings, job_id), poll=True)

    def wire(self, outputs: Sequence[Any] = (), poll_inputs: Sequence[Any] = ()) -> list[Any]:
        """Connect the timer and Cancel; `outputs` are the tab's components that view/finished update.
        Returns every output, for the tab's own start events."""
        self.outputs = [*self.outputs[:5], *outputs]
        self.poll_inputs = list(poll_inputs)
        token = self.ctx.admin_token
        self.timer.tick(
            self.on_poll,
            [token, self.watched, *self.poll_inputs],
            self.outputs,
            api_visibility="private",
            queue=False,
            show_progress="hidden",
        )
        self.cancel.click(
            self.on_cancel, [token, self.watched], self.outputs, api_name=f"{self.prefix}_cancel"
        )
        return self.outputs

    # ---- handlers (guarded in __init__: the admin token comes first) ----------------------------------
    def _poll(self, session: Any, job_id: str, *inputs: Any) -> Updates:
        if not job_id:
            return {self.timer: gr.Timer(active=False)}
        p = jobs.progress(self.ctx.settings, job_id)
        out = self.show(p)
        if not p.active and self.finished:  # the last tick: the tab refreshes what the job changed
            out.update(self.finished(p, *inputs))
        return out

    def _cancel(self, session: Any, job_id: str) -> Updates:
        if not job_id:
            raise gr.Error(self.idle)
        p = jobs.cancel(self.ctx.settings, job_id)
        out = self.show(p, poll=False)
        if self.finished and not self.poll_inputs:
            out.update(self.finished(p))
        return out
