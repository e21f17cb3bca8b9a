"""The demo breaks and repairs a line of ragls's own code: that line must still exist."""

from __future__ import annotations

from pathlib import Path

from ragls.cli import demo_cmd

ROOT = Path(__file__).resolve().parents[1]


def test_the_demo_fix_and_test_targets_are_in_the_source() -> None:
    text = (ROOT / demo_cmd.DEMO_FILE).read_text()
    assert text.count(demo_cmd.DEMO_BUG) == 1
    assert sum(line.startswith(demo_cmd.DEMO_FUNCTION) for line in text.split("\n")) == 1
