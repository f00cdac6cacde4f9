"""Lead import activity: validate and import one range of staged rows.

The workflow passes the import id and a row range; rows are read from the
staging table, so an upload of any size never enters workflow history.
"""

from __future__ import annotations

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.deps import ActivityDeps
from activities.heartbeat import heartbeating
from engine.models.leads import IMPORT_LEAD_ROWS, ImportChunkInput, ImportCounts
from store.db import Database
from store.import_repo import import_counts, import_range


class ImportActivities:
    def __init__(
        self, db: Database, *, default_phone_region: str, heartbeat_interval: float = 1.0
    ) -> None:
        self.db = db
        self.region = default_phone_region
        self.heartbeat_interval = heartbeat_interval

    @classmethod
    def from_deps(cls, deps: ActivityDeps) -> ImportActivities:
        return cls(deps.db, default_phone_region=deps.settings.default_phone_region)

    @activity.defn(name=IMPORT_LEAD_ROWS)
    async def import_lead_rows(self, data: ImportChunkInput) -> ImportCounts:
        try:
            await heartbeating(
                import_range(
                    self.db,
                    data.import_id,
                    data.user_id,
                    data.start,
                    data.limit,
                    region=self.region,
                    progress=activity.heartbeat,
                ),
                self.heartbeat_interval,
            )
        except LookupError:
            raise ApplicationError(
                f"lead import {data.import_id} not found",
                type="NotFoundError",
                non_retryable=True,
            ) from None
        found = await import_counts(self.db, data.import_id)
        return ImportCounts(total=sum(found.values()), **found)
