"""`clients.__all__` is sorted, complete, and every export shows the public module path."""

from __future__ import annotations

import importlib
import inspect

import clients

# The modules whose every public class is API (the others hold helpers, e.g. `_blocking`).
API_MODULES = [
    importlib.import_module(f"clients.{name}")
    for name in (
        "_client",
        "_config",
        "_dialects",
        "_errors",
        "_legacy",
        "_localai",
        "_normalize",
        "_options",
        "_sse",
        "_streams",
        "_sync",
        "_types",
    )
]


def isort_order(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: CONSTANTS, then Classes, then functions, each alphabetical."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_all_is_sorted_and_exists() -> None:
    assert clients.__all__ == sorted(clients.__all__, key=isort_order)
    for name in clients.__all__:
        assert hasattr(clients, name), name


def test_every_public_class_of_the_modules_is_exported() -> None:
    public = {
        name
        for module in API_MODULES
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and inspect.isclass(obj)
        and obj.__module__ in (module.__name__, "clients")
    }
    assert public <= set(clients.__all__), public - set(clients.__all__)


def test_exported_classes_report_the_public_module() -> None:
    for name in clients.__all__:
        obj = getattr(clients, name)
        if inspect.isclass(obj):
            assert obj.__module__ == "clients", name
