"""Time to quality: FID-MNIST and Inception Score after 30, 60, 120 and 300 s of training.

    python bench/time_to_quality.py [--budgets 30,60,120,300] [--models reference,gan-fast,vae-fast]
    (any registry variant, the conditional ones included, and `reference`; a GAN's name with
    `+ema` adds an arm that samples from its generator's moving average, `--ema-decay` (what a
    run does by default); `+bf16` builds and trains the arm under `mixed_bfloat16`; and
    `:key=value` suffixes change its model config, e.g. `gan-fast+ema:d_learning_rate=0.0004` or `gan-fast:adversarial_loss=hinge`;
    `:batch_size=N` changes the arm's batch instead, `:ema_decay=D` the decay of a `+ema` arm's
    average; `:labels=kmeans` trains a conditional variant on k-means clusters of the images instead
    of their labels, the clustering's seconds on its clock, and samples it by the clusters' shares:
    a model that never saw a label)
                                    [--num 10000] [--out bench/results/time_to_quality]
                                    [--segment 15] [--seed 0] [--unit seconds|steps]
    python bench/time_to_quality.py --replot bench/results/NAME.json   (redraws NAME.png from the saved rows)

With `--segment S` the models train in turns of S training seconds each, round by round (the
first to go changes every round), instead of one after the other: on a machine shared with other
work the load then falls on every arm alike, and their ratio stays honest. Each model then also
takes one step before its clock starts, so that tracing (which takes a minute or more on a loaded
machine, and would overshoot a short budget by as much) counts for no arm. `--clock cpu` counts
budgets in this process's CPU seconds (all its threads) instead of wall-clock seconds: on a
machine other work is loading, a wall-clock minute may hold only seconds of training. `--unit
steps` counts budgets and segments in training steps instead: every arm does the same work, as
a run with a step budget does (e.g. a learning-rate decay set to end at that step).

Every model trains in this one process, one after the other, on the same machine: the
reference loop (the TensorFlow DCGAN tutorial's, bench/reference_dcgan.py) and the project's
presets. Each trains until the next budget of training seconds (the clock stops while it is
scored), then `--num` samples are scored with the project's evaluator (the same classifier,
test-set statistics and formulas as `python -m aigc_core evaluate`). Tracing and the first
steps count as training time: a user pays them too.

Writes `<out>.json` (every row) and `<out>.png` (FID and IS against seconds, one line per model,
rendered by Chromium from a plotly figure), and prints a table and the verdict against the
speed issue's targets: after 120 s the fast GAN and the clustered one (the Train page's first) reach
IS >= 8.0, the fast VAE and the clustered one IS >= 7.5, and at the last budget the fast GAN's FID is far
below the reference's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(PROJECT_ROOT))

TARGET_SECONDS = 120
# What a budget counts: wall-clock seconds, or with `--clock cpu` this process's CPU seconds.
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
clock = CLOCKS["wall"]
# What `--budgets` and `--segment` count: training seconds, or with `--unit steps` training steps.
BUDGET_UNIT = "seconds"
# Issue 16's IS targets after 120 s: the fast presets', and the Train page's first GAN and VAE ("or
# the VAE the Train page offers first"), which a new user trains.
TARGETS_IS = {"gan-fast": 8.0, "vae-fast": 7.5, "gan-clusters": 8.0, "vae-clusters": 7.5}
SEED = 0


class ProjectTrainer:
    """A registry variant trained with `fit()` in segments that end on a wall-clock budget."""

    def __init__(self, name: str, training_set, ema_decay: float = 0.0, precision: str = "float32", **overrides):
        """`overrides` change the variant's model config (e.g. `class_loss_weight=0.3`); `ema_decay`
        above 0 keeps the generator's moving average (`aigc_core.runs.averaging`) and samples from it;
        `precision` is the Keras dtype policy the model is built (and so trained) under, as a run's;
        a `batch_size` among the overrides is the arm's batch, not a model setting."""
        import keras

        from aigc_core.devices import dtype_policy
        from aigc_core.runs.averaging import make_generator_average
        from aigc_core.data import make_training_dataset, scale_pixels
        from aigc_core.models.registry import VARIANTS

        keras.utils.set_random_seed(SEED)
        variant = VARIANTS[name]
        batch_size = overrides.pop("batch_size", variant.batch_size)
        label_source = overrides.pop("labels", "dataset")
        with dtype_policy(precision):
            self.model = variant.build(**overrides)
        self.average = make_generator_average(ema_decay) if ema_decay else None
        self.steps = 0
        self.trained_s = 0.0
        self.cluster_shares = None
        # Conditional models train on (image, label) batches, as `training.train_run` feeds them.
        started = clock()  # a model that makes its own labels (the clustered GAN's k-means) pays for them
        labels = self.model.training_labels(training_set.images, training_set.labels, SEED)
        self.trained_s = clock() - started
        if label_source == "kmeans":  # no labels: k-means clusters stand in, their time on the arm's clock
            from aigc_core.clusters import cluster_frequencies, kmeans_labels

            started = clock()
            labels = kmeans_labels(training_set.images, self.model.num_classes, seed=SEED)
            self.trained_s = clock() - started
            self.cluster_shares = cluster_frequencies(labels, self.model.num_classes)
        elif label_source != "dataset":
            raise SystemExit(f"Expected labels=kmeans or labels=dataset. Received: labels={label_source!r}")
        self.dataset = make_training_dataset(scale_pixels(training_set.images, self.model.pixel_range),
                                             batch_size, seed=SEED, labels=labels)

    def trace(self) -> None:
        """One untimed step, so the compiled step exists before the clock starts (`--segment`)."""
        self.model.fit(self.dataset, epochs=1, steps_per_epoch=1, verbose=0)

    def train_until(self, budget_s: float) -> None:
        import keras

        trainer = self

        class Deadline(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.started = clock()

            def on_train_batch_end(self, batch, logs=None):
                trainer.steps += 1
                done = trainer.steps if BUDGET_UNIT == "steps" else trainer.trained_s + clock() - self.started
                if done >= budget_s:
                    self.model.stop_training = True

        deadline = Deadline()
        callbacks = [deadline] + ([self.average] if self.average is not None else [])
        self.model.fit(self.dataset, epochs=1, steps_per_epoch=10**9, verbose=0, callbacks=callbacks)
        self.trained_s += clock() - deadline.started

    def sample(self, num_samples: int):
        """Samples scored as `evaluate` scores them: a conditional model draws labels in the training frequencies."""
        import contextlib

        from aigc_core.quality.evaluation import sample_as_scored

        shown = self.average.swapped_in(self.model) if self.average is not None else contextlib.nullcontext()
        with shown:
            if self.cluster_shares is not None:  # a cluster-conditioned model picks its own clusters
                import numpy as np

                labels = np.random.default_rng(SEED).choice(len(self.cluster_shares), num_samples, p=self.cluster_shares)
                return self.model.sample(num_samples, seed=SEED, labels=labels)
            return sample_as_scored(self.model, num_samples, SEED, "mnist")[0]


class ReferenceTrainer:
    """The tutorial's loop, its clock kept across segments."""

    def __init__(self, images):
        import keras
        import reference_dcgan

        keras.utils.set_random_seed(SEED)
        self.module = reference_dcgan
        self.reference = reference_dcgan.ReferenceDCGAN()
        self.dataset = reference_dcgan.tutorial_dataset(images)
        self.trained_s = 0.0
        self.steps = 0

    def trace(self) -> None:
        """One untimed step (`--segment`), as the project's arms get: tracing counts for no arm."""
        self.module.train(self.reference, self.dataset, steps=1)

    def train_until(self, budget_s: float) -> None:
        result = self.module.train(self.reference, self.dataset, seconds=max(0.0, budget_s - self.trained_s))
        self.trained_s += result["seconds"]
        self.steps += result["steps"]

    def sample(self, num_samples: int):
        return self.reference.sample(num_samples, seed=SEED)


def progress(trainer) -> float:
    """How far an arm has trained, in the unit budgets count: training seconds, or steps with `--unit steps`."""
    return trainer.steps if BUDGET_UNIT == "steps" else trainer.trained_s


def number_or_text(value: str):
    """A `:key=value` setting's value: an int (`16`) or a float (`0.0004`) where it reads as one, else the text (`hinge`)."""
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def preset_of_arm(name: str) -> str | None:
    """`gan-fast` for the arms `gan-fast`, `gan-fast+ema` or `gan-fast+ema+bf16`; None for one that changes its config."""
    return None if ":" in name else name.split("+")[0]


def make_trainer(name: str, training_set, ema_decay: float):
    """The trainer of one arm: `reference`, or a registry variant with an optional `+ema` and `:key=value`s."""
    if name == "reference":
        return ReferenceTrainer(training_set.images)
    variant, *settings = name.split(":")
    overrides = {key: number_or_text(value) for key, value in (setting.split("=", 1) for setting in settings)}
    ema_decay = float(overrides.pop("ema_decay", ema_decay))  # `:ema_decay=D`: this arm's, not --ema-decay
    variant, *flags = variant.split("+")
    unknown = set(flags) - {"ema", "bf16"}
    if unknown:
        raise SystemExit(f"Expected +ema or +bf16 after a variant's name. Received: {name!r}")
    return ProjectTrainer(variant, training_set, ema_decay=ema_decay if "ema" in flags else 0.0,
                          precision="mixed_bfloat16" if "bf16" in flags else "float32", **overrides)


def score(images, classifier) -> dict:
    from aigc_core.quality.evaluation import metrics_for_images

    metrics = metrics_for_images(images, classifier)
    return {"fid": float(metrics["fid"]), "inception_score": float(metrics["inception_score"])}


def write_plot(rows: list[dict], path: Path) -> bool:
    """FID (log scale) and IS against training seconds; a PNG through Chromium. False if no browser."""
    import plotly.express as px
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    figure = make_subplots(rows=1, cols=2, subplot_titles=("FID-MNIST (lower is better)", "Inception Score (higher is better)"))
    # Up to 24 arms in distinct colours; the family in the line's dash, so a GAN never reads as a VAE.
    palette = px.colors.qualitative.Dark24
    dashes = {"gan": "solid", "vae": "dash", "diffusion": "dot"}
    names = list(dict.fromkeys(row["model"] for row in rows))
    for index, name in enumerate(names):
        mine = [row for row in rows if row["model"] == name]
        line = {"color": palette[index % len(palette)], "dash": dashes.get(name.split("-")[0], "dashdot")}
        seconds = [row["seconds"] for row in mine]
        figure.add_trace(go.Scatter(x=seconds, y=[row["fid"] for row in mine], name=name, legendgroup=name,
                                    mode="lines+markers", line=line), row=1, col=1)
        figure.add_trace(go.Scatter(x=seconds, y=[row["inception_score"] for row in mine], name=name,
                                    legendgroup=name, showlegend=False, mode="lines+markers", line=line), row=1, col=2)
    figure.update_yaxes(type="log", row=1, col=1)
    figure.update_xaxes(title_text="training seconds on this machine")
    height = max(450, 110 + 30 * len(names))  # every legend entry visible, none scrolled away
    figure.update_layout(width=1100, height=height, template="plotly_white", margin={"t": 40, "b": 50, "l": 50, "r": 20})
    html_path = path.with_suffix(".html")
    figure.write_html(html_path, include_plotlyjs=True, full_html=True)
    try:
        from playwright.sync_api import sync_playwright

        sys.path.insert(0, str(PROJECT_ROOT / "tests"))
        from browser_support import launch_chromium

        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            page = browser.new_page(viewport={"width": 1100, "height": height})
            page.goto(html_path.resolve().as_uri())
            page.wait_for_selector(".main-svg")
            page.screenshot(path=str(path))
            browser.close()
    except Exception as error:  # the numbers matter more than the picture
        print(f"(no PNG: {type(error).__name__}: {error})")
        return False
    finally:
        html_path.unlink(missing_ok=True)
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", default="30,60,120,300", help="cumulative training seconds, comma-separated")
    parser.add_argument("--models", default="reference,gan-fast,vae-fast")
    parser.add_argument("--num", type=int, default=10_000, help="samples scored at each budget")
    parser.add_argument("--out", default=str(PROJECT_ROOT / "bench" / "results" / "time_to_quality"))
    parser.add_argument("--ema-decay", type=float, default=0.999, help="decay of the `+ema` arms' generator average")
    parser.add_argument("--segment", type=float, help="train the models in alternating turns of this many seconds")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="budgets in wall-clock seconds, or in this process's CPU seconds (a loaded machine)")
    parser.add_argument("--seed", type=int, default=0, help="every arm's initial weights, noise, data order and samples")
    parser.add_argument("--replot", metavar="JSON", help="redraw the PNG beside a saved <out>.json from its rows; no training")
    parser.add_argument("--unit", choices=("seconds", "steps"), default="seconds",
                        help="what budgets and segments count: training seconds, or training steps (equal work per arm)")
    args = parser.parse_args(argv)
    global clock, SEED, BUDGET_UNIT
    if args.replot:
        saved = Path(args.replot)
        plotted = write_plot(json.loads(saved.read_text())["rows"], saved.with_suffix(".png"))
        print(f"wrote {saved.with_suffix('.png')}" if plotted else "no PNG written")
        return 0 if plotted else 1
    clock = CLOCKS[args.clock]
    SEED = args.seed
    BUDGET_UNIT = args.unit
    if args.unit == "steps" and "reference" in args.models.split(","):
        parser.error("--unit steps: the reference loop counts seconds only; leave `reference` out")
    if args.clock == "cpu" and "reference" in args.models.split(","):
        parser.error("--clock cpu: the reference loop keeps its own wall clock; leave `reference` out")
    budgets = sorted(float(value) for value in args.budgets.split(","))
    models = [name.strip() for name in args.models.split(",") if name.strip()]

    from aigc_core.data import load_images
    from aigc_core.quality.evaluation import default_classifier

    training_set = load_images("mnist", "train")
    classifier = default_classifier()
    rows = []
    print(f"{'model':12} {'seconds':>8} {'FID':>9} {'IS':>6}", flush=True)

    def measure(name: str, trainer, budget: float) -> None:
        row = {"model": name, "budget_s": budget, "seconds": round(trainer.trained_s, 1),
               "steps": getattr(trainer, "steps", None),
               **score(trainer.sample(args.num), classifier)}
        rows.append(row)
        print(f"{name:12} {row['seconds']:8.1f} {row['fid']:9.2f} {row['inception_score']:6.2f}", flush=True)

    if args.segment:
        trainers = {name: make_trainer(name, training_set, args.ema_decay) for name in models}
        for trainer in trainers.values():
            if hasattr(trainer, "trace"):
                trainer.trace()
        round_number = 0
        for budget in budgets:
            while any(progress(trainer) < budget for trainer in trainers.values()):
                turn = models[round_number % len(models):] + models[:round_number % len(models)]
                for name in turn:
                    trainer = trainers[name]
                    if progress(trainer) < budget:
                        trainer.train_until(min(budget, progress(trainer) + args.segment))
                round_number += 1
            for name in models:
                measure(name, trainers[name], budget)
    else:
        for name in models:
            trainer = make_trainer(name, training_set, args.ema_decay)
            for budget in budgets:
                trainer.train_until(budget)
                measure(name, trainer, budget)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"num_samples": args.num, "clock": args.clock, "segment_s": args.segment,
                                                    "seed": args.seed, "unit": args.unit, "command": " ".join(sys.argv), "rows": rows}, indent=2) + "\n")
    plotted = write_plot(rows, out.with_suffix(".png"))

    def at(name: str, budget: float) -> dict | None:
        """The row of the first arm that trains preset `name` as it is (`+ema`, `+bf16` allowed, no `:key=value`)."""
        return next((row for row in rows if preset_of_arm(row["model"]) == name and row["budget_s"] == budget), None)

    verdicts = []
    for name, target in TARGETS_IS.items():
        row = at(name, TARGET_SECONDS)
        if row:
            verdicts.append(f"{name} IS {row['inception_score']:.2f} at {TARGET_SECONDS} s "
                            f"({'meets' if row['inception_score'] >= target else 'misses'} >= {target})")
    last = budgets[-1]
    if at("gan-fast", last) and at("reference", last):
        ratio = at("reference", last)["fid"] / at("gan-fast", last)["fid"]
        verdicts.append(f"at {last:.0f} s the reference's FID is {ratio:.1f}x gan-fast's")
    print("verdict: " + "; ".join(verdicts))
    print(f"wrote {out.with_suffix('.json')}" + (f" and {out.with_suffix('.png')}" if plotted else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
