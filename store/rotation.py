"""Re-encrypting every stored secret under the vault's primary key.

Every encrypted column is registered once, next to its table, with the function
that rebuilds its associated data from the row::

    rotation.register(Webhook, "secret_ciphertext",
                      lambda row: associated_data(row["user_id"], "webhook", row["id"]))

``rotate()`` walks each registered column in keyset-paginated batches of rows
whose ciphertext is not under the primary key id, decrypts with whichever key
the ring holds, encrypts under the primary, and writes back only if the row
still holds the ciphertext it read (a concurrent writer wins; its value is
already under the primary key, since every process encrypts with the first key
of its ring). Running it again finds nothing to do, so it is idempotent and safe
while the service runs. ``python -m store.rotate`` is the command.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from store.db import Database
from store.models import SealedSecret
from store.vault import Vault, VaultError, associated_data

AadFn = Callable[[Mapping[str, Any]], bytes]


@dataclass(frozen=True)
class EncryptedColumn:
    """One column holding vault ciphertexts, and how to rebuild a row's associated data."""

    table: sa.Table
    column: str
    aad: AadFn
    key: str = "id"

    @property
    def name(self) -> str:
        return f"{self.table.name}.{self.column}"


_REGISTRY: dict[str, EncryptedColumn] = {}


def register(model: Any, column: str, aad: AadFn, *, key: str = "id") -> None:
    """Declare an encrypted column (``model`` is a SQLModel table class or a ``sa.Table``)."""
    table = model if isinstance(model, sa.Table) else model.__table__
    if column not in table.c or key not in table.c:
        raise ValueError(f"{table.name} has no column {column!r} or key {key!r}")
    entry = EncryptedColumn(table, column, aad, key)
    _REGISTRY[entry.name] = entry


def registered() -> list[EncryptedColumn]:
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


def load_all() -> list[EncryptedColumn]:
    """Import every ``store`` module so each one's ``register(...)`` lines have run."""
    import store

    for info in pkgutil.iter_modules(store.__path__):
        if info.name not in ("migrate", "rotate") and not info.ispkg:
            importlib.import_module(f"store.{info.name}")
    return registered()


register(
    SealedSecret, "ciphertext", lambda row: associated_data(row["user_id"], "sealed", row["id"])
)


@dataclass
class ColumnReport:
    column: str
    rotated: int = 0
    skipped: int = 0  # changed by someone else between read and write
    failed: list[str] = field(default_factory=list)  # keys whose ciphertext does not open

    def line(self) -> str:
        text = f"{self.column}: {self.rotated} re-encrypted, {self.skipped} changed meanwhile"
        return text + (
            f", {len(self.failed)} FAILED ({', '.join(self.failed[:5])})" if self.failed else ""
        )


def _stale(entry: EncryptedColumn, vault: Vault) -> Any:
    """Rows holding a ciphertext under another key; an empty value (a secret wiped when its
    record was deleted) holds nothing to rotate."""
    col = entry.table.c[entry.column]
    prefix = f"v1.{vault.primary_kid}."
    return sa.and_(col.is_not(None), col != "", sa.not_(col.startswith(prefix, autoescape=True)))


async def count_stale(db: Database, vault: Vault, entry: EncryptedColumn) -> int:
    """Rows of ``entry`` not yet under the primary key."""
    query = sa.select(sa.func.count()).select_from(entry.table).where(_stale(entry, vault))
    async with db.engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def rotate_column(
    db: Database, vault: Vault, entry: EncryptedColumn, *, batch_size: int = 200
) -> ColumnReport:
    report = ColumnReport(entry.name)
    table, col, key = entry.table, entry.table.c[entry.column], entry.table.c[entry.key]
    last: Any = None
    while True:
        query = sa.select(table).where(_stale(entry, vault)).order_by(key).limit(batch_size)
        if last is not None:
            query = query.where(key > last)
        async with db.engine.begin() as conn:  # one short transaction per batch
            rows = (await conn.execute(query)).mappings().all()
            for row in rows:
                old = row[entry.column]
                aad = entry.aad(dict(row))
                try:
                    new = vault.encrypt(vault.decrypt(old, aad), aad)
                except VaultError:
                    report.failed.append(str(row[entry.key]))
                    continue
                result = await conn.execute(
                    sa.update(table)
                    .where(key == row[entry.key], col == old)
                    .values({entry.column: new})
                )
                if result.rowcount == 1:
                    report.rotated += 1
                else:
                    report.skipped += 1
        if len(rows) < batch_size:
            return report
        last = rows[-1][entry.key]


async def rotate(
    db: Database, vault: Vault, *, batch_size: int = 200, columns: list[str] | None = None
) -> list[ColumnReport]:
    """Re-encrypt every registered column (or the named ones) under the primary key."""
    entries = load_all()
    if columns:
        unknown = set(columns) - {e.name for e in entries}
        if unknown:
            raise ValueError(f"unknown encrypted column(s): {', '.join(sorted(unknown))}")
        entries = [e for e in entries if e.name in columns]
    return [await rotate_column(db, vault, e, batch_size=batch_size) for e in entries]
