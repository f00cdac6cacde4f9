"""The enrichment providers, by name. ``local`` is the embedded default."""

from __future__ import annotations

from connectors import hunter, local_enrichment, pdl
from connectors.enrichment import Provider

PROVIDERS: dict[str, Provider] = {
    p.name: p for p in (local_enrichment.PROVIDER, hunter.PROVIDER, pdl.PROVIDER)
}
DEFAULT_PROVIDERS: tuple[str, ...] = ("local",)


def get_provider(name: str) -> Provider | None:
    return PROVIDERS.get(name)
