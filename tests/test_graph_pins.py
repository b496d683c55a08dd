"""Every guide of tests/fixtures and ../shared/ reads to the same graph (or the same findings) as
when its pin was made, byte for byte.  Regenerate deliberately with ``scripts/pin_graphs.py`` and
justify each changed pin in the commit message.  The pages of docs/ are not pinned: test_docs_*.py
assert what each one exists to show."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def _pinning() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pin_graphs", ROOT / "scripts" / "pin_graphs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PIN = _pinning()
LOCAL = PIN.cases(ROOT, None)
SHARED_CASES = [c for c in PIN.cases(ROOT, SHARED) if c not in LOCAL]


def _compare(display: str, path: Path) -> None:
    pin = PIN.PINS / PIN.pin_name(display)
    assert pin.is_file(), f"no pin for {display}: run scripts/pin_graphs.py and justify it in the commit"
    expected = pin.read_text(encoding="utf-8")
    actual = PIN.render(path, display)
    assert actual == expected, f"{display}: the graph differs from its pin {pin.name}"


@pytest.mark.parametrize(("display", "path"), LOCAL, ids=[d for d, _ in LOCAL])
def test_local_guide_matches_pin(display: str, path: Path) -> None:
    _compare(display, path)


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} is missing (CI puts shared/ beside the clone)")
@pytest.mark.parametrize(("display", "path"), SHARED_CASES, ids=[d for d, _ in SHARED_CASES])
def test_shared_guide_matches_pin(display: str, path: Path) -> None:
    _compare(display, path)


def test_pins_cover_the_guides() -> None:
    """A pin without its guide is stale; the set of guides pinned is itself pinned."""
    names = {PIN.pin_name(d) for d, _ in (PIN.cases(ROOT, SHARED) if SHARED.is_dir() else LOCAL)}
    pins = {p.name for p in PIN.PINS.glob("*.json")}
    assert names <= pins, (f"guides without a pin: {sorted(names - pins)}; run scripts/pin_graphs.py "
                           "and say why in the commit")
    if SHARED.is_dir():
        assert pins == names, f"stale pins: {sorted(pins - names)}"
    assert len(LOCAL) >= 14
    assert not any(display.startswith("docs/") for display, _ in LOCAL)


def test_pins_see_a_change(tmp_path: Path) -> None:
    """The comparison is not vacuous: one changed byte of a guide changes its pinned output."""
    display = "tests/fixtures/guides/streaming-replication-plain.ja.md"
    path = ROOT / display
    text = path.read_text(encoding="utf-8").replace("スタンバイ1", "スタンバイ3", 1)
    copy = tmp_path / "guide.md"
    copy.write_text(text, encoding="utf-8")
    assert PIN.render(copy, display) != (PIN.PINS / PIN.pin_name(display)).read_text(encoding="utf-8")
