"""Local servers speaking LinkedIn's and Unipile's wire formats (their real servers cannot
exist here). They keep just enough state to behave like the real thing: codes work once,
tokens are checked, invitations can be withdrawn, limits and checkpoints can be armed."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.fakes.server import Recorded, record

CLIENT_ID = "li-client"
CLIENT_SECRET = "li-secret"
UNIPILE_KEY = "unipile-key"
ACCOUNT = "acc_member1"
WEBHOOK_SECRET = "unipile-webhook-" + "s3cr3t" * 4  # the Unipile-Auth header's value


@dataclass
class FakeLinkedIn:
    """OAuth (authorize + accessToken), OpenID userinfo and the Posts API."""

    base_url: str = ""
    codes: dict[str, str] = field(default_factory=dict)  # code → redirect_uri
    tokens: set[str] = field(default_factory=set)
    posts: list[dict[str, Any]] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    member: dict[str, Any] = field(
        default_factory=lambda: {
            "sub": "782bbtaQ",
            "name": "Jane Member",
            "given_name": "Jane",
            "family_name": "Member",
            "picture": "https://media.example/jane.jpg",
            "locale": {"country": "US", "language": "en"},
            "email": "jane@example.com",
            "email_verified": True,
        }
    )

    def app(self) -> Starlette:
        async def authorize(request: Request) -> Response:
            q = request.query_params
            if q.get("client_id") != CLIENT_ID or q.get("response_type") != "code":
                return JSONResponse({"error": "invalid_request"}, status_code=400)
            code = secrets.token_urlsafe(12)
            self.codes[code] = q["redirect_uri"]
            query = urlencode({"code": code, "state": q["state"]})
            return RedirectResponse(f"{q['redirect_uri']}?{query}", status_code=302)

        async def access_token(request: Request) -> Response:
            rec = await record(request)
            self.requests.append(rec)
            form = rec.form
            if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
                return JSONResponse(
                    {
                        "error": "invalid_client",
                        "error_description": "Client authentication failed",
                    },
                    status_code=401,
                )
            redirect = self.codes.pop(form.get("code", ""), None)
            if form.get("grant_type") != "authorization_code" or redirect is None:
                return JSONResponse(
                    {
                        "error": "invalid_grant",
                        "error_description": "Unable to retrieve access token: authorization code "
                        "not found",
                    },
                    status_code=400,
                )
            if redirect != form.get("redirect_uri"):
                return JSONResponse({"error": "invalid_redirect_uri"}, status_code=400)
            token = "AQV" + secrets.token_urlsafe(24)
            self.tokens.add(token)
            return JSONResponse(
                {
                    "access_token": token,
                    "expires_in": 5183999,
                    "scope": "email,openid,profile",
                    "token_type": "Bearer",
                    "id_token": "eyJ.fake.jwt",
                }
            )

        def authorized(request: Request) -> bool:
            header = request.headers.get("authorization", "")
            return header.startswith("Bearer ") and header[7:] in self.tokens

        async def userinfo(request: Request) -> Response:
            if not authorized(request):
                return JSONResponse(
                    {
                        "serviceErrorCode": 65600,
                        "code": "INVALID_ACCESS_TOKEN",
                        "message": "Invalid access token",
                        "status": 401,
                    },
                    status_code=401,
                )
            return JSONResponse(self.member)

        async def posts(request: Request) -> Response:
            rec = await record(request)
            self.requests.append(rec)
            if not authorized(request):
                return JSONResponse(
                    {"status": 401, "message": "Invalid access token"}, status_code=401
                )
            if rec.headers.get("x-restli-protocol-version") != "2.0.0" or not rec.headers.get(
                "linkedin-version"
            ):
                return JSONResponse(
                    {"status": 426, "message": "version header missing"}, status_code=426
                )
            self.posts.append(rec.json)
            urn = f"urn:li:share:{7_100_000_000_000_000_000 + len(self.posts)}"
            return Response(status_code=201, headers={"x-restli-id": urn})

        return Starlette(
            routes=[
                Route("/oauth/v2/authorization", authorize),
                Route("/oauth/v2/accessToken", access_token, methods=["POST"]),
                Route("/v2/userinfo", userinfo),
                Route("/rest/posts", posts, methods=["POST"]),
            ]
        )


def problem(
    status: int, kind: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {
            "object": "Error",
            "status": status,
            "type": kind,
            "title": kind.rsplit("/", 1)[-1],
            "detail": detail,
            "req_id": secrets.token_hex(6),
        },
        status_code=status,
        headers=headers,
    )


EXPIRES_ON = re.compile(r"^[1-2]\d{3}-[0-1]\d-[0-3]\dT\d{2}:\d{2}:\d{2}\.\d{3}Z$")


@dataclass
class FakeUnipile:
    """The Unipile v2 routes LinkedIn automation uses, over a small in-memory network, and
    the v1 hosted sign-in: ``POST /api/v1/hosted/accounts/link`` answers a wizard URL;
    opening it in a browser signs a member in (a new account, or ``next_accounts[0]``),
    calls the link's ``notify_url`` as Unipile's servers do, then redirects to the
    link's success (or, when the notify was refused, failure) URL."""

    base_url: str = ""
    accounts: set[str] = field(default_factory=lambda: {ACCOUNT})
    hosted: dict[str, dict[str, Any]] = field(default_factory=dict)  # wizard token → request
    links: list[dict[str, Any]] = field(default_factory=list)  # every link request, in order
    next_accounts: list[str] = field(default_factory=list)
    notified: list[tuple[int, dict[str, Any], Any]] = field(default_factory=list)
    # How Unipile's servers reach a notify URL (tests serve the API on another port).
    reach: Callable[[str], str] = field(default=lambda url: url)
    members: dict[str, dict[str, Any]] = field(default_factory=dict)  # public id → profile
    invitations: dict[str, dict[str, Any]] = field(default_factory=dict)  # id → request
    messages: list[dict[str, Any]] = field(default_factory=list)
    reactions: list[dict[str, Any]] = field(default_factory=list)
    visits: list[str] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    arm: str | None = None  # "limit" or "checkpoint": the next write fails that way

    def add_member(self, public_id: str, distance: str = "SECOND_DEGREE") -> dict[str, Any]:
        member = {
            "object": "UserProfile",
            "id": "ACoAA" + secrets.token_hex(6),
            "type": "individual",
            "public_identifier": public_id,
            "display_name": public_id.replace("-", " ").title(),
            "provider": "linkedin",
            "is_following": False,
            "is_blocked": False,
            "specifics": {
                "network_distance": distance,
                "notify_visit_token": "nvt_" + secrets.token_hex(4),
            },
        }
        self.members[public_id] = member
        return member

    def by_id(self, user_id: str) -> dict[str, Any] | None:
        return next((m for m in self.members.values() if m["id"] == user_id), None)

    def app(self) -> Starlette:
        async def guard(request: Request) -> Response | None:
            self.requests.append(await record(request))
            if request.headers.get("x-api-key") != UNIPILE_KEY:
                return problem(401, "api/unauthorized", "Missing or wrong X-API-KEY")
            if request.path_params["account"] not in self.accounts:
                return problem(404, "api/resource_not_found", "Account not found")
            return None

        async def armed() -> Response | None:
            kind, self.arm = self.arm, None
            if kind == "limit":
                return problem(
                    429,
                    "provider/too_many_requests",
                    "LinkedIn weekly invitation limit reached",
                    headers={"Retry-After": "7200"},
                )
            if kind == "checkpoint":
                return problem(401, "provider/checkpoint_error", "LinkedIn requires a verification")
            return None

        async def profile(request: Request) -> Response:
            if (denied := await guard(request)) is not None:
                return denied
            ident = request.path_params["user"]
            if ident == "me":
                return JSONResponse(
                    {
                        "object": "UserProfile",
                        "id": "ACoAAme",
                        "public_identifier": "jane-member",
                        "profile_url": "https://www.linkedin.com/in/jane-member",
                        "display_name": "Jane Member",
                        "relations_count": 1247,
                    }
                )
            member = self.members.get(ident) or self.by_id(ident)
            if member is None:
                return problem(404, "api/resource_not_found", "User not found")
            pending = next(
                (i for i in self.invitations.values() if i["user_id"] == member["id"]), None
            )
            body = {**member, "specifics": dict(member["specifics"])}
            if pending:
                body["specifics"]["relation_request"] = {
                    "object": "RelationRequest",
                    "type": "sent",
                    "id": pending["id"],
                }
                body["specifics"]["relation_request_status"] = "PENDING"
            return JSONResponse(body)

        async def invite(request: Request) -> Response:
            if (denied := await guard(request)) is not None:
                return denied
            if (failed := await armed()) is not None:
                return failed
            body = await request.json()
            if self.by_id(body.get("user_id", "")) is None:
                return problem(404, "api/resource_not_found", "User not found")
            if len(body.get("message") or "") > 300:
                return problem(400, "api/invalid_parameters", "message is too long")
            if any(i["user_id"] == body["user_id"] for i in self.invitations.values()):
                return problem(422, "provider/already_invited_recently", "Already invited")
            inv = {
                "object": "RelationRequest",
                "type": "sent",
                "id": "inv_" + secrets.token_hex(5),
                "user_id": body["user_id"],
                "message": body.get("message"),
            }
            self.invitations[inv["id"]] = inv
            return JSONResponse({k: v for k, v in inv.items() if k != "user_id"}, status_code=201)

        async def cancel(request: Request) -> Response:
            if (denied := await guard(request)) is not None:
                return denied
            inv = self.invitations.pop(request.path_params["request"], None)
            if inv is None:
                return problem(404, "api/resource_not_found", "Relation request not found")
            return JSONResponse({"object": "RelationRequestCancelled"})

        async def follow(request: Request) -> Response:
            if (denied := await guard(request)) is not None:
                return denied
            member = self.by_id(request.path_params["user"])
            if member is None:
                return problem(404, "api/resource_not_found", "User not found")
            member["is_following"] = True
            return JSONResponse({"object": "UserFollowed"})

        async def visit(request: Request) -> Response:
            if (denied := await guard(request)) is not None:
                return denied
            self.visits.append(request.query_params["token"])
            return JSONResponse({"object": "ProfileVisitReported"})

        async def chat(request: Request) -> Response:
            if (denied := await guard(request)) is not None:
                return denied
            if (failed := await armed()) is not None:
                return failed
            body = await request.json()
            if self.by_id(str(body.get("users_ids"))) is None or not body.get("text"):
                return problem(400, "api/invalid_parameters", "users_ids and text are required")
            self.messages.append(body)
            return JSONResponse(
                {
                    "object": "ChatStarted",
                    "chat_id": "chat_1",
                    "message_id": f"msg_{len(self.messages)}",
                },
                status_code=201,
            )

        async def react(request: Request) -> Response:
            if (denied := await guard(request)) is not None:
                return denied
            body = await request.json()
            self.reactions.append({"post": request.path_params["post"], **body})
            return JSONResponse({"object": "ReactionAdded"})

        async def hosted_link(request: Request) -> Response:
            self.requests.append(await record(request))
            if request.headers.get("x-api-key") != UNIPILE_KEY:
                return problem(401, "api/unauthorized", "Missing or wrong X-API-KEY")
            body = await request.json()
            valid = (
                body.get("type") == "create"
                and body.get("providers") == ["LINKEDIN"]
                and body.get("api_url") == self.base_url
                and EXPIRES_ON.match(str(body.get("expiresOn")))
                and body.get("name")
                and str(body.get("notify_url", "")).startswith("http")
            )
            if not valid:
                return problem(400, "api/invalid_parameters", "invalid hosted link request")
            token = secrets.token_urlsafe(8)
            self.hosted[token] = body
            self.links.append(body)
            url = f"{self.base_url}/hosted/{token}"
            return JSONResponse({"object": "HostedAuthURL", "url": url}, status_code=201)

        async def wizard(request: Request) -> Response:
            link = self.hosted.pop(request.path_params["token"], None)
            if link is None:
                return problem(404, "api/resource_not_found", "This link has expired")
            account = (
                self.next_accounts.pop(0) if self.next_accounts else "acc_" + secrets.token_hex(6)
            )
            self.accounts.add(account)
            notice = {"status": "CREATION_SUCCESS", "account_id": account, "name": link["name"]}
            async with httpx.AsyncClient(timeout=30) as servers:
                answer = await servers.post(self.reach(link["notify_url"]), json=notice)
            self.notified.append((answer.status_code, notice, answer.json()))
            target = link.get(
                "success_redirect_url" if answer.is_success else "failure_redirect_url"
            )
            if target:
                return RedirectResponse(target, status_code=302)
            return JSONResponse({"object": "HostedAuthDone", "ok": answer.is_success})

        prefix = "/v2/{account}"
        return Starlette(
            routes=[
                Route("/api/v1/hosted/accounts/link", hosted_link, methods=["POST"]),
                Route("/hosted/{token}", wizard),
                Route(prefix + "/users/me/relation-requests", invite, methods=["POST"]),
                Route(
                    prefix + "/users/me/relation-requests/{request}/cancel",
                    cancel,
                    methods=["POST"],
                ),
                Route(prefix + "/users/me/follow/{user}", follow, methods=["POST"]),
                Route(prefix + "/users/visit-profile", visit, methods=["POST"]),
                Route(prefix + "/users/{user}", profile),
                Route(prefix + "/chats/send", chat, methods=["POST"]),
                Route(prefix + "/posts/{post}/reactions", react, methods=["POST"]),
            ]
        )
