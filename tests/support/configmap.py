"""A folder laid out as Kubernetes mounts a ConfigMap or Secret, updated as the kubelet does.

Each file is a symlink `<name> -> ..data/<name>`; `..data` is a symlink to a timestamped folder
holding the real files. An update writes a new folder, points a temporary link at it and renames
that link over `..data` (one atomic step), then removes the old folder.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path


class ConfigMapDir:
    """Files in `root`, mounted and updated the way a ConfigMap volume is."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._generation = 0

    def path(self, name: str) -> Path:
        """Where a reader finds the file `name` (through the symlinks)."""
        return self.root / name

    def update(self, files: dict[str, str]) -> None:
        """Replace the whole content with `files` ({name: text}) in one symlink swap."""
        self._generation += 1
        stamp = f"..{time.strftime('%Y_%m_%d_%H_%M_%S')}.{self._generation}"
        folder = self.root / stamp
        folder.mkdir()
        for name, text in files.items():
            (folder / name).write_text(text)
        data = self.root / "..data"
        previous = os.readlink(data) if data.is_symlink() else None
        temporary = self.root / "..data_tmp"
        temporary.symlink_to(stamp)
        os.replace(temporary, data)
        for name in files:
            link = self.root / name
            if not link.is_symlink():
                link.symlink_to(Path("..data") / name)
        if previous is not None:
            shutil.rmtree(self.root / previous)
