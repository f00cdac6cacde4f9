"""Fixtures for connector tests: one local fake per vendor, reset before each test.

The fakes start once per session (uvicorn's shutdown takes a tick) and are
reset by the per-test fixtures, so every test starts from a clean vendor.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest

from tests.fakes.discord import FakeDiscord
from tests.fakes.google import FakeGoogle
from tests.fakes.server import serve
from tests.fakes.slack import FakeSlack
from tests.fakes.stripe import FakeStripe


@pytest.fixture(scope="session")
async def _slack_server() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    async with serve(fake.app()) as url:
        fake.base_url = url
        yield fake


@pytest.fixture
def fake_slack(_slack_server: FakeSlack) -> FakeSlack:
    _slack_server.reset()
    return _slack_server


@pytest.fixture(scope="session")
async def _stripe_server() -> AsyncIterator[FakeStripe]:
    fake = FakeStripe()
    async with serve(fake.app()) as url:
        fake.base_url = url
        yield fake


@pytest.fixture
def fake_stripe(_stripe_server: FakeStripe) -> FakeStripe:
    _stripe_server.reset()
    return _stripe_server


@pytest.fixture(scope="session")
async def _discord_server() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord()
    async with serve(fake.app()) as url:
        fake.base_url = url + "/api/v10"
        yield fake


@pytest.fixture
def fake_discord(_discord_server: FakeDiscord) -> FakeDiscord:
    _discord_server.reset()
    return _discord_server


@pytest.fixture(scope="session")
async def _google_server() -> AsyncIterator[FakeGoogle]:
    fake = FakeGoogle()
    async with serve(fake.app()) as url:
        fake.base_url = url
        yield fake


@pytest.fixture
def fake_google(_google_server: FakeGoogle) -> FakeGoogle:
    _google_server.reset()
    return _google_server


@pytest.fixture
def closed_port_url() -> str:
    """A loopback URL nobody listens on: connections are refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
