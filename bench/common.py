"""Shared by the bench scripts: isolated measurements in fresh processes, peak memory, tables."""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cuda_peak_mb(device: torch.device) -> float | None:
    return torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def in_fresh_process(script: str, arguments: dict[str, Any], timeout: float = 3600) -> dict[str, Any]:
    """Run ``script --worker '<json>'`` in a new Python process and return the JSON it prints last,
    so each measurement's peak memory is its own."""
    completed = subprocess.run([sys.executable, script, "--worker", json.dumps(arguments)], capture_output=True,
                               text=True, timeout=timeout, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if completed.returncode != 0:
        return {**arguments, "error": (completed.stderr.strip().splitlines() or ["killed"])[-1]}
    return json.loads(completed.stdout.strip().splitlines()[-1])


def median(values: list[float]) -> float:
    return statistics.median(values)


def alternating_medians(arms: dict[str, Callable[[], float]], repeats: int, warmup: int = 2) -> dict[str, float]:
    """The median of what each arm returns (its seconds) over ``repeats`` rounds after ``warmup``
    untimed ones, the arms taking turns within a round and each going first every other round."""
    labels, times = list(arms), {label: [] for label in arms}
    for round_ in range(warmup + repeats):
        for label in labels if round_ % 2 == 0 else labels[::-1]:
            seconds = arms[label]()
            if round_ >= warmup:
                times[label].append(seconds)
    return {label: median(values) for label, values in times.items()}


def ratio_row(model: str, seconds: dict[str, float], numerator: str, denominator: str) -> dict[str, Any]:
    """A table row of two arms' times in ms and their ratio ``numerator / denominator``, also printed."""
    ms = {label: value * 1e3 for label, value in seconds.items()}
    print(f"{model}: {denominator} {ms[denominator]:.1f} ms, {numerator} {ms[numerator]:.1f} ms", flush=True)
    return {"model": model, f"{denominator} ms": ms[denominator], f"{numerator} ms": ms[numerator],
            f"{numerator} / {denominator}": ms[numerator] / ms[denominator]}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return (f"{platform.platform()}, {os.cpu_count()} cores ({cpu}), torch {torch.__version__}, "
            f"{torch.get_num_threads()} torch threads")


def markdown(rows: list[dict[str, Any]], columns: list[str]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.3g}" if abs(value) < 1e4 else f"{value:.0f}"
        return "–" if value is None else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def data_root(default: str = "../shared/datasets") -> str:
    here = Path(__file__).resolve().parent.parent
    return os.environ.get("FATHOM_DATA") or str((here / default).resolve())


def train_epochs(model, optimizer, x, operator, y, mask, epochs: int, device,
                 on_epoch: Callable[[dict[str, float]], None] | None = None) -> tuple[list[float], list[float]]:
    """One warm-up and ``epochs`` timed training epochs; returns (seconds per timed epoch, every loss).

    ``on_epoch`` gets ``{epoch, loss, seconds, cpu_seconds, peak_rss_mb}`` after each epoch (epoch 0
    is the warm-up), e.g. to log a long run as it goes."""
    import torch.nn.functional as F

    times, losses = [], []
    for step in range(epochs + 1):
        synchronize(device)
        start, start_cpu = time.perf_counter(), time.process_time()
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x, operator=operator)[mask], y[mask])
        loss.backward()
        optimizer.step()
        synchronize(device)
        seconds = time.perf_counter() - start
        if step:
            times.append(seconds)
        losses.append(loss.item())
        if on_epoch is not None:
            on_epoch({"epoch": step, "loss": losses[-1], "seconds": seconds,
                      "cpu_seconds": time.process_time() - start_cpu, "peak_rss_mb": peak_rss_mb()})
    return times, losses


def print_method(doc: str, device: str) -> None:
    """The script's method paragraph and the machine, before its table."""
    print(doc.split("\n\n")[1].replace("\n", " "))
    print(f"\nMachine: {machine()}; device {device}.\n")


def measure_grid(script: str, depths: list[int], modes: list[str], fixed: dict[str, Any]) -> list[dict[str, Any]]:
    """One fresh-process measurement per (depth, memory mode), printed as it arrives."""
    rows = []
    for depth in depths:
        for mode in modes:
            rows.append(in_fresh_process(script, {"depth": depth, "mode": mode, **fixed}))
            print(json.dumps(rows[-1]), flush=True)
    print()
    return rows


def flush_subnormals() -> None:
    """Treat subnormal floats as zero. A vanishing deep signal (vanilla glorot GCNs fall below
    1e-38 by ~200 layers) otherwise runs on the CPU's slow subnormal path, about 25x slower at
    depth 256 for PyG and Fathom alike, which measures the hardware, not the library."""
    torch.set_flush_denormal(True)


def grid_parser(doc: str, depths: list[int], modes: list[str], epochs: int):
    """The arguments every depth x memory-mode script takes (plus ``--worker``, used internally)."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--depths", type=int, nargs="+", default=depths)
    parser.add_argument("--modes", nargs="+", default=modes)
    parser.add_argument("--epochs", type=int, default=epochs)
    parser.add_argument("--device", default="cpu")
    return parser


def run_worker_or_print_method(args, worker, doc: str) -> bool:
    """In a ``--worker`` process: measure and print the JSON result, return True. Otherwise print
    the method and return False. Subnormals are flushed either way."""
    flush_subnormals()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return True
    print_method(doc, args.device)
    return False
