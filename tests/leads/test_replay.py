"""Recorded enrichment and import histories replay against today's workflow code.

Re-record with ``TASKYARD_RECORD_HISTORIES=1 pytest tests/leads/test_enrichment_durability.py
tests/leads/test_import.py``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from engine.workflows.enrichment import EnrichmentBatchWorkflow
from engine.workflows.lead_import import LeadImportWorkflow
from tests.conftest import session_converter

HISTORIES = Path(__file__).resolve().parents[1] / "histories"
PATTERNS = ("enrichment_batch_*.json", "lead_import_*.json")


def recorded() -> list[Path]:
    return sorted(p for pattern in PATTERNS for p in HISTORIES.glob(pattern))


def test_histories_are_recorded() -> None:
    names = {p.stem for p in recorded()}
    assert {
        "enrichment_batch_continued_v1",
        "enrichment_batch_completed_v1",
        "lead_import_completed_v1",
    } <= names


@pytest.mark.parametrize("path", recorded(), ids=lambda p: p.stem)
async def test_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, await asyncio.to_thread(path.read_text))
    replayer = Replayer(
        workflows=[EnrichmentBatchWorkflow, LeadImportWorkflow],
        data_converter=session_converter(),
    )
    await replayer.replay_workflow(history)
