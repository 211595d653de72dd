"""Runtime helpers shared by training, diagnostics, sweeps and reproductions: seeding, the
device, subnormal-float flushing and progress bars."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class UnavailableError(RuntimeError):
    """Something asked for (a device, an optional package) is not available here; the message says
    what to use instead."""


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is an :class:`UnavailableError`."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UnavailableError(f"device={name} was requested but torch sees no CUDA device (use device=cpu, or "
                               "device=auto to take a GPU when there is one)")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    """Seed Python's, NumPy's and torch's random number generators."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def progress_bar(enabled: bool = True) -> Progress:
    """The rich progress bar Fathom shows on long loops (epochs, runs)."""
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TimeRemainingColumn(),
        disable=not enabled, transient=False,
    )


@contextmanager
def subnormals_flushed() -> Iterator[None]:
    """Treat subnormal floats (|x| < 1.2e-38) as zero inside the block, then restore the default.

    A vanishing deep signal (a vanilla glorot GCN falls below 1e-38 by ~200 blocks, a layer-bounded
    one sooner) otherwise runs on the CPU's subnormal path, about 25x slower, while values that
    small carry no usable signal in float32 anyway. No effect on GPUs, which flush by default.
    """
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)


def random_states() -> dict:
    """The states of Python's, NumPy's and torch's (CPU and, when present, CUDA) generators."""
    states = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_random_states(states: dict) -> None:
    """Put back what :func:`random_states` returned, so a resumed run draws what it would have."""
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


class PeakMemory:
    """The peak memory of a block of code, in MB: ``with PeakMemory(device) as peak: ...; peak.mb``.

    On CUDA, the most memory tensors held (``max_memory_allocated``, reset on entry). On Linux
    CPUs, the process's peak resident set (``VmHWM``), reset on entry through
    ``/proc/self/clear_refs``, so it is this block's peak, the process's own footprint (Python,
    torch, the data) included. Elsewhere the process's lifetime peak (``ru_maxrss``), an upper bound.
    ``kind`` says which was measured.
    """

    def __init__(self, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.mb: float | None = None
        self.kind = ""

    def __enter__(self) -> "PeakMemory":
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            self.kind = "cuda max allocated"
        else:
            try:
                with open("/proc/self/clear_refs", "w") as handle:
                    handle.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
                self.kind = "peak RSS"
            except OSError:
                self.kind = "lifetime peak RSS"
        return self

    def __exit__(self, *exc: object) -> None:
        if self.device.type == "cuda":
            self.mb = torch.cuda.max_memory_allocated(self.device) / 2**20
        elif self.kind == "peak RSS":
            self.mb = _status_kb("VmHWM") / 1024
        else:
            import resource

            self.mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _status_kb(field: str) -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return float(line.split()[1])
    raise OSError(f"/proc/self/status has no {field}")
