"""Typed services and extension points: how features meet each other without importing upwards.

A service is stored under its type and handed back as that type. An extension point is a typed list that the
layer declaring it reads and higher layers add to (surveys asks "is there an open complaint?"; feedback answers).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class ExtensionPoint(Generic[T]):
    """A named, typed list that higher layers add to and the declaring layer reads (identity is the object)."""

    name: str
    doc: str = ""

    def __repr__(self) -> str:
        return f"ExtensionPoint({self.name!r})"


@dataclass(frozen=True)
class Contribution(Generic[T]):
    point: ExtensionPoint[T]
    item: T


def contribute(point: ExtensionPoint[T], item: T) -> Contribution[T]:
    """What a feature adds to an extension point; typed, so a wrong item fails type checking."""
    return Contribution(point, item)


class Extensions:
    """Every contribution of every feature, collected before any service is built."""

    def __init__(self, contributions: Sequence[Contribution[Any]] = ()) -> None:
        self._items: dict[ExtensionPoint[Any], list[Any]] = {}
        for contribution in contributions:
            self.add(contribution.point, contribution.item)

    def add(self, point: ExtensionPoint[T], item: T) -> None:
        self._items.setdefault(point, []).append(item)

    def items(self, point: ExtensionPoint[T]) -> tuple[T, ...]:
        return tuple(self._items.get(point, ()))


class UnknownService(LookupError):
    """A service was asked for that no feature provides: a wiring mistake, found at start-up by the tests."""


class Services:
    """The app's services, each stored under its type and handed back as that type."""

    def __init__(self) -> None:
        self._by_type: dict[type[Any], Any] = {}

    def provide(self, service: T, *, as_type: type[T] | None = None) -> T:
        kind = as_type or type(service)
        if kind in self._by_type:
            raise ValueError(f"a {kind.__name__} is provided twice")
        self._by_type[kind] = service
        return service

    def replace(self, service: T, *, as_type: type[T] | None = None) -> None:
        """Swap a provided service (tests and deployments substitute a transport or a channel)."""
        self._by_type[as_type or type(service)] = service

    def get(self, kind: type[T]) -> T:
        try:
            return cast(T, self._by_type[kind])
        except KeyError:
            raise UnknownService(f"no {kind.__name__} service is provided") from None

    def find(self, kind: type[T]) -> T | None:
        return cast("T | None", self._by_type.get(kind))

    def __contains__(self, kind: object) -> bool:
        return kind in self._by_type

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._by_type.values()))
