"""Shared test setup: the package under test, the repository, the Ed25519 backends.

The tests import `sigil_verify` from ../src unless SIGIL_VERIFY_INSTALLED=1 (set by ../test,
which runs them against the package pip installed into a virtual environment).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Dict, Iterator, List

import pytest

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
REPO = PACKAGE_ROOT.parents[1]
SRC = PACKAGE_ROOT / "src"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
USE_INSTALLED = os.environ.get("SIGIL_VERIFY_INSTALLED") == "1"

if not USE_INSTALLED and str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

from sigil_verify import ed25519  # noqa: E402


def python_env() -> Dict[str, str]:
    """The environment for a child `python -m sigil_verify...` that imports the same package."""
    env = dict(os.environ)
    if not USE_INSTALLED:
        env["PYTHONPATH"] = os.pathsep.join([str(SRC)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def available_backends() -> List[str]:
    out = []
    for name in ed25519.BACKENDS:
        try:
            ed25519.backend_name(name)
            out.append(name)
        except ed25519.Ed25519Unavailable:
            pass
    return out


BACKENDS = available_backends()


@pytest.fixture(params=BACKENDS or ["none"])
def ed_backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Runs a test once per Ed25519 backend available here (cryptography, libcrypto)."""
    if request.param == "none":
        pytest.fail("no Ed25519 backend: neither cryptography nor libcrypto is usable")
    monkeypatch.setenv("SIGIL_ED25519_BACKEND", request.param)
    yield request.param
