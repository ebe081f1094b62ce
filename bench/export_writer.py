"""Export writers: XLSX time against xlsxwriter (constant_memory), peak memory at two sizes, CSV against csv.writer.

    python bench/export_writer.py [--rows N] [--small N] [--repeat R]    (CIVICVOICE_BENCH_SCALE=0.1 shrinks both)

Every measurement runs in a fresh subprocess writing the same generated responses (date, service, channel,
score, comment), so peak RSS belongs to one writer and one size only. The two XLSX writers alternate (which
goes first changes each repetition) and medians are compared, because the machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Shrinks the default sizes (1,000,000 and 100,000 rows) for a quick run; the ratios keep their meaning.
SCALE = float(os.environ.get("CIVICVOICE_BENCH_SCALE", "1"))
sys.path.insert(0, str(REPO))

SERVICES = ("Council Tax", "Waste and recycling", "Parking", "Housing repairs", "Planning", "Libraries")
CHANNELS = ("phone", "email", "web chat", "face to face", "web form", "post")
PHRASES = (
    "The advisor was patient and sorted it first time",
    "Waited far too long on hold before anyone answered",
    '=HYPERLINK("http://example.invalid") looks odd but is just text',
    "Nothing, it was fine",
    "- the form timed out twice and I had to start again",
    "Kind staff; please keep the Saturday opening",
    "+1 for the new online booking",
    "Bin not collected for three weeks despite two calls",
)
HEADERS = ("Date of contact", "Service", "Channel", "Score", "Comment")


def responses(count: int) -> Iterator[tuple[date, str, str, int, str]]:
    """The same rows for every writer: cheap to make, so generation weighs the same on both sides."""
    start = date(2025, 1, 1)
    days = [start + timedelta(days=n) for n in range(730)]
    comments = [f"{PHRASES[n % len(PHRASES)]} (ref {n})" for n in range(997)]
    for n in range(count):
        yield days[n % 730], SERVICES[n % 6], CHANNELS[n % 5], n % 5 + 1, comments[n % 997]


def _ours_xlsx(path: Path, count: int) -> int:
    from datetime import UTC, datetime

    from exports.spreadsheet import AboutExport, Column, write_xlsx

    about = AboutExport("Survey responses (benchmark)", "bench", datetime.now(UTC), {"Service": "all"})
    return write_xlsx(path, [Column(h) for h in HEADERS], responses(count), about, sheet_title="Responses")


def _xlsxwriter(path: Path, count: int) -> int:
    import xlsxwriter  # type: ignore[import-untyped]

    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = workbook.add_worksheet("Responses")
    bold = workbook.add_format({"bold": True})
    day_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    for column, header in enumerate(HEADERS):
        sheet.write_string(0, column, header, bold)
    sheet.freeze_panes(1, 0)
    rows = 0
    for rows, (day, service, channel, score, comment) in enumerate(responses(count), start=1):
        sheet.write_datetime(rows, 0, day, day_format)
        sheet.write_string(rows, 1, service)
        sheet.write_string(rows, 2, channel)
        sheet.write_number(rows, 3, score)
        sheet.write_string(rows, 4, comment)
    sheet.autofilter(0, 0, rows, len(HEADERS) - 1)
    workbook.close()
    return rows


def _ours_csv(path: Path, count: int) -> int:
    from exports.spreadsheet import Column, write_csv

    return write_csv(path, [Column(h) for h in HEADERS], responses(count))


def _stdlib_csv(path: Path, count: int) -> int:
    import csv

    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(HEADERS)
        rows = 0
        for row in responses(count):
            writer.writerow(row)
            rows += 1
    return rows


WRITERS = {"ours-xlsx": _ours_xlsx, "xlsxwriter": _xlsxwriter, "ours-csv": _ours_csv, "csv.writer": _stdlib_csv}


def child(writer: str, count: int) -> None:
    """One measurement in this process: time to write ``count`` rows, and the process's peak RSS."""
    suffix = ".csv" if "csv" in writer else ".xlsx"
    with tempfile.TemporaryDirectory(prefix="civicvoice-bench-") as directory:
        path = Path(directory) / f"export{suffix}"
        started = time.perf_counter()
        rows = WRITERS[writer](path, count)
        seconds = time.perf_counter() - started
        size = path.stat().st_size
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"writer": writer, "rows": rows, "seconds": seconds, "peak_rss_kib": peak_kib, "bytes": size}))


def measure(writer: str, count: int) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, __file__, "--child", writer, "--rows", str(count)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    measured: dict[str, float] = json.loads(result.stdout.strip().splitlines()[-1])
    if measured["rows"] != count:
        raise SystemExit(f"{writer} wrote {measured['rows']} rows, not {count}")
    return measured


def alternate(a: str, b: str, count: int, repeat: int) -> tuple[list[dict[str, float]], list[dict[str, float]]]:
    first: list[dict[str, float]] = []
    second: list[dict[str, float]] = []
    for repetition in range(repeat):
        if repetition % 2 == 0:
            first.append(measure(a, count))
            second.append(measure(b, count))
        else:
            second.append(measure(b, count))
            first.append(measure(a, count))
    return first, second


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, default=int(1_000_000 * SCALE), help="rows for the timed runs (default 1,000,000 x scale)"
    )
    parser.add_argument(
        "--small", type=int, default=int(100_000 * SCALE), help="smaller size for peak RSS (100,000 x scale)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="alternating repetitions per pair (default 1)")
    parser.add_argument("--child", choices=sorted(WRITERS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.rows)
        return 0

    repeat = max(1, args.repeat)
    ours, baseline = alternate("ours-xlsx", "xlsxwriter", args.rows, repeat)
    ours_s = statistics.median(m["seconds"] for m in ours)
    base_s = statistics.median(m["seconds"] for m in baseline)
    small = [measure("ours-xlsx", args.small) for _ in range(repeat)]
    small_rss = statistics.median(m["peak_rss_kib"] for m in small)
    large_rss = statistics.median(m["peak_rss_kib"] for m in ours)
    csv_ours, csv_base = alternate("ours-csv", "csv.writer", args.rows, repeat)
    csv_ours_rate = args.rows / statistics.median(m["seconds"] for m in csv_ours)
    csv_base_rate = args.rows / statistics.median(m["seconds"] for m in csv_base)

    print(
        f"rows: {args.rows:,} (peak RSS also at {args.small:,}; scale {SCALE}), {repeat} alternating repetition(s), "
        "medians"
    )
    print(
        f"XLSX exports.spreadsheet: {ours_s:.1f} s ({args.rows / ours_s:,.0f} rows/s, {ours[0]['bytes'] / 1e6:.0f} MB)"
    )
    print(
        f"XLSX xlsxwriter constant_memory: {base_s:.1f} s "
        f"({args.rows / base_s:,.0f} rows/s, {baseline[0]['bytes'] / 1e6:.0f} MB)"
    )
    print(f"XLSX time ratio ours/xlsxwriter: {ours_s / base_s:.2f} (target <= 1.5)")
    print(
        f"XLSX peak RSS: {small_rss / 1024:.0f} MiB at {args.small:,} rows, {large_rss / 1024:.0f} MiB at {args.rows:,}"
    )
    print(f"XLSX peak RSS ratio large/small: {large_rss / small_rss:.2f} (target <= 1.2)")
    print(f"CSV exports.spreadsheet: {csv_ours_rate:,.0f} rows/s; csv.writer: {csv_base_rate:,.0f} rows/s")
    print(f"CSV throughput ratio ours/csv.writer: {csv_ours_rate / csv_base_rate:.2f} (escaping and typed values)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
