"""The error tree. Driver errors are translated at the infra boundary; ``api/errors.py`` maps these to HTTP.

    RoadmapAgentError
    ├── InvalidRequest            400  bad input the caller can fix
    ├── IdempotencyKeyReused      422  an Idempotency-Key sent again with a different body
    ├── Unauthorized              401  no API key, or an unknown or revoked one (WWW-Authenticate: Bearer)
    ├── Forbidden                 403  a valid key asking for something only admins may do
    ├── RateLimited               429  too many requests for this key (Retry-After)
    ├── NotFound                  404
    │   ├── TaskNotFound
    │   └── RoadmapNotFound
    ├── Conflict                  409  the request is fine but the task is in the wrong state
    │   ├── NotAwaitingReview
    │   ├── DecisionAlreadyMade
    │   ├── NotRetryable
    │   ├── AlreadyExists              a write hit a unique key (mapped from the driver by infra/database.py;
    │   │                              the store decides what it means: an idempotent retry, a race lost)
    │   └── PreconditionFailed    412  If-Match names a revision that is no longer the current one
    ├── TaskCancelled                  raised inside a run at a step boundary (never reaches HTTP)
    ├── RunSuperseded                  raised inside a run another worker has taken over (never reaches HTTP)
    ├── DependencyUnavailable     503  a dependency is down or too slow; retry later
    │   ├── DatabaseUnavailable
    │   ├── CheckpointerUnavailable
    │   ├── BrokerUnavailable          Redis (publishing is best effort: never reaches HTTP)
    │   ├── StorageUnavailable
    │   └── LLMUnavailable             the model endpoint (the planner falls back: never reaches HTTP)
    ├── InvalidModelOutput             the model kept answering what we cannot use (falls back likewise)
    ├── OutOfScope                     the offline catalog does not cover the goal: the task ends failed with
    │                                  code out_of_scope (CLI exit 3); the message lists what is covered
    └── ConfigurationError             settings that cannot work; the message says which variable

Every message says what failed, where, and what to do, and never contains a secret.
"""

from __future__ import annotations


class RoadmapAgentError(Exception):
    """Base of every error this package raises on purpose."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(RoadmapAgentError):
    code = "invalid_request"


class IdempotencyKeyReused(RoadmapAgentError):
    code = "idempotency_key_reused"


class Unauthorized(RoadmapAgentError):
    code = "unauthorized"


class Forbidden(RoadmapAgentError):
    code = "forbidden"


class RateLimited(RoadmapAgentError):
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotFound(RoadmapAgentError):
    code = "not_found"


class TaskNotFound(NotFound):
    code = "task_not_found"

    def __init__(self, task_id: str) -> None:
        super().__init__(f"No task with id {task_id!r}. List your tasks with GET /api/v1/tasks.")


class RoadmapNotFound(NotFound):
    code = "roadmap_not_found"


class Conflict(RoadmapAgentError):
    code = "conflict"


class NotAwaitingReview(Conflict):
    code = "not_awaiting_review"


class DecisionAlreadyMade(Conflict):
    code = "decision_already_made"


class NotRetryable(Conflict):
    code = "not_retryable"


class AlreadyExists(Conflict):
    code = "already_exists"


class PreconditionFailed(Conflict):
    code = "precondition_failed"


class TaskCancelled(RoadmapAgentError):
    code = "cancelled"


class RunSuperseded(RoadmapAgentError):
    """This run's claim (its ``run_epoch``) was taken over: it must stop without writing anything more."""

    code = "superseded"


class DependencyUnavailable(RoadmapAgentError):
    code = "dependency_unavailable"


class DatabaseUnavailable(DependencyUnavailable):
    code = "database_unavailable"


class CheckpointerUnavailable(DependencyUnavailable):
    code = "checkpointer_unavailable"


class BrokerUnavailable(DependencyUnavailable):
    code = "broker_unavailable"


class StorageUnavailable(DependencyUnavailable):
    code = "storage_unavailable"


class LLMUnavailable(DependencyUnavailable):
    code = "llm_unavailable"


class InvalidModelOutput(RoadmapAgentError):
    code = "invalid_model_output"


class OutOfScope(RoadmapAgentError):
    """Raised by offline intent analysis; ``uncovered`` names the subjects it recognised but cannot plan."""

    code = "out_of_scope"

    def __init__(self, message: str, uncovered: list[str] | None = None) -> None:
        super().__init__(message)
        self.uncovered = list(uncovered or [])


class ConfigurationError(RoadmapAgentError):
    code = "configuration_error"
