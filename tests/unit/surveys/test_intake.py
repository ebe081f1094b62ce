"""Which database errors mean intake lost a race and may run its transaction again."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError

from surveys.intake import lost_race


class DriverError(Exception):
    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def test_a_duplicate_deadlock_serialisation_failure_or_busy_sqlite_is_run_again() -> None:
    assert lost_race(IntegrityError("INSERT", None, DriverError("duplicate key", "23505")))
    assert lost_race(DBAPIError("INSERT", None, DriverError("deadlock detected", "40P01")))
    assert lost_race(DBAPIError("UPDATE", None, DriverError("could not serialize access", "40001")))
    assert lost_race(OperationalError("BEGIN IMMEDIATE", None, DriverError("database is locked")))


def test_other_database_errors_are_not() -> None:
    assert not lost_race(OperationalError("SELECT", None, DriverError("disk I/O error")))
    assert not lost_race(ProgrammingError("SELECT", None, DriverError("syntax error", "42601")))
    assert not lost_race(DBAPIError("SELECT", None, DriverError("connection reset")))
