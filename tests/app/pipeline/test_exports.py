"""The package's public names: sorted, importable, nothing missing."""

from types import ModuleType

import app.pipeline


def test_all_is_sorted_and_complete() -> None:
    assert app.pipeline.__all__ == sorted(app.pipeline.__all__)
    public = {name for name in vars(app.pipeline) if not name.startswith("_")}
    modules = {name for name, value in vars(app.pipeline).items() if isinstance(value, ModuleType)}
    assert set(app.pipeline.__all__) == public - modules
