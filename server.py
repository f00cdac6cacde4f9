"""Run the API: ``python server.py`` (uvicorn; host and port from settings)."""

from __future__ import annotations

import argparse

import uvicorn

from engine.services import logs
from settings import get_settings


def main() -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=settings.api_host)
    parser.add_argument("--port", type=int, default=settings.api_port)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=settings.log_level.lower(),
        # Taskyard's formatter in every uvicorn process; its access log line per request
        # (api.observability) replaces uvicorn's, which would show the query string.
        log_config=logs.logging_config(settings.log_format, settings.log_level),
        loop="auto",  # uvloop where it is installed
        http="httptools",
        access_log=False,
    )


if __name__ == "__main__":
    main()
