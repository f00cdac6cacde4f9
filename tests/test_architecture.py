"""The architecture diagram in the docs is the import-linter layers contract `make lint`
checks, so the picture cannot drift from the code."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_documented_layers_are_the_checked_layers() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    [layers] = [
        c["layers"] for c in config["tool"]["importlinter"]["contracts"] if c["id"] == "layers"
    ]
    doc = (ROOT / "docs" / "architecture.md").read_text()
    blocks = re.findall(r"```\n(.*?)```", doc, re.S)
    assert [line.strip() for line in blocks[0].splitlines() if line.strip()] == layers


def test_the_readme_names_every_layer() -> None:
    readme = (ROOT / "README.md").read_text()
    for folder in (
        "api/",
        "engine/services/",
        "engine/workflows/",
        "activities/",
        "engine/models/",
        "connectors/",
        "store/",
    ):
        assert folder in readme, folder
