"""The LLM probe: DNS, TCP, then ``GET /models`` through the service's own ``LLMClient`` (spends no tokens).

A warning, not a failure, when a configured model (``LLM_MODEL``, ``LLM_MODEL_*``) is not offered there.
"""

from __future__ import annotations

from roadmap_agent.infra.check.report import DependencyReport
from roadmap_agent.infra.check.steps import TCP_TIMEOUT, Concern, Limits, Steps, endpoint_of, network_steps, stops
from roadmap_agent.llm.client import LLMClient
from roadmap_agent.redaction import redact_text, redact_url
from roadmap_agent.settings import Settings

Found = tuple[list[str], str | None]  # the model ids offered, the server's name


async def check_llm(settings: Settings, limits: Limits) -> DependencyReport:
    llm = settings.llm
    base_url = (llm.base_url or "").rstrip("/")
    report = DependencyReport("llm", False, redact_text(redact_url(base_url), limits.secrets))
    endpoint = endpoint_of(base_url, 443 if base_url.startswith("https") else 80)
    steps = Steps(report, "llm", limits, address=f"{base_url}/models", host=endpoint.host,
                  port=endpoint.port, vars="LLM_BASE_URL")
    wanted = {"LLM_MODEL": llm.model, "LLM_MODEL_INTENT": llm.model_intent,
              "LLM_MODEL_CURRICULUM": llm.model_curriculum, "LLM_MODEL_EDIT": llm.model_edit}

    def concern(found: Found) -> Concern:
        missing = [f"{name} {model}" for name, model in wanted.items() if model and model not in found[0]]
        if not found[0] or not missing:
            return None
        return f"{', '.join(missing)}: not offered by this server", f"Pick one of: {', '.join(found[0][:10])}."

    probing = llm.model_copy(update={"read_timeout": limits.step_timeout,
                                     "connect_timeout": min(TCP_TIMEOUT, limits.step_timeout)})
    # Made before any step: loading the TLS context (CA bundle) costs ~0.1 s of CPU that is no server's latency.
    async with LLMClient.from_settings(probing) as client:
        with stops():
            await network_steps(steps, endpoint)
            _, report.version = await steps.run("models", client.list_models,
                                                lambda found: f"GET /models: {len(found[0])} models",
                                                concern=concern, cancel=True)
    return report
