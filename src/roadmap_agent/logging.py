"""structlog setup: JSON lines off a terminal, pretty lines on one; always to stderr.

stderr keeps stdout clean for ``generate --json``. Event names are stable (``intent_analysis_started`` ...).
A line that cannot be written (stderr on a full disk, a closed pipe) is dropped and counted, never raised into
the code that logged it: a run must not die, or stay "running", because its log line did not fit.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal

import structlog


class _DroppingPrintLogger(structlog.PrintLogger):
    """A PrintLogger whose failed writes are counted in ``dropped`` instead of raised."""

    dropped = 0

    def msg(self, message: str) -> None:
        try:
            super().msg(message)
        except (OSError, ValueError):  # ENOSPC, EPIPE, or a closed file
            _DroppingPrintLogger.dropped += 1

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg


def _logger_factory(*_args: object) -> structlog.PrintLogger:
    return _DroppingPrintLogger(sys.stderr)


def dropped_log_lines() -> int:
    """How many log lines could not be written since start (shown by the metrics)."""
    return _DroppingPrintLogger.dropped


def configure_logging(level: str = "INFO", fmt: Literal["json", "console", "auto"] = "auto") -> None:
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False) if use_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info if use_json else structlog.processors.StackInfoRenderer(),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=_logger_factory,
        cache_logger_on_first_use=False,
    )
    # Quiet libraries that log every request at INFO; our own lines carry what matters.
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=sys.stderr)


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]
