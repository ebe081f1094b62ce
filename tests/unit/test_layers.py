"""The layer order of DESIGN.md, as the import-linter contracts in pyproject.toml enforce it.

The code itself must keep every contract, and each contract must break on the wrong-way import it exists for:
checked on a small tree of stand-in packages with the same names, linted with the project's own contracts.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
CONTRACT_NAMES = {contract["id"]: contract["name"] for contract in CONTRACTS}

# The modules each contract names, as empty stand-ins; a case then adds one import.
STAND_INS = [
    "civicvoice/__init__.py",
    "civicvoice/app.py",
    "civicvoice/cli.py",
    "civicvoice/demo.py",
    "civicvoice/models.py",
    "civicvoice/pages.py",
    "civicvoice/demo_history.py",
    "civicvoice/staff/__init__.py",
    "civicvoice/core/__init__.py",
    "civicvoice/core/clock.py",
    "exports/__init__.py",
    "exports/reports.py",
    "exports/spreadsheet.py",
    "exports/cells.py",
    "feedback/__init__.py",
    "feedback/inbox.py",
    "surveys/__init__.py",
    "surveys/pages.py",
    "privacy/__init__.py",
    "privacy/access.py",
]


def lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    # The stand-ins come first on the path, ahead of the installed packages of the same names.
    env = {**os.environ, "PYTHONPATH": str(project)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def stand_in_project(tmp_path: Path, imports: dict[str, str]) -> Path:
    for name in STAND_INS:
        module = tmp_path / name
        module.parent.mkdir(parents=True, exist_ok=True)
        module.write_text(imports.get(name, ""))
    for name, line in imports.items():
        if name not in STAND_INS:
            (tmp_path / name).write_text(line)
    configuration = (ROOT / "pyproject.toml").read_text()
    (tmp_path / "pyproject.toml").write_text(configuration[configuration.index("[tool.importlinter]") :])
    return tmp_path


def test_the_code_keeps_every_contract() -> None:
    linted = lint_imports(ROOT)
    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in linted.stdout


def test_the_stand_ins_keep_every_contract_when_imports_point_down(tmp_path: Path) -> None:
    project = stand_in_project(
        tmp_path,
        {
            "civicvoice/app.py": "import exports.reports\nimport civicvoice.core.clock\n",
            "exports/reports.py": "import feedback.inbox\nimport exports.spreadsheet\n",
            "feedback/inbox.py": "import surveys.pages\n",
            "surveys/pages.py": "import privacy.access\n",
            # The one exception by design: privacy uses the spreadsheet writers for access packages.
            "privacy/access.py": "import exports.spreadsheet\nimport exports.cells\nimport civicvoice.core.clock\n",
            "exports/spreadsheet.py": "import exports.cells\nimport civicvoice.core.clock\n",
        },
    )
    linted = lint_imports(project)
    assert linted.returncode == 0, linted.stdout + linted.stderr


@pytest.mark.parametrize(
    ("imports", "broken"),
    [
        pytest.param({"civicvoice/core/clock.py": "import surveys.pages\n"}, "layers", id="core-imports-a-feature"),
        pytest.param({"civicvoice/core/clock.py": "import civicvoice.staff\n"}, "layers", id="core-imports-staff"),
        pytest.param({"privacy/access.py": "import surveys.pages\n"}, "layers", id="privacy-imports-surveys"),
        pytest.param({"surveys/pages.py": "import feedback.inbox\n"}, "layers", id="surveys-imports-feedback"),
        pytest.param({"feedback/inbox.py": "import exports.reports\n"}, "layers", id="feedback-imports-exports"),
        pytest.param({"exports/reports.py": "import civicvoice.app\n"}, "layers", id="exports-imports-the-app"),
        pytest.param({"surveys/pages.py": "import civicvoice.pages\n"}, "layers", id="surveys-imports-root-pages"),
        pytest.param({"privacy/access.py": "import exports.reports\n"}, "layers", id="privacy-imports-other-exports"),
        pytest.param(
            {"exports/spreadsheet.py": "import feedback.inbox\n"}, "spreadsheet-writers", id="writer-imports-feedback"
        ),
        pytest.param(
            {"exports/cells.py": "import exports.reports\n", "exports/reports.py": "import surveys.pages\n"},
            "spreadsheet-writers",
            id="writer-imports-a-feature-indirectly",
        ),
        pytest.param(
            {"civicvoice/newcomer.py": "", "surveys/pages.py": "import civicvoice.newcomer\n"},
            "composition-root",
            id="civicvoice-module-in-no-layer",
        ),
    ],
)
def test_a_wrong_way_import_breaks_its_contract(tmp_path: Path, imports: dict[str, str], broken: str) -> None:
    linted = lint_imports(stand_in_project(tmp_path, imports))
    assert linted.returncode == 1, linted.stdout + linted.stderr
    assert f"{CONTRACT_NAMES[broken]} BROKEN" in " ".join(linted.stdout.split())
