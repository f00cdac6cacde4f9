"""Run the API: ``python server.py`` (uvicorn; host and port from settings)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import uvicorn

from settings import get_settings


def main(argv: Sequence[str] | None = None) -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default=settings.api_host)
    parser.add_argument("--port", type=int, default=settings.api_port)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="info",
        loop="auto",  # uvloop where it is installed
        http="httptools",
        access_log=False,
    )


if __name__ == "__main__":
    main()
