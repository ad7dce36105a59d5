"""The `localai-gateway` command: serve, check-registry, render-localai, grammar."""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType

import uvicorn
from pydantic import ValidationError

from .access.auth import AuthNotConfigured, KeysFileError, check_bind, keys_path
from .registry import DEFAULT_ROUTING, Registry, RegistryError, load_registry
from .settings import Settings
from .state import Lifecycle
from .workers import WorkerLink, become_supervisor, reuseport_socket, worker_count


def settings_error(error: ValidationError) -> str:
    """Return one line naming the environment variable that holds a bad value and why."""
    first = error.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else "?"
    value = first.get("input")
    shown = "" if "key" in field or isinstance(value, dict) else f" (got {value!r})"
    return f"LOCALAI_GATEWAY_{field.upper()}: {first['msg']}{shown}"


def _load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise SystemExit(f"localai-gateway: {settings_error(exc)}") from None


def serve(args: argparse.Namespace) -> None:
    """Check settings, registry and keys, then run the app under uvicorn: in this process, or
    in several worker processes on the same port (`--workers`)."""
    from .configuration import ConfigFiles, load_configuration
    from .main import create_app

    settings = _load_settings()
    try:
        load_configuration(settings, ConfigFiles.of(settings, keys_path(settings)))
        check_bind(settings, args.host)
        count = worker_count(str(args.workers or settings.workers))
    except (RegistryError, KeysFileError, AuthNotConfigured, ValueError) as exc:
        raise SystemExit(f"localai-gateway: {exc}") from None
    configure_logging()
    if count > 1 and args.worker_link is None:
        if "image_url_key" not in settings.model_fields_set:
            # Each process would make its own key: the workers inherit this one instead.
            key = settings.image_url_key.get_secret_value()
            os.environ["LOCALAI_GATEWAY_IMAGE_URL_KEY"] = key
        become_supervisor(count, args.host, args.port, args.log_level)
    app = create_app(settings)
    # Everything imported so far lives as long as the process: out of the collector's sight, a
    # full collection no longer walks ~70k objects (docs.python.org/3/library/gc.html#gc.freeze).
    # Measured: chat c=64 0.45 -> 0.32 ms CPU per request.
    gc.collect()
    gc.freeze()
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        ws="none",  # no websocket routes: uvicorn need not import websockets
        access_log=False,
        log_level=args.log_level,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=int(settings.drain_timeout),
        # Bounds against connection floods (uvicorn has no header-read timeout; the ingress's
        # read timeout covers slowloris): above limit_concurrency uvicorn answers 503.
        limit_concurrency=4096,
        backlog=2048,
        server_header=False,
    )
    server = DrainingServer(config, app.state.lifecycle)
    if args.worker_link is None:
        server.run()
        return
    link = WorkerLink(args.worker_link)
    app.state.lifecycle.started = link.up  # listen only once every worker is up
    server.run(sockets=[reuseport_socket(args.host, args.port)])


class DrainingServer(uvicorn.Server):
    """uvicorn's server, marking the app as draining on SIGTERM so /readyz answers 503, and
    reloading the configuration on SIGHUP.

    After SIGTERM uvicorn stops accepting connections and lets in-flight requests and streams
    finish for up to `timeout_graceful_shutdown` (LOCALAI_GATEWAY_DRAIN_TIMEOUT) before closing.
    """

    def __init__(self, config: uvicorn.Config, lifecycle: Lifecycle) -> None:
        super().__init__(config)
        self.lifecycle = lifecycle

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.lifecycle.draining = True
        super().handle_exit(sig, frame)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """uvicorn's SIGINT/SIGTERM handlers, plus SIGHUP for a reload (main thread only, as
        uvicorn's; the previous handler is restored on exit)."""
        with super().capture_signals():
            if threading.current_thread() is not threading.main_thread():
                yield
                return
            previous = signal.signal(signal.SIGHUP, self.handle_reload)
            try:
                yield
            finally:
                signal.signal(signal.SIGHUP, previous)

    def handle_reload(self, sig: int, frame: FrameType | None) -> None:
        """Ask the lifespan for a configuration reload (it runs on the event loop)."""
        self.lifecycle.reload()


def configure_logging() -> None:
    """Print the gateway's own log lines, and the one-JSON-line-per-request access log, on
    stderr (uvicorn configures only its own loggers)."""
    for name, layout in (
        ("localai_gateway", "%(levelname)s:     %(message)s"),
        ("localai_gateway.access", "%(message)s"),
    ):
        logger = logging.getLogger(name)
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(layout))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def check_registry(args: argparse.Namespace) -> None:
    """Validate a registry file and print what it maps."""
    settings = _load_settings()
    path = args.path or settings.registry_path
    try:
        registry = Registry.build(
            load_registry(path),
            source=path,
            default_upstream=settings.localai_url or "(LOCALAI_GATEWAY_LOCALAI_URL)",
            timeouts=settings.timeouts,
            health_path=settings.health_path,
        )
    except RegistryError as exc:
        raise SystemExit(f"localai-gateway: {exc}") from None
    print(f"{path}: {len(registry)} models")
    for target in registry:
        capabilities = ",".join(sorted(target.capabilities))
        upstreams = " ".join(target.upstreams)
        routing = "" if target.routing == DEFAULT_ROUTING else f", routing {target.routing}"
        print(f"  {target.id} -> {target.localai_model} [{capabilities}] @ {upstreams}{routing}")
    for kind, target in registry.defaults.items():
        print(f"  default {kind}: {target.id}")


def render_localai_configs(args: argparse.Namespace) -> None:
    """Write LocalAI model YAML files for every registry entry."""
    from .render_localai import render_localai

    try:
        written = render_localai(args.registry, args.outdir)
    except (RegistryError, ValueError) as exc:
        raise SystemExit(f"localai-gateway: {exc}") from None
    for path in written:
        print(path)


def print_grammar(args: argparse.Namespace) -> None:
    """Print the GBNF grammar of a JSON Schema file or of a Pydantic model."""
    import importlib

    import grammar

    try:
        if args.pydantic:
            module_name, _, class_name = args.pydantic.partition(":")
            model = getattr(importlib.import_module(module_name), class_name)
            text = grammar.model_to_gbnf(model, strict=not args.lenient)
        else:
            schema = json.loads(args.schema.read_text(encoding="utf-8"))
            text = grammar.schema_to_gbnf(schema, strict=not args.lenient)
    except (OSError, ValueError, ImportError, AttributeError) as exc:
        raise SystemExit(f"localai-gateway: {exc}") from None
    print(text, end="" if text.endswith("\n") else "\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the `localai-gateway` command."""
    parser = argparse.ArgumentParser(prog="localai-gateway", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("serve", help="run the gateway")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000)
    run.add_argument("--log-level", default="info")
    run.add_argument(
        "--workers",
        help="gateway processes sharing the port: a number or auto, the CPUs available "
        "(default LOCALAI_GATEWAY_WORKERS, 1)",
    )
    run.add_argument("--worker-link", type=int, help=argparse.SUPPRESS)  # app/workers.py
    run.set_defaults(handler=serve)

    check = commands.add_parser("check-registry", help="validate a registry file")
    check.add_argument("path", nargs="?", type=Path)
    check.set_defaults(handler=check_registry)

    render = commands.add_parser(
        "render-localai", help="write LocalAI model configs from the registry"
    )
    render.add_argument("registry", type=Path)
    render.add_argument("outdir", type=Path)
    render.set_defaults(handler=render_localai_configs)

    gbnf = commands.add_parser("grammar", help="print the GBNF grammar of a JSON Schema")
    source = gbnf.add_mutually_exclusive_group(required=True)
    source.add_argument("schema", nargs="?", type=Path, help="a JSON Schema file")
    source.add_argument("--pydantic", metavar="MODULE:CLASS", help="a Pydantic model")
    gbnf.add_argument(
        "--lenient", action="store_true", help="drop what no grammar can express (strict=False)"
    )
    gbnf.set_defaults(handler=print_grammar)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the console script."""
    args = build_parser().parse_args(argv)
    args.handler(args)


if __name__ == "__main__":
    main(sys.argv[1:])
