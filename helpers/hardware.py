"""Which device trains, in which precision, and how the process keeps its memory: decided here and nowhere else.

Introduced in notebook 00 (setup), which prints `describe`; every `Trainer` takes its device and precision flags
from `training_flags`, every figure names its machine with `record`. torch and transformers are imported only
inside the functions that ask them, and the settings never at run time: `helpers.settings` asks for the device.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .settings import Settings


def device() -> str:
    """Where training runs: "cuda" (an NVIDIA or AMD GPU), "mps" (an Apple GPU) or "cpu" (notebook 00)."""
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def device_name() -> str:
    """The device in words: "CUDA GPU Tesla T4", "Apple GPU (MPS)" or "CPU (2 threads)" (notebook 00)."""
    import torch

    kind = device()
    if kind == "cuda":
        return f"CUDA GPU {torch.cuda.get_device_name()}"
    if kind == "mps":
        return "Apple GPU (MPS)"
    return f"CPU ({torch.get_num_threads()} threads)"


def cpuinfo() -> str:
    """The text of /proc/cpuinfo, or "" where there is none (macOS, Windows)."""
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def cpu_has_bf16() -> bool:
    """True when this CPU computes bfloat16 natively (AVX512-BF16 or AMX), as read from /proc/cpuinfo."""
    flags = cpuinfo()
    return "avx512_bf16" in flags or "amx_bf16" in flags


def cpu_model() -> str:
    """The CPU's name: /proc/cpuinfo's first "model name" (Linux), else what `platform` knows (for `record`)."""
    named = re.search(r"^model name\s*:[ \t]*(\S.*?)\s*$", cpuinfo(), re.MULTILINE)
    return named[1] if named else platform.processor() or platform.machine() or "unknown"


def record() -> dict:
    """The machine a figure was measured on (metrics.json, bench.json, bench_inference.json): the CPU, its native
    bfloat16, torch's CPU kernels, threads per process, torchrun's processes, the device and torch's version."""
    import torch

    return {"cpu": cpu_model(), "cpu_bf16": cpu_has_bf16(), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "torch_threads": torch.get_num_threads(), "processes": int(os.environ.get("WORLD_SIZE", "1")),
            "device": device_name(), "torch": torch.__version__}


def precision_choice(settings: Settings) -> tuple[str, str]:
    """The precision training uses and why: `settings.precision`, or for "auto" what this device does natively
    (notebook 00): bf16 on CUDA GPUs where native (a T4 emulates it, slower than fp16: pytorch/pytorch#148322),
    fp32 on Apple GPUs (bf16 autocast there is not measured to be right), bf16 on CPUs that compute it natively."""
    import torch

    if settings.precision != "auto":
        return settings.precision, "as set"
    kind = device()
    if kind == "cuda":
        if torch.cuda.is_bf16_supported(including_emulation=False):
            return "bf16", "native on this GPU"
        return "fp16", "no native bf16"
    if kind == "mps":
        return "fp32", "the Apple GPU's safe choice"
    if cpu_has_bf16():
        return "bf16", "AVX512-BF16 or AMX"
    return "fp32", "no AVX512-BF16 or AMX on this CPU"


def precision(settings: Settings) -> str:
    """`settings.precision`, or for "auto": bf16 where native, fp16 on older CUDA GPUs, else fp32 (notebook 04)."""
    return precision_choice(settings)[0]


def attention(choice: str = "auto") -> str:
    """The attention implementation a model loads with: `choice`, or for "auto" eager on a CPU (the fused sdpa is
    slower there for headlines of a dozen tokens: docs/speed.md) and sdpa elsewhere; the same result. Notebook 04."""
    if choice != "auto":
        return choice
    return "eager" if device() == "cpu" else "sdpa"


def training_flags(settings: Settings) -> dict[str, bool]:
    """The `TrainingArguments` flags that depend on the machine: the device and mixed precision (notebook 04)."""
    chosen, kind = precision(settings), device()
    return dict(bf16=chosen == "bf16", fp16=chosen == "fp16",  # autocast: weights stay float32, products in 16 bits
                # on a CPU: bf16 autocast, and torchrun's processes, need it said; on a GPU (CUDA or Apple's) the
                # Trainer takes the GPU only when it is not said
                use_cpu=kind == "cpu",
                dataloader_pin_memory=kind == "cuda")  # page-locked batches copy faster to CUDA; MPS shares memory


def describe(settings: Settings) -> str:
    """One line: the device that trains and the precision it uses, and why (notebook 00; printed as training starts)."""
    chosen, why = precision_choice(settings)
    return f"device: {device_name()}, precision {chosen} ({why})"


@contextlib.contextmanager
def quiet_transformers(*names: str) -> Iterator[None]:
    """transformers' warnings (of its loggers `names`, else of the whole library) and loading bars off inside the
    block, as they were after it: the one place the series quiets them (a fresh head's "newly initialized" report,
    which notebook 04 explains, would repeat at each load), and peft 0.21's call of transformers 5's deprecated
    `is_gradient_checkpointing`, not the learner's to fix."""
    from transformers.utils import logging

    loggers = [logging.get_logger(name) for name in names or ["transformers"]]
    levels, bars = [logger.level for logger in loggers], logging.is_progress_bar_enabled()
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", ".*is_gradient_checkpointing.*", FutureWarning)
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
        if bars:
            logging.enable_progress_bar()


M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # glibc's mallopt parameters (malloc.h)
GLIBC_DEFAULTS = {M_TRIM_THRESHOLD: 128 * 1024, M_MMAP_MAX: 65536}
KEEP_FREED = {M_TRIM_THRESHOLD: 2**31 - 1, M_MMAP_MAX: 0}  # never hand memory back; never map a block of its own


def reuse_memory(on: bool) -> bool:
    """Have glibc keep freed memory for the next training step (on), or hand it back at its default thresholds (off).

    Kept, a step reuses the pages the last one freed instead of faulting fresh ones in (docs/speed.md). Process-wide.
    Off sets glibc's defaults explicitly, which also fixes them (glibc raises its mmap threshold as a program frees
    large blocks). False where there is no glibc (macOS, musl): nothing changes. Introduced in notebook 04.
    """
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    results = [mallopt(param, value) for param, value in (KEEP_FREED if on else GLIBC_DEFAULTS).items()]
    return all(result == 1 for result in results)  # every parameter set, even if an earlier one failed
