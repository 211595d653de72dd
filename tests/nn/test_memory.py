"""Activation memory of DeepGNN's memory modes, counted in bytes autograd saves (not RSS), and
the heap trimming that hands freed activations back to the system."""

from __future__ import annotations

import math
from contextlib import contextmanager, nullcontext
from functools import partial

import pytest
import torch
from torch.utils.checkpoint import checkpoint

from fathom.config import ModelConfig
from fathom.nn import models
from fathom.nn.models import DeepGNN

NODES, FEATURES, WIDTH = 120, 8, 16


class _SavedBytes:
    """Live and peak bytes of the tensors autograd keeps for the backward pass.

    Tensors saved outside checkpointed segments are counted while their saved slot lives (a token
    packed beside them is freed with it). A checkpointed segment's tensors are saved again when
    the backward pass recomputes it; ``recomputing`` counts those, all alive at once until the
    segment's backward pass consumes them, so each recomputation adds its whole sum to the peak.
    """

    def __init__(self) -> None:
        self.live = 0
        self.peak = 0

    def _add(self, nbytes: int) -> None:
        self.live += nbytes
        self.peak = max(self.peak, self.live)

    def pack(self, tensor: torch.Tensor):
        return tensor, _Token(self, tensor.numel() * tensor.element_size())

    @staticmethod
    def unpack(packed) -> torch.Tensor:
        return packed[0]

    @contextmanager
    def recomputing(self):
        """Inside a checkpoint's recomputation, count every tensor it saves on top of the live ones."""
        top_pack, top_unpack = torch._C._autograd._top_saved_tensors_default_hooks(False)
        recomputed = 0

        def pack(tensor: torch.Tensor):
            nonlocal recomputed
            recomputed += tensor.numel() * tensor.element_size()
            self.peak = max(self.peak, self.live + recomputed)
            return top_pack(tensor)

        with torch.autograd.graph.saved_tensors_hooks(pack, top_unpack):
            yield


class _Token:
    def __init__(self, counter: _SavedBytes, nbytes: int) -> None:
        self.counter, self.nbytes = counter, nbytes
        counter._add(nbytes)

    def __del__(self) -> None:
        self.counter.live -= self.nbytes


def _peak_saved_bytes(config: ModelConfig, data, monkeypatch) -> int:
    """Peak bytes autograd holds during one training step (forward and backward) of ``config``."""
    x, edge_index = data
    torch.manual_seed(0)
    model = DeepGNN(config, FEATURES, 3)
    counter = _SavedBytes()
    monkeypatch.setattr(models, "checkpoint", partial(
        checkpoint, context_fn=lambda: (nullcontext(), counter.recomputing())))
    with torch.autograd.graph.saved_tensors_hooks(counter.pack, counter.unpack):
        model(x, edge_index).square().mean().backward()
    return counter.peak


@pytest.fixture
def graph(make_er):
    x = torch.randn(NODES, FEATURES, generator=torch.Generator().manual_seed(0))
    return x, make_er(NODES, 0.05, seed=1)


def _config(depth: int, memory: str) -> ModelConfig:
    return ModelConfig(depth=depth, width=WIDTH, residual="fixup", memory=memory)


def test_checkpointing_holds_about_sqrt_depth_blocks_at_once(graph, monkeypatch):
    """Segments of sqrt(L) blocks: the sqrt(L) segment inputs stay saved, and one segment's tensors
    exist at a time while the backward pass recomputes it, so the peak is about
    ``sqrt(L) * (one block + one activation)``, well under ``2 sqrt(L)`` blocks."""
    full = {depth: _peak_saved_bytes(_config(depth, "full"), graph, monkeypatch) for depth in (8, 16)}
    block = (full[16] - full[8]) / 8  # what one block saves
    outside = full[8] - 8 * block  # encoder, head and loss
    for depth in (16, 64):
        blocks_held = (_peak_saved_bytes(_config(depth, "checkpoint"), graph, monkeypatch) - outside) / block
        assert blocks_held <= 2 * math.sqrt(depth), f"depth {depth}: {blocks_held:.1f} blocks held"


def test_reversible_blocks_hold_constant_memory_in_depth(graph, monkeypatch):
    peaks = [_peak_saved_bytes(_config(depth, "reversible"), graph, monkeypatch) for depth in (8, 64)]
    assert peaks[1] <= peaks[0] * 1.01


@pytest.mark.parametrize("memory", ["full", "checkpoint", "reversible"])
def test_evaluation_without_gradients_saves_nothing(graph, memory):
    """``fathom train`` evaluates under ``torch.no_grad()``: no activation is kept, whatever the depth."""
    model = DeepGNN(_config(8, memory), FEATURES, 3).eval()
    counter = _SavedBytes()
    with torch.no_grad(), torch.autograd.graph.saved_tensors_hooks(counter.pack, counter.unpack):
        model(*graph)
    assert counter.peak == 0


@pytest.mark.parametrize("memory, releases", [("full", 0), ("checkpoint", 8), ("reversible", 8)])
def test_memory_saving_modes_release_free_heap_pages_at_every_segment(graph, monkeypatch, memory, releases):
    """16 blocks are 4 segments: the free heap pages go back to the system after each segment's
    forward pass and after its backward pass (``full`` keeps every activation: nothing to gain)."""
    calls = []
    monkeypatch.setattr(models, "release_free_memory", lambda: calls.append(1))
    model = DeepGNN(_config(16, memory), FEATURES, 3)
    model(*graph).square().mean().backward()
    assert len(calls) == releases
    with torch.no_grad():
        model(*graph)
    assert len(calls) == releases


def test_release_free_memory_says_whether_it_could():
    assert models.release_free_memory() == (models._malloc_trim() is not None)
