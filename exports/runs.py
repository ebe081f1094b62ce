"""Running an export: a dataset, filtered, written as XLSX or CSV to a file (streamed from the database in
batches), and recorded in the audit log with who, the filter and the row count. The identified form needs a
reason, which is stored only encrypted."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from civicvoice.core.audit import Actor, record
from civicvoice.core.clock import utcnow
from civicvoice.core.errors import InvalidInput
from exports.datasets import Dataset, ExportFilter, Rows
from exports.spreadsheet import AboutExport, csv_chunks_async, write_xlsx_async
from privacy.audit_reasons import record_with_reason
from privacy.vault import Vault


@dataclass(frozen=True)
class ExportResult:
    rows: int
    path: Path


async def run_export(
    session: AsyncSession,
    vault: Vault,
    found: Dataset,
    filters: ExportFilter,
    *,
    kind: str,
    output: Path,
    actor: Actor,
    created_by: str,
    identified: bool = False,
    reason: str | None = None,
) -> ExportResult:
    if kind not in ("xlsx", "csv"):
        raise InvalidInput("Choose xlsx or csv.", field="format")
    if identified and not found.identifiable:
        raise InvalidInput(f"The {found.title.lower()} export has no identified form.", field="identified")
    if identified and not (reason or "").strip():
        raise InvalidInput("An identified export needs a reason; it is recorded.", field="reason")
    rows = found.rows(session, vault, filters, identified)
    if kind == "xlsx":
        about = AboutExport(
            title=found.title + (" (identified)" if identified else ""),
            created_by=created_by,
            created_at=utcnow(),
            filters=filters.describe(),
            notes=found.notes,
        )
        count = await write_xlsx_async(output, found.columns, rows, about, sheet_title=found.title[:31])
    else:
        counter = _Counted(rows)
        with output.open("wb") as handle:
            async for chunk in csv_chunks_async(found.columns, counter.rows()):
                handle.write(chunk)
        count = counter.count
    detail = {
        "dataset": found.name,
        "format": kind,
        "rows": count,
        "filter": filters.describe(),
        "identified": identified,
    }
    if identified:
        assert reason is not None
        await record_with_reason(session, vault, actor, "exports.identified", reason=reason, detail=detail)
    else:
        record(session, actor, "exports.run", detail=detail)
    return ExportResult(count, output)


class _Counted:
    """Counts the rows as they stream past, for the record of the export."""

    def __init__(self, rows: Rows) -> None:
        self._rows = rows
        self.count = 0

    async def rows(self) -> Rows:
        async for row in self._rows:
            self.count += 1
            yield row
