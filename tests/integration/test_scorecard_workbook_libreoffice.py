"""The scorecard workbook opens in LibreOffice with its charts: converted once to ODS by LibreOffice Calc
headless (``make spreadsheet`` installs Debian's package), the converted file holds every sheet and chart."""

from __future__ import annotations

import asyncio
import shutil
import zipfile
from pathlib import Path

import pytest
from defusedxml import ElementTree

from civicvoice.core.clock import utcnow
from exports.scorecard_workbook import ABOUT_SHEET, SUMMARY_SHEET, TREND_SHEET, gather, write_scorecard_workbook
from feedback.scorecard.service import Scorecard
from tests.integration.support import TestDatabase
from tests.integration.test_scorecard_workbook import scorecard_data

TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
DRAW = "{urn:oasis:names:tc:opendocument:xmlns:drawing:1.0}"
XLINK = "{http://www.w3.org/1999/xlink}"
CHART = "{urn:oasis:names:tc:opendocument:xmlns:chart:1.0}"


# One conversion (a few seconds): what LibreOffice reads does not depend on the database behind the figures.
@pytest.mark.parametrize("backend", ["sqlite"])
async def test_libreoffice_opens_the_workbook_with_its_charts(
    db: TestDatabase, catalogue: None, tmp_path: Path
) -> None:
    soffice = shutil.which("soffice")
    assert soffice, "LibreOffice is missing: run 'make spreadsheet' (it installs libreoffice-calc-nogui)"
    month = await scorecard_data(db)
    async with db.sessions() as session:
        book = await gather(session, Scorecard(), month, within=None, created_by="test", created_at=utcnow())
    source = tmp_path / "scorecard.xlsx"
    write_scorecard_workbook(source, book)
    out = tmp_path / "out"
    convert = await asyncio.create_subprocess_exec(
        soffice,
        f"-env:UserInstallation=file://{tmp_path / 'profile'}",
        "--headless",
        "--norestore",
        "--convert-to",
        "ods",
        "--outdir",
        str(out),
        str(source),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    said, _ = await asyncio.wait_for(convert.communicate(), timeout=120)
    converted = out / "scorecard.ods"
    assert convert.returncode == 0 and converted.exists(), said.decode(errors="replace")

    with zipfile.ZipFile(converted) as ods:
        content = ElementTree.fromstring(ods.read("content.xml"))
        sheets = {table.get(f"{TABLE}name"): table for table in content.iter(f"{TABLE}table")}
        assert [n for n in sheets if n in (SUMMARY_SHEET, TREND_SHEET, ABOUT_SHEET)] == [
            SUMMARY_SHEET,
            TREND_SHEET,
            ABOUT_SHEET,
        ]
        assert len(sheets) == 3 + len(book.groups)

        def charts_on(sheet: str) -> list[str]:
            """The chart objects drawn on a sheet, each an embedded object whose content is a chart."""
            found = []
            for frame in sheets[sheet].iter(f"{DRAW}object"):
                name = (frame.get(f"{XLINK}href") or "").removeprefix("./")
                chart = ElementTree.fromstring(ods.read(f"{name}/content.xml"))
                titles = ["".join(t.itertext()) for t in chart.iter(f"{CHART}title")]
                assert next(chart.iter(f"{CHART}chart"), None) is not None
                found.extend(titles[:1])
            return found

        assert charts_on(SUMMARY_SHEET) == [f"Channel mix, {month:%B %Y}"]
        assert sorted(charts_on(TREND_SHEET)) == [
            "Complaints and compliments by month",
            "Customer satisfaction by month",
            "First contact resolution by month",
        ]
        # The figures survived too: the summary's first figure row names the first measure.
        text = " ".join("".join(cell.itertext()) for cell in sheets[SUMMARY_SHEET].iter(f"{TABLE}table-cell"))
        assert book.summary.figures[0].name in text and "Customer satisfaction" in text
