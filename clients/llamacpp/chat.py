"""Generation in a worker thread: one loop serves chat and text completions, streamed and whole
answers alike.

The loop checks a `threading.Event` between tokens, so a closed stream or a cancelled request
stops llama.cpp within one token.
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .._normalize import request_fault
from .constraints import check_native
from .errors import LlamaCppBadRequest

Chunk = dict[str, Any]


@dataclass(frozen=True, slots=True)
class ChatJob:
    """Everything one generation needs, checked on the event loop before the thread starts:
    chat `messages`, or (when `prompt` is set) a text completion of `prompt` as it is."""

    model_id: str
    messages: list[dict[str, str]]
    sampling: dict[str, Any]
    grammar: str | None
    include_usage: bool = False
    prompt: str | None = None


class Stopped(Exception):
    """Raised in the worker when its caller went away; nobody is left to see it."""


class _StepCounter:
    """A pass-through logits processor counting sampling steps; the first one sees the prompt."""

    def __init__(self) -> None:
        self.prompt_tokens = 0
        self.steps = 0

    def __call__(self, input_ids: Any, logits: Any) -> Any:
        if self.steps == 0:
            self.prompt_tokens = len(input_ids)
        self.steps += 1
        return logits

    def usage(self, finish_reason: str | None) -> dict[str, int]:
        # A "stop" ends on a sampled end-of-generation token, which is not part of the answer.
        completion = self.steps - 1 if finish_reason == "stop" and self.steps else self.steps
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
        }


@dataclass(slots=True)
class Outcome:
    """How a generation ended: `finish_reason` is None when it was stopped early."""

    finish_reason: str | None
    usage: dict[str, int]


def generate(
    llama_cpp: Any,
    llama: Any,
    job: ChatJob,
    on_chunk: Callable[[Chunk], None],
    stop: threading.Event,
) -> Outcome:
    """Run one chat completion, passing each `chat.completion.chunk` to `on_chunk`."""
    grammar = None
    if job.grammar is not None:
        check_native(llama_cpp, llama, job.grammar)
        grammar = llama_cpp.LlamaGrammar.from_string(job.grammar, verbose=False)
    counter = _StepCounter()
    options = {
        "stream": True,
        "model": job.model_id,
        "grammar": grammar,
        "logits_processor": llama_cpp.LogitsProcessorList([counter]),
        **job.sampling,
    }
    if job.prompt is None:
        chunks = llama.create_chat_completion(job.messages, **options)
    else:
        chunks = llama.create_completion(job.prompt, **options)
    finish_reason = None
    try:
        for chunk in chunks:
            if stop.is_set():
                return Outcome(None, counter.usage(None))
            on_chunk(chunk)
            finish_reason = chunk["choices"][0]["finish_reason"] or finish_reason
    except ValueError as exc:  # llama-cpp-python's way to say "input too long" and the like
        # It counts the prompt with the model's tokenizer against n_ctx before generating.
        message = f"model {job.model_id!r}: {exc}"
        param = "messages" if job.prompt is None else "prompt"
        raise LlamaCppBadRequest(message, param=param, code=request_fault(message)) from exc
    finally:
        chunks.close()
    return Outcome(finish_reason, counter.usage(finish_reason))


def usage_chunk(first: Chunk, usage: dict[str, int]) -> Chunk:
    """The trailer chunk of `stream_options.include_usage`: no choices, only usage."""
    return {
        "id": first["id"],
        "object": first["object"],
        "created": first["created"],
        "model": first["model"],
        "choices": [],
        "usage": usage,
    }


def stream(
    llama_cpp: Any,
    llama: Any,
    job: ChatJob,
    emit: Callable[[Chunk], None],
    stop: threading.Event,
) -> None:
    """Emit each chunk, then the usage trailer when the job asks for it and was not stopped."""
    chunks: list[Chunk] = []

    def on_chunk(chunk: Chunk) -> None:
        if not chunks:
            chunks.append(chunk)
        emit(chunk)

    outcome = generate(llama_cpp, llama, job, on_chunk, stop)
    if job.include_usage and outcome.finish_reason is not None:
        emit(usage_chunk(chunks[0], outcome.usage))


def complete(llama_cpp: Any, llama: Any, job: ChatJob, stop: threading.Event) -> dict[str, Any]:
    """Run one completion and return it whole: a `chat.completion`, or a `text_completion`."""
    chunks: list[Chunk] = []
    outcome = generate(llama_cpp, llama, job, chunks.append, stop)
    if outcome.finish_reason is None:
        raise Stopped
    first = chunks[0]
    if job.prompt is not None:
        text = "".join(chunk["choices"][0]["text"] for chunk in chunks)
        choice = {"text": text, "index": 0, "logprobs": None}
        return {
            **{key: first[key] for key in ("id", "object", "created")},
            "model": job.model_id,
            "choices": [{**choice, "finish_reason": outcome.finish_reason}],
            "usage": outcome.usage,
        }
    text = "".join(chunk["choices"][0]["delta"].get("content") or "" for chunk in chunks)
    return {
        "id": first["id"],
        "object": "chat.completion",
        "created": first["created"],
        "model": job.model_id,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "logprobs": None,
                "finish_reason": outcome.finish_reason,
            }
        ],
        "usage": outcome.usage,
    }
