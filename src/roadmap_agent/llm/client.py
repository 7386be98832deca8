"""The one module that talks to an OpenAI-compatible endpoint, through the official ``openai`` client.

What it adds to ``AsyncOpenAI`` (built with ``max_retries=0``: retrying is ours):

- connect and read timeouts, and a whole-call deadline (``LLM_CALL_TIMEOUT``) that no retry loop or hung
  connection outlasts: the late request is cancelled and the caller gets ``LLMUnavailable`` at once;
- bounded retries with full-jitter exponential backoff (tenacity) on what is worth retrying -- 429 (honouring
  ``Retry-After`` up to ``LLM_RETRY_MAX_DELAY``), 408, 5xx, timeouts, connection errors -- and nothing else;
- the response-format ladder: JSON schema, then JSON object, then the prompt alone. An endpoint that answers
  400/422 to a rung is asked again one rung lower, and the client remembers where it stands;
- one ``llm_call_completed`` log line per call with the tokens and, when prices are set, the cost;
- openai's exceptions mapped to ``LLMUnavailable`` with a sentence saying what to check. The API key is never
  logged and is scrubbed from any text a server sends back.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal

import openai
from openai import AsyncOpenAI, Timeout
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt, wait_random_exponential

from roadmap_agent.deadline import Deadline, DeadlineExceeded
from roadmap_agent.errors import LLMUnavailable
from roadmap_agent.logging import get_logger
from roadmap_agent.redaction import redact_url, shorten
from roadmap_agent.settings import LLMSettings

log = get_logger(__name__)

ResponseFormat = Literal["json_schema", "json_object", "none"]
LADDER: tuple[ResponseFormat, ...] = ("json_schema", "json_object", "none")
FORMAT_REJECTED = (400, 422)  # how servers refuse a response_format they do not know
RETRY_STATUSES = (408, 409, 425)  # plus 429 and every 5xx
NO_KEY = "no-key"  # local servers (Ollama, vLLM) take any key; openai insists on one
MAX_ERROR_TEXT = 200

Message = dict[str, str]


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    response_format: ResponseFormat
    prompt_tokens: int
    completion_tokens: int
    truncated: bool  # finish_reason "length": the JSON is probably cut off


class LLMClient:
    def __init__(self, settings: LLMSettings) -> None:
        self.settings = settings
        self.base_url = (settings.base_url or "").rstrip("/")
        self.target = redact_url(self.base_url)
        self._key = settings.api_key.get_secret_value() if settings.api_key else ""
        self._client = AsyncOpenAI(base_url=self.base_url, api_key=self._key or NO_KEY, max_retries=0,
                                   timeout=Timeout(settings.read_timeout, connect=settings.connect_timeout))
        auto = settings.response_format == "auto"
        self._rung = 0 if auto else LADDER.index(settings.response_format)
        self._deadline = Deadline(cancel_late=True)  # cancelling an HTTP request never waits on the server

    @classmethod
    @asynccontextmanager
    async def from_settings(cls, settings: LLMSettings) -> AsyncIterator[LLMClient]:
        client = cls(settings)
        try:
            yield client
        finally:
            await client.close()

    @property
    def response_format(self) -> ResponseFormat:
        return LADDER[self._rung]

    async def ping(self) -> None:
        """``GET /models``: the endpoint answers and accepts the key (spends no tokens)."""
        try:
            await self._client.with_options(timeout=self.settings.connect_timeout).models.list()
        except openai.OpenAIError as exc:
            raise self._unavailable(exc, "GET /models", 1) from None

    async def list_models(self) -> tuple[list[str], str | None]:
        """``GET /models`` within the read timeout: the model ids offered, and the server's ``Server`` header."""
        try:
            response = await self._client.models.with_raw_response.list()
        except openai.OpenAIError as exc:
            raise self._unavailable(exc, "GET /models", 1) from None
        page = response.parse()
        return [str(model.id) for model in page.data], response.headers.get("server")

    async def close(self) -> None:
        await self._client.close()
        await self._deadline.drain(1.0)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        price_in, price_out = self.settings.cost_per_1k_input, self.settings.cost_per_1k_output
        if price_in is None and price_out is None:
            return None
        return round(prompt_tokens / 1000 * (price_in or 0) + completion_tokens / 1000 * (price_out or 0), 6)

    async def complete(self, step: str, model: str, messages: list[Message], schema: dict[str, Any]) -> Completion:
        """The model's answer to ``messages``, asked to follow ``schema``; ``LLMUnavailable`` when it cannot."""
        seconds = self.settings.call_timeout
        try:
            return await self._deadline.run(self._complete(step, model, messages, schema), seconds)
        except DeadlineExceeded:
            log.warning("llm_call_failed", step=step, model=model, error=f"no answer within {seconds:g} s")
            raise LLMUnavailable(f"The LLM at {self.target} gave no answer for {step} within {seconds:g} s "
                                 "(LLM_CALL_TIMEOUT, retries included). Is it overloaded or hung?") from None

    async def _complete(self, step: str, model: str, messages: list[Message],
                        schema: dict[str, Any]) -> Completion:
        rung = self._rung
        while True:
            try:
                completion = await self._with_retries(step, model, messages, schema, LADDER[rung])
            except openai.APIStatusError as exc:  # 400/422 to a response format: one rung lower
                if rung == len(LADDER) - 1:
                    raise self._unavailable(exc, step, 1) from None
                log.warning("llm_response_format_refused", step=step, refused=LADDER[rung], next=LADDER[rung + 1],
                            status=exc.status_code, error=self._scrub(exc.message))
                rung += 1
                continue
            # Remembered only once a lower rung worked: a 400 for another reason (a prompt too long for the
            # model) fails on every rung and must not cost later calls their JSON schema.
            self._rung = max(self._rung, rung)
            return completion

    async def _with_retries(self, step: str, model: str, messages: list[Message], schema: dict[str, Any],
                            response_format: ResponseFormat) -> Completion:
        request: dict[str, Any] = {"model": model, "messages": messages}
        if response_format == "json_schema":
            request["response_format"] = {"type": "json_schema",
                                          "json_schema": {"name": step, "schema": schema, "strict": False}}
        elif response_format == "json_object":
            request["response_format"] = {"type": "json_object"}
        if self.settings.max_tokens:
            request["max_tokens"] = self.settings.max_tokens
        started = time.perf_counter()
        attempts = 0
        retrying = AsyncRetrying(retry=retry_if_exception(is_transient), reraise=True, wait=self._backoff,
                                 stop=stop_after_attempt(self.settings.max_retries + 1),
                                 before_sleep=lambda state: self._log_retry(step, state))
        try:
            async for attempt in retrying:
                with attempt:
                    attempts += 1
                    response = await self._client.chat.completions.create(**request)
        except openai.APIStatusError as exc:
            if exc.status_code in FORMAT_REJECTED and response_format != "none":
                raise  # the format ladder handles it
            raise self._unavailable(exc, step, attempts) from None
        except openai.OpenAIError as exc:
            raise self._unavailable(exc, step, attempts) from None
        return self._completion(step, model, response_format, response, attempts, started)

    def _completion(self, step: str, model: str, response_format: ResponseFormat, response: Any, attempts: int,
                    started: float) -> Completion:
        choice = response.choices[0] if response.choices else None
        usage = response.usage
        prompt_tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        completion_tokens = int(getattr(usage, "completion_tokens", 0) or 0)
        log.info("llm_call_completed", step=step, model=model, response_format=response_format, attempts=attempts,
                 prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                 cost=self.cost(prompt_tokens, completion_tokens),
                 duration_ms=round((time.perf_counter() - started) * 1000, 1))
        return Completion(text=(choice.message.content or "") if choice else "", model=model,
                          response_format=response_format, prompt_tokens=prompt_tokens,
                          completion_tokens=completion_tokens,
                          truncated=bool(choice and choice.finish_reason == "length"))

    def _backoff(self, state: RetryCallState) -> float:
        """Full jitter, exponential, capped; a server's Retry-After is honoured up to the same cap."""
        jittered = wait_random_exponential(multiplier=self.settings.retry_base_delay,
                                           max=self.settings.retry_max_delay)(state)
        error = state.outcome.exception() if state.outcome else None
        return min(max(jittered, retry_after(error)), self.settings.retry_max_delay)

    def _log_retry(self, step: str, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning("llm_call_retry", step=step, attempt=state.attempt_number, error=type(error).__name__,
                    status=getattr(error, "status_code", None),
                    wait_s=round(state.next_action.sleep, 2) if state.next_action else None)

    def _scrub(self, text: str) -> str:
        return shorten(text, MAX_ERROR_TEXT, (self._key,))  # redact, then cut: no key prefix survives the cut

    def _unavailable(self, exc: openai.OpenAIError, step: str, attempts: int) -> LLMUnavailable:
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        where = f"The LLM at {self.target}"
        if isinstance(exc, openai.APITimeoutError):
            message = (f"{where} did not answer {step}{tries} (LLM_READ_TIMEOUT {self.settings.read_timeout:g} s, "
                       f"LLM_CONNECT_TIMEOUT {self.settings.connect_timeout:g} s).")
        elif isinstance(exc, openai.APIConnectionError):
            cause = self._scrub(str(exc.__cause__ or exc))
            message = f"Cannot reach the LLM at {self.target}{tries} ({cause}). Is it running? Check LLM_BASE_URL."
        elif isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
            message = f"{where} rejected the API key (HTTP {exc.status_code}). Check LLM_API_KEY."
        elif isinstance(exc, openai.NotFoundError):
            message = (f"{where} answered HTTP 404 for {step}: check LLM_BASE_URL (usually ends in /v1) and the "
                       "model name (LLM_MODEL or the step's LLM_MODEL_*).")
        elif isinstance(exc, openai.APIStatusError):
            message = f"{where} answered HTTP {exc.status_code} for {step}{tries}: {self._scrub(exc.message)}"
        else:
            message = f"{where} failed on {step}: {type(exc).__name__}: {self._scrub(str(exc))}"
        log.warning("llm_call_failed", step=step, attempts=attempts, error=message)
        return LLMUnavailable(message)


def is_transient(error: BaseException) -> bool:
    """Worth another attempt: timeouts, connection errors, 429, 408/409/425 and every 5xx."""
    if isinstance(error, openai.APIConnectionError):  # APITimeoutError included
        return True
    if isinstance(error, openai.APIStatusError):
        return error.status_code == 429 or error.status_code >= 500 or error.status_code in RETRY_STATUSES
    return False


def retry_after(error: BaseException | None) -> float:
    """Seconds a 429/503 asks us to wait (``Retry-After`` in seconds), or 0."""
    if not isinstance(error, openai.APIStatusError):
        return 0.0
    value = error.response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return 0.0  # an HTTP date: rare from model servers; the jittered backoff applies
