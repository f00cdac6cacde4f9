"""Queries of job notes: the message a user set on a job, shown instead of the workflow's."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select

from store.db import Database, utcnow
from store.models import JobNote


async def notes_for(db: Database, job_ids: Sequence[str]) -> dict[str, JobNote]:
    """The notes of ``job_ids`` by job id (jobs without one are left out)."""
    if not job_ids:
        return {}
    async with db.session() as session:
        notes = (
            await session.exec(select(JobNote).where(col(JobNote.job_id).in_(list(job_ids))))
        ).all()
    return {n.job_id: n for n in notes}


async def set_note(db: Database, job_id: str, user_id: str, message: str) -> JobNote:
    """Set (or replace) the user's message on a job."""
    async with db.session() as session:
        note = await session.get(JobNote, job_id)
        if note is None:
            note = JobNote(job_id=job_id, user_id=user_id, message=message)
        else:
            note.message, note.updated_at = message, utcnow()
        session.add(note)
        await session.commit()
    return note
