r"""Training memory of a :class:`~fathom.nn.DeepGNN`, estimated from its configuration before
anything is built, and the check that refuses a model that cannot fit.

With ``L`` blocks of width ``W``, ``F`` input features, ``C`` classes, ``N`` nodes, ``E`` edges,
``H`` heads and 4-byte floats:

- **parameters** ``P = (F W + W) + L p + (W C + C)`` (encoder, blocks, head; ``io=park`` adds
  ``W^2 + W``), with per block ``p = W^2`` (FathomConv, GCNII's branch), ``W^2 / 2`` (reversible:
  two ``W/2 x W/2`` groups) or ``H W^2 + 2 H W`` (GAT: weights and attention vectors), plus ``2 W``
  for ``batchnorm``. Training holds ``4 P`` floats: the weights, their gradients and Adam's two
  moments.
- **activations**, what autograd saves for the backward pass, in units of ``a = N W`` floats: each
  block saves ``k`` of them, ``k = 1`` (the activation's output, the product's input) plus 1 for
  ``activation_position=post``, ``gelu``, ``norm=layer`` or ``batchnorm``, 2 for ``pairnorm`` or
  GCNII's branch, a quarter for dropout's byte mask; GAT saves ``H ((E + N)/N + 2)`` (its messages
  and attention per edge and self-loop). Encoder and head add ``2 a + 2 N C``. Then, per memory mode:

  - ``full``: ``L k a``;
  - ``checkpoint``: ``(ceil(L / s) + s k) a``, ``s = ceil(sqrt L)``: the segment inputs, and one
    segment's tensors while the backward pass recomputes it;
  - ``reversible``: ``(k + 2) a``: one block recomputed at a time, constant in depth.

The activation term counts saved tensors, the memory a GPU's caching allocator holds; on a CPU
glibc's heap can hold up to ~3x more in ``full`` mode (``docs/benchmarks.md``). The estimate is
thus a floor, which is what a refusal needs: a model refused here cannot fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from ..config import ConfigError, ModelConfig

if TYPE_CHECKING:
    from torch_geometric.data import Data

FLOAT_BYTES = 4
MEMORY_MODES_BY_SAVING = ("reversible", "checkpoint")  # the modes to suggest, the most saving first


class InsufficientMemoryError(MemoryError):
    """Training would need more memory than is available; the message gives both and what fits."""


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a training step needs: parameters (with gradients and Adam's moments) and activations."""

    parameters: int
    parameter_bytes: int
    activation_bytes: int

    @property
    def total(self) -> int:
        return self.parameter_bytes + self.activation_bytes


def parameter_count(config: ModelConfig, in_channels: int, out_channels: int) -> int:
    """The number of parameters of ``DeepGNN(config, in_channels, out_channels)``, counted from the
    configuration (see the module docstring)."""
    width = config.width
    if config.memory == "reversible":
        block = width * width // 2
    elif config.conv == "gat":
        block = config.heads * width * width + 2 * config.heads * width
    else:
        block = width * width
    if config.norm == "batchnorm":
        block += 2 * width
    park = width * width + width if config.io == "park" else 0
    return (in_channels * width + width) + config.depth * block + park + (width * out_channels + out_channels)


def saved_per_block(config: ModelConfig, nodes: int, edges: int) -> float:
    """``k``: the ``N x W`` tensors one block saves for the backward pass."""
    if config.conv == "gat":
        k = config.heads * ((edges + nodes) / nodes + 2)
    else:
        k = 1.0 + (config.activation_position == "post") + (config.activation == "gelu")
        k += {"layer": 1, "batchnorm": 1, "pairnorm": 2}.get(config.norm, 0)
        k += 2 * (config.initial_residual > 0 or config.identity_mapping is not None)
    return k + 0.25 * (config.dropout > 0)


def estimate(config: ModelConfig, nodes: int, edges: int, in_channels: int, out_channels: int) -> MemoryEstimate:
    """The memory of one training step of a model of ``config`` on a graph of ``nodes`` nodes and
    ``edges`` edges (formulas in the module docstring)."""
    parameters = parameter_count(config, in_channels, out_channels)
    depth, k = config.depth, saved_per_block(config, nodes, edges)
    if config.memory == "full":
        blocks = depth * k
    elif config.memory == "checkpoint":
        size = math.ceil(math.sqrt(depth))
        blocks = math.ceil(depth / size) + size * k
    else:
        blocks = k + 2
    activations = (blocks + 2) * nodes * config.width + 2 * nodes * out_channels
    return MemoryEstimate(parameters, 4 * parameters * FLOAT_BYTES, int(activations * FLOAT_BYTES))


def available_bytes(device: torch.device | str) -> int | None:
    """Free memory on ``device``: CUDA's free memory, or Linux's ``MemAvailable``; ``None`` where
    unknown (then nothing is refused)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def check_fits(config: ModelConfig, data: "Data", out_channels: int, device: torch.device | str) -> MemoryEstimate:
    """Raise :class:`InsufficientMemoryError` when training ``config`` on ``data`` would need more
    than the memory available on ``device``, giving the estimate, the available memory and the
    memory mode that would fit (or that none does); return the estimate otherwise. Builds nothing."""
    nodes, edges, in_channels = data.num_nodes, data.num_edges, data.num_features
    needed = estimate(config, nodes, edges, in_channels, out_channels)
    available = available_bytes(device)
    if available is None or needed.total <= available:
        return needed
    hint = "a smaller depth or width"
    for mode in MEMORY_MODES_BY_SAVING:
        if mode == config.memory:
            continue
        try:
            saving = estimate(config.replace(memory=mode), nodes, edges, in_channels, out_channels)
        except ConfigError:  # e.g. reversible needs residual blocks
            continue
        if saving.total <= available:
            hint = f"memory={mode} (about {_size(saving.total)})"
            break
    raise InsufficientMemoryError(
        f"training this model needs about {_size(needed.total)} ({_size(needed.parameter_bytes)} for "
        f"{needed.parameters:,} parameters with their gradients and Adam's moments, "
        f"{_size(needed.activation_bytes)} of activations with memory={config.memory}) but "
        f"{_size(available)} is available on {torch.device(device).type}; try {hint}")


def _size(nbytes: float) -> str:
    """``1.5e9`` -> ``1.4 GiB``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(nbytes) < 1024:
            return f"{nbytes:.3g} {unit}"
        nbytes /= 1024
    return f"{nbytes:.3g} TiB"


def evaluation_fits(config: ModelConfig, data: "Data", out_channels: int, device: torch.device | str) -> bool:
    """Whether one forward pass without gradients on all of ``data`` fits in what ``device`` has free:
    the features, three ``N x W`` activations at a time (no_grad frees each block's input), the
    logits and the operator in CSR with its transpose (a 4-byte value and an 8-byte column index
    per entry). True where the free memory is unknown."""
    nodes, entries = data.num_nodes, data.num_edges + data.num_nodes
    needed = FLOAT_BYTES * nodes * (data.num_features + 3 * config.width + out_channels) + 2 * 12 * entries
    available = available_bytes(device)
    return available is None or needed <= available
