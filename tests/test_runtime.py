"""fathom.runtime: peak memory of a block of code."""

from __future__ import annotations

import sys

import pytest
import torch

from fathom.runtime import PeakMemory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-block peak RSS needs Linux's clear_refs")
def test_peak_memory_sees_a_freed_allocation_and_resets_between_blocks():
    with PeakMemory() as big:
        block = torch.ones(50_000_000)  # 200 MB, touched
        del block
    with PeakMemory() as small:
        torch.ones(1000).sum()
    assert big.kind == small.kind == "peak RSS"
    assert big.mb - small.mb > 150
