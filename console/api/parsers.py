"""The API's JSON parser: DRF's, with nesting bounded.

DRF's ``JSONParser`` turns ``ValueError`` into a 400 but not the RecursionError of a very
deeply nested body, which became a 500 without an audit entry. No API body needs more
than a few levels (``launch_env``, ``allowed_models``, a switch's ``sleep`` list).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from console import jsondepth

MAX_DEPTH = 32


class BoundedJSONParser(JSONParser):
    """``application/json`` bodies, refused with 400 when nested deeper than ``MAX_DEPTH``."""

    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        try:
            data = super().parse(stream, media_type, parser_context)
            jsondepth.check_depth(data, MAX_DEPTH)
        except (RecursionError, jsondepth.TooDeep):
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.") from None
        return data
