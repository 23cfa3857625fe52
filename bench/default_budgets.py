"""What a new user's first Start gives: each preset at the budget it gets when none is named.

    python bench/default_budgets.py [--models gan-clusters,vae-clusters,diffusion-fast] [--num 10000]
                                    [--out bench/results/default_budgets]

For each variant this runs exactly the command a user would, `python -m aigc_core train --model F
--preset P` with no budget (so the variant's `default_steps`, the Train form's first value), in a
fresh process, and times it from launch to exit: the interpreter's start, building and tracing
the model and the live quality scores all count, as they do for a user. Then it scores the run's
final samples with `python -m aigc_core evaluate --run RUN --num N` (the project's evaluator: FID-MNIST,
IS, class shares) and copies the run's last snapshot grid beside the results, to look at.

The Home page's sentence on how long a first run takes quotes these numbers; they are only as
true as the machine they were measured on (the command prints its CPU count).

Writes `<out>.json` (one row per variant) and `<out>-<variant>.png` (its last snapshot grid).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))


def train_with_defaults(name: str, runs_root: Path) -> tuple[Path, float]:
    """Train `name` as `python -m aigc_core train` does with no budget; its run folder and wall seconds.

    `name` is a variant, or a variant and a precision (`vae-clusters:float32`): the first run on a
    CPU without bfloat16, where the variant's automatic default would be mixed bfloat16 here.
    """
    variant, _, precision = name.partition(":")
    family, preset = variant.split("-", 1)
    run_dir = runs_root / name.replace(":", "-")
    command = [sys.executable, "-m", "aigc_core", "train", "--model", family, "--preset", preset, "--seed", "0",
               "--run-dir", str(run_dir), *(["--precision", precision] if precision else [])]
    started = time.perf_counter()
    subprocess.run(command, cwd=PROJECT_ROOT, check=True, stdout=subprocess.DEVNULL)
    return run_dir, time.perf_counter() - started


def evaluate_run(run_dir: Path, num_samples: int) -> dict:
    """The project's evaluator on the run's final weights, read back from the JSON it writes."""
    output = run_dir.parent / f"{run_dir.name}-evaluation.json"
    subprocess.run([sys.executable, "-m", "aigc_core", "evaluate", "--run", str(run_dir), "--num", str(num_samples),
                    "--json", str(output)], cwd=PROJECT_ROOT, check=True, stdout=subprocess.DEVNULL)
    return json.loads(output.read_text())


def last_snapshot(run_dir: Path) -> Path | None:
    """The run's last snapshot grid (samples/step_<n>.png), if it wrote one."""
    grids = sorted((run_dir / "samples").glob("*.png"), key=lambda path: path.stat().st_mtime)
    return grids[-1] if grids else None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="gan-clusters,vae-clusters,diffusion-fast")
    parser.add_argument("--num", type=int, default=10_000, help="samples scored per model")
    parser.add_argument("--out", default=str(PROJECT_ROOT / "bench" / "results" / "default_budgets"))
    args = parser.parse_args(argv)
    from aigc_core.models.registry import VARIANTS

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    print(f"{os.cpu_count()} CPUs; samples scored per model: {args.num:,}")
    print(f"{'model':<16}{'steps':>7}{'seconds':>9}{'FID':>8}{'IS':>6}  classes")
    with tempfile.TemporaryDirectory(prefix="default-budgets-") as folder:
        for name in args.models.split(","):
            run_dir, seconds = train_with_defaults(name, Path(folder))
            metrics = evaluate_run(run_dir, args.num)
            status = json.loads((run_dir / "status.json").read_text())
            grid = last_snapshot(run_dir)
            if grid is not None:
                shutil.copyfile(grid, f"{out}-{name.replace(':', '-')}.png")
            row = {"model": name, "default_steps": VARIANTS[name.partition(":")[0]].default_steps, "steps": status.get("step"),
                   "state": status.get("state"), "seconds": round(seconds, 1),
                   "training_seconds": status.get("elapsed_s"), "fid": metrics.get("fid"),
                   "inception_score": metrics.get("inception_score"),
                   "min_class_share": metrics.get("min_class_share"), "max_class_share": metrics.get("max_class_share")}
            rows.append(row)
            print(f"{name:<16}{row['steps']:>7}{seconds:>9.1f}{row['fid']:>8.1f}{row['inception_score']:>6.2f}  "
                  f"{row['min_class_share']:.1%}-{row['max_class_share']:.1%}", flush=True)
    command = "python bench/default_budgets.py " + " ".join(argv if argv is not None else sys.argv[1:])
    Path(f"{out}.json").write_text(json.dumps({"cpus": os.cpu_count(), "num_samples": args.num,
                                               "command": command.strip(), "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
