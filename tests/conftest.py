"""Shared fixtures: the dialects every in-process test runs under."""

from __future__ import annotations

import pytest

from lilya_ws.testing import DIALECTS


@pytest.fixture(params=sorted(DIALECTS))
def dialect(request: pytest.FixtureRequest) -> str:
    """Each server dialect the test client can reproduce."""
    name: str = request.param
    return name
