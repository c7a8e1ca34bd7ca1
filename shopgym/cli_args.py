"""Argument types of the `shopgym` console script (every count, size and rate checked by the parser) and
the one-line rendering of the errors a verb reports."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any


def count(minimum: int = 1, maximum: int | None = None) -> Callable[[str], int]:
    """An integer argument in [minimum, maximum]."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
            raise argparse.ArgumentTypeError(f"must be {bound}, got {value}")
        return value
    return parse


def number(low: float | None = None, high: float | None = None, above: bool = False) -> Callable[[str], float]:
    """A finite number in [low, high] (or above `low` when `above`)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
        if low is not None and (value <= low if above else value < low):
            raise argparse.ArgumentTypeError(f"must be {'above' if above else 'at least'} {low:g}, got {value:g}")
        if high is not None and value > high:
            raise argparse.ArgumentTypeError(f"must be at most {high:g}, got {value:g}")
        return value
    return parse


def dollars(text: str) -> float:
    """A price bound in dollars, within the env's bound (read only when the option is given: the parser stays light)."""
    from shopgym.envs.tools import MAX_DOLLARS

    return number(0, MAX_DOLLARS)(text)


def spec_filter(text: str) -> dict[str, Any]:
    """`name=value`, `name>=number` or `name<=number` as a SpecFilter's fields."""
    for op, key in ((">=", "min"), ("<=", "max"), ("=", "equals")):
        if op not in text:
            continue
        name, value = (part.strip() for part in text.split(op, 1))
        if key != "equals":
            return {"name": name, key: number()(value)}
        parsed: Any = {"true": True, "false": False}.get(value.lower(), value)
        try:
            parsed = float(parsed) if isinstance(parsed, str) else parsed
        except ValueError:
            pass
        return {"name": name, "equals": parsed}
    raise argparse.ArgumentTypeError(f"{text!r} has no operator; use name=value, 'name>=number' or 'name<=number' "
                                     "(quote it: > and < are shell redirections)")


def one_line(error: BaseException) -> str:
    """An error as one line; a pydantic ValidationError as `field: problem; ...` without its URL."""
    from pydantic import ValidationError

    if isinstance(error, ValidationError):
        problems = [f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg']}" for e in error.errors()[:5]]
        return f"invalid {error.title}: " + "; ".join(problems)
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        return f"{error.strerror}: {error.filename}"
    return " ".join(str(error).split()) or type(error).__name__
