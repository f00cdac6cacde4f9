"""The connector catalog as the API shows it: toolkits, their tools, credential fields.

The API never imports ``connectors``; it reads the catalog here as plain, frozen
models (names, JSON Schemas, which credential fields are secret, how an end user
connects) and asks this module to validate tool params against an action's input
model. The same pydantic models the activity validates with give the schemas, so
what the catalog advertises is what a run accepts. The registry is fixed when the
process starts (a new connector is a new module), so the catalog is built once.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from connectors import oauth
from connectors.base import Connector
from connectors.enrichment import ENRICHABLE_FIELDS as _ENRICHABLE_FIELDS
from connectors.providers import DEFAULT_PROVIDERS, PROVIDERS
from connectors.registry import CONNECTORS, get_connector
from store.errors import InvalidError

AuthType = Literal["oauth2", "credentials", "none"]

# Lead fields an enrichment provider may write.
ENRICHABLE_FIELDS: tuple[str, ...] = _ENRICHABLE_FIELDS
# Providers a batch uses when it names none.
DEFAULT_ENRICHMENT_PROVIDERS: tuple[str, ...] = DEFAULT_PROVIDERS


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class CredentialField(_Frozen):
    """A field of a toolkit's credential; ``secret`` ones are only ever shown masked."""

    name: str
    secret: bool
    required: bool
    description: str


class Tool(_Frozen):
    """One action of a toolkit, by its tool name (``SLACK_SEND_MESSAGE``)."""

    name: str
    toolkit: str
    action: str
    description: str
    input_fields: tuple[str, ...]
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]


class Toolkit(_Frozen):
    """A connector as the API renders it. ``auth_type`` says how an end user connects:
    ``oauth2`` (through the platform's ``oauth_client``), ``credentials`` or ``none``."""

    type: str
    name: str
    description: str
    categories: tuple[str, ...]
    credential_type: str
    credential_fields: tuple[CredentialField, ...]
    requires_credentials: bool
    testable: bool
    auth_type: AuthType
    oauth_client: str | None
    oauth_scopes: tuple[str, ...]
    tools: tuple[Tool, ...]

    def required_fields(self) -> list[str]:
        return [f.name for f in self.credential_fields if f.required]

    def public_fields(self) -> list[str]:
        """Declared non-secret fields: shown in full in a credential's preview."""
        return [f.name for f in self.credential_fields if not f.secret]

    def missing_fields(self, data: Mapping[str, Any]) -> list[str]:
        """Required fields absent or empty in ``data``."""
        return [f for f in self.required_fields() if data.get(f) in (None, "")]

    def tool(self, action: str) -> Tool | None:
        return next((t for t in self.tools if t.action == action), None)

    def matches(self, search: str) -> bool:
        """Every word of ``search`` in the slug, name, description, categories, an action
        or a tool name."""
        return matches(
            search,
            self.type,
            self.name,
            self.description,
            *self.categories,
            *(t.action for t in self.tools),
            *(t.name for t in self.tools),
        )


def matches(search: str, *texts: str) -> bool:
    """Each word of ``search`` appears in one of ``texts`` (case, ``-`` and ``_`` aside)."""

    def norm(text: str) -> str:
        return text.lower().replace("-", " ").replace("_", " ")

    haystack = [norm(t) for t in texts]
    return all(any(word in text for text in haystack) for word in norm(search).split())


class EnrichmentProvider(_Frozen):
    """``needs_key``: calls need an API key (a credential, a sealed key or the operator's)."""

    name: str
    description: str
    needs_key: bool


class InvalidParams(InvalidError):
    """Tool params the action's input model refuses; ``details.errors`` lists each field."""

    code = "VALIDATION_ERROR"

    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__(
            "Invalid params: " + "; ".join(f"{p['field']}: {p['message']}" for p in problems),
            details={"errors": problems},
        )
        self.problems = problems


def _toolkit(connector: Connector) -> Toolkit:
    provider = oauth.provider_for(connector.type)
    if provider is not None:
        auth: AuthType = "oauth2"
    else:
        auth = "credentials" if connector.requires_credentials else "none"
    return Toolkit(
        type=connector.type,
        name=connector.name,
        description=connector.description,
        categories=connector.categories,
        credential_type=connector.credential_type,
        credential_fields=tuple(
            CredentialField(
                name=f.name, secret=f.secret, required=f.required, description=f.description
            )
            for f in connector.credential_fields
        ),
        requires_credentials=connector.requires_credentials,
        testable=connector.test is not None,
        auth_type=auth,
        oauth_client=provider.client if provider else None,
        oauth_scopes=provider.scopes if provider else (),
        tools=tuple(
            Tool(
                name=connector.tool_name(a.name),
                toolkit=connector.type,
                action=a.name,
                description=a.description,
                input_fields=tuple(a.input_model.model_fields),
                input_schema=a.input_schema(),
                output_schema=a.output_schema(),
            )
            for a in connector.actions.values()
        ),
    )


@cache
def _catalog() -> dict[str, Toolkit]:
    return {c.type: _toolkit(c) for c in CONNECTORS.values()}


def toolkits(search: str | None = None) -> list[Toolkit]:
    """Every toolkit in registry order, or those matching ``search``."""
    return [t for t in _catalog().values() if not search or t.matches(search)]


def toolkit(name: str) -> Toolkit | None:
    return _catalog().get(name)


def find_tool(tool_name: str) -> Tool | None:
    """The tool of that name, case-insensitively (``slack_send_message`` works too)."""
    wanted = tool_name.upper()
    for kit in _catalog().values():
        for tool in kit.tools:
            if tool.name == wanted:
                return tool
    return None


def _describe(exc: ValidationError) -> list[dict[str, str]]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]}
        for e in exc.errors(include_url=False, include_input=False)
    ]


def validate_params(tool: Tool, params: dict[str, Any]) -> None:
    """Check ``params`` against the action's input model; ``InvalidParams`` if it refuses."""
    connector = get_connector(tool.toolkit)
    assert connector is not None, tool.toolkit  # a Tool only comes from the registry
    try:
        connector.actions[tool.action].input_model.model_validate(params)
    except ValidationError as exc:
        raise InvalidParams(_describe(exc)) from exc


def authorization_url(
    kit: Toolkit,
    base_urls: Mapping[str, str],
    *,
    client_id: str,
    redirect_uri: str,
    state: str,
    scopes: list[str] | None = None,
    auth_url: str | None = None,
) -> str:
    """Where an end user signs in to connect an ``oauth2`` toolkit's account: the vendor's
    page, or ``auth_url`` in its place (the sandbox's consent page)."""
    provider = oauth.provider_for(kit.type)
    if provider is None:
        raise ValueError(f"{kit.type} does not connect through OAuth")
    if auth_url is not None:
        base_urls = {**base_urls, provider.auth_url_key: auth_url}
    return oauth.authorization_url(
        provider,
        base_urls,
        client_id=client_id,
        redirect_uri=redirect_uri,
        state=state,
        scopes=scopes,
    )


@cache
def _enrichment_providers() -> dict[str, EnrichmentProvider]:
    return {
        p.name: EnrichmentProvider(name=p.name, description=p.description, needs_key=p.needs_key)
        for p in PROVIDERS.values()
    }


def enrichment_providers() -> dict[str, EnrichmentProvider]:
    """The enrichment providers by name, ``local`` (the embedded default) among them."""
    return dict(_enrichment_providers())
