"""The deployment files, checked structurally (no container runtime here): the Dockerfile,
deploy/compose.yaml, deploy/k8s/, and every ``TASKYARD_*`` name they and the docs use
being a real setting."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from deploy.cli import _parser
from deploy.devstack import temporal_args
from engine.models import queues
from settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
NAME = re.compile(r"\bTASKYARD_[A-Z0-9_]*[A-Z0-9]\b")
# The worker's probe port arrives with the observability settings (/livez, /readyz and
# metrics on workers); until they land it is the one name the files may use ahead of them.
COMMANDS = {"api", "worker", "migrate", "setup", "rotate", "users", "keys"}


def settings_names() -> set[str]:
    return {f"TASKYARD_{name.upper()}" for name in Settings.model_fields}


def unknown_names(text: str) -> set[str]:
    # TASKYARD_TEST_* are the test suite's own variables (PostgreSQL and Redis for CI).
    used = {n for n in NAME.findall(text) if not n.startswith("TASKYARD_TEST_")}
    return used - settings_names()


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return data


def k8s() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d and "kind" in d]
    return docs


def check_command(args: list[str]) -> None:
    assert args and args[0] in COMMANDS, args
    if args[0] == "worker":
        assert args[1:] in (["--queue", q] for q in queues.ALL), args
    elif args[0] not in ("api", "worker", "migrate", "rotate"):
        _parser().parse_args(args)  # the CLI accepts it


@pytest.mark.parametrize(
    "path",
    [
        "Dockerfile",
        "deploy/compose.yaml",
        "deploy/compose.env.example",
        *(str(p.relative_to(ROOT)) for p in sorted((DEPLOY / "k8s").glob("*.yaml"))),
        "docs/deploy.md",
        "README.md",
    ],
)
def test_every_taskyard_variable_is_a_setting(path: str) -> None:
    assert unknown_names((ROOT / path).read_text()) == set()


def test_the_readme_table_lists_only_real_settings() -> None:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `TASKYARD_")]
    assert len(rows) >= 20
    named = {n for row in rows for n in NAME.findall(row.split("|")[1])}
    assert named and named <= settings_names(), named - settings_names()
    assert {"TASKYARD_PAYLOAD_ENCRYPTION", "TASKYARD_TEMPORAL_UI_ORIGIN"} <= named


def test_the_image_runs_taskyard_as_a_non_root_user() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^USER 10001", text, re.M)
    assert 'ENTRYPOINT ["taskyard"]' in text and 'CMD ["api"]' in text
    stages = re.findall(r"^FROM (\S+)", text, re.M)
    assert stages and all(":" in image for image in stages)  # pinned, not :latest implied
    run_stage = text.rsplit("\nFROM ", 1)[1]
    assert "pip install" not in run_stage  # installed at build time only


def test_compose_runs_the_whole_production_layout() -> None:
    services = compose()["services"]
    ours = {n: s for n, s in services.items() if s.get("image") == "taskyard:latest"}
    workers = {n: s for n, s in ours.items() if s["command"][0] == "worker"}
    assert sorted(s["command"][2] for s in workers.values()) == sorted(queues.ALL)
    apis = [s for s in ours.values() if s["command"][0] == "api"]
    assert len(apis) == 2 and len({s["ports"][0] for s in apis}) == 2
    for name, service in ours.items():
        check_command(service["command"])
        env = service["environment"]
        assert {
            "TASKYARD_DATABASE_URL",
            "TASKYARD_MASTER_KEYS",
            "TASKYARD_TEMPORAL_ADDRESS",
        } <= set(env), name
        assert service["user"] == "10001:10001" and service["read_only"] is True
    for service in [*apis, *workers.values()]:
        probe = " ".join(service["healthcheck"]["test"])
        assert "/readyz" in probe
        port = service["environment"].get("TASKYARD_WORKER_METRICS_PORT") or "8000"
        assert f":{port}/readyz" in probe
        waits = service["depends_on"]
        assert waits["migrate"]["condition"] == "service_completed_successfully"
        assert waits["setup"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"][0] == "migrate" and services["migrate"]["restart"] == "no"
    assert services["setup"]["command"] == ["setup"]
    assert services["temporal"]["image"].startswith("temporalio/auto-setup:")
    assert services["temporal"]["environment"]["DB"] == "postgres12"
    assert services["postgresql"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    ui = services["temporal-ui"]
    assert ui["image"].startswith("temporalio/ui:")
    assert ui["environment"]["TEMPORAL_CODEC_ENDPOINT"].endswith("/codec")
    assert ui["environment"]["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"] == "true"
    for name, service in services.items():
        assert "healthcheck" in service or service.get("restart") == "no", name


def test_kubernetes_has_probes_resources_and_a_worker_per_queue() -> None:
    docs = k8s()
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    queues_served = []
    for deployment in deployments:
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        [container] = pod["containers"]
        check_command(container["args"])
        if container["args"][0] == "worker":
            queues_served.append(container["args"][2])
        refs = [next(iter(ref.values()))["name"] for ref in container["envFrom"]]
        assert refs == ["taskyard-config", "taskyard-secrets"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            assert container[probe]["httpGet"]["port"] in ports
        requests = container["resources"]["requests"]
        assert requests["cpu"] and requests["memory"] and container["resources"]["limits"]
    assert sorted(queues_served) == sorted(queues.ALL)
    assert [d["spec"]["replicas"] for d in deployments if "api" in d["metadata"]["name"]] == [2]
    jobs = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Job"}
    for name, first in (("taskyard-migrate", "migrate"), ("taskyard-setup", "setup")):
        [container] = jobs[name]["spec"]["template"]["spec"]["containers"]
        assert container["args"][0] == first
    config = {d["kind"]: d for d in docs if d["kind"] in ("ConfigMap", "Secret")}
    keys = set(config["ConfigMap"]["data"]) | set(config["Secret"]["stringData"])
    assert keys <= settings_names()
    assert {"TASKYARD_DATABASE_URL", "TASKYARD_MASTER_KEYS"} <= set(config["Secret"]["stringData"])
    values = yaml.safe_load((DEPLOY / "k8s" / "temporal-values.yaml").read_text())
    env = {e["name"]: e["value"] for e in values["web"]["additionalEnv"]}
    assert env["TEMPORAL_CODEC_ENDPOINT"].endswith("/codec")
    stores = values["server"]["config"]["persistence"]["datastores"]
    assert {s["sql"]["pluginName"] for s in stores.values()} == {"postgres12"}


def test_make_run_points_the_ui_at_the_codec(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, state_dir=tmp_path, api_port=8123)  # type: ignore[call-arg]
    args = temporal_args(settings)
    endpoint = args[args.index("--ui-codec-endpoint") + 1]
    assert endpoint == "http://127.0.0.1:8123/codec"
    assert args[args.index("--db-filename") + 1] == str(tmp_path / "temporal.db")
