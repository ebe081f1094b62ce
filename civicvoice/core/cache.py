"""A small time-limited cache for reference data read on every request (API keys, services, policy)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class TtlCache(Generic[V]):
    """Values live ``seconds``; a change made in this process calls ``clear`` so it shows at once."""

    def __init__(self, seconds: float, *, max_items: int = 10_000) -> None:
        self.seconds = seconds
        self.max_items = max_items
        self._items: dict[Hashable, tuple[float, V]] = {}

    def get(self, key: Hashable) -> V | None:
        item = self._items.get(key)
        if item is None:
            return None
        expires, value = item
        if time.monotonic() >= expires:
            self._items.pop(key, None)
            return None
        return value

    def put(self, key: Hashable, value: V) -> V:
        if len(self._items) >= self.max_items:
            self._items.clear()
        self._items[key] = (time.monotonic() + self.seconds, value)
        return value

    async def get_or_load(self, key: Hashable, load: Callable[[], Awaitable[V]]) -> V:
        value = self.get(key)
        if value is None:
            value = self.put(key, await load())
        return value

    def clear(self) -> None:
        self._items.clear()
