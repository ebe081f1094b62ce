"""Starts `civicvoice worker` processes quickly: this parent imports civicvoice once, then forks a real worker
process per request, so a test can SIGKILL and restart workers many times without paying the import time.

Commands on stdin, one a line: ``start`` (answers the child's pid), ``wait PID`` (answers its exit status, the
negative signal number when a signal ended it). Run as ``python -m tests.integration.worker_forkserver``.
"""

from __future__ import annotations

import os
import sys

import civicvoice.app
import civicvoice.core.jobs_saq  # imported before forking, like everything the worker uses
from civicvoice.cli import cli


def run_worker() -> None:
    code = 0
    try:
        cli.main(["worker"], prog_name="civicvoice", standalone_mode=True)
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else 1
    except BaseException:
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def main() -> None:
    civicvoice.app.features()  # the feature packages, imported once
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command == "start":
            pid = os.fork()
            if pid == 0:
                sys.stdin.close()
                run_worker()
            print(pid, flush=True)
        elif command == "wait":
            _, status = os.waitpid(int(argument), 0)
            print(os.waitstatus_to_exitcode(status), flush=True)


if __name__ == "__main__":
    main()
