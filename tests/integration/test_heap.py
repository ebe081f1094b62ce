"""A long-running process freezes what it built at start out of the garbage collector's passes once its lifespan
has started (`settle_heap`), and only when `CIVICVOICE_FREEZE_HEAP` leaves it on."""

from __future__ import annotations

import dataclasses
import gc

import pytest
from litestar.testing import AsyncTestClient

from civicvoice.app import create_app
from civicvoice.core.errors import ConfigurationError
from civicvoice.core.settings import Settings
from tests.integration.support import TestDatabase


@pytest.mark.parametrize("freeze", [True, False])
async def test_the_heap_is_frozen_once_the_app_has_started(settings: Settings, db: TestDatabase, freeze: bool) -> None:
    app = create_app(dataclasses.replace(settings, freeze_heap=freeze), worker=False)
    built = gc.get_freeze_count()
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as client:
        started = gc.get_freeze_count()
        assert (await client.get("/health")).status_code == 200
    # Everything the app built (its routes, models, services) is frozen with it: thousands of objects.
    assert (started - built > 10_000) is freeze
    await app.state.sessions.kw["bind"].dispose()


def test_the_setting_is_read_from_the_environment() -> None:
    assert Settings.from_env({}).freeze_heap is True
    assert Settings.from_env({"CIVICVOICE_FREEZE_HEAP": "false"}).freeze_heap is False
    with pytest.raises(ConfigurationError, match="CIVICVOICE_FREEZE_HEAP"):
        Settings.from_env({"CIVICVOICE_FREEZE_HEAP": "sometimes"})
