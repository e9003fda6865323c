"""Deterministic text: the same prompt always gives the same answer, token by token.

One "token" is one word with its leading space; prompts count about four characters per
token. After a level-2 wake without ``reload_weights`` the weights are uninitialised
memory and vLLM prints gibberish without any warning: ``'!!!!!!!!!!!!'`` (vLLM #54235).
"""

from __future__ import annotations

import hashlib
import random

GARBAGE_TOKEN = "!"
_WORDS = (
    "the", "engine", "answers", "with", "a", "short", "and", "steady", "reply", "about",
    "memory", "sleep", "wake", "weights", "cache", "tokens", "model", "GPU", "time", "host",
    "copy", "level", "fast", "slow", "light", "river", "stone", "paper", "green", "quiet",
    "north", "window", "garden", "signal", "number", "simple", "careful", "open", "close", "bright",
)  # fmt: skip


def count_prompt_tokens(text: str) -> int:
    return max(1, (len(text) + 3) // 4)


def _rng(prompt: str) -> random.Random:
    digest = hashlib.sha256(prompt.encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def natural_length(prompt: str) -> int:
    """How many tokens the answer has when ``max_tokens`` does not cut it short."""
    return 8 + _rng(prompt).randrange(24)


def answer_tokens(prompt: str, count: int) -> list[str]:
    """The first ``count`` tokens of the answer to ``prompt``."""
    rng = _rng(prompt)
    rng.randrange(24)  # the draw natural_length made: keep the two streams aligned
    return [" " + rng.choice(_WORDS) for _ in range(count)]
