"""The worker supervisor (`serve --workers N`): worker counts, the `up`/`go` barrier, signals
passed on, failed starts and replaced workers, with stand-in workers (tests/support/fake_worker)."""

from __future__ import annotations

import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from app.cli import main
from app.workers import Supervisor, available_cpus, check_port_free, worker_count
from tests.support.servers import REPO_ROOT

FAKE_WORKER = [sys.executable, "-m", "tests.support.fake_worker"]
Events = dict[int, list[tuple[float, str]]]


def events(directory: Path) -> Events:
    """Per fake worker pid, its (time, event) lines."""
    found: Events = {}
    for path in directory.iterdir():
        if path.name.isdigit():
            lines = [line.split() for line in path.read_text().splitlines()]
            found[int(path.name)] = [(float(at), event) for at, event in lines]
    return found


def with_event(directory: Path, event: str) -> int:
    return sum(event in [e for _, e in seen] for seen in events(directory).values())


def wait_until(condition: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def supervise(
    directory: Path, count: int, role: str, drive: Callable[[Supervisor], None]
) -> tuple[int, Supervisor]:
    """Run a supervisor of `count` fake workers (one with `role`) while `drive` acts on it from
    a thread; its exit status."""
    env = {
        "FAKE_WORKER_DIR": str(directory),
        "FAKE_WORKER_ROLE": role,
        "PYTHONPATH": str(REPO_ROOT),
    }
    supervisor = Supervisor(FAKE_WORKER, count, env)
    driver = threading.Thread(target=drive, args=(supervisor,))
    driver.start()
    try:
        status = supervisor.run("test")
    finally:
        driver.join(30)
    return status, supervisor


def test_go_waits_for_every_worker_and_signals_reach_them_all(tmp_path: Path) -> None:
    def drive(supervisor: Supervisor) -> None:
        wait_until(lambda: with_event(tmp_path, "go") == 3)
        supervisor.signals.append(signal.SIGHUP)
        wait_until(lambda: with_event(tmp_path, "hup") == 3)
        supervisor.signals.append(signal.SIGTERM)

    status, supervisor = supervise(tmp_path, 3, "slow", drive)
    assert status == 0 and supervisor.workers == []
    seen = events(tmp_path)
    assert len(seen) == 3
    for lines in seen.values():
        assert [event for _, event in lines] == ["start", "up", "go", "hup", "term"]
    last_up = max(at for lines in seen.values() for at, event in lines if event == "up")
    first_go = min(at for lines in seen.values() for at, event in lines if event == "go")
    assert first_go > last_up, "no worker is told go before the slow one is up"


def test_a_worker_failing_before_every_worker_is_up_stops_them_all(tmp_path: Path) -> None:
    status, supervisor = supervise(tmp_path, 2, "fail", lambda supervisor: None)
    assert status == 1 and supervisor.workers == []
    # The failed one ends at "start"; the other, if it got as far as Python, was stopped.
    outcomes = sorted(lines[-1][1] for lines in events(tmp_path).values())
    assert outcomes in (["start"], ["start", "term"])
    assert with_event(tmp_path, "go") == 0


def test_a_worker_that_dies_while_serving_is_replaced(tmp_path: Path) -> None:
    def drive(supervisor: Supervisor) -> None:
        wait_until(lambda: with_event(tmp_path, "go") == 3)  # two, and the replacement
        supervisor.signals.append(signal.SIGTERM)

    status, _ = supervise(tmp_path, 2, "die", drive)
    assert status == 0
    seen = events(tmp_path)
    assert len(seen) == 3
    assert sum(lines[-1][1] == "term" for lines in seen.values()) == 2


def test_worker_count() -> None:
    assert worker_count("3") == 3
    assert worker_count("auto") == available_cpus() >= 1
    for bad in ("0", "-1", "many", "1.5"):
        with pytest.raises(ValueError, match="whole number of workers"):
            worker_count(bad)


def test_a_bad_worker_count_stops_serve_with_one_line() -> None:
    with pytest.raises(SystemExit, match="--workers 'many': give a whole number"):
        main(["serve", "--workers", "many"])


@pytest.mark.parametrize(("cpu_max", "cap"), [("150000 100000", 2), ("50000 100000", 1)])
def test_auto_respects_a_cgroup_cpu_limit(tmp_path: Path, cpu_max: str, cap: int) -> None:
    path = tmp_path / "cpu.max"
    path.write_text(cpu_max + "\n")
    assert available_cpus(path) == min(cap, available_cpus(tmp_path / "absent"))
    path.write_text("max 100000\n")
    assert available_cpus(path) == available_cpus(tmp_path / "absent")


def test_the_port_must_be_free_of_listeners_but_not_of_closed_connections() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with pytest.raises(OSError):
            check_port_free("127.0.0.1", port)
        with socket.create_connection(("127.0.0.1", port)) as client:
            accepted, _ = server.accept()
            accepted.close()  # the server closes first: its side waits in TIME_WAIT
            client.recv(1)
    check_port_free("127.0.0.1", port)
