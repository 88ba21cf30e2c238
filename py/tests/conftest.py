"""Shared fixtures: the repository, its test fixtures and the release CLI binary to compare with."""

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
DEPLOY = ROOT / "models" / "deploy" / "ncnv72_published"
NCNV72 = ROOT / "models" / "ncnv72_published.params.npz"


def cli_path() -> Path:
    """The `binarycop` binary: $BINARYCOP_CLI, else the workspace's release build."""
    return Path(os.environ.get("BINARYCOP_CLI", ROOT / "target" / "release" / "binarycop"))


@pytest.fixture(scope="session")
def cli():
    """Runs the CLI; returns the CompletedProcess (text). A missing binary fails the test."""
    exe = cli_path()
    assert exe.is_file(), f"{exe} is missing: build it with `cargo build --release` or set BINARYCOP_CLI"

    def run(*args, check=True):
        r = subprocess.run(
            [str(exe), "--quiet", *map(str, args)], capture_output=True, text=True, timeout=600
        )
        if check:
            assert r.returncode == 0, f"binarycop {' '.join(map(str, args))}: {r.stderr}"
        return r

    return run


@pytest.fixture(scope="session")
def cli_json(cli):
    """Runs the CLI with --json and parses what it prints."""

    def run(*args):
        return json.loads(cli(*args, "--json").stdout)

    return run


def cli_error(r) -> str:
    """The message of the CLI's `error: ...` line."""
    assert r.returncode != 0, r.stdout
    lines = [l for l in r.stderr.splitlines() if l.startswith("error: ")]
    assert lines, r.stderr
    return lines[-1][len("error: ") :]
