"""One fake LocalAI (v4.9 wire contract, quirks included) for the whole test suite.

Run it in-process (`httpx.ASGITransport(app=FakeLocalAIApp())`; bodies are buffered, so use
a process for timing faults) or under uvicorn: `python -m tests.support.fake_localai --port N`.

Chat answers "mocked response to: <last user text>", streamed one word per chunk; so do
/v1/messages (Anthropic events) and /v1/responses (Open Responses events; stored per process,
GET /v1/responses/{id} and POST .../cancel). /v1/completions answers "mocked completion of:
<prompt>"; /v1/tokenize gives one token per character (its code point), /v1/detokenize back.
Magic words in the last user message (like LocalAI's mock backend):
  MOCK_ERROR            500 LocalAI error JSON (any of the three when not streaming)
  MOCK_ERROR_MIDSTREAM  200 stream: role, 3 content chunks, error event, [DONE]
  MOCK_ERROR_IMMEDIATE  200 stream whose first event is the error event, then [DONE]
  MOCK_REASONING        `reasoning` deltas before the content (also models named *reasoning*
                        or *thinking*); non-stream `message.reasoning`
  MOCK_THINK_TAGS       content "<think>thinking</think>answer" in 5-character chunks

Test-only routes (never recorded, faulted or authenticated):
  GET/DELETE /__requests   what the server received: method, path, query, headers, json, form, body
  GET/POST/DELETE /__faults  pending faults; POST takes one fault object or a list
  GET /__stats             {"disconnected", "cut", "active_requests", "active_streams"}
  POST /__config           {"models"?: [...], "api_keys"?: [...], "ready"?: bool}
  POST /__reset            back to the start-up config, nothing recorded, no faults

A fault hits the next `times` requests (default 1; null: until DELETE /__faults) whose
route starts with `path` (default: any route but /healthz and /readyz) and, if given,
name `model`. Fields:
  status, retry_after, message, body   answer this status with LocalAI's error body
                                       (or `body` verbatim) and a Retry-After header
  stall_before_headers: s              wait before the status line
  stall_before_first_event: s          send headers, then wait
  stall_after_events: k, stall_seconds: s   wait after k events (default: until the
                                       client leaves, at most STALL_FOREVER)
  cut_after_events: k                  drop the connection after k events, no [DONE]
  malformed_json: true                 garbage first content event / half a JSON body
  slow_events_ms: ms                   pause between events
Events are SSE events (the role chunk is event 0); a non-stream body is one event.
"""

from ._app import FakeLocalAIApp, canonical_route
from ._codecs import PNG_SIGNATURE
from ._faults import STALL_FOREVER, Fault
from ._state import DEFAULT_MODELS, Config

__all__ = [
    "DEFAULT_MODELS",
    "PNG_SIGNATURE",
    "STALL_FOREVER",
    "Config",
    "FakeLocalAIApp",
    "Fault",
    "canonical_route",
]
