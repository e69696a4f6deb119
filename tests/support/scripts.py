"""Running the project's infrastructure scripts (infra/kafka/kafka.sh, infra/postgres/pg.sh) and
reading the `NAME=value` line they print: for the test fixtures and the benchmarks alike."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def script_line(cmd: list[str], prefix: str, timeout: float) -> str:
    """Run `cmd` from the repository's root; the value of its first output line starting with
    `prefix` (`KAFKA_BOOTSTRAP_SERVERS=…`); RuntimeError with its output otherwise."""
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    for line in result.stdout.splitlines():
        if line.startswith(prefix):
            return line.split("=", 1)[1].strip()
    raise RuntimeError(f"{' '.join(cmd)} printed no {prefix} line:\n{result.stdout}")
