"""Which profile and which machine produced the notebooks' outputs: `make run` writes this record beside them.

`python docs/site/record.py build/run.json` runs just before `make run` executes the notebooks, in the same
environment (so `TC_PROFILE` and the auto profile's choice are theirs); docs/site/conf.py shows it on every notebook page.
"""

from __future__ import annotations

import json
import platform
import sys
from pathlib import Path

import torch

from helpers import get_settings
from helpers.hardware import device_name


def cpu() -> str:
    """The CPU's model name (Linux's /proc/cpuinfo), else what Python's platform module says."""
    info = Path("/proc/cpuinfo")
    for line in info.read_text().splitlines() if info.is_file() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def record() -> dict[str, str]:
    """The profile the notebooks will run on, the CPU, the device that trains and torch's version."""
    return {"profile": get_settings().profile, "cpu": cpu(), "device": device_name(), "torch": torch.__version__}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("error: give the record's path, e.g. `python docs/site/record.py build/run.json`")
    path = Path(sys.argv[1])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record(), indent=2) + "\n", encoding="utf-8")
