"""The public surface of `clients.llamacpp`, and that importing it leaves llama_cpp unimported."""

import subprocess
import sys

import clients.llamacpp


def test_all_is_sorted_and_complete() -> None:
    assert clients.llamacpp.__all__ == sorted(clients.llamacpp.__all__)
    public = {name for name in vars(clients.llamacpp) if not name.startswith("_")}
    modules = {
        "backend",
        "chat",
        "config",
        "constraints",
        "embedded",
        "embeddings",
        "errors",
        "pool",
        "requests",
        "runtime",
        "tokens",
        "worker",
    }
    assert public - modules == set(clients.llamacpp.__all__)


def test_import_does_not_load_llama_cpp() -> None:
    probe = "import sys, clients.llamacpp; print('llama_cpp' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "False"
