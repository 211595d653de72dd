"""fathom.runtime: seeding, the device, and peak memory of a block of code."""

from __future__ import annotations

import sys

import pytest
import torch

import random

import numpy as np

from fathom.runtime import PeakMemory, UnavailableError, resolve_device, seed_everything


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-block peak RSS needs Linux's clear_refs")
def test_peak_memory_sees_a_freed_allocation_and_resets_between_blocks():
    with PeakMemory() as big:
        block = torch.ones(50_000_000)  # 200 MB, touched
        del block
    with PeakMemory() as small:
        torch.ones(1000).sum()
    assert big.kind == small.kind == "peak RSS"
    assert big.mb - small.mb > 150


def test_seeding_repeats_python_numpy_and_torch_draws():
    def draws():
        return random.random(), np.random.rand(3).tolist(), torch.rand(3).tolist()

    seed_everything(3)
    first = draws()
    seed_everything(3)
    assert draws() == first


def test_auto_takes_the_cpu_without_a_gpu_and_cuda_is_refused_by_name(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(UnavailableError, match="device=cuda was requested but torch sees no CUDA device"):
        resolve_device("cuda")
