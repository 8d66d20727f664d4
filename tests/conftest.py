"""Shared fixtures. Reference payloads come from ../shared/reference (real Salesforce bodies)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
REFERENCE_DIR = REPO_ROOT.parent / "shared" / "reference"


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


def load_reference(name: str):
    """A reference REST payload by file name, e.g. 'query-last-page.json'."""
    path = REFERENCE_DIR / "rest" / name
    if not path.exists():
        pytest.fail(f"reference payload {path} is missing: the tests need ../shared/reference beside the checkout")
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def reference_payload():
    return load_reference
