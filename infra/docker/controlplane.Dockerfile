# syntax=docker/dockerfile:1
# The control plane (REST API, console, agent links). Build from the repository root:
#   docker build -f infra/docker/controlplane.Dockerfile -t mmbot-controlplane .
# Runs as an unprivileged user; serves HTTP on 127.0.0.1:8080 only (nginx, sharing the
# container's network namespace, terminates TLS in front of it: see infra/compose.yaml).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 SOURCE_DATE_EPOCH=315532800
WORKDIR /src
COPY pyproject.toml README.md ./
COPY mmbot ./mmbot
COPY agent ./agent
COPY controlplane ./controlplane
COPY ui ./ui
# Every dependency as a wheel (Ansible included: the console provisions VPSs), so the final
# image needs no compiler and no index.
RUN pip wheel --wheel-dir /wheels '.[provision]'

FROM ${PYTHON_IMAGE}
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MMBOT_DATA_DIR=/var/lib/mmbot/controlplane
RUN groupadd --system --gid 10001 mmbot \
 && useradd --system --uid 10001 --gid mmbot --home-dir /var/lib/mmbot --no-create-home \
      --shell /usr/sbin/nologin mmbot \
 && install -d -o mmbot -g mmbot -m 0700 /var/lib/mmbot /var/lib/mmbot/controlplane
# ssh: Ansible reaches the VPS it provisions over SSH.
RUN apt-get update \
 && apt-get install -y --no-install-recommends openssh-client \
 && rm -rf /var/lib/apt/lists/*
# The mmbot wheel is also kept as the one the console installs on new agents.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links /wheels 'mmbot[provision]' \
 && install -d -m 0755 /opt/mmbot/agent-wheel \
 && cp /wheels/mmbot-*.whl /opt/mmbot/agent-wheel/
COPY provisioning /opt/mmbot/provisioning
ENV MMBOT_PROVISIONING_DIR=/opt/mmbot/provisioning \
    MMBOT_AGENT_WHEEL=/opt/mmbot/agent-wheel
USER mmbot:mmbot
WORKDIR /var/lib/mmbot
VOLUME ["/var/lib/mmbot/controlplane"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/api/v1/health', timeout=4)"]
ENTRYPOINT ["mmbot", "controlplane"]
CMD ["serve", "--listen", "127.0.0.1:8080"]
