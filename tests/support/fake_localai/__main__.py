"""Serve the fake on 127.0.0.1: `python -m tests.support.fake_localai --port N [--models a,b]`."""

from __future__ import annotations

import argparse

import uvicorn

from ._app import FakeLocalAIApp
from ._state import DEFAULT_MODELS, Config


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.fake_localai", description=__doc__
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma-separated")
    parser.add_argument("--api-key", action="append", default=[], help="repeat for several keys")
    parser.add_argument("--starting", action="store_true", help="/readyz answers 503 until told")
    args = parser.parse_args(argv)
    models = [m for m in args.models.split(",") if m]
    app = FakeLocalAIApp(Config(models=models, api_keys=args.api_key, ready=not args.starting))
    # A short graceful-shutdown window: stalled test streams must not hold SIGTERM up.
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=1,
    )


if __name__ == "__main__":
    main()
