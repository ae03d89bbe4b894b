"""Device, precision and memory (`helpers/hardware.py`): one decision for CUDA GPUs (T4, A100), Apple GPUs and CPUs,
with the capabilities faked, and glibc kept from handing memory back (`reuse_memory`).

The machines running the tests have no GPU, so each test sets what PyTorch reports (CUDA, its bf16 support with
and without emulation, MPS) and what /proc/cpuinfo says about bfloat16.
"""

from __future__ import annotations

import dataclasses
import json
import platform
import resource
import subprocess
import sys

import pytest
import torch

from helpers import finetune, hardware
from helpers import settings as hs
from helpers.layout import run_folder
from helpers.models import load_model
from helpers.predict import prediction_trainer

from support import ROOT, clean_env, refused, tiny_settings_for


def machine(monkeypatch, *, cuda: bool = False, gpu: str = "", bf16_native: bool = False, mps: bool = False,
            cpu_bf16: bool = False) -> None:
    """Make PyTorch and /proc/cpuinfo report the given machine; every CUDA GPU emulates bf16 when not native."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: gpu)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported",
                        lambda including_emulation=True: cuda and (bf16_native or including_emulation))
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: mps)
    monkeypatch.setattr(hardware, "cpu_has_bf16", lambda: cpu_bf16)


READ_BF16 = hardware.cpu_has_bf16  # the real reading of /proc/cpuinfo, kept before a test fakes it

T4 = dict(cuda=True, gpu="Tesla T4", bf16_native=False)  # Colab's free GPU: bf16 only through emulation
A100 = dict(cuda=True, gpu="NVIDIA A100-SXM4-40GB", bf16_native=True)


# On a (faked) CUDA GPU or Apple GPU the tests assert on the flags, not on a built `TrainingArguments`: building one
# resolves `args.device` through accelerate's PartialState, which would initialise the CUDA device this machine
# lacks (and for MPS, torch.backends.mps.is_built() is False here, so it would quietly pick the CPU). The tiny
# profile trains in fp32 on every machine, as set; the tests of auto's choice ask for auto.


def test_t4_trains_in_fp16(monkeypatch, make_settings):
    """A T4 reports bf16 only with emulation: auto takes fp16 there, on the GPU, with pinned memory."""
    machine(monkeypatch, **T4)
    # Precondition, not the code under test: the faked T4 answers True to the check the code must not trust (bf16
    # through emulation), so that choosing fp16 below shows the code looked past it.
    assert torch.cuda.is_bf16_supported()
    settings = make_settings(precision="auto")
    assert hardware.training_flags(settings) == dict(bf16=False, fp16=True, use_cpu=False, dataloader_pin_memory=True)
    assert hardware.describe(settings) == "device: CUDA GPU Tesla T4, precision fp16 (no native bf16)"


def test_a100_trains_in_bf16(monkeypatch, make_settings):
    """An A100 has native bf16: auto takes it."""
    machine(monkeypatch, **A100)
    settings = make_settings(precision="auto")
    assert hardware.training_flags(settings) == dict(bf16=True, fp16=False, use_cpu=False, dataloader_pin_memory=True)
    assert hardware.describe(settings).startswith("device: CUDA GPU NVIDIA A100-SXM4-40GB, precision bf16")


def test_explicit_fp16_on_a_gpu(monkeypatch, make_settings):
    """On a CUDA GPU fp16 can be asked for, and an A100 then trains in fp16."""
    machine(monkeypatch, **A100)
    assert hardware.training_flags(make_settings(precision="fp16"))["fp16"]


def test_apple_gpu_trains_in_fp32_on_the_gpu(monkeypatch, make_settings):
    """With MPS the Trainer must be allowed onto the GPU (use_cpu False), in fp32, without pinned memory."""
    machine(monkeypatch, mps=True, cpu_bf16=True)  # an Apple GPU wins over the CPU's own bf16
    settings = make_settings(precision="auto")
    assert hardware.device() == "mps"
    assert hardware.training_flags(settings) == dict(bf16=False, fp16=False, use_cpu=False, dataloader_pin_memory=False)
    assert hardware.describe(settings).startswith("device: Apple GPU (MPS), precision fp32")


@pytest.mark.parametrize("cpu_bf16, chosen", [(True, "bf16"), (False, "fp32")])
def test_cpu_precision(monkeypatch, make_settings, cpu_bf16, chosen):
    """A CPU with AVX512-BF16 or AMX trains in bf16 autocast, one without in fp32: the real TrainingArguments."""
    machine(monkeypatch, cpu_bf16=cpu_bf16)
    settings = make_settings(precision="auto")
    args = finetune.training_arguments(settings)
    assert (args.bf16, args.fp16, args.use_cpu, args.dataloader_pin_memory) == (chosen == "bf16", False, True, False)
    assert args.device.type == "cpu"
    described = hardware.describe(settings)
    assert described.startswith(f"device: CPU ({torch.get_num_threads()} threads), precision {chosen}")


def test_fp16_on_an_apple_gpu_is_one_line(monkeypatch):
    """fp16 on an Apple GPU stops at once with one line naming the setting, as on a CPU (test_errors)."""
    machine(monkeypatch, mps=True)
    assert "fp16' needs a CUDA GPU" in refused(hs.build_settings, "tiny", precision="fp16")


def test_explicit_precision_is_kept(monkeypatch, make_settings):
    """bf16 or fp32 asked for is what trains, whatever the CPU has."""
    machine(monkeypatch, cpu_bf16=False)
    assert hardware.precision_choice(make_settings(precision="bf16")) == ("bf16", "as set")
    machine(monkeypatch, cpu_bf16=True)
    assert hardware.training_flags(make_settings(precision="fp32"))["bf16"] is False


@pytest.mark.parametrize("kind, profile", [(T4, "full"), (dict(mps=True), "quick"), (dict(), "quick")])
def test_auto_profile(monkeypatch, kind, profile):
    """auto takes the full recipe on a CUDA GPU, the quick one on an Apple GPU or a CPU."""
    machine(monkeypatch, **kind)
    assert hs.auto_profile() == profile


def test_building_trainers_leaves_the_allocator_alone(monkeypatch, make_settings, tiny_tokenizer):
    """Building TrainingArguments or a prediction Trainer changes nothing process-wide: the allocator is set where
    training starts (finetune.train, notebook 04's first cell; test_reused_memory_changes_no_result)."""
    calls = []
    monkeypatch.setattr(hardware, "reuse_memory", calls.append)
    finetune.training_arguments(make_settings(reuse_memory=False))
    settings = make_settings(reuse_memory=True)
    prediction_trainer(load_model(settings, ["not sarcastic", "sarcastic"]), tiny_tokenizer, settings)
    assert calls == []


# ---------------------------------------------------------------------------------------------- reuse_memory


def page_faults_allocating(megabytes: int = 64, times: int = 8) -> int:
    """Minor page faults this process takes while it allocates, fills and frees a tensor `times` times."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(times):
        torch.ones(megabytes * 2**18)  # float32: `megabytes` MB, every page written
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


@pytest.mark.skipif(not hardware.reuse_memory(False), reason="reuse_memory tunes glibc's malloc; this is not glibc")
def test_reused_memory_is_not_faulted_in_again():
    """With reuse_memory, blocks freed and allocated again mostly skip page faults; glibc's default faults each."""
    assert hardware.reuse_memory(False)  # glibc's defaults, fixed: the frees of earlier tests may have raised them
    default = page_faults_allocating()
    try:
        assert hardware.reuse_memory(True)
        page_faults_allocating(times=4)  # the first blocks come from the kernel
        reused = page_faults_allocating()
    finally:
        hardware.reuse_memory(False)
    # nearly every 4 KB page of every block, every time: 87.5 % in one run that followed other tests in this process
    assert default > 8 * 64 * 256 * 0.75
    assert reused < default / 4


@pytest.mark.slow
def test_reused_memory_changes_no_result(tmp_path, tiny_cache, monkeypatch):
    """finetune.train sets the allocator once from its settings; with and without reuse_memory the weights are the
    same, byte for byte."""
    weights, calls = {}, []
    set_allocator = hardware.reuse_memory
    monkeypatch.setattr(hardware, "reuse_memory", lambda on: calls.append(on) or set_allocator(on))
    for reuse in (False, True):
        settings = tiny_settings_for(tmp_path / f"reuse-{reuse}", tiny_cache, reuse_memory=reuse, epochs=1)
        finetune.train(settings)
        weights[reuse] = (run_folder(settings).model / "model.safetensors").read_bytes()
    assert calls == [False, True], "each training sets the allocator once, as its settings say"
    assert weights[True] == weights[False]


@pytest.mark.parametrize("kind, expected", [(dict(), "eager"), (A100, "sdpa"), (dict(mps=True), "sdpa")])
def test_auto_attention_is_eager_on_a_cpu_only(monkeypatch, kind, expected):
    """`attention="auto"` means eager on a CPU (faster there for short texts, docs/speed.md), sdpa on a GPU; a chosen
    implementation is kept as it is."""
    machine(monkeypatch, **kind)
    assert hardware.attention("auto") == expected
    assert hardware.attention("sdpa") == "sdpa" and hardware.attention("eager") == "eager"


def test_eager_and_sdpa_attention_compute_the_same(make_settings):
    """The attention setting changes how attention is computed, not what: the same seeded model gives the same
    logits (to float32 rounding) on a padded batch with either implementation."""
    settings = make_settings()
    names = ["not sarcastic", "sarcastic"]
    models = {choice: load_model(dataclasses.replace(settings, attention=choice), names).eval() for choice in ("eager", "sdpa")}
    assert {choice: model.config._attn_implementation for choice, model in models.items()} == {
        "eager": "eager", "sdpa": "sdpa"}
    ids = torch.tensor([[2, 15, 16, 17, 3], [2, 18, 3, 0, 0]])
    mask = (ids != 0).long()
    with torch.no_grad():
        eager, sdpa = (models[c](input_ids=ids, attention_mask=mask).logits for c in ("eager", "sdpa"))
    torch.testing.assert_close(eager, sdpa, rtol=1e-4, atol=1e-5)


def test_training_uses_the_fused_optimizer_by_default(make_settings):
    """The Trainer's optimizer is AdamW in one fused kernel unless `optimizer` says otherwise."""
    from transformers import Trainer

    settings = make_settings()
    args = finetune.training_arguments(settings, **finetune.NO_EVALUATION)
    trainer = Trainer(model=load_model(settings, ["a", "b"]), args=args)
    trainer.create_optimizer()
    assert trainer.optimizer.defaults["fused"] is True
    plain = finetune.training_arguments(make_settings(optimizer="adamw_torch"))
    assert plain.optim == "adamw_torch"


# ---------------------------------------------------------------------------------------------- the machine's record

INTEL_AMX = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse avx2 avx512f avx512_bf16 amx_bf16 amx_tile
"""


def test_the_record_names_the_machine(monkeypatch):
    """`record` names the CPU from /proc/cpuinfo, its native bfloat16, torch's kernels, threads, processes, device and
    version."""
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(hardware, "cpuinfo", lambda: INTEL_AMX)
    machine(monkeypatch, **A100)
    monkeypatch.setattr(hardware, "cpu_has_bf16", READ_BF16)  # read from the faked text
    record = hardware.record()
    assert record == {"cpu": "Intel(R) Xeon(R) Platinum 8480+", "cpu_bf16": True,
                      "cpu_capability": torch.backends.cpu.get_cpu_capability(), "torch_threads": torch.get_num_threads(),
                      "processes": 1, "device": "CUDA GPU NVIDIA A100-SXM4-40GB", "torch": torch.__version__}
    assert json.loads(json.dumps(record)) == record, "it goes into JSON files as it is"


def test_the_record_without_proc_cpuinfo(monkeypatch):
    """Where there is no /proc/cpuinfo (macOS, Windows) the CPU is what `platform` says, and bfloat16 is not native."""
    monkeypatch.setattr(hardware, "cpuinfo", lambda: "")
    machine(monkeypatch)
    monkeypatch.setattr(hardware, "cpu_has_bf16", READ_BF16)
    record = hardware.record()
    assert record["cpu"] == (platform.processor() or platform.machine() or "unknown") and record["cpu"]
    assert record["cpu_bf16"] is False
    assert record["device"] == f"CPU ({torch.get_num_threads()} threads)"
    monkeypatch.setenv("WORLD_SIZE", "2")  # under torchrun
    assert hardware.record()["processes"] == 2


def test_the_record_of_this_machine_matches_its_cpuinfo():
    """On this machine: the first "model name" of /proc/cpuinfo where there is one, and its bfloat16 flags."""
    record = hardware.record()
    text = hardware.cpuinfo()
    names = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")]
    assert record["cpu"] == (names[0] if names else platform.processor() or platform.machine() or "unknown")
    assert record["cpu_bf16"] == ("avx512_bf16" in text or "amx_bf16" in text)
    assert record["torch_threads"] == torch.get_num_threads() >= 1


@pytest.mark.slow
def test_importing_hardware_loads_no_torch():
    """`helpers.hardware` is light to import: torch and transformers load only when a function asks them."""
    code = ("import sys, helpers.hardware as h; loaded = {'torch', 'transformers'} & set(sys.modules); "
            "h.device(); print(sorted(loaded), 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean_env(), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["[]", "True"], "torch loaded when asked"
