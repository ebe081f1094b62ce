"""The record of processing activities comes from the data map: every table and file store holding personal
data is a row, with its purpose, lawful basis, Art. 9 condition and retention; processors are listed."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from openpyxl import load_workbook

from civicvoice.app import extensions, features
from civicvoice.cli import cli
from civicvoice.core.extensions import FILE_STORES
from civicvoice.core.settings import Settings
from civicvoice.models import Base
from privacy.datamap import data_map
from privacy.ropa import rows
from tests.integration.test_keys_and_cli import env_for


def test_every_table_and_store_holding_personal_data_is_a_row() -> None:
    stores = extensions(features()).items(FILE_STORES)
    found = {row[0]: row for row in rows(Base, stores)}
    holding = {name for name, entry in data_map(Base).items() if entry is not None and entry.holds_personal_data}
    assert holding <= set(found)
    assert {store.name for store in stores if store.holds} <= set(found)
    assert "subject access packages" in found
    answer = found["answer"]
    assert "Art. 6(1)(e)" in answer[6] and "Art. 9(2)(g)" in answer[7] and answer[8] == "2 years"
    assert "Council staff" in found["staff_user"][3]


def test_the_command_writes_xlsx_and_html(settings: Settings, tmp_path: Path) -> None:
    runner = CliRunner()
    workbook_path, page_path = tmp_path / "ropa.xlsx", tmp_path / "ropa.html"
    made = runner.invoke(cli, ["privacy", "ropa", "--output", str(workbook_path)], env=env_for(settings))
    assert made.exit_code == 0, made.output
    book = load_workbook(workbook_path, read_only=True)
    sheet = book["Processing activities"]
    header = [cell.value for cell in next(sheet.iter_rows(max_row=1))]
    assert header[:3] == ["Record", "Business function", "Purpose of processing"]
    assert "About this export" in book.sheetnames
    page = runner.invoke(
        cli, ["privacy", "ropa", "--format", "html", "--output", str(page_path)], env=env_for(settings)
    )
    assert page.exit_code == 0
    html = page_path.read_text()
    assert "GOV.UK Notify" in html and "Record of processing activities" in html
