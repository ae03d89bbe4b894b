"""Which profile and which machine produced the notebooks' outputs: `make run` writes this record beside them.

`python docs/site/record.py build/run.json` runs just before `make run` executes the notebooks, in the same
environment (so `TC_PROFILE` and the auto profile's choice are theirs); docs/site/conf.py shows it on every notebook page.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from helpers import get_settings, hardware


def record() -> dict:
    """The profile the notebooks will run on, and the machine (`hardware.record`: CPU, bfloat16, device, torch)."""
    return {"profile": get_settings().profile, **hardware.record()}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("error: give the record's path, e.g. `python docs/site/record.py build/run.json`")
    path = Path(sys.argv[1])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record(), indent=2) + "\n", encoding="utf-8")
