"""Following a task from the terminal: progress lines on stderr, the review prompt (what changed first, the whole
roadmap on request), and the result (the roadmap, or JSON, and the line that says where it was saved).

Imported by the commands that run a task, never at startup (it loads the workflow's modules).
"""

from __future__ import annotations

import asyncio
from typing import Any

from rich.markup import escape

from roadmap_agent.cli.common import EXIT_OK, err
from roadmap_agent.cli.dialog import ask_review, finish
from roadmap_agent.domain.messages import text
from roadmap_agent.domain.models import Language, ReviewDecision, Roadmap
from roadmap_agent.events.stream import stream_events
from roadmap_agent.services import Services
from roadmap_agent.store.records import Event, EventType, TaskStatus
from roadmap_agent.terminal import progress_line
from roadmap_agent.workflow.runner import task_language

NO_WORKER_AFTER = 5.0  # seconds a queued task may wait before we say no worker seems to take it


class Follower:
    """Drives one task to its end for the terminal; remembers the last event it printed."""

    def __init__(self, services: Services, task_id: str, *, as_json: bool, auto_approve: bool, full: bool,
                 resources: bool = False) -> None:
        self.services, self.task_id = services, task_id
        self.as_json, self.auto_approve, self.full, self.resources = as_json, auto_approve, full, resources
        self.printed = 0

    async def drive(self) -> int:
        """Follow the task to the end, answering reviews from the terminal (or auto-approving).

        In-process the run is an asyncio task of this process; in server mode a worker runs it and this only
        follows (Ctrl-C then leaves the run going on the workers).
        """
        services, task_id = self.services, self.task_id
        helpers = [asyncio.create_task(self._print_progress())]
        if services.queue:
            helpers.append(asyncio.create_task(self._hint_if_no_worker()))
        try:
            while True:
                task = await services.runner.wait(task_id)
                if task.status != TaskStatus.HUMAN_REVIEW_PENDING:
                    break
                decision = await self._ask_review()
                if decision is None:
                    err().print(text("cli.pending", task_language(task), task_id=task_id))
                    return EXIT_OK
                await services.runner.review(task_id, decision)
        finally:
            await asyncio.sleep(0)  # let the printer catch the last events
            for helper in helpers:
                helper.cancel()
            await asyncio.gather(*helpers, return_exceptions=True)
        await self._drain()
        return await self.result()

    async def _print_progress(self) -> None:
        task = await self.services.store.get_task(self.task_id)
        language = task_language(task)
        async for event in stream_events(self.task_id, self.printed, self.services.store, self.services.bus, 0.5):
            self._show(event, language)

    async def _drain(self) -> None:
        language = task_language(await self.services.store.get_task(self.task_id))
        for event in await self.services.store.events_after(self.task_id, self.printed):
            self._show(event, language)

    def _show(self, event: Event, language: Language) -> None:
        if event.seq <= self.printed:
            return
        self.printed = event.seq
        line = progress_line(event, language)
        if line:
            err().print(line)

    async def _hint_if_no_worker(self) -> None:
        await asyncio.sleep(NO_WORKER_AFTER)
        task = await self.services.store.get_task(self.task_id)
        if task.status == TaskStatus.PENDING:
            err().print(f"[yellow]{escape(text('cli.still_queued', task_language(task)))}[/]")

    async def _ask_review(self) -> ReviewDecision | None:
        """Show what changed (the whole roadmap with ``full`` or on request) and ask; None: no answer (EOF)."""
        if self.auto_approve:
            return ReviewDecision(approved=True)
        await self._drain()
        roadmap = await roadmap_of(self.services, self.task_id)
        requested = await self.services.store.last_event(self.task_id, EventType.HUMAN_REVIEW_REQUIRED)
        return await ask_review(roadmap, requested.data if requested is not None else {}, full=self.full,
                                resources=self.resources)

    async def result(self) -> int:
        """Print the outcome (JSON, or the roadmap and where it was saved); the exit code."""
        services, task_id = self.services, self.task_id
        task = await services.store.get_task(task_id)
        completed = await services.store.last_event(task_id, EventType.COMPLETED)
        return finish(task_id, task.status.value, task.intent, task.error, task.error_code,
                      await roadmap_of(services, task_id), as_json=self.as_json, resources=self.resources,
                      language=task_language(task), completed=completed.data if completed is not None else {},
                      where=services.storage.location)


async def roadmap_of(services: Any, task_id: str) -> Roadmap | None:
    """The final roadmap, or the draft under review; None before there is one."""
    task = await services.store.get_task(task_id)
    body = (await services.store.get_roadmap(task.roadmap_id) if task.roadmap_id
            else await services.store.draft_roadmap(task_id))
    return Roadmap.model_validate(body) if body else None
