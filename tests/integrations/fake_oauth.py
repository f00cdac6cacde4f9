"""A Google-style OAuth 2.0 provider for the connect → callback → refresh path.

Speaks the wire format of https://developers.google.com/identity/protocols/oauth2/web-server:
``GET /o/oauth2/v2/auth`` checks the client, redirect URI, scopes and state and
— the user having clicked "Allow" — redirects to ``redirect_uri?code=…&state=…``
(``?error=access_denied`` when told to refuse); ``POST /token`` takes
form-encoded ``authorization_code`` and ``refresh_token`` grants and answers
``{"access_token", "expires_in", "refresh_token"?, "scope", "token_type"}`` or
``{"error": "invalid_grant" | "invalid_client" | ..., "error_description"}`` with 400/401.
Codes are single-use and bound to their redirect URI, as Google's are.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.fakes.server import Recorded, record

CLIENT_ID = "4242-taskyard-platform.apps.googleusercontent.com"
CLIENT_SECRET = "GOCSPX-platform-" + "s3cr3t" * 3


@dataclass
class Grant:
    redirect_uri: str
    scope: str
    used: bool = False


@dataclass
class FakeOAuthProvider:
    base_url: str = ""
    expires_in: int = 3600
    deny_next: bool = False
    codes: dict[str, Grant] = field(default_factory=dict)
    refresh_tokens: set[str] = field(default_factory=set)
    access_tokens: set[str] = field(default_factory=set)
    requests: list[Recorded] = field(default_factory=list)
    queued: list[Response] = field(default_factory=list)
    # Called with each access token issued, so a resource server fake accepts it.
    on_access_token: Callable[[str], None] = lambda _token: None
    _n: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def auth_url(self) -> str:
        return self.base_url + "/o/oauth2/v2/auth"

    @property
    def token_url(self) -> str:
        return self.base_url + "/token"

    def token_calls(self, grant_type: str | None = None) -> list[Recorded]:
        return [
            r
            for r in self.requests
            if r.path == "/token" and (grant_type is None or r.form.get("grant_type") == grant_type)
        ]

    def revoke_all(self) -> None:
        """The user removed the app's access in their Google account."""
        self.refresh_tokens.clear()

    async def authorize(self, request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") != CLIENT_ID:
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        if q.get("response_type") != "code" or not q.get("redirect_uri") or not q.get("scope"):
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        redirect_uri = q["redirect_uri"]
        state = {"state": q["state"]} if "state" in q else {}
        if self.deny_next:
            self.deny_next = False
            return RedirectResponse(
                redirect_uri + "?" + urlencode({"error": "access_denied", **state}), 302
            )
        code = f"4/0Ab-code-{next(self._n)}-{secrets.token_urlsafe(12)}"
        self.codes[code] = Grant(redirect_uri=redirect_uri, scope=q["scope"])
        return RedirectResponse(redirect_uri + "?" + urlencode({"code": code, **state}), 302)

    def _issue(self, scope: str, *, with_refresh: bool) -> dict[str, object]:
        access = f"ya29.fake-{next(self._n)}-{secrets.token_urlsafe(16)}"
        self.access_tokens.add(access)
        self.on_access_token(access)
        body: dict[str, object] = {
            "access_token": access,
            "expires_in": self.expires_in,
            "scope": scope,
            "token_type": "Bearer",
        }
        if with_refresh:
            refresh = f"1//0fake-refresh-{next(self._n)}-{secrets.token_urlsafe(16)}"
            self.refresh_tokens.add(refresh)
            body["refresh_token"] = refresh
        return body

    async def token(self, request: Request) -> Response:
        rec = await record(request)
        self.requests.append(rec)
        if self.queued:
            return self.queued.pop(0)
        form = rec.form
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return JSONResponse(
                {"error": "invalid_client", "error_description": "The OAuth client was not found."},
                401,
            )
        grant = form.get("grant_type")
        if grant == "authorization_code":
            issued = self.codes.get(form.get("code", ""))
            if issued is None or issued.used:
                return _invalid_grant("Malformed auth code.")
            if issued.redirect_uri != form.get("redirect_uri"):
                return JSONResponse({"error": "redirect_uri_mismatch"}, 400)
            issued.used = True
            return JSONResponse(self._issue(issued.scope, with_refresh=True))
        if grant == "refresh_token":
            if form.get("refresh_token") not in self.refresh_tokens:
                return _invalid_grant("Token has been expired or revoked.")
            return JSONResponse(self._issue("gmail", with_refresh=False))
        return JSONResponse({"error": "unsupported_grant_type"}, 400)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/o/oauth2/v2/auth", self.authorize, methods=["GET"]),
                Route("/token", self.token, methods=["POST"]),
            ]
        )


def _invalid_grant(description: str) -> JSONResponse:
    return JSONResponse({"error": "invalid_grant", "error_description": description}, 400)
