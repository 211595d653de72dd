"""Where sweep runs execute: this process, local worker processes, or a Ray cluster.

Each executor yields results as runs finish (any order), so the caller stores them at once.
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any

from ..runtime import UnavailableError

EXECUTORS = ("local", "ray")


def _init_worker(threads: int) -> None:
    """A worker process: ``threads`` torch threads, and on Linux it dies with its parent
    (``PR_SET_PDEATHSIG``), so a sweep killed with SIGKILL leaves no worker training on."""
    import torch

    torch.set_num_threads(threads)
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() == 1:  # the parent died before the request took effect
            os._exit(1)


def local_results(function: Callable[..., Any], argument_lists: Iterable[tuple], workers: int = 1) -> Iterator[Any]:
    """``function(*arguments)`` for each argument tuple: in-process for one worker, else in
    ``workers`` spawned processes sharing the cores (``cores // workers`` torch threads each)."""
    argument_lists = list(argument_lists)
    if workers <= 1:
        for arguments in argument_lists:
            yield function(*arguments)
        return
    threads = max(1, (os.cpu_count() or 1) // workers)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(threads,)) as pool:
        futures = [pool.submit(function, *arguments) for arguments in argument_lists]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()


def check_executor(executor: str) -> None:
    """Raise before any run when ``executor`` cannot run here: unknown (``ValueError``), or ray
    without Ray installed (:class:`~fathom.runtime.UnavailableError`)."""
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}; got {executor!r}")
    if executor == "ray" and importlib.util.find_spec("ray") is None:
        raise UnavailableError("the ray executor needs Ray: pip install 'fathom[ray]' (or use the local executor)")


def _threaded(function: Callable[..., Any], threads: int) -> Callable[..., Any]:
    """``function`` run with ``threads`` torch threads (a Ray task's process is reused across tasks)."""
    def call(*arguments: Any) -> Any:
        import torch

        torch.set_num_threads(threads)
        return function(*arguments)
    return call


def ray_results(function: Callable[..., Any], argument_lists: Iterable[tuple], workers: int = 1) -> Iterator[Any]:
    """The same on Ray (``pip install 'fathom[ray]'``): a local instance or, with ``RAY_ADDRESS``, a
    cluster. At most ``workers`` runs are in flight, each with ``cores // workers`` torch threads
    (the cores Ray reports), as the local executor shares them."""
    check_executor("ray")
    import ray

    if not ray.is_initialized():
        ray.init(ignore_reinit_error=True, include_dashboard=False, log_to_driver=False)
    workers = max(1, workers)
    threads = max(1, int(ray.cluster_resources().get("CPU", 1)) // workers)
    remote = ray.remote(num_cpus=1)(_threaded(function, threads))
    waiting = list(argument_lists)[::-1]
    pending = []
    while waiting or pending:
        while waiting and len(pending) < workers:
            pending.append(remote.remote(*waiting.pop()))
        done, pending = ray.wait(pending, num_returns=1)
        yield ray.get(done[0])


def results(executor: str, function: Callable[..., Any], argument_lists: Iterable[tuple],
            workers: int = 1) -> Iterator[Any]:
    check_executor(executor)
    if executor == "ray":
        return ray_results(function, argument_lists, workers)
    return local_results(function, argument_lists, workers)
