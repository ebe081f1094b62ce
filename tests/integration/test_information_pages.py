"""Every public page links the privacy notice and the accessibility statement."""

from __future__ import annotations

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient


@pytest.mark.parametrize(
    ("path", "heading"),
    [("/", "Customer feedback"), ("/privacy", "Privacy"), ("/accessibility", "Accessibility statement")],
)
async def test_information_pages(client: AsyncTestClient[Litestar], path: str, heading: str) -> None:
    page = await client.get(path)
    assert page.status_code == 200
    assert heading in page.text
    assert 'href="/privacy"' in page.text and 'href="/accessibility"' in page.text
    assert "Example City Council" in page.text
    assert "<script>" not in page.text  # no inline script: the CSP allows 'self' only
