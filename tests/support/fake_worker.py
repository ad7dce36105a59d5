"""A stand-in for a gateway worker in supervisor tests (app/workers.py's link protocol).

Run as `python -m tests.support.fake_worker --worker-link FD`. It appends what happens to it to
`$FAKE_WORKER_DIR/<pid>` (`up`, `go`, `hup`, `term`, one per line with the monotonic time) and
exits 0 on SIGTERM. `$FAKE_WORKER_ROLE` picks one worker (the first to claim it) to behave
differently: `slow` says up after 1 s, `fail` exits 3 before up, `die` exits 1 0.3 s after go.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path
from types import FrameType

DIRECTORY = Path(os.environ["FAKE_WORKER_DIR"])


def record(event: str) -> None:
    with (DIRECTORY / str(os.getpid())).open("a") as events:
        events.write(f"{time.monotonic()} {event}\n")


def claim_role() -> str:
    """The role for the first worker that claims it, else ''."""
    role = os.environ.get("FAKE_WORKER_ROLE", "")
    try:
        os.close(os.open(DIRECTORY / "role-taken", os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return ""
    return role


def on_term(sig: int, frame: FrameType | None) -> None:
    record("term")
    sys.exit(0)


def main() -> None:
    signal.signal(signal.SIGHUP, lambda sig, frame: record("hup"))
    signal.signal(signal.SIGTERM, on_term)
    link = socket.socket(fileno=int(sys.argv[sys.argv.index("--worker-link") + 1]))
    role = claim_role()
    record("start")
    if role == "fail":
        sys.exit(3)
    time.sleep(1.0 if role == "slow" else 0)
    record("up")
    link.sendall(b"up\n")
    if link.recv(3) == b"go\n":
        record("go")
    if role == "die":
        time.sleep(0.3)
        sys.exit(1)
    while True:
        time.sleep(0.05)


if __name__ == "__main__":
    main()
