"""``/v1/models``, ``/v1/completions`` and ``/v1/chat/completions`` with vLLM's bodies.

Streaming answers are SSE ``data: {...}`` chunks ending with ``data: [DONE]``; an engine
that dies mid-stream sends vLLM's in-stream error chunk (docs/vllm-behaviour.md §4).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from emulator.engine import Engine, EngineDeadError
from emulator.generation import Generation
from emulator.responses import (
    bad_request,
    engine_dead_response,
    error_response,
    new_id,
    now,
    paused_response,
)


@dataclass(frozen=True)
class Ask:
    """A validated generation request."""

    model: str
    prompt: str
    max_tokens: int | None
    stream: bool
    include_usage: bool


def _model_card(engine: Engine, name: str) -> dict[str, Any]:
    created = now()
    permission = {
        "id": new_id("modelperm"), "object": "model_permission", "created": created,
        "allow_create_engine": False, "allow_sampling": True, "allow_logprobs": True,
        "allow_search_indices": False, "allow_view": True, "allow_fine_tuning": False,
        "organization": "*", "group": None, "is_blocking": False,
    }  # fmt: skip
    return {
        "id": name, "object": "model", "created": created, "owned_by": "vllm",
        "root": engine.config.model, "parent": None,
        "max_model_len": engine.config.max_model_len, "permission": [permission],
    }  # fmt: skip


def _chat_prompt(messages: object) -> str | None:
    if not isinstance(messages, list) or not messages:
        return None
    parts: list[str] = []
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            return None
        content = message.get("content", "")
        if isinstance(content, list):
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        parts.append(f"{message['role']}: {content}")
    return "\n".join(parts)


def _completion_prompt(prompt: object) -> str | None:
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        return "".join(prompt)
    return None


def _max_tokens(body: dict[str, Any], default: int | None) -> int | None:
    value: object = body.get("max_completion_tokens", body.get("max_tokens", default))
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("max_tokens must be at least 1")
    return value


async def _ask(engine: Engine, raw: Request, chat: bool) -> Ask | JSONResponse:
    try:
        body = json.loads(await raw.body())
    except ValueError as error:
        return bad_request(f"JSON decode error: {error}")
    if not isinstance(body, dict):
        return bad_request("Input should be a valid dictionary")
    model = body.get("model") or engine.config.model_names[0]
    if model not in engine.config.model_names:
        message = f"The model `{model}` does not exist."
        return error_response(message, 404, type_="NotFoundError")
    prompt = _chat_prompt(body.get("messages")) if chat else _completion_prompt(body.get("prompt"))
    if prompt is None:
        return bad_request("Field required: messages" if chat else "Field required: prompt")
    try:
        # OpenAI's completions default is 16 tokens; chat answers until done.
        max_tokens = _max_tokens(body, None if chat else 16)
    except ValueError as error:
        return bad_request(str(error), param="max_tokens")
    options = body.get("stream_options") or {}
    usage = bool(options.get("include_usage")) if isinstance(options, dict) else False
    return Ask(str(model), prompt, max_tokens, bool(body.get("stream")), usage)


def _usage(gen: Generation) -> dict[str, Any]:
    return {
        "prompt_tokens": gen.prompt_tokens,
        "total_tokens": gen.prompt_tokens + gen.completion_tokens,
        "completion_tokens": gen.completion_tokens,
        "prompt_tokens_details": None,
    }


def _chat_body(ask: Ask, gen: Generation, ident: str) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant", "content": gen.text, "refusal": None, "annotations": None,
        "audio": None, "function_call": None, "tool_calls": [], "reasoning_content": None,
    }  # fmt: skip
    choice = {
        "index": 0, "message": message, "logprobs": None,
        "finish_reason": gen.finish_reason, "stop_reason": None,
    }  # fmt: skip
    return {
        "id": ident, "object": "chat.completion", "created": now(), "model": ask.model,
        "choices": [choice], "service_tier": None, "system_fingerprint": None,
        "usage": _usage(gen), "prompt_logprobs": None, "kv_transfer_params": None,
    }  # fmt: skip


def _completion_body(ask: Ask, gen: Generation, ident: str) -> dict[str, Any]:
    choice = {
        "index": 0, "text": gen.text, "logprobs": None, "finish_reason": gen.finish_reason,
        "stop_reason": None, "prompt_logprobs": None,
    }  # fmt: skip
    return {
        "id": ident, "object": "text_completion", "created": now(), "model": ask.model,
        "choices": [choice], "usage": _usage(gen), "kv_transfer_params": None,
    }  # fmt: skip


def _sse(payload: dict[str, Any] | str) -> str:
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return f"data: {data}\n\n"


class _Stream:
    """The SSE chunks of one streamed answer (chat or completion)."""

    def __init__(self, ask: Ask, gen: Generation, chat: bool) -> None:
        self.ask, self.gen, self.chat = ask, gen, chat
        self.ident = new_id("chatcmpl" if chat else "cmpl")
        self.created = now()

    def chunk(self, piece: dict[str, Any] | None, finish: str | None) -> dict[str, Any]:
        choice: dict[str, Any] = {"index": 0, "logprobs": None, "finish_reason": finish}
        if self.chat:
            choice["delta"] = piece or {}
        else:
            choice["text"] = (piece or {}).get("content", "")
            choice["stop_reason"] = None
        kind = "chat.completion.chunk" if self.chat else "text_completion"
        return {
            "id": self.ident, "object": kind, "created": self.created,
            "model": self.ask.model, "choices": [choice],
        }  # fmt: skip

    async def events(self) -> AsyncIterator[str]:
        if self.chat:
            yield _sse(self.chunk({"role": "assistant", "content": ""}, None))
        try:
            async for token in self.gen.tokens():
                yield _sse(self.chunk({"content": token}, None))
        except EngineDeadError as error:
            # The 200 is already sent: vLLM reports the failure as a chunk (0.11.0 serving_chat).
            body = {"message": str(error), "type": "BadRequestError", "param": None, "code": 400}
            yield _sse({"error": body})
            yield _sse("[DONE]")
            return
        yield _sse(self.chunk({}, self.gen.finish_reason))
        if self.ask.include_usage:
            usage = self.chunk(None, None) | {"choices": [], "usage": _usage(self.gen)}
            yield _sse(usage)
        yield _sse("[DONE]")


async def _serve(engine: Engine, raw: Request, chat: bool) -> Response:
    ask = await _ask(engine, raw, chat)
    if isinstance(ask, JSONResponse):
        return ask
    if engine.dead:
        return engine_dead_response(engine.config.version)
    if engine.scheduler.reject_new:
        return paused_response()
    gen = Generation(engine, ask.prompt, ask.max_tokens)
    if ask.stream:
        return StreamingResponse(_Stream(ask, gen, chat).events(), media_type="text/event-stream")
    try:
        await gen.run()
    except EngineDeadError:
        return engine_dead_response(engine.config.version)
    ident = new_id("chatcmpl" if chat else "cmpl")
    return JSONResponse(_chat_body(ask, gen, ident) if chat else _completion_body(ask, gen, ident))


def openai_router(engine: Engine) -> APIRouter:
    """The OpenAI-compatible routes (protected by ``--api-key`` through the middleware)."""
    router = APIRouter()

    @router.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [_model_card(engine, n) for n in engine.config.model_names],
        }

    @router.post("/v1/completions")
    async def completions(raw: Request) -> Response:
        return await _serve(engine, raw, chat=False)

    @router.post("/v1/chat/completions")
    async def chat_completions(raw: Request) -> Response:
        return await _serve(engine, raw, chat=True)

    return router
