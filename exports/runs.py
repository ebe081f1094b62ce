"""Running an export: a dataset, filtered, written as XLSX or CSV (streamed from the database in batches), and
recorded: a row in `export_run` (who, the dataset, the filter, the row count) and an entry in the audit log.
The identified form needs a reason, which is stored only encrypted.

Three ways out, one writer: the command line writes a file; a small export from the staff pages streams to the
browser as it is written (XLSX through a temporary file, as its zip is complete only when saved); a large one
is built by a background job into a file encrypted under a key of its own, downloaded from the export's page
until it expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from civicvoice.core.audit import Actor, record
from civicvoice.core.auth import StaffUser
from civicvoice.core.clock import utcnow
from civicvoice.core.db import read_only, unit_of_work
from civicvoice.core.errors import InvalidInput, NotFound
from civicvoice.core.jobs import enqueue
from civicvoice.core.settings import Settings
from exports.counts import expected_rows
from exports.datasets import Dataset, ExportFilter, Rows, dataset
from exports.models import ExportRun, ExportState
from exports.sealed import new_file_key, open_file_key, seal, unseal
from exports.spreadsheet import AboutExport, csv_chunks_async, write_xlsx_async
from privacy.audit_reasons import record_with_reason
from privacy.crypto import WrappedKey
from privacy.vault import Vault

BUILD_JOB = "exports.build"
FORMATS = ("xlsx", "csv")
# More rows than this are built in the background; fewer are sent at once.
DIRECT_ROWS = 20_000
# How long a background export's file can be downloaded.
FILE_LIFETIME = timedelta(hours=24)
# The export's page shows the rows written so far, updated this often.
PROGRESS_EVERY_ROWS = 5_000


@dataclass(frozen=True)
class ExportResult:
    rows: int
    path: Path


def check_request(found: Dataset, kind: str, identified: bool, reason: str | None) -> None:
    if kind not in FORMATS:
        raise InvalidInput("Choose xlsx or csv.", field="format")
    if identified and not found.identifiable:
        raise InvalidInput(f"The {found.title.lower()} export has no identified form.", field="identified")
    if identified and not (reason or "").strip():
        raise InvalidInput("An identified export needs a reason; it is recorded.", field="reason")


def _about(found: Dataset, filters: ExportFilter, identified: bool, created_by: str, now: datetime) -> AboutExport:
    return AboutExport(
        title=found.title + (" (identified)" if identified else ""),
        created_by=created_by,
        created_at=now,
        filters=filters.describe(),
        notes=found.notes,
    )


def filters_of(run: ExportRun) -> ExportFilter:
    return ExportFilter(run.date_from, run.date_to, run.service, run.channel)


async def _audit(
    session: AsyncSession,
    vault: Vault,
    actor: Actor,
    run: ExportRun,
    found: Dataset,
    filters: ExportFilter,
    reason: str | None,
    rows: int | None,
) -> None:
    detail: dict[str, Any] = {
        "export": str(run.id),
        "dataset": found.name,
        "format": run.format,
        "filter": filters.describe(),
        "identified": run.identified,
    }
    if rows is not None:
        detail["rows"] = rows
    else:
        detail["expected_rows"] = run.expected_rows
    if run.identified:
        assert reason is not None
        await record_with_reason(
            session,
            vault,
            actor,
            "exports.identified",
            reason=reason,
            target_kind="export",
            target_id=run.id,
            detail=detail,
        )
    else:
        record(session, actor, "exports.run", target_kind="export", target_id=run.id, detail=detail)


def _new_run(found: Dataset, filters: ExportFilter, kind: str, actor: Actor, identified: bool) -> ExportRun:
    return ExportRun(
        dataset=found.name,
        format=kind,
        identified=identified,
        date_from=filters.date_from,
        date_to=filters.date_to,
        service=filters.service,
        channel=filters.channel,
        created_by=actor.id if actor.kind == "staff" else None,
        created_at=utcnow(),
        state=ExportState.streamed,
        rows=0,
    )


# --- the command line: a file, written here and now ------------------------------------------------------


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
    check_request(found, kind, identified, reason)
    run = _new_run(found, filters, kind, actor, identified)
    about = _about(found, filters, identified, created_by, run.created_at)
    with output.open("wb") as handle:
        count = await write_export(session, vault, found, filters, identified, kind, handle, about)
    run.rows = count
    run.finished_at = utcnow()
    session.add(run)
    await _audit(session, vault, actor, run, found, filters, reason, count)
    return ExportResult(count, output)


async def write_export(
    session: AsyncSession,
    vault: Vault,
    found: Dataset,
    filters: ExportFilter,
    identified: bool,
    kind: str,
    handle: IO[bytes],
    about: AboutExport,
    progress: Callable[[int], Coroutine[Any, Any, None]] | None = None,
) -> int:
    """The one writer: the dataset's rows, as XLSX or CSV, into ``handle``; returns the number of rows."""
    counter = _Counted(found.rows(session, vault, filters, identified), progress)
    if kind == "xlsx":
        return await write_xlsx_async(handle, found.columns, counter.rows(), about, sheet_title=found.title[:31])
    async for chunk in csv_chunks_async(found.columns, counter.rows()):
        handle.write(chunk)
    return counter.count


class _Counted:
    """Counts the rows as they stream past, for the record of the export and its progress."""

    def __init__(self, rows: Rows, progress: Callable[[int], Coroutine[Any, Any, None]] | None = None) -> None:
        self._rows = rows
        self._progress = progress
        self.count = 0

    async def rows(self) -> Rows:
        async for row in self._rows:
            self.count += 1
            if self._progress is not None and self.count % PROGRESS_EVERY_ROWS == 0:
                await self._progress(self.count)
            yield row


# --- the staff pages: asked for in a request, then streamed or built in the background ------------------


@dataclass(frozen=True)
class Started:
    run: ExportRun
    background: bool


async def start_export(
    session: AsyncSession,
    vault: Vault,
    name: str,
    filters: ExportFilter,
    *,
    kind: str,
    actor: Actor,
    identified: bool = False,
    reason: str | None = None,
) -> Started:
    """Record the export in the caller's transaction (and audit it, before any data leaves); a large one is
    queued for the background job, whose payload is the export's id (the filter lives in its row)."""
    found = dataset(name)
    check_request(found, kind, identified, reason)
    if filters.date_from and filters.date_to and filters.date_to < filters.date_from:
        raise InvalidInput("The 'to' date is before the 'from' date.", field="to")
    run = _new_run(found, filters, kind, actor, identified)
    run.expected_rows = await expected_rows(session, found.name, filters)
    background = run.expected_rows > DIRECT_ROWS
    run.state = ExportState.queued if background else ExportState.streamed
    session.add(run)
    await session.flush()
    await _audit(session, vault, actor, run, found, filters, reason, None)
    if background:
        await enqueue(session, BUILD_JOB, {"export_id": str(run.id)}, key=f"{BUILD_JOB}:{run.id}")
    return Started(run, background)


async def _created_by(session: AsyncSession, run: ExportRun) -> str:
    if run.created_by is None:
        return "command line"
    user = await session.get(StaffUser, uuid.UUID(run.created_by))
    return user.display_name if user is not None else "a former member of staff"


async def stream_export(
    sessions: async_sessionmaker[AsyncSession], vault: Vault, export_id: uuid.UUID
) -> AsyncIterator[bytes]:
    """A small export's bytes as they are written (CSV) or once the workbook is saved (XLSX), read in a session
    of its own (the request's is closed once the answer starts); the row count is recorded at the end."""
    async with sessions() as session:
        await read_only(session)
        run = await session.get(ExportRun, export_id)
        if run is None:
            raise NotFound("No such export.")
        found = dataset(run.dataset)
        filters = filters_of(run)
        counter = _Counted(found.rows(session, vault, filters, run.identified))
        if run.format == "csv":
            async for chunk in csv_chunks_async(found.columns, counter.rows()):
                yield chunk
            count = counter.count
        else:
            about = _about(found, filters, run.identified, await _created_by(session, run), run.created_at)
            with tempfile.TemporaryFile(prefix="civicvoice-export-") as spool:
                count = await write_xlsx_async(
                    spool, found.columns, counter.rows(), about, sheet_title=found.title[:31]
                )
                spool.seek(0)
                while chunk := await asyncio.to_thread(spool.read, 64 * 1024):
                    yield chunk
    async with unit_of_work(sessions) as session:
        await session.execute(
            update(ExportRun).where(ExportRun.id == export_id).values(rows=count, finished_at=utcnow())
        )


def export_dir(settings: Settings) -> Path:
    return settings.data_dir / "exports"


async def build_export(
    sessions: async_sessionmaker[AsyncSession],
    vault: Vault,
    settings: Settings,
    export_id: uuid.UUID,
) -> None:
    """The background job's work: write the export to a temporary file, reporting progress, then seal it into
    the export store under a fresh key and mark it ready. A run already finished is left alone."""
    async with unit_of_work(sessions) as session:
        run = await session.get(ExportRun, export_id)
        if run is None or run.state not in (ExportState.queued, ExportState.running):
            return
        run.state = ExportState.running
        run.rows = 0
        kind, identified = run.format, run.identified
        found = dataset(run.dataset)
        filters = filters_of(run)
        about = _about(found, filters, identified, await _created_by(session, run), run.created_at)

    async def progress(count: int) -> None:
        async with unit_of_work(sessions) as session:
            await session.execute(update(ExportRun).where(ExportRun.id == export_id).values(rows=count))

    directory = export_dir(settings)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    file_name = f"{export_id}.cvx"
    with tempfile.TemporaryFile(prefix="civicvoice-export-") as spool:
        async with sessions() as session:
            await read_only(session)
            count = await write_export(session, vault, found, filters, identified, kind, spool, about, progress)
        spool.seek(0)
        key, wrapped = new_file_key(vault.keyring, export_id)
        size = await asyncio.to_thread(_seal_into, spool, directory / file_name, key, export_id)
    now = utcnow()
    async with unit_of_work(sessions) as session:
        await session.execute(
            update(ExportRun)
            .where(ExportRun.id == export_id)
            .values(
                state=ExportState.ready,
                rows=count,
                finished_at=now,
                expires_at=now + FILE_LIFETIME,
                file_name=file_name,
                file_bytes=size,
                file_key_version=wrapped.kek_version,
                file_key=wrapped.blob,
            )
        )


def _seal_into(spool: IO[bytes], path: Path, key: bytes, export_id: uuid.UUID) -> int:
    """Seal the written export into the store: under a temporary name first, so no half file is ever served."""
    partial = path.with_name(path.name + ".part")
    try:
        with open(partial, "wb") as target:
            size = seal(spool, target, key, export_id)
            target.flush()
            os.fsync(target.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return size


async def mark_failed(session: AsyncSession, export_id: uuid.UUID, problem: str) -> None:
    await session.execute(
        update(ExportRun)
        .where(ExportRun.id == export_id, ExportRun.state.in_([ExportState.queued, ExportState.running]))
        .values(state=ExportState.failed, finished_at=utcnow(), problem=problem[:300])
    )


async def find_own_export(session: AsyncSession, export_id: uuid.UUID, actor: Actor) -> ExportRun:
    """An export, for the member of staff who asked for it and no one else (its rows are theirs to see)."""
    run = await session.get(ExportRun, export_id)
    if run is None or run.created_by != actor.id:
        raise NotFound("No such export, or it is someone else's.")
    return run


async def recent_exports(session: AsyncSession, actor: Actor, limit: int = 10) -> list[ExportRun]:
    return list(
        (
            await session.scalars(
                select(ExportRun)
                .where(ExportRun.created_by == actor.id)
                .order_by(ExportRun.created_at.desc(), ExportRun.id.desc())
                .limit(limit)
            )
        ).all()
    )


class ExportGone(NotFound):
    """The export's file has expired (or never was): the person asks for it again."""

    slug = "export-gone"
    title = "Export no longer available"
    status = 410


def open_export(vault: Vault, settings: Settings, run: ExportRun) -> AsyncIterator[bytes]:
    """The plaintext of a ready export's file, a chunk at a time, decrypted as it is sent."""
    if run.state != ExportState.ready or run.file_key is None or run.file_name is None or run.file_key_version is None:
        raise ExportGone("This export is not ready, or its file has expired; ask for it again.")
    if run.expires_at is not None and run.expires_at <= utcnow():
        raise ExportGone("This export's file has expired; ask for it again.")
    path = export_dir(settings) / run.file_name
    if not path.exists():
        raise ExportGone("This export's file is no longer kept; ask for it again.")
    key = open_file_key(vault.keyring, run.id, WrappedKey(run.file_key_version, run.file_key))
    export_id = run.id

    async def chunks() -> AsyncIterator[bytes]:
        source = await asyncio.to_thread(path.open, "rb")
        try:
            plain = unseal(source, key, export_id)
            while (chunk := await asyncio.to_thread(next, plain, None)) is not None:
                yield chunk
        finally:
            source.close()

    return chunks()


async def delete_expired(session: AsyncSession, settings: Settings, *, now: datetime | None = None) -> int:
    """Files past their time go, with their keys; the record of the export stays. Returns how many went."""
    now = now or utcnow()
    expired = (
        await session.scalars(
            select(ExportRun).where(ExportRun.state == ExportState.ready, ExportRun.expires_at <= now)
        )
    ).all()
    for run in expired:
        if run.file_name:
            with contextlib.suppress(FileNotFoundError):
                (export_dir(settings) / run.file_name).unlink()
        run.state = ExportState.expired
        run.file_key = None
        run.file_key_version = None
        run.file_name = None
    return len(expired)
