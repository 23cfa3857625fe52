"""Write weights/README.md from the files beside the weights: provenance and measured metrics.

    python scripts/weights_readme.py

Every number in the generated table comes from a `<name>.metrics.json` written by
`python -m aigc_core evaluate --weights <name> --json weights/<name>.metrics.json`
(scripts/train_all_shipped.sh), or from a classifier's JSON and reference
cache; nothing is typed in by hand. Numbers are only comparable within one dataset, so
models trained on another dataset than MNIST get their own table.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
REFERENCE_LONG_PATH = WEIGHTS_DIR.parent / "bench" / "results" / "reference_long.json"
# Classifiers other than MNIST's: (dataset, title, folder under weights/).
OTHER_CLASSIFIERS = (("fashion_mnist", "Fashion-MNIST", "classifier-fashion_mnist"),)
METRICS_HEADER = ["| model | FID | IS | min class | max class | p>=0.9 | -ELBO | min digit | mean digit |",
                  "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]


def _row(name: str, metrics: dict) -> str:
    elbo = metrics.get("negative_elbo_nats")
    agreement = metrics.get("digit_agreement")  # only conditional models are asked for a digit
    agreement_cells = (f"{100 * metrics['min_digit_agreement']:.1f}% | {100 * metrics['mean_digit_agreement']:.1f}%"
                       if agreement else "- | -")
    return (f"| {name} | {metrics['fid']:.2f} | {metrics['inception_score']:.2f} | "
            f"{100 * metrics['min_class_share']:.1f}% | {100 * metrics['max_class_share']:.1f}% | "
            f"{100 * metrics['confident_share']:.1f}% | {f'{elbo:.1f}' if elbo is not None else '-'} | "
            f"{agreement_cells} |")


def _agreement_rows(name: str, metrics: dict) -> list[str]:
    """One row of per-digit agreement for a conditional model; none for an unconditional one."""
    agreement = metrics.get("digit_agreement")
    if not agreement:
        return []
    return [f"| {name} | " + " | ".join(f"{100 * share:.1f}%" for share in agreement) + " |"]


def _equal_time_section(models: list[tuple]) -> list[str]:
    """Each shipped model against the TF tutorial loop trained for about as long on the same machine.

    The loop's scores come from `python bench/time_to_quality.py --models reference --budgets
    240,360,480,600,720,900 --out bench/results/reference_long` (same evaluator, 10,000 samples);
    each model is read against the budget nearest its own training time.
    """
    path = REFERENCE_LONG_PATH
    if not path.exists() or not models:
        return []
    rows = [row for row in json.loads(path.read_text())["rows"] if row["model"] == "reference"]
    lines = ["## Against the TensorFlow DCGAN tutorial's loop at equal wall-clock", "",
             "The reference loop (`bench/reference_dcgan.py`) trained on the same 2-core machine for the budget",
             "nearest each model's training time, scored by the same evaluator; reproduce with",
             "`python bench/time_to_quality.py --models reference --budgets 240,360,480,600,720,900 "
             "--out bench/results/reference_long`. Caveat: the reference ran on 2026-11-29's 2-core machine (an",
             "Intel Xeon), as did the training of gan-conditional; the other models were trained on",
             "2026-11-28's 2-core machine (an AMD EPYC; `bench/throughput.py` timed the reference",
             "loop at 386 img/s there and 369 img/s on the Xeon), so for them equal seconds are equal only roughly.",
             "gan-paper is the reference's network and batch; it wins through the DCGAN paper's Adam settings",
             "(learning rate 2e-4, beta_1 0.5, instead of the tutorial's 1e-4 and 0.9) and the generator's moving",
             "average (0.999), not through speed. Its first shipped weights made 1224 steps in 900 s (FID 108.9,",
             "one digit 39% of samples; the reference made about 1300 steps and reached 174.8). The weights shipped",
             "since 2026-12-05 continued longer: `python -m aigc_core train --model gan --preset paper --steps 20000",
             "--seed 0 --checkpoint-every 250 --runs-root /work/runs-long`, stopped at step 2984 (FID 37.0), resumed",
             "on 2026-12-06 from its step-3250 checkpoint in mixed bfloat16 (its config's precision changed",
             "before `python -m aigc_core resume --run RUN`: 1.65x the steps per second on this CPU), stopped at",
             "step 9503 (FID 15.9, IS 7.64) and exported with `--from-run`. That run's folder was lost with its",
             "machine, so on 2026-12-06 (10:45-12:36 UTC) the shipped weights trained on from step 9503 in a new run,",
             "`python scripts/continue_shipped.py gan-paper --steps 40000 --precision mixed_bfloat16` then",
             "`python -m aigc_core resume --run RUN` (fresh Adam moments and moving average), stopped at step 20771",
             "and exported with `--from-run`; then (14:28-14:56 UTC, `nice 5`, beside short tests and screenshots) from there",
             "to step 24971 with a 200-step warm-up and a cosine decay of the step size to 0 over 4000 steps,",
             "`python scripts/continue_shipped.py gan-paper --steps 24971 --precision mixed_bfloat16 --set",
             "learning_rate_warmup_steps=200 --set learning_rate_decay_steps=4000`, resumed and exported the same way",
             "(FID 8.44, IS 8.10); then (2026-12-07 00:24-01:11 UTC, `nice 19`, a test run beside it for its first",
             "17 minutes) to step 29305 at the constant step size again after a 200-step warm-up,",
             "`python scripts/continue_shipped.py gan-paper --steps 32971 --precision mixed_bfloat16 --set",
             "learning_rate_warmup_steps=200`, resumed, stopped and exported the same way: FID 8.03, IS 8.15.",
             "The earlier legs ran at `nice 5`/`nice 19` beside",
             "benchmarks and tests and was paused while benchmarks needed the machine, so its wall-clock seconds hold far",
             "less than two cores' worth: its row below is no time comparison.",
             "With the tutorial's settings it lost (FID 184.3, 706 steps on the AMD machine).",
             "vae-fast (16-D since 2026-12-05) and vae-map (the 2-D network vae-fast was until then, at the",
             "same 6571 steps) trained on the Xeon beside a `nice 5` diffusion training and a benchmark, so",
             "their seconds, too, hold less than two cores' worth. gan-fast (learning rates 8e-4 since",
             "2026-12-06 20:30 UTC; 4e-4 from 2026-12-05, 2e-4 before) was retrained for the 13810 steps of the",
             "2e-4 weights, on the slower AMD machine with only a one-minute test run beside it: FID 32.4",
             "against 32.5 for the 4e-4 weights and 32.3 for the 2e-4 ones, level at that length (the faster",
             "start shows in the first minutes: bench/README.md, \"Digits in one minute\" and \"Step sizes for",
             "the fast presets\"). gan-clusters (new on 2026-12-06: the",
             "conditional GAN's networks on k-means clusters of the images, no labels; 100 clusters since 08:30 UTC",
             "that day, when these weights were trained) trained for those same 13810 steps in 390 s.",
             "A `nice 19` test run shared the cores with it. vae-clusters (vae-fast's networks on 50 clusters,",
             "new then too) trained for 30000 steps in mixed bfloat16, its default on this CPU, in 374 s on a",
             "quiet machine (its first weights, after vae-fast's 15000 steps, scored FID 18.45 and IS 8.45).",
             "They trained at Adam 1e-3 (their config says so); retrained at 2e-3, vae-clusters' step size since",
             "2026-12-06 19:11 (better after 120 s), for the same 30000 steps (20:37-20:51 UTC on the slower AMD",
             "machine) they scored FID 16.33, IS 8.82 and -ELBO 96.7 against these 13.47, 8.71 and 93.4, so the",
             "1e-3 weights stay: the larger step wins the first minutes, not the long run;",
             "vae-fast's 935 s were on a more loaded machine, so the two VAE times do not compare.",
             "diffusion-large trained 2026-12-05 22:10-23:56 UTC: `python -m aigc_core train --model diffusion",
             "--preset large --steps 20000 --seed 0 --checkpoint-every 250 --run-dir RUN` at `nice 5`, beside",
             "this session's benchmarks and tests and paused during the quiet ones (paused time is not counted),",
             "stopped at step 2704 and exported with `--from-run`; its 4146 s, too, are no time comparison.", "",
             "| model | its training s | its FID | reference at s | reference FID | reference IS | lower FID |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    longest = max(row["seconds"] for row in rows)
    longer = [name for name, seconds, _, _ in models if seconds and seconds > longest + 30]
    if longer:
        lines[-2:-2] = [f"{', '.join(longer)} trained longer than the reference's longest budget ({longest:.0f} s): "
                        "those rows compare with the reference at that budget, not at equal time.", ""]
    for name, seconds, fid, _ in models:
        if not seconds:
            continue
        nearest = min(rows, key=lambda row: abs(row["seconds"] - seconds))
        lines.append(f"| {name} | {seconds:.0f} | {fid:.2f} | {nearest['seconds']:.0f} | {nearest['fid']:.2f} | "
                     f"{nearest['inception_score']:.2f} | {'model' if fid < nearest['fid'] else '**reference**'} |")
    return lines + [""]


def main() -> int:
    sys.path.insert(0, str(WEIGHTS_DIR.parent))
    from aigc_core.quality.evaluation import class_prior_labels

    prior = [int(count) for count in np.bincount(class_prior_labels(10_000, "mnist"))]
    lines = [
        "# Shipped weights",
        "",
        "Each `<name>.weights.h5` sits beside `<name>.json` (the config that rebuilds its model, plus how it",
        "was trained) and `<name>.metrics.json` (what `python -m aigc_core evaluate --weights <name>` measured:",
        "10,000 samples, seed 0, against the 10,000 MNIST test images, through the project's classifier in",
        "`classifier/`). Only weights are loaded, into architectures built by `aigc_core`; no file here can",
        "run code. This file is generated by `python scripts/weights_readme.py`.",
        "",
        "## Provenance",
        "",
        "| name | command | seed | steps | training time | hardware |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    metrics_rows, agreement_rows, reference = [], [], None
    equal_time_rows = []
    other_rows: dict[str, list[str]] = {}
    for config_path in sorted(WEIGHTS_DIR.glob("*.json")):
        if config_path.name.endswith(".metrics.json") or config_path.name == "reference_metrics.json":
            continue
        name = config_path.stem
        info = json.loads(config_path.read_text())
        lines.append(f"| {name} | `{info.get('command', '?')}` | {info.get('seed', '?')} | {info.get('steps', '?')} | "
                     f"{info.get('training_seconds', 0):.0f} s | {info.get('hardware', '?')} |")
        metrics_path = WEIGHTS_DIR / f"{name}.metrics.json"
        if metrics_path.exists():
            metrics = json.loads(metrics_path.read_text())
            if metrics.get("dataset", "mnist") != "mnist":  # measured by another classifier: not comparable
                other_rows.setdefault(metrics["dataset"], []).append(_row(name, metrics))
                continue
            metrics_rows.append(_row(name, metrics))
            equal_time_rows.append((name, info.get("training_seconds"), metrics["fid"], metrics["inception_score"]))
            agreement_rows += _agreement_rows(name, metrics)
            reference = metrics.get("reference", reference)
    classifier = json.loads((WEIGHTS_DIR / "classifier" / "mnist.json").read_text())
    others = [(dataset, title, folder, json.loads((WEIGHTS_DIR / folder / f"{dataset}.json").read_text()))
              for dataset, title, folder in OTHER_CLASSIFIERS if (WEIGHTS_DIR / folder / f"{dataset}.json").exists()]
    lines += [
        f"| classifier/mnist | `{classifier['command']}` | {classifier['seed']} | {classifier['epochs']} epochs | "
        f"{classifier['training_seconds']:.0f} s | {classifier['hardware']} |",
        *[f"| {folder}/{dataset} | `{info['command']}` | {info['seed']} | {info['epochs']} epochs | "
          f"{info['training_seconds']:.0f} s | {info['hardware']} |" for dataset, _, folder, info in others],
        "",
        f"The classifier's accuracy on the MNIST test split: {100 * classifier['test_accuracy']:.2f}%.",
        *[f"The {title} classifier's accuracy on its test split: {100 * info['test_accuracy']:.2f}% "
          f"(`{folder}/`, the same network; data: {info.get('data', dataset)})." for dataset, title, folder, info in others],
        "",
        "## Metrics",
        "",
        "FID-MNIST: Frechet distance of the classifier's 128-d penultimate features (lower is better).",
        "IS: classifier Inception Score (10 is the ceiling). Class shares: predicted digits (10% each is ideal).",
        "p>=0.9: share of samples the classifier is confident about. -ELBO: VAE test-set negative ELBO, nats/image.",
        "min/mean digit: conditional models only, the share of samples asked for a digit that the classifier",
        "reads as that digit, for the worst digit and averaged over the ten. A conditional model draws its",
        f"10,000 labels in the training split's class frequencies ({prior[1]:,} ones, {prior[5]:,} fives: p(y), then an image",
        "of y), as the test set it is compared with has them; drawing 1,000 of each digit would score a",
        "class-balanced MNIST instead (`aigc_core.quality.evaluation.class_prior_labels`).",
        "",
        *METRICS_HEADER,
        *metrics_rows,
    ]
    if reference:
        lines += [_row(f"*{name}*", row) for name, row in reference.items()]
    lines += ["", "Reference rows in italics: real training images (the floor a perfect model approaches) and an",
              "untrained generator (the ceiling), scored the same way.", ""]
    for dataset, title, folder, _ in others:
        cache_path = WEIGHTS_DIR / folder / "reference_metrics.json"
        cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
        rows = other_rows.get(dataset, [])
        if not rows and not cache.get("rows"):
            continue
        lines += [f"## Metrics on {title}", "",
                  f"Measured through the {title} classifier in `{folder}/` against the "
                  f"{cache.get('compared_with', 'test split')}:",
                  "not comparable with the MNIST table." + ("" if rows else f" No shipped model is trained on {title} yet;"
                                                             " these are the reference rows its models are read against."),
                  "", *METRICS_HEADER, *rows,
                  *[_row(f"*{name}*", row) for name, row in (cache.get("rows") or {}).items()], ""]
    lines += _equal_time_section(equal_time_rows)
    if agreement_rows:
        lines += ["## Per-digit agreement of the conditional models", "",
                  "Share of the samples asked for each digit that the classifier reads as that digit.",
                  "gan-conditional's generator is also trained to satisfy its own discriminator's digit",
                  "classifier (an AC-GAN term; not the classifier that measures it), which pushes it toward",
                  "clearly readable digits: that is why its IS can sit at or above the real data's.", "",
                  "| model | " + " | ".join(str(digit) for digit in range(10)) + " |",
                  "| --- |" + " --- |" * 10, *agreement_rows, ""]
    (WEIGHTS_DIR / "README.md").write_text("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
