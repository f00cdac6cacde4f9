"""Run the API: ``python server.py`` (uvicorn; host and port from settings)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import uvicorn

from engine.services import logs
from settings import Settings, get_settings


def check_workers(settings: Settings, workers: int) -> str | None:
    """Refuse several API processes without Redis; a warning when the operator allows it.

    Without Redis each process keeps its own key cache (a key revoked through one process
    stays usable on the others for the cache's lifetime) and its own rate-limit counts
    (each process grants the full limit). Raises SystemExit with the remedy, or returns
    the warning to print when ``allow_workers_without_redis`` is set.
    """
    if workers <= 1 or settings.redis_url:
        return None
    if not settings.allow_workers_without_redis:
        raise SystemExit(
            f"server.py: refusing --workers {workers} without TASKYARD_REDIS_URL: every "
            "process would keep its own API key cache (a revoked key stays usable on the "
            "others for a moment) and its own rate-limit counts. Set TASKYARD_REDIS_URL, "
            "run one worker, or set TASKYARD_ALLOW_WORKERS_WITHOUT_REDIS=true to accept it."
        )
    return (
        f"WARNING: {workers} API processes without TASKYARD_REDIS_URL "
        "(TASKYARD_ALLOW_WORKERS_WITHOUT_REDIS is set): rate limits are counted per process, "
        f"so a key gets up to {workers}x its limit. The key cache is turned off so a "
        "revocation is seen by every process at once."
    )


def main(argv: Sequence[str] | None = None) -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=settings.api_host)
    parser.add_argument("--port", type=int, default=settings.api_port)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    warning = check_workers(settings, args.workers)
    if warning:
        print(f"\n  {warning}\n", file=sys.stderr, flush=True)
        os.environ["TASKYARD_AUTH_CACHE_SECONDS"] = "0"  # the worker processes read it
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
