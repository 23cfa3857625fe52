"""Train every "break it on purpose" preset at its default budget on several seeds; print what the diagnosis says.

    python bench/break_it.py [--seeds 0,1,2] [--presets "GAN: learning rate x10,..."] [--steps N]
                             [--train-limit N] [--batch-size N] [--log-every N] [--overrides JSON]

Each run goes through the project's own trainer (`start_run` + `train_run`, the Train page's
path) into a temporary run store, then `diagnose` reads its metric rows, latest snapshot and
status exactly as the Train page does. A preset keeps its promise when its `expected_kind` is
among the findings, as an error or a warning (a failure the run "recovered" from is only info).
FID is the live quality curve's last value (`AIGC_QUALITY_SAMPLES` samples, 1,000 by default;
0 switches it off), so it is comparable between these runs only.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))


def run_preset(name: str, seed: int, store, changes: dict) -> dict:
    """Train one preset on one seed; return its findings and the numbers worth a table row."""
    from aigc_core.quality.diagnosis import BROKEN_PRESETS, broken_config, diagnose
    from aigc_core.runs.training import start_run, train_run

    started = time.perf_counter()
    run = start_run(broken_config(name, seed=seed, **changes), store)
    status = train_run(run)
    latest = run.latest_snapshot()
    rows = run.metrics()
    findings = diagnose(BROKEN_PRESETS[name].family, rows, latest[1] if latest else None,
                        snapshot_step=latest[0] if latest else None, error=status.get("error"))
    quality = [row for row in run.quality() if isinstance(row.get("fid"), (int, float))]
    expected = BROKEN_PRESETS[name].expected_kind
    return {
        "preset": name, "seed": seed, "steps": status.get("step"), "state": status.get("state"),
        "findings": [(finding.kind, finding.severity, finding.step, finding.end_step) for finding in findings],
        "kept_promise": any(finding.kind == expected and finding.severity in ("error", "warning")
                            for finding in findings),
        "fid": quality[-1]["fid"] if quality else None,
        "last_row": rows[-1] if rows else {},
        "seconds": round(time.perf_counter() - started, 1),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--presets", default="", help="comma-separated names (default: all)")
    parser.add_argument("--steps", type=int, default=None, help="default: each preset's own budget")
    parser.add_argument("--train-limit", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--log-every", type=int, default=None)
    parser.add_argument("--overrides", default="", help="JSON merged into every preset's overrides (experiments)")
    parser.add_argument("--json", default="", help="also write the results to this file")
    args = parser.parse_args(argv)

    from aigc_core.quality.diagnosis import BROKEN_PRESETS
    from aigc_core.runs.store import RunStore

    names = [name.strip() for name in args.presets.split(",") if name.strip()] or list(BROKEN_PRESETS)
    changes = {key: value for key, value in (("steps", args.steps), ("train_limit", args.train_limit),
                                             ("batch_size", args.batch_size), ("log_every", args.log_every))
               if value is not None}
    extra = json.loads(args.overrides) if args.overrides else {}
    results = []
    with tempfile.TemporaryDirectory() as folder:
        store = RunStore(folder)
        for name in names:
            overrides = {**BROKEN_PRESETS[name].overrides, **extra}
            for seed in (int(value) for value in args.seeds.split(",")):
                result = run_preset(name, seed, store, {**changes, "overrides": overrides})
                results.append(result)
                fid = f"{result['fid']:.1f}" if result["fid"] is not None else "-"
                print(f"{name:48s} seed {seed} steps {result['steps']} {result['state']:8s} FID {fid:>6s} "
                      f"{'KEPT' if result['kept_promise'] else 'MISSED'} {result['seconds']:6.1f}s "
                      f"{result['findings']}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    kept = sum(result["kept_promise"] for result in results)
    print(f"{kept} of {len(results)} runs showed the failure their preset promises")
    return 0 if kept == len(results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
