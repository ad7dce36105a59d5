"""The ASGI app: read the request, record it, authenticate, route, fault, deliver."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from . import _audio, _images, _responses, _retrieval, _tokens
from ._chat import chat_completions
from ._completions import completions
from ._control import control
from ._delivery import deliver
from ._faults import Fault
from ._http import Refusal, Reply, Request, bytes_reply, json_reply, parse_query
from ._messages import messages
from ._state import Config, State
from ._types import Receive, Scope, Send
from ._wire import error_body, new_id

Handler = Callable[[Request, State], Awaitable[Reply]]

UPLOAD_LIMIT = 15 * 1024 * 1024  # LOCALAI_UPLOAD_LIMIT default, in bytes
_PUBLIC = ("/healthz", "/readyz")
_ALIASES = {"/tts": "/v1/audio/speech"}


async def _healthz(request: Request, state: State) -> Reply:
    return bytes_reply(200, "text/plain; charset=UTF-8", b"")


async def _readyz(request: Request, state: State) -> Reply:
    if state.config.ready:
        return bytes_reply(200, "text/plain; charset=UTF-8", b"")
    return json_reply(503, {"status": "starting", "reason": "startup preload in progress"})


async def _models(request: Request, state: State) -> Reply:
    pattern = re.compile(request.query.get("filter", ""))
    data = [{"id": m, "object": "model"} for m in state.config.models if pattern.search(m)]
    return json_reply(200, {"object": "list", "data": data})


ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "/healthz"): _healthz,
    ("GET", "/readyz"): _readyz,
    ("GET", "/v1/models"): _models,
    ("POST", "/v1/chat/completions"): chat_completions,
    ("POST", "/v1/completions"): completions,
    ("POST", "/v1/responses"): _responses.create,
    ("POST", "/v1/messages"): messages,
    ("POST", "/v1/tokenize"): _tokens.tokenize,
    ("POST", "/v1/detokenize"): _tokens.detokenize,
    ("POST", "/v1/embeddings"): _retrieval.embeddings,
    ("POST", "/v1/rerank"): _retrieval.rerank,
    ("POST", "/v1/images/generations"): _images.generations,
    ("POST", "/v1/images/inpainting"): _images.inpainting,
    ("POST", "/v1/audio/transcriptions"): _audio.transcriptions,
    ("POST", "/v1/audio/speech"): _audio.speech,
}
_V1_PATHS = {path for _, path in ROUTES if path.startswith("/v1/")}


def canonical_route(path: str) -> str:
    """The path LocalAI routes: no trailing slash, and non-/v1 aliases mapped to /v1."""
    path = path.rstrip("/") or "/"
    if path in _ALIASES:
        return _ALIASES[path]
    return "/v1" + path if "/v1" + path in _V1_PATHS else path


class FakeLocalAIApp:
    """A LocalAI v4.9 stand-in; `state` is what tests inspect when running in-process."""

    def __init__(self, config: Config | None = None) -> None:
        self.state = State(config or Config())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        request = await _read_request(scope, receive)
        if request is None:
            reply = json_reply(413, error_body(413, "Request Entity Too Large"))
            await deliver(reply, None, receive, send, self.state.stats)
            return
        if request.route.startswith("/__"):
            await deliver(control(request, self.state), None, receive, send, self.state.stats)
            return
        self.state.requests.append(request.recorded())
        fault = None
        try:
            handler = self._authorized_handler(request)
            fault = self.state.faults.take(request.route, _model_named(request))
            reply = (
                _status_reply(fault)
                if fault and fault.status
                else await handler(request, self.state)
            )
        except Refusal as refusal:
            reply = refusal.reply()
        if request.route not in _PUBLIC:
            correlation = request.headers.get("x-correlation-id") or new_id()
            reply.headers.append(("x-correlation-id", correlation))
        await deliver(reply, fault, receive, send, self.state.stats)

    def _authorized_handler(self, request: Request) -> Handler:
        """The route's handler after LocalAI's key check; 401, 404 or 405 otherwise."""
        if request.route not in _PUBLIC and not self._authenticated(request):
            raise Refusal(
                401,
                "An authentication key is required",
                "invalid_request_error",
                [("www-authenticate", "Bearer")],
            )
        if request.route.startswith("/generated-images/") and request.method == "GET":
            return _images.generated_image
        if request.route.startswith("/v1/responses/"):
            if request.method == "GET":
                return _responses.stored
            if request.method == "POST" and request.route.endswith("/cancel"):
                return _responses.cancel
        handler = ROUTES.get((request.method, request.route))
        if handler is not None:
            return handler
        if any(path == request.route for _, path in ROUTES):
            raise Refusal(405, "Method Not Allowed")
        raise Refusal(404, "Resource not found")

    def _authenticated(self, request: Request) -> bool:
        keys = self.state.config.api_keys
        if not keys:
            return True
        headers = request.headers
        authorization = headers.get("authorization", "")
        offered = {
            authorization.removeprefix("Bearer ").strip(),
            headers.get("x-api-key", ""),
            headers.get("xi-api-key", ""),
            _cookie(headers.get("cookie", ""), "token"),
        }
        return bool((offered - {""}) & set(keys))


def _status_reply(fault: Fault) -> Reply:
    """The reply a `status` fault asks for: LocalAI's error body unless `body` replaces it."""
    assert fault.status is not None
    headers = [("retry-after", str(fault.retry_after))] if fault.retry_after is not None else []
    if fault.has_body:
        return json_reply(fault.status, fault.body, headers)
    message = fault.message or f"fault injected: HTTP {fault.status}"
    return json_reply(fault.status, error_body(fault.status, message), headers)


def _model_named(request: Request) -> str | None:
    """The model a request names in its JSON body or form, for fault matching."""
    recorded = request.recorded()
    source = recorded["json"] if isinstance(recorded["json"], dict) else recorded["form"] or {}
    model = source.get("model")
    return model if isinstance(model, str) else None


def _cookie(header: str, name: str) -> str:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return ""


async def _read_request(scope: Scope, receive: Receive) -> Request | None:
    """Read the whole body; None when it is over LocalAI's upload limit."""
    chunks: list[bytes] = []
    size, more = 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        more = message.get("more_body", False)
        if size > UPLOAD_LIMIT:
            return None
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return Request(
        method=scope["method"],
        path=scope["path"],
        route=canonical_route(scope["path"]),
        query=parse_query(scope.get("query_string", b"")),
        headers=headers,
        body=b"".join(chunks),
    )


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
