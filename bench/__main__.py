"""``python -m bench [name ...]``: run benchmark modules (default: all of them)."""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
import sys
from pathlib import Path

SKIP = {"harness", "__main__"}


def modules() -> list[str]:
    here = Path(__file__).parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name not in SKIP)


def main(argv: list[str]) -> int:
    chosen = argv or modules()
    for name in chosen:
        module = importlib.import_module(f"bench.{name}")
        if not hasattr(module, "main"):
            continue
        print(f"\n=== bench.{name} ===", flush=True)
        asyncio.run(module.main())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
