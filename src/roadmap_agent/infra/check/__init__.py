"""``roadmap-agent check``: test every configured dependency step by step and say what is wrong and what to do.

For each dependency (the database always; the checkpointer; Redis, S3 and the LLM when configured) the steps
are: DNS resolution, TCP connect, then authentication plus a real round trip (``SELECT version()``, ``PING`` +
``INFO``, ``head_bucket`` + one listed key, ``GET /models``). Each probe opens its connection with the builder
the service itself uses (``infra/postgres.py``, ``infra/redis.py``, ``infra/storage.py``, ``llm/client.py``),
so ``check`` tests what the service runs. Each step has its own short deadline and the run as a whole a budget,
so the command ends in bounded time even against a hung server. Every text that reaches the report is redacted
(``roadmap_agent.redaction``): drivers may echo a DSN.

    report.py          what was found (steps, dependencies, the exit rule) and the terminal rendering
    diagnosis.py       the table that turns a failed step's error into a diagnosis and a hint
    steps.py           running steps under deadlines; the DNS and TCP steps every server shares
    probe_postgres.py  database, checkpointer, run queue
    probe_files.py     the embedded SQLite files and the local artifacts folder
    probe_redis.py, probe_s3.py, probe_llm.py
    run.py             which probes run, staggered, on a private event loop (``run_check``)
"""

from roadmap_agent.infra.check.diagnosis import classify, error_text
from roadmap_agent.infra.check.probe_postgres import QueueState
from roadmap_agent.infra.check.report import CheckReport, DependencyReport, StepResult, print_report
from roadmap_agent.infra.check.run import check_all, run_check
from roadmap_agent.infra.check.steps import Limits, Steps, endpoint_of, stops

__all__ = ["CheckReport", "DependencyReport", "Limits", "QueueState", "StepResult", "Steps", "check_all",
           "classify", "endpoint_of", "error_text", "print_report", "run_check", "stops"]
