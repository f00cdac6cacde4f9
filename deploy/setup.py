"""``python -m deploy.setup``: register search attributes on the configured cluster (idempotent)."""

from __future__ import annotations

import asyncio

from engine.services.temporal import connect, ensure_search_attributes
from settings import get_settings


async def main() -> None:
    client = await connect(get_settings())
    added = await ensure_search_attributes(client)
    print("search attributes added: " + (", ".join(added) if added else "none (all present)"))


if __name__ == "__main__":
    asyncio.run(main())
