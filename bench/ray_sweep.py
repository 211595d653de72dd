"""A sweep on Ray with 2 workers against 1: wall time, speed-up, and the same results table.

The sweep (CSBM, 4 runs: depths 16 and 32 x 2 seeds, width 64, 2400 epochs by default, each run
~50 s of training; at 600 epochs, ~10 s a run, the machine's noise decided the speed-up) runs
three times into fresh directories: ``--executor ray --workers 1``, ``--executor ray --workers 2`` and
``--executor local --workers 2``. Ray's local instance and its worker processes are started by an
untimed warm-up sweep first. The executors share the cores as ``fathom sweep`` does: one worker
gets every core as torch threads, two get one each. The speed-up is ray-1's wall time over ray-2's;
it can approach 2 only on 2 idle cores. The results tables must agree (the same
seeded runs, whichever executor ran them), checked on each run's final training loss.

    python bench/ray_sweep.py [--epochs 2400]
    python bench/ray_sweep.py --idle 30    # only: CPU seconds Ray's own processes use in 30 s of idling
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine, markdown  # noqa: E402

from fathom.config import ModelConfig, TrainConfig  # noqa: E402
from fathom.sweep import expand, run_sweep  # noqa: E402

SETUPS = (("ray", 1), ("ray", 2), ("local", 2))


def ray_processes_cpu_seconds() -> dict[tuple[int, str], float]:
    """CPU seconds (user + system) so far of every process of the local Ray instance, by (pid, name)."""
    import psutil

    seconds = {}
    for process in psutil.process_iter(["name", "cmdline"]):
        try:
            command = " ".join(process.info["cmdline"] or [])
            if "ray" in command and Path(__file__).name not in command:  # not this script or its launcher
                times = process.cpu_times()
                seconds[(process.pid, process.info["name"] or "")] = times.user + times.system
        except psutil.Error:
            continue
    return seconds


def idle_daemons(seconds: float) -> None:
    """Start Ray as the sweep executor does, let it idle, and print what its processes used meanwhile."""
    import ray

    ray.init(include_dashboard=False, log_to_driver=False)
    time.sleep(10)  # past the start-up
    before = ray_processes_cpu_seconds()
    time.sleep(seconds)
    used = {key: value - before.get(key, 0.0) for key, value in ray_processes_cpu_seconds().items()}
    ray.shutdown()
    rows = [{"process": f"{name} ({pid})", "cpu_s": value}
            for (pid, name), value in sorted(used.items(), key=lambda item: -item[1])]
    print(machine())
    print(markdown(rows, ["process", "cpu_s"]))
    print(f"Ray's processes used {sum(used.values()):.2f} CPU seconds in {seconds:.0f} s of idling "
          f"({100 * sum(used.values()) / seconds:.1f} % of one core)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=2400)
    parser.add_argument("--idle", type=float, help="only measure Ray's processes idling for this many seconds")
    arguments = parser.parse_args()
    if arguments.idle:
        idle_daemons(arguments.idle)
        return
    specs = expand("csbm", ModelConfig(width=64), TrainConfig(epochs=arguments.epochs, device="cpu"),
                   {"depth": [16, 32]}, [0, 1])
    rows, tables = [], {}
    with tempfile.TemporaryDirectory() as scratch:
        warm_up = expand("csbm", ModelConfig(width=8, depth=2), TrainConfig(epochs=1, device="cpu"), {}, [0, 1])
        run_sweep(warm_up, Path(scratch) / "warm-up", 2, "ray", progress=False)
        for executor, workers in SETUPS:
            started = time.perf_counter()
            frame = run_sweep(specs, Path(scratch) / f"{executor}-{workers}", workers, executor, progress=False)
            seconds = time.perf_counter() - started
            tables[(executor, workers)] = frame.set_index("run_id")["final_train_loss"].sort_index()
            rows.append({"executor": executor, "workers": workers, "runs": len(frame), "wall_s": seconds,
                         "run_s (sum)": float(frame["seconds"].sum())})
    base = rows[0]["wall_s"]
    for row in rows:
        row["speed-up vs ray, 1 worker"] = base / row["wall_s"]
    reference = tables[SETUPS[0]]
    same = all(table.index.equals(reference.index) and (table - reference).abs().max() <= 1e-6
               for table in tables.values())
    print(machine())
    print(markdown(rows, list(rows[0])))
    print(f"same results table across executors and worker counts (final training loss to 1e-6): {same}")


if __name__ == "__main__":
    main()
