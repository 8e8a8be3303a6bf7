# syntax=docker/dockerfile:1
# The agent, for hosts that run containers instead of the Ansible-provisioned systemd unit.
#   docker build -f infra/docker/agent.Dockerfile -t mmbot-agent .
#   docker run -d --name mmbot-agent -p 50051:50051 \
#     -v mmbot-agent:/var/lib/mmbot/agent \
#     -v /etc/mmbot/tls:/etc/mmbot/tls:ro \
#     -v /etc/mmbot/agent.token:/run/secrets/agent_token:ro \
#     --read-only --cap-drop ALL --security-opt no-new-privileges mmbot-agent
# Off loopback the agent speaks mutual TLS only: mount its certificate, key and the control
# plane's CA, and the token file (mode 0600, owned by uid 10001).
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 SOURCE_DATE_EPOCH=315532800
WORKDIR /src
COPY pyproject.toml README.md ./
COPY mmbot ./mmbot
COPY agent ./agent
COPY controlplane ./controlplane
RUN pip wheel --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MMBOT_DATA_DIR=/var/lib/mmbot/agent
RUN groupadd --system --gid 10001 mmbot \
 && useradd --system --uid 10001 --gid mmbot --home-dir /var/lib/mmbot --no-create-home \
      --shell /usr/sbin/nologin mmbot \
 && install -d -o mmbot -g mmbot -m 0700 /var/lib/mmbot /var/lib/mmbot/agent
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links /wheels mmbot
USER mmbot:mmbot
WORKDIR /var/lib/mmbot/agent
VOLUME ["/var/lib/mmbot/agent"]
EXPOSE 50051
# The port answers only to mutual TLS; a TCP connect says the server is up without a client key.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import socket; socket.create_connection(('127.0.0.1', 50051), 4).close()"]
# A clean stop cancels the bots' orders: give it time (docker stop -t 60).
STOPSIGNAL SIGTERM
ENTRYPOINT ["mmbot", "agent", "serve"]
CMD ["--listen", "0.0.0.0:50051", \
     "--tls-cert", "/etc/mmbot/tls/server.crt", \
     "--tls-key", "/etc/mmbot/tls/server.key", \
     "--client-ca", "/etc/mmbot/tls/ca.crt", \
     "--token-file", "/run/secrets/agent_token"]
