"""Lead storage operations: create, read, update, delete and the filtered, sorted list.

Uniqueness of (user, lower(email)) is the database's job (a unique constraint),
so concurrent creates race safely; the pre-check only gives the common case a
clean answer without relying on driver-specific integrity messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from store.db import Database, utcnow
from store.errors import ConflictError, NotFoundError
from store.lead_fields import search_text
from store.leads import Lead, LeadTag

SORT_COLUMNS = ("created_at", "updated_at", "first_name", "last_name")


async def run(session: AsyncSession, statement: Any, params: Any = None) -> Any:
    """A Core statement through sqlmodel's session (its ``execute`` is deprecated)."""
    return await session.exec(statement, params=params)


class DuplicateEmail(ConflictError):
    """The user already has a lead with this email (compared case-insensitively)."""


class LeadNotFound(NotFoundError):
    """No lead with that id belongs to the caller."""


@dataclass(frozen=True)
class LeadFilter:
    search: str | None = None
    company: str | None = None
    status: str | None = None
    tag: str | None = None


def escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def tag_rows(lead_id: str, user_id: str, tags: Sequence[str]) -> list[LeadTag]:
    keys = dict.fromkeys(t.lower()[:100] for t in tags)
    return [LeadTag(lead_id=lead_id, user_id=user_id, tag=k) for k in keys]


def filtered(user_id: str, f: LeadFilter, *, for_page: bool = False) -> Any:
    """A WHERE clause list for one user's leads under ``f`` (also used by enrichment filters).

    ``for_page``: match ``search`` in a subquery over the narrow (user, search_text, id)
    index, so a sorted page walks its sort index probing a small id set instead of reading
    every wide row on the way to a deep offset (5x faster at 100,000 leads).
    """
    clauses: list[Any] = [col(Lead.user_id) == user_id]
    if f.search:
        match = col(Lead.search_text).like(f"%{escape_like(f.search.lower())}%", escape="\\")
        if for_page:
            matching = select(col(Lead.id)).where(col(Lead.user_id) == user_id, match)
            clauses.append(col(Lead.id).in_(matching))
        else:
            clauses.append(match)
    if f.company:
        clauses.append(
            func.lower(col(Lead.company)).like(f"%{escape_like(f.company.lower())}%", escape="\\")
        )
    if f.status:
        clauses.append(col(Lead.status) == f.status)
    if f.tag:
        # Correlated EXISTS on lead_tags' primary key (lead_id, tag): one index probe per
        # lead whatever the planner's statistics say (an IN-subquery went quadratic on PG).
        clauses.append(
            select(col(LeadTag.lead_id))
            .where(col(LeadTag.lead_id) == col(Lead.id), col(LeadTag.tag) == f.tag.lower())
            .exists()
        )
    return clauses


async def _email_taken(
    session: AsyncSession, user_id: str, email_key: str, except_id: str | None = None
) -> bool:
    statement = select(col(Lead.id)).where(
        col(Lead.user_id) == user_id, col(Lead.email_key) == email_key
    )
    if except_id:
        statement = statement.where(col(Lead.id) != except_id)
    return (await run(session, statement.limit(1))).first() is not None


async def create_lead(db: Database, user_id: str, values: dict[str, Any]) -> Lead:
    lead = Lead(user_id=user_id, **values)
    lead.search_text = search_text(values)
    async with db.session() as session:
        if await _email_taken(session, user_id, lead.email_key):
            raise DuplicateEmail(lead.email)
        session.add(lead)
        session.add_all(tag_rows(lead.id, user_id, lead.tags))
        try:
            await session.commit()
        except IntegrityError as exc:
            raise DuplicateEmail(lead.email) from exc
    return lead


async def get_lead(db: Database, user_id: str, lead_id: str) -> Lead:
    async with db.session() as session:
        lead = await session.get(Lead, lead_id)
    if lead is None or lead.user_id != user_id:
        raise LeadNotFound(lead_id)
    return lead


async def leads_by_ids(db: Database, user_id: str, lead_ids: Sequence[str]) -> dict[str, Lead]:
    """The user's leads among ``lead_ids``, by id (ids of other users' leads are absent)."""
    query = select(Lead).where(col(Lead.id).in_(list(lead_ids)), col(Lead.user_id) == user_id)
    async with db.session() as session:
        rows = (await run(session, query)).scalars().all()
    return {row.id: row for row in rows}


async def update_lead(
    db: Database, user_id: str, lead_id: str, values: dict[str, Any], *, merge_custom: bool
) -> Lead:
    """Apply ``values``; ``merge_custom`` merges custom_fields keys (a null value drops one)."""
    async with db.session() as session:
        lead = await session.get(Lead, lead_id)
        if lead is None or lead.user_id != user_id:
            raise LeadNotFound(lead_id)
        if "email_key" in values and await _email_taken(
            session, user_id, values["email_key"], except_id=lead_id
        ):
            raise DuplicateEmail(values["email"])
        for key, value in values.items():
            if key == "custom_fields" and merge_custom:
                merged = {**lead.custom_fields, **value}
                value = {k: v for k, v in merged.items() if v is not None}
            setattr(lead, key, value)
        lead.search_text = search_text(lead.model_dump())
        lead.updated_at = utcnow()
        session.add(lead)
        if "tags" in values:
            await run(session, delete(LeadTag).where(col(LeadTag.lead_id) == lead_id))
            session.add_all(tag_rows(lead_id, user_id, lead.tags))
        try:
            await session.commit()
        except IntegrityError as exc:
            raise DuplicateEmail(str(values.get("email", lead.email))) from exc
        await session.refresh(lead)
    return lead


async def delete_lead(db: Database, user_id: str, lead_id: str) -> None:
    async with db.session() as session:
        lead = await session.get(Lead, lead_id)
        if lead is None or lead.user_id != user_id:
            raise LeadNotFound(lead_id)
        await run(session, delete(LeadTag).where(col(LeadTag.lead_id) == lead_id))
        await session.delete(lead)
        await session.commit()


async def list_leads(
    db: Database,
    user_id: str,
    f: LeadFilter,
    *,
    sort: str,
    order: str,
    limit: int,
    offset: int,
) -> tuple[list[Lead], int]:
    """One page and the total matching; ties broken by id so pages never overlap."""
    if sort not in SORT_COLUMNS:
        raise ValueError(f"unknown sort column {sort!r}")
    clauses = filtered(user_id, f)
    column: Any = getattr(Lead, sort)
    if sort in ("first_name", "last_name"):
        column = func.lower(column)
    direction = (lambda c: c.asc()) if order == "asc" else (lambda c: c.desc())
    page = (
        select(Lead)
        .where(*filtered(user_id, f, for_page=True))
        .order_by(direction(column), direction(col(Lead.id)))
        .limit(limit)
        .offset(offset)
    )
    count = select(func.count()).select_from(Lead)
    if f.tag:
        # Counting from the tag's side reads only the tagged leads, not every lead.
        count = count.join(
            LeadTag, and_(col(LeadTag.lead_id) == col(Lead.id), col(LeadTag.tag) == f.tag.lower())
        ).where(col(LeadTag.user_id) == user_id, *filtered(user_id, replace(f, tag=None)))
    else:
        count = count.where(*clauses)
    async with db.session() as session:
        total = int((await run(session, count)).scalar_one())
        rows = list((await run(session, page)).scalars().all())
    return rows, total


async def set_status(
    db: Database, user_id: str, lead_id: str, status: str, *, only_from: Sequence[str] | None = None
) -> bool:
    """Set a lead's status (``only_from``: only while it is one of these); True if changed.
    A lead deleted meanwhile is no error: campaigns keep running without it."""
    statement = update(Lead).where(col(Lead.id) == lead_id, col(Lead.user_id) == user_id)
    if only_from:
        statement = statement.where(col(Lead.status).in_(list(only_from)))
    async with db.engine.begin() as conn:
        result = await conn.execute(statement.values(status=status, updated_at=utcnow()))
    return bool(result.rowcount)
