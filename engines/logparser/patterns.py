"""The shapes of vLLM log lines: the record around a message, and the messages we read.

Each rule pairs a regex with cheap substrings ("needles"), one of which must occur for
it to match; the parser tests the needles first, so the regexes only run on the few
lines that matter (an engine logs an access line per request and stats every 10 s).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypedDict

from engines.logparser.events import EventKind

# Longest line read; the rest is dropped (a tqdm bar or a dumped config can be huge).
MAX_LINE_CHARS = 64 * 1024

# Bounded so that a corrupt line cannot make int() refuse a 5,000-digit string.
_NUM = r"(-?\d{1,15}(?:\.\d{1,12})?)"
_TOKENS = r"(\d{1,3}(?:,\d{3}){1,6}|\d{1,18})"

# 0.10.2-0.11.x wrap every process prefix in these two codes (docs/vllm-behaviour.md §5.2): removed
# with str.replace before the general regex, which then runs only on other colour codes.
PREFIX_COLOURS = ("\x1b[1;36m", "\x1b[0;0m")
# Any other CSI sequence: 0.12+ colour the prefix, level and time on a TTY
# (docs/vllm-behaviour.md §5.2), tqdm moves the cursor.
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
# Markup around the prefix when a terminal was copied as HTML (docs/vllm-behaviour.md §5.6).
HTML = re.compile(r"</?(?:font|b|span|strong|i|u|code|pre)\b[^<>]{0,200}>", re.IGNORECASE)
# "(EngineCore_DP0 pid=212)", "(VllmWorker rank=0 pid=7)", "(ActorModelRayActor pid=3)".
PROCESS = re.compile(r"\(([^()\r\n]{1,100}?) pid=(\d{1,10})\)")
# "INFO 03-14 09:20:14 [cumem.py:228] " and 0.7.x's "INFO 03-02 10:04:51 worker.py:133] ";
# the file may be a DEBUG-style relative path such as "entrypoints/.../api_router.py".
HEADER = re.compile(
    r"(?:DEBUG|INFO|WARNING|ERROR|CRITICAL) "
    r"(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d) \[?[^\s\[\]]{1,300}:\d{1,7}\]"
)

# Where a line's text stops being vLLM's and becomes a client's: uvicorn's access line
# ('INFO:     127.0.0.1:41872 - "POST /v1/completions?<anything> HTTP/1.1" 200 OK': the
# request line is whatever the client sent) and vLLM's request logger ("Received request
# cmpl-1: prompt: '<anything>'"). A needle found after it is a client's text, never an
# engine event: POST /v1/completions?EngineDeadError:injected must not read as a dead engine.
CLIENT_TEXT = re.compile(
    r'(?:DEBUG|INFO|WARNING|ERROR|CRITICAL|TRACE):\s+\S+ - "|Received request \S+: '
)


class Figures(TypedDict, total=False):
    """The figures a message carries, named as ``EngineLogEvent`` fields."""

    seconds: float | None
    tags: tuple[str, ...] | None
    freed_gib: float
    backed_up_gib: float
    discarded_gib: float
    still_in_use_gib: float
    gib: float
    tokens: int
    url: str


@dataclass(frozen=True)
class Rule:
    """One kind of message: substrings of which one must occur, its regex, its figures."""

    kind: EventKind
    needles: tuple[str, ...]
    pattern: re.Pattern[str]
    figures: Callable[[re.Match[str]], Figures]


_QUOTED = re.compile(r"'([^']*)'|\"([^\"]*)\"")
_BARE_WORD = re.compile(r"[A-Za-z_][\w-]*")


def parse_tags(text: str | None) -> tuple[str, ...] | None:
    """Tags from their Python repr: ``None``, ``['weights']``, ``{'kv_cache', 'weights'}``.

    Sorted, because a set prints in hash-seed order (docs/vllm-behaviour.md §5.3).
    """
    if text is None or text.strip() == "None":
        return None
    quoted = _QUOTED.findall(text)
    if quoted:
        return tuple(sorted(single or double for single, double in quoted))
    return tuple(sorted(w for w in _BARE_WORD.findall(text) if w != "set"))


def _seconds(match: re.Match[str]) -> Figures:
    return {"seconds": float(match[1])}


def _wake(match: re.Match[str]) -> Figures:
    # 0.7.3 prints "to wake up." with no tags: it woke everything, like tags=None.
    return {"seconds": float(match[1]), "tags": parse_tags(match[2])}


def _cumem(match: re.Match[str]) -> Figures:
    return {
        "freed_gib": float(match[1]),
        "backed_up_gib": float(match[2]),
        "discarded_gib": float(match[3]),
    }


def _sleep_freed(match: re.Match[str]) -> Figures:
    return {"freed_gib": float(match[1]), "still_in_use_gib": float(match[2])}


def _model_loaded(match: re.Match[str]) -> Figures:
    return {"gib": float(match[1]), "seconds": float(match[2])}


def _weights_loaded(match: re.Match[str]) -> Figures:
    return {"gib": float(match[1]), "seconds": None}


def _tokens(match: re.Match[str]) -> Figures:
    return {"tokens": int(match[1].replace(",", ""))}


def _url(match: re.Match[str]) -> Figures:
    return {"url": match[1]}


def _nothing(match: re.Match[str]) -> Figures:
    return {}


_DEAD_NEEDLES = (
    "EngineCore encountered an issue",  # 0.11.0 EngineDeadError message
    "EngineDeadError:",  # 0.33's message is generic; the exception name is not
    "MQLLMEngine is already dead",  # V0 (<=0.9), launcher.py
    "Engine loop has died",  # V0 (<=0.9), client.py
)

RULES: tuple[Rule, ...] = (
    Rule(
        EventKind.SLEEP,
        ("seconds to fall asleep",),
        re.compile(rf"It took {_NUM} seconds to fall asleep\."),
        _seconds,
    ),
    Rule(
        EventKind.WAKE,
        ("seconds to wake up",),
        # 0.8+: "wake up tags {'weights', 'kv_cache'}."; 0.7.3: "wake up."
        re.compile(rf"It took {_NUM} seconds to wake up(?: tags (.+?))?\.\s*$"),
        _wake,
    ),
    Rule(
        EventKind.CUMEM_FREED,
        ("CuMemAllocator: sleep freed",),
        re.compile(
            rf"CuMemAllocator: sleep freed {_NUM} GiB memory in total, of which {_NUM} GiB "
            rf"is backed up in CPU and the rest {_NUM} GiB is discarded directly\."
        ),
        _cumem,
    ),
    Rule(
        EventKind.SLEEP_FREED,
        ("Sleep mode freed",),
        # %.2f up to 0.13, round(x, 2) through %s from 0.14 ("5.8", "0.0").
        re.compile(rf"Sleep mode freed {_NUM} GiB memory, {_NUM} GiB memory is still in use\."),
        _sleep_freed,
    ),
    Rule(
        EventKind.MODEL_LOADED,
        ("Model loading took",),
        # 0.8.0 "GB and", 0.11.0 "GiB and", 0.11.1+ "GiB memory and".
        re.compile(rf"Model loading took {_NUM} Gi?B(?: memory)? and {_NUM} seconds"),
        _model_loaded,
    ),
    Rule(
        EventKind.MODEL_LOADED,
        ("Loading model weights took",),
        # The 0.7.x runners print the size only.
        re.compile(rf"Loading model weights took {_NUM} Gi?B\b"),
        _weights_loaded,
    ),
    Rule(
        EventKind.KV_CACHE,
        ("KV cache size:",),
        # "GPU KV cache size:" up to 0.29; 0.30+ names the device pool first.
        re.compile(rf"KV cache size: {_TOKENS} tokens"),
        _tokens,
    ),
    Rule(
        EventKind.SERVER_STARTED,
        ("Starting vLLM",),
        # 0.7.3 "API server on URL", 0.8-0.17 "API server 0 on URL", 0.18+ "server on URL".
        re.compile(r"Starting vLLM (?:API )?server (?:\d{1,4} )?on (\S{1,2000})"),
        _url,
    ),
    Rule(
        EventKind.RELOAD,
        ("Reloading and processing weights took",),
        # collective_rpc("reload_weights") of a level-2 wake (vLLM 0.25.0, H200: 1.93-2.09 s
        # for 13.5 GiB); the only figure of the reload, which the wake lines leave out.
        re.compile(rf"Reloading and processing weights took {_NUM} seconds"),
        _seconds,
    ),
    Rule(
        EventKind.WAKE_OOM,
        ("CUDA Error: out of memory",),
        # The cumem allocator's capital-E message (docs/vllm-behaviour.md §2.4), not PyTorch's
        # "CUDA error:".
        re.compile(r"CUDA Error: out of memory"),
        _nothing,
    ),
    Rule(
        EventKind.ENGINE_DEAD,
        _DEAD_NEEDLES,
        re.compile("|".join(re.escape(needle) for needle in _DEAD_NEEDLES)),
        _nothing,
    ),
)

# Flat (needle, rule) pairs: one loop of ``in`` tests is the cheapest prefilter in CPython
# (faster than one regex of all needles), and most lines fail every test.
NEEDLES: tuple[tuple[str, Rule], ...] = tuple(
    (needle, rule) for rule in RULES for needle in rule.needles
)
