"""Writing a benchmark's result under bench/results/: a JSON file and a short Markdown summary."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def save(name: str, result: dict[str, Any], summary: str) -> Path:
    RESULTS.mkdir(exist_ok=True)
    stamped = {"benchmark": name, "at": datetime.now(UTC).isoformat(timespec="seconds"),
               "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                           "load_average": os.getloadavg()}, **result}
    (RESULTS / f"{name}.json").write_text(json.dumps(stamped, indent=2, default=str) + "\n")
    (RESULTS / f"{name}.md").write_text(
        f"# {name}\n\n{stamped['at']}, {os.cpu_count()} CPUs, load average "
        f"{', '.join(f'{x:.1f}' for x in stamped['machine']['load_average'])}\n\n{summary}\n")
    return RESULTS / f"{name}.json"
