# syntax=docker/dockerfile:1.7
# roadmap-agent: one image for `serve` (the default command), `worker` and `migrate`.
#   docker build -t roadmap-agent:local .
#   docker run --rm -p 127.0.0.1:8000:8000 -v roadmap-data:/data roadmap-agent:local    # embedded default (SQLite)
#   docker run --rm --env-file deploy/.env roadmap-agent:local worker                  # server mode
# The whole stack: deploy/docker-compose.yml; Kubernetes: deploy/k8s/. tests/integration/test_image_recipe.py
# replays the build stage (ARG, ENV, WORKDIR, COPY, RUN only) in a fresh venv and runs the final stage's command
# and HEALTHCHECK on every CI run, so keep to those instructions there.

ARG PYTHON_IMAGE=python:3.12-slim-bookworm

# ---- build: a self-contained virtualenv with roadmap-agent and its dependencies (all wheels: no compiler) ----
FROM ${PYTHON_IMAGE} AS build
ARG VENV=/opt/roadmap-agent
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
RUN --mount=type=cache,target=/root/.cache/pip \
    python -m venv "$VENV" \
    && "$VENV/bin/python" -m pip install --quiet . \
    && "$VENV/bin/roadmap-agent" --help > /dev/null

# ---- runtime: the venv on a clean slim base, as an unprivileged user ----
FROM ${PYTHON_IMAGE}
ARG VENV=/opt/roadmap-agent
LABEL org.opencontainers.image.title="roadmap-agent" \
      org.opencontainers.image.description="Personalised learning roadmaps: serve (default), worker, migrate" \
      org.opencontainers.image.licenses="MIT"
RUN groupadd --system --gid 10001 roadmap \
    && useradd --system --uid 10001 --gid roadmap --home-dir /data --no-create-home --shell /usr/sbin/nologin roadmap \
    && install -d -o roadmap -g roadmap -m 0750 /data
COPY --from=build ${VENV} ${VENV}
# Listen on every interface inside the container; a worker serves /health/* and /metrics on the same port.
# /data holds the embedded default's SQLite files and exports when no server is configured (mount a volume).
ENV PATH="${VENV}/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ROADMAP_AGENT_HOME=/data \
    ROADMAP_AGENT_HOST=0.0.0.0 \
    ROADMAP_AGENT_PORT=8000 \
    ROADMAP_AGENT_WORKER_HEALTH_PORT=8000 \
    LOG_FORMAT=json
WORKDIR /data
USER 10001:10001
EXPOSE 8000
# SIGTERM: serve finishes in-flight requests (10 s); worker takes no new runs, lets running ones finish for
# ROADMAP_AGENT_WORKER_GRACE (20 s) and hands the rest back to the queue. Give it more than that before a kill
# (compose stop_grace_period, Kubernetes terminationGracePeriodSeconds).
STOPSIGNAL SIGTERM
# The image has no curl: the venv's Python asks /health/live (process only, no IO). `migrate` exits first.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('ROADMAP_AGENT_PORT', '8000') + '/health/live', timeout=4)"]
ENTRYPOINT ["roadmap-agent"]
CMD ["serve"]
