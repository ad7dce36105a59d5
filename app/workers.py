"""Several gateway processes on one port: `localai-gateway serve --workers N`.

Once `serve` has checked the configuration it execs into `python -m app.workers` (same pid; a
supervisor needs none of the gateway's modules: ~20 MB of memory instead of ~55). The
supervisor checks that the port is free, then starts N workers: each is
`localai-gateway serve` again with `--worker-link FD`, a full gateway process (its own upstream
pool, probes and reload watcher) that binds the port with SO_REUSEPORT, so the kernel spreads
connections over the workers. A worker runs its lifespan, says `up` over its link (a socket pair)
and waits for `go` before it listens: the port opens only once every worker is up, so the first
answer of /readyz means all of them are. SIGTERM or SIGINT to the parent goes to every worker,
which drains (LOCALAI_GATEWAY_DRAIN_TIMEOUT) while the parent waits for all of them; SIGHUP goes
to every worker too (each reloads its configuration). A worker that dies after start-up is
replaced. Workers run in their own session (a terminal's Ctrl-C reaches the parent only, which
passes it on once) and shut down when their link closes, so they never outlive the parent.

What workers share: the parent makes one IMAGE_URL_KEY unless it is set, so a signed image link
verifies on any worker; /metrics adds up every worker's counters and histograms through
prometheus_client's multiprocess mode, in a directory the parent makes (PROMETHEUS_MULTIPROC_DIR).
Rate-limit buckets without Redis, concurrency limits, breakers and the status page's last minute
stay per worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import NoReturn

log = logging.getLogger("localai_gateway")

UP, GO = b"up\n", b"go\n"
_RESTART_DELAY = 1.0  # seconds before a worker that died is replaced
_TICK = 0.2  # seconds between checks of the workers while nothing happens
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


CPU_MAX = Path("/sys/fs/cgroup/cpu.max")  # cgroup v2: "<quota> <period>" or "max <period>"


def available_cpus(cpu_max: Path = CPU_MAX) -> int:
    """The CPUs this process may use: its affinity mask, capped by a cgroup v2 CPU limit (a
    container's CPU limit, rounded up)."""
    cpus = len(os.sched_getaffinity(0))
    with contextlib.suppress(OSError, ValueError):
        quota, period = cpu_max.read_text().split()
        if quota != "max":
            cpus = min(cpus, math.ceil(int(quota) / int(period)))
    return max(cpus, 1)


def worker_count(value: str) -> int:
    """`auto` (the CPUs available) or a whole number >= 1; raise ValueError otherwise."""
    if value == "auto":
        return available_cpus()
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"--workers {value!r}: give a whole number of workers >= 1, or auto")
    return int(value)


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def check_port_free(host: str, port: int) -> None:
    """Raise OSError (EADDRINUSE) when another socket listens on `host:port` (connections
    of an earlier server left in TIME_WAIT do not count, as for any server's bind)."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def reuseport_socket(host: str, port: int) -> socket.socket:
    """A socket bound to `host:port` with SO_REUSEPORT, not yet listening: each worker binds
    its own and the kernel spreads new connections over those that listen."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


class WorkerLink:
    """A worker's end of its link to the supervisor."""

    def __init__(self, fd: int) -> None:
        self.sock = socket.socket(fileno=fd)
        self.sock.setblocking(False)
        self._watch: asyncio.Task[None] | None = None

    async def up(self) -> None:
        """Say `up`, wait for `go` (every worker is up), then leave when the link closes."""
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(self.sock, UP)
        if await loop.sock_recv(self.sock, len(GO)) != GO:
            raise RuntimeError("the supervisor of this worker is gone")
        self._watch = asyncio.create_task(self._leave_when_closed())

    async def _leave_when_closed(self) -> None:
        while await asyncio.get_running_loop().sock_recv(self.sock, 64):
            pass
        log.warning("worker %d: its supervisor is gone; shutting down", os.getpid())
        os.kill(os.getpid(), signal.SIGTERM)


class Worker:
    """One worker process, seen from the supervisor: its link, whether it said `up`, and
    whether it was told `go`."""

    def __init__(self, command: Sequence[str], env: dict[str, str]) -> None:
        self.link, child_end = socket.socketpair()
        with child_end:
            self.process = subprocess.Popen(
                [*command, "--worker-link", str(child_end.fileno())],
                env=env,
                pass_fds=[child_end.fileno()],
                start_new_session=True,
            )
        self.up = self.released = False

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def exited(self) -> bool:
        return self.process.poll() is not None

    def release(self) -> None:
        """Tell it `go` once it is up (once)."""
        if self.up and not self.released:
            self.link.sendall(GO)
            self.released = True

    def signal(self, sig: int) -> None:
        if not self.exited:
            self.process.send_signal(sig)


class Supervisor:
    """Runs `count` workers of `command` on one port until SIGTERM or SIGINT, then waits while
    they drain."""

    def __init__(self, command: Sequence[str], count: int, env: dict[str, str]) -> None:
        self.command, self.count, self.env = list(command), count, env
        self.workers: list[Worker] = []
        self.selector = selectors.DefaultSelector()
        self.signals: list[int] = []
        self.serving = False

    def run(self, where: str) -> int:
        """Start the workers, serve until a signal or a failed start, wait for every worker to
        exit, and return the exit status: 0 after a signal, 1 after a failed start."""
        status = 1
        with self._catching_signals():
            try:
                for _ in range(self.count):
                    self._start()
                status = self._serve(where)
            finally:
                if status:
                    self._signal_all(signal.SIGTERM)
                self._wait_all()
                self.selector.close()
        return status

    def _serve(self, where: str) -> int:
        """Hand out `go` once every worker is up, replace the ones that die later; return 0 on
        SIGTERM or SIGINT (passed on), 1 when a worker exits before every worker was up."""
        status: int | None = None
        while status is None:
            if self._pass_on_signals():
                log.info("stopping %d workers; they drain first", len(self.workers))
                return 0
            self._read_links()
            if not self.serving and all(worker.up for worker in self.workers):
                self.serving = True
                log.info("%d workers serving on %s", len(self.workers), where)
            if self.serving:
                for worker in self.workers:
                    worker.release()
            status = self._check_exits()
        return status

    def _check_exits(self) -> int | None:
        """1 when a worker exited before every worker was up; replace the dead otherwise."""
        for worker in [worker for worker in self.workers if worker.exited]:
            code = worker.process.returncode
            if not self.serving:
                log.error("worker %d exited with %s before every worker was up", worker.pid, code)
                return 1
            log.warning("worker %d exited with %s; starting another", worker.pid, code)
            self._forget(worker)
            time.sleep(_RESTART_DELAY)
            self._start()
        return None

    def _start(self) -> None:
        worker = Worker(self.command, self.env)
        self.workers.append(worker)
        self.selector.register(worker.link, selectors.EVENT_READ, worker)

    def _read_links(self) -> None:
        for key, _ in self.selector.select(_TICK):
            worker: Worker = key.data
            message = worker.link.recv(len(UP))
            if message == UP:
                worker.up = True
            elif not message:  # closed: the worker is gone (`_check_exits` sees it)
                self.selector.unregister(worker.link)

    def _forget(self, worker: Worker) -> None:
        with contextlib.suppress(KeyError):
            self.selector.unregister(worker.link)
        worker.link.close()
        self.workers.remove(worker)
        mark_dead(worker.pid, self.env)

    def _wait_all(self) -> None:
        """Wait until every worker exited, passing on signals (a second Ctrl-C stops the
        drain, as it does for one process)."""
        while self.workers:
            self._pass_on_signals()
            for worker in [worker for worker in self.workers if worker.exited]:
                self._forget(worker)
            time.sleep(_TICK)

    def _signal_all(self, sig: int) -> None:
        for worker in self.workers:
            worker.signal(sig)

    def _pass_on_signals(self) -> bool:
        """Send the signals received since the last call to every worker; True when one of
        them asks to stop (not SIGHUP)."""
        stop = False
        while self.signals:  # pop: a signal may arrive meanwhile (its handler appends)
            sig = self.signals.pop(0)
            self._signal_all(sig)
            stop = stop or sig != signal.SIGHUP
        return stop

    @contextlib.contextmanager
    def _catching_signals(self) -> Iterator[None]:
        def keep(sig: int, frame: FrameType | None) -> None:
            self.signals.append(sig)

        previous = {sig: signal.signal(sig, keep) for sig in FORWARDED}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def mark_dead(pid: int, env: dict[str, str]) -> None:
    """Drop a dead worker's live gauges (in-flight streams) from the shared metrics."""
    directory = env.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]


@contextlib.contextmanager
def metrics_directory(env: dict[str, str]) -> Iterator[dict[str, str]]:
    """`env` with PROMETHEUS_MULTIPROC_DIR: the one given, else a fresh directory removed on
    exit."""
    if env.get("PROMETHEUS_MULTIPROC_DIR"):
        yield env
        return
    directory = tempfile.mkdtemp(prefix="localai-gateway-metrics-")
    try:
        yield {**env, "PROMETHEUS_MULTIPROC_DIR": directory}
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def become_supervisor(count: int, host: str, port: int, log_level: str) -> NoReturn:
    """Replace this process (same pid) by the supervisor of `count` workers on `host:port`."""
    command = [sys.executable, "-m", "app.workers", str(count), host, str(port), log_level]
    os.execv(sys.executable, command)


def supervise(count: int, host: str, port: int, log_level: str) -> int:
    """Run `count` workers of `localai-gateway serve` on `host:port`; the exit status."""
    try:
        check_port_free(host, port)
    except OSError as exc:
        log.error("cannot listen on %s:%d: %s", host, port, exc.strerror)
        return 1
    command = [sys.executable, "-m", "app.cli", "serve", "--host", host, "--port", str(port)]
    with metrics_directory(dict(os.environ)) as env:
        supervisor = Supervisor([*command, "--log-level", log_level], count, env)
        return supervisor.run(f"http://{host}:{port}")


def main(argv: Sequence[str]) -> int:
    """`python -m app.workers COUNT HOST PORT LOG_LEVEL` (see `become_supervisor`)."""
    count, host, port, log_level = argv
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    return supervise(int(count), host, int(port), log_level)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
