"""Reading usage from answers as they pass, and asking a stream for it: plain functions."""

from __future__ import annotations

import json

from console.gateway.usage import Tokens, UsageMeter, ask_for_usage

USAGE = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
TOKEN = b'data: {"object":"text_completion","choices":[{"index":0,"text":"Paris"}]}\n\n'
USAGE_CHUNK = b"data: " + json.dumps({"object": "text_completion", "choices": [],
                                      "usage": USAGE}).encode() + b"\n\n"  # fmt: skip
DONE = b"data: [DONE]\n\n"


def passed(meter: UsageMeter, chunks: list[bytes]) -> bytes:
    return b"".join(meter.feed(chunk) for chunk in chunks) + meter.finish()


def test_a_streams_usage_is_read_even_when_split_across_chunks() -> None:
    meter = UsageMeter(stream=True, strip=False)
    answer = TOKEN + USAGE_CHUNK + DONE
    assert passed(meter, [answer[:50], answer[50:97], answer[97:]]) == answer
    assert meter.tokens == Tokens(5, 3)


def test_the_usage_chunk_asked_for_on_the_clients_behalf_is_dropped() -> None:
    meter = UsageMeter(stream=True, strip=True)
    assert passed(meter, [TOKEN, USAGE_CHUNK, DONE]) == TOKEN + DONE
    assert meter.tokens == Tokens(5, 3)


def test_a_token_whose_text_says_usage_is_passed_on() -> None:
    token = b'data: {"choices":[{"index":0,"text":"\\"usage\\": 1"}]}\n\n'
    meter = UsageMeter(stream=True, strip=True)
    assert passed(meter, [token, DONE]) == token + DONE
    assert meter.tokens is None


def test_a_whole_answers_usage_is_read_after_it_was_passed_on() -> None:
    body = json.dumps({"object": "text_completion", "usage": USAGE}).encode()
    meter = UsageMeter(stream=False, strip=False)
    assert meter.feed(body[:10]) + meter.feed(body[10:]) == body
    assert meter.finish() == b""
    assert meter.tokens == Tokens(5, 3)


def test_an_answer_without_usage_counts_no_tokens() -> None:
    meter = UsageMeter(stream=False, strip=False)
    passed(meter, [b'{"error": {"message": "bad"}}'])
    assert meter.tokens is None


def test_a_stream_that_did_not_ask_for_usage_is_asked_for_it() -> None:
    payload: dict[str, object] = {"model": "m", "stream": True, "stream_options": {"x": 1}}
    body, asked = ask_for_usage("/v1/chat/completions", payload, json.dumps(payload).encode())
    assert asked
    assert json.loads(body)["stream_options"] == {"x": 1, "include_usage": True}


def test_a_stream_that_asked_for_usage_is_sent_as_it_came() -> None:
    payload: dict[str, object] = {"model": "m", "stream": True,
                                  "stream_options": {"include_usage": True}}  # fmt: skip
    raw = json.dumps(payload).encode()
    assert ask_for_usage("/v1/completions", payload, raw) == (raw, False)


def test_answers_that_are_not_streams_are_not_rewritten() -> None:
    payload: dict[str, object] = {"model": "m"}
    raw = json.dumps(payload).encode()
    assert ask_for_usage("/v1/completions", payload, raw) == (raw, False)
    streamed: dict[str, object] = {"model": "m", "stream": True}
    assert ask_for_usage("/v1/embeddings", streamed, raw) == (raw, False)
