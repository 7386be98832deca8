"""What ``check`` found (one ``DependencyReport`` per dependency, its steps) and how it is shown on a terminal.

Exit rule (``CheckReport.exit_code``): 0 when every required dependency (database, checkpointer) is reachable
-- optional ones (Redis, storage, LLM) down only make the status "degraded" -- and, with ``--strict``, only
when every configured dependency is fully ok (no warning either).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from rich.console import Console
from rich.markup import escape

Status = Literal["ok", "degraded", "down"]


@dataclass
class StepResult:
    name: str
    ok: bool
    latency_ms: float | None
    detail: str
    warning: bool = False


@dataclass
class DependencyReport:
    name: str
    required: bool
    target: str
    steps: list[StepResult] = field(default_factory=list)
    version: str | None = None
    diagnosis: str | None = None
    hint: str | None = None

    @property
    def status(self) -> Status:
        if not self.steps or not all(step.ok for step in self.steps):
            return "down"
        return "degraded" if any(step.warning for step in self.steps) else "ok"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "required": self.required, "status": self.status, "target": self.target,
                "steps": [asdict(step) for step in self.steps], "version": self.version,
                "diagnosis": self.diagnosis, "hint": self.hint}


def passes(report: DependencyReport, strict: bool) -> bool:
    """Required dependencies must be reachable (a warning is fine); ``--strict`` wants everything fully ok."""
    if strict:
        return report.status == "ok"
    return not report.required or report.status != "down"


@dataclass
class CheckReport:
    mode: str
    strict: bool
    dependencies: list[DependencyReport]

    @property
    def ok(self) -> bool:
        return all(passes(dependency, self.strict) for dependency in self.dependencies)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    @property
    def status(self) -> Status:
        if not self.ok:
            return "down"
        return "ok" if all(d.status == "ok" for d in self.dependencies) else "degraded"

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "status": self.status, "mode": self.mode, "strict": self.strict,
                "dependencies": [dependency.to_dict() for dependency in self.dependencies]}


_MARKS = {"ok": "[green]✓[/]", "degraded": "[yellow]![/]", "down": "[red]✗[/]"}


def print_report(console: Console, report: CheckReport) -> None:
    def say(line: str) -> None:
        console.print(line, soft_wrap=True, highlight=False)  # one line per step, even in a pipe

    say(f"[bold]roadmap-agent check[/] · {report.mode} mode" + (" · strict" if report.strict else ""))
    for dependency in report.dependencies:
        role = "required" if dependency.required else "optional"
        version = f"  [cyan]{escape(dependency.version)}[/]" if dependency.version else ""
        say(f"\n{_MARKS[dependency.status]} [bold]{dependency.name}[/] [dim]({role})[/] "
            f"{escape(dependency.target)}{version}")
        for step in dependency.steps:
            mark = _MARKS["degraded" if step.warning else "ok" if step.ok else "down"]
            latency = f"{step.latency_ms:>8.1f} ms" if step.latency_ms is not None else " " * 11
            say(f"    {mark} {step.name:<7} [dim]{latency}[/]  {escape(step.detail)}")
        if dependency.diagnosis:
            say(f"    [bold]diagnosis:[/] {escape(dependency.diagnosis)}")
        if dependency.hint:
            say(f"    [bold]hint:[/] {escape(dependency.hint)}")
    say("")
    say(_summary(report))


def _summary(report: CheckReport) -> str:
    failing = [d for d in report.dependencies if not passes(d, report.strict)]
    if failing:
        return f"[red]✗ not ready:[/] {_names(failing)}. Exit code 1."
    if report.status == "degraded":
        return (f"[yellow]! degraded:[/] {_names([d for d in report.dependencies if d.status != 'ok'])}. "
                "Optional dependencies only degrade the service; --strict makes this an error.")
    return "[green]✓ all dependencies ok.[/]"


def _names(dependencies: list[DependencyReport]) -> str:
    return "; ".join(f"{d.name} {d.status}" + (f" ({escape(d.diagnosis)})" if d.diagnosis else "")
                     for d in dependencies)

