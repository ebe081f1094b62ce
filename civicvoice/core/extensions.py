"""Extension points the kernel reads: what the composition root and features tell it about themselves."""

from __future__ import annotations

import re
from dataclasses import dataclass

from civicvoice.core.datamap import FileStore
from civicvoice.core.services import ExtensionPoint


@dataclass(frozen=True)
class StaffArea:
    """Where the staff pages live and where their "back" links go; supplied by the staff package."""

    prefix: str
    home: str


@dataclass(frozen=True)
class StaffNavItem:
    """A link in the staff navigation, shown to the roles given (all staff when empty)."""

    label: str
    href: str
    roles: tuple[str, ...] = ()
    position: int = 100


# The error page's "back" link for staff paths names the staff home through this, never a literal path.
STAFF_AREA: ExtensionPoint[StaffArea] = ExtensionPoint("core.staff_area", "the staff pages' prefix and home")
# Feature staff pages appear in the staff layout's navigation through this.
STAFF_NAV: ExtensionPoint[StaffNavItem] = ExtensionPoint("core.staff_nav", "links in the staff navigation")
# Stores outside the database that hold personal data (each feature's `Feature.file_stores`), for the ROPA.
FILE_STORES: ExtensionPoint[FileStore] = ExtensionPoint("core.file_stores", "file stores holding personal data")
# Paths that carry a secret (survey and unsubscribe tokens) and are masked in logs; group 1 is kept.
SECRET_PATHS: ExtensionPoint[re.Pattern[str]] = ExtensionPoint(
    "core.secret_paths", "URL paths whose last segment is a secret and is masked in logs"
)
