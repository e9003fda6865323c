"""JSON bodies with a bounded nesting depth.

``json.loads`` recurses once per level: a body of 100,000 ``[`` raises RecursionError,
which callers' ``except ValueError`` miss (a 500). And a body nested just below the
recursion limit parses, then makes later recursive code (validators, the audit's
redaction, ``json.dumps``) fail instead. So depth is bounded after parsing, iteratively.
"""

from __future__ import annotations

import json
from typing import Any


class TooDeep(ValueError):
    """The JSON nests deeper than allowed."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"JSON nested deeper than {limit} levels")


def loads(text: str | bytes, limit: int) -> Any:
    """``json.loads``, raising ``TooDeep`` (a ValueError) past ``limit`` levels."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise TooDeep(limit) from None
    check_depth(value, limit)
    return value


def check_depth(value: Any, limit: int) -> None:
    """Raise ``TooDeep`` when ``value`` has containers more than ``limit`` levels deep."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            raise TooDeep(limit)
        stack.extend((child, depth + 1) for child in children)
