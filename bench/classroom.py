"""A class presses Start at once: every visitor's wait and finish time, local vs a Ray cluster.

    python bench/classroom.py [--visitors 30] [--seconds 60] [--scenarios local,ray-1,ray-2]

Each visitor submits one time-boxed run (a small VAE for `--seconds` of training) through
`aigc_core.runs.worker.launch`, the function the Train page calls (protocol level: no browsers), all
at the same moment, against:

    local   today's worker processes with one training slot (AIGC_MAX_CONCURRENT=1)
    ray-N   a local Ray cluster (ray.cluster_utils.Cluster) with N worker nodes of 1 CPU each,
            the head taking no runs; all traffic on 127.0.0.1

A visitor's wait is from pressing Start to its run training (status "running" first seen),
its finish from pressing Start to the run's end. Prints every visitor's times, then a markdown
table (p50, p95, max, runs per minute) and a projection for G = 1, 4, 8 GPUs from the measured
per-run cost: a projection, not a measurement. Not part of the test suite (the full 30 x 60 s
takes most of an hour on one slot); tests/test_classroom_bench.py runs it with tiny values.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# Ray reads this when imported: every Ray process of the benchmark stays on 127.0.0.1.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

POLL_S = 0.5
PROJECTED_GPUS = (1, 4, 8)


@dataclass
class Visitor:
    """One visitor's run: when Start was pressed, when it began training and when it ended."""

    number: int
    run_id: str
    submitted: float
    started: float | None = None
    finished: float | None = None
    state: str | None = None

    @property
    def wait_s(self) -> float | None:
        return None if self.started is None else self.started - self.submitted

    @property
    def finish_s(self) -> float | None:
        return None if self.finished is None else self.finished - self.submitted


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (p50, p95) of measured times; the values need not be sorted."""
    if not values:
        raise ValueError("percentile of no values; expected at least one measured time")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def summarize(name: str, visitors: list[Visitor]) -> dict:
    """One table row: wait and finish p50/p95/max, runs per minute, and the mean cost of one run."""
    waits = [v.wait_s for v in visitors if v.wait_s is not None]
    finishes = [v.finish_s for v in visitors if v.finish_s is not None]
    first = min(v.submitted for v in visitors)
    makespan_s = max(v.finished for v in visitors if v.finished is not None) - first
    costs = [v.finished - v.started for v in visitors if v.started is not None and v.finished is not None]
    return {
        "scenario": name, "runs": len(visitors), "finished": sum(v.state == "finished" for v in visitors),
        "wait_p50": percentile(waits, 0.5), "wait_p95": percentile(waits, 0.95), "wait_max": max(waits),
        "finish_p50": percentile(finishes, 0.5), "finish_p95": percentile(finishes, 0.95),
        "finish_max": max(finishes), "runs_per_minute": len(finishes) / makespan_s * 60.0,
        "run_cost_s": statistics.mean(costs),
    }


def projection(visitors: int, run_cost_s: float, gpus: int) -> dict:
    """What G GPUs, one run each at a time, would give `visitors` runs of `run_cost_s` (a model, not measured)."""
    rounds = math.ceil(visitors / gpus)
    return {"gpus": gpus, "wait_max": (rounds - 1) * run_cost_s, "finish_max": rounds * run_cost_s,
            "runs_per_minute": gpus * 60.0 / run_cost_s}


def markdown_tables(rows: list[dict], visitors: int) -> str:
    lines = ["| scenario | runs | finished | wait p50 | wait p95 | wait max | finish p50 | finish p95 | finish max "
             "| runs/min | s per run |", "|" + "---|" * 11]
    for row in rows:
        lines.append(f"| {row['scenario']} | {row['runs']} | {row['finished']} | {row['wait_p50']:.1f} s "
                     f"| {row['wait_p95']:.1f} s | {row['wait_max']:.1f} s | {row['finish_p50']:.1f} s "
                     f"| {row['finish_p95']:.1f} s | {row['finish_max']:.1f} s | {row['runs_per_minute']:.2f} "
                     f"| {row['run_cost_s']:.1f} |")
    cost = max(row["run_cost_s"] for row in rows)
    lines += ["", f"Projection (not measured): {visitors} visitors on G GPUs, one run per GPU at a time, each run "
                  f"costing {cost:.1f} s as measured above (the runs are time-boxed, so a GPU trains more steps "
                  "in the same time rather than finishing sooner).", "",
              "| GPUs | wait max | finish max | runs/min |", "|---|---|---|---|"]
    for gpus in PROJECTED_GPUS:
        row = projection(visitors, cost, gpus)
        lines.append(f"| {gpus} | {row['wait_max']:.0f} s | {row['finish_max']:.0f} s | {row['runs_per_minute']:.2f} |")
    return "\n".join(lines)


def run_class(name: str, visitors: int, seconds: float, timeout_s: float) -> list[Visitor]:
    """Every visitor presses Start at once; poll the run store until every run has ended."""
    from aigc_core.config import TrainingConfig
    from aigc_core.runs.store import RunStore
    from aigc_core.runs.worker import launch

    store = RunStore(tempfile.mkdtemp(prefix=f"classroom-{name}-"))
    config = dict(model="vae", preset="fast", minutes=seconds / 60.0, train_limit=1024, batch_size=32,
                  log_every=10, sample_every=10_000, checkpoint_every=10_000)
    class_visitors = []
    for number in range(visitors):
        submitted = time.monotonic()
        run = launch(TrainingConfig(**config, seed=number), store)
        class_visitors.append(Visitor(number, run.run_id, submitted))
    deadline = time.monotonic() + timeout_s
    while any(v.finished is None for v in class_visitors) and time.monotonic() < deadline:
        for visitor in class_visitors:
            if visitor.finished is not None:
                continue
            state = store.get(visitor.run_id).status().get("state")
            now = time.monotonic()
            if state == "running" and visitor.started is None:
                visitor.started = now
            elif state not in ("queued", "running"):
                visitor.started = visitor.started or now  # ended between two polls
                visitor.finished, visitor.state = now, state
        time.sleep(POLL_S)
    return class_visitors


def local_scenario(visitors: int, seconds: float, timeout_s: float) -> list[Visitor]:
    os.environ.update({"AIGC_EXECUTOR": "local", "AIGC_MAX_CONCURRENT": "1"})
    return run_class("local", visitors, seconds, timeout_s)


def ray_scenario(nodes: int, visitors: int, seconds: float, timeout_s: float) -> list[Visitor]:
    import ray
    from ray.cluster_utils import Cluster

    from aigc_core.runs import executors

    cluster = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "node_ip_address": "127.0.0.1", "include_dashboard": False})
    try:
        for _ in range(nodes):
            cluster.add_node(num_cpus=1, node_ip_address="127.0.0.1")
        cluster.wait_for_nodes()
        os.environ.update({"AIGC_EXECUTOR": "ray", "AIGC_RAY_ADDRESS": cluster.address})
        executors._executors.pop("ray", None)
        return run_class(f"ray-{nodes}", visitors, seconds, timeout_s)
    finally:
        ray.shutdown()
        cluster.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visitors", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=60.0, help="training budget of each run")
    parser.add_argument("--scenarios", default="local,ray-1,ray-2", help="local, ray-N (N worker nodes), comma-separated")
    parser.add_argument("--timeout", type=float, help="seconds to wait for a class to finish (default: generous)")
    arguments = parser.parse_args(argv)
    if arguments.visitors < 1 or arguments.seconds <= 0:
        parser.error(f"--visitors and --seconds must be positive; received {arguments.visitors}, {arguments.seconds}")
    timeout_s = arguments.timeout or arguments.visitors * (arguments.seconds + 120.0)
    rows = []
    for name in arguments.scenarios.split(","):
        name = name.strip()
        if name == "local":
            visitors = local_scenario(arguments.visitors, arguments.seconds, timeout_s)
        elif name.startswith("ray-") and name[4:].isdigit() and int(name[4:]) > 0:
            visitors = ray_scenario(int(name[4:]), arguments.visitors, arguments.seconds, timeout_s)
        else:
            parser.error(f"scenarios must be local or ray-N with N >= 1; received {name!r}")
        print(f"\n{name}: visitor, wait, finish, state")
        for visitor in visitors:
            wait = f"{visitor.wait_s:.1f} s" if visitor.wait_s is not None else "-"
            finish = f"{visitor.finish_s:.1f} s" if visitor.finish_s is not None else "not finished"
            print(f"  {visitor.number:3d}  {wait:>9}  {finish:>13}  {visitor.state}", flush=True)
        if any(visitor.finished is None for visitor in visitors):
            print(f"error: {name}: not every run ended within {timeout_s:.0f} s", file=sys.stderr)
            return 1
        rows.append(summarize(name, visitors))
    print("\n" + markdown_tables(rows, arguments.visitors))
    return 0


if __name__ == "__main__":
    sys.exit(main())
