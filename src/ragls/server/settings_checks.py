"""How one setting is described: its default, how a raw value is checked, what it is for.

`setting(default, check, doc)` makes a dataclass field carrying that description in its
metadata; `ragls.server.settings` derives parsing, defaults, error messages, the JSON view, the
README table and the list of sensitive settings from those fields. A check returns the
converted value or raises ValueError with the reason; `Check.text` says what it accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import Field, field
from typing import Any


class Check:
    """A value checker with a short description of what it accepts (for docs and errors)."""

    def __init__(self, fn: Callable[[Any], Any], text: str, choices: tuple[str, ...] = ()) -> None:
        self.fn = fn
        self.text = text
        self.choices = choices

    def __call__(self, value: Any) -> Any:
        return self.fn(value)


def _text(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ValueError("expected a non-empty string")
    return v


def _optional(check: Check) -> Check:
    return Check(lambda v: None if v is None else check(v), f"{check.text} or null", check.choices)


STR = Check(_text, "string")
OPT_STR = _optional(STR)


def choice(*options: str) -> Check:
    def check(v: Any) -> str:
        if not isinstance(v, str) or v.lower() not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return v.lower()

    return Check(check, " / ".join(options), options)


def integer(lo: int, hi: int) -> Check:
    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise ValueError(f"expected an integer in [{lo}, {hi}]")
        return v

    return Check(check, f"integer {lo}..{hi}")


def number(lo: float, hi: float) -> Check:
    def check(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float) or not lo <= v <= hi:
            raise ValueError(f"expected a number in [{lo}, {hi}]")
        return float(v)

    return Check(check, f"number {lo:g}..{hi:g}")


def _boolean(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError("expected true or false")
    return v


BOOL = Check(_boolean, "true / false")


def _strings(v: Any) -> tuple[str, ...]:
    if not isinstance(v, list | tuple) or not all(isinstance(x, str) for x in v):
        raise ValueError("expected a list of strings")
    return tuple(v)


STR_LIST = Check(_strings, "list of strings")
OPT_STR_LIST = _optional(STR_LIST)


def subset(*options: str) -> Check:
    def check(v: Any) -> tuple[str, ...]:
        items = _strings(v)
        bad = [s for s in items if s not in options]
        if bad:
            raise ValueError(f"unknown value(s) {bad}, expected some of {', '.join(options)}")
        return items

    return Check(check, f"list of {' / '.join(options)}", options)


def setting(default: Any, check: Check, doc: str, *, sensitive: bool | frozenset[str] = False) -> Any:
    """A settings dataclass field: default, check, one-line doc, and whether a project file may
    set it only in a trusted workspace (True: any value; a set: only those values)."""
    meta = {"check": check, "doc": doc, "sensitive": sensitive}
    result: Field[Any] = field(default=default, metadata=meta)
    return result
