"""Does generated data help a classifier that has only a few real examples? The experiment, no UI.

A small convnet is trained on `per_class` real MNIST digits per class, and again on the same
real digits plus K images per class from each generator arm (a conditional GAN, a CVAE, or a
reference arm of more real images). Every arm of one seed shares the same real examples and the
same initial weights, and trains for the same number of steps, so a difference in test accuracy
comes from the added images alone, not from extra compute or a luckier start. The verdict is
computed from the numbers (a paired t-test over the seeds), never written in advance.

The few real examples come from the first 50,000 training images and the "more real data"
arm from the last 10,000, so the two can never overlap, whatever the seed.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from aigc_core.limits import MAX_SEED
from aigc_core.limits import whole_number
from aigc_core.messages import Message, MessageError, N_

NUM_CLASSES = 10
IMAGE_SHAPE = (28, 28)
FEW_REAL_POOL_END = 50_000  # the few real examples are chosen among training images [0, 50000)
HELD_OUT_POOL_START = 50_000  # the "more real data" arm draws from [50000, 60000): disjoint by construction

# (digit, count, seed) -> (count, 28, 28) float32 images in [0, 1] of that digit.
GeneratedSource = Callable[[int, int, int], np.ndarray]
# (trainings done, trainings in all, what is being trained now)
Progress = Callable[[int, int, str], None]

# Bounds of every setting, in one place: the CLI, the page and run_experiment all use validate_settings.
PER_CLASS_RANGE = (1, 1000)
MAX_SIZES = 6
GENERATED_RANGE = (1, 500)  # the held-out pool has at least ~900 images of every digit
SEEDS_RANGE = (1, 10)
TEST_LIMIT_RANGE = (100, 10_000)
TRAIN_STEPS_RANGE = (10, 2000)
BATCH_SIZE_RANGE = (8, 256)
# Classifier updates in all (trainings x train_steps): the default settings need 36 x 200 = 7,200.
# The CLI's cap; the page passes a smaller one, since it runs in the server's process.
MAX_TOTAL_STEPS = 200_000

REAL_ARM = "real"
MORE_REAL_ARM = "more_real"
REAL_LABEL = "real only"
MORE_REAL_LABEL = "+ more real data (reference)"

# A difference the t-test finds but smaller than this is reported as negligible: one point is about
# twice the standard error that a 5,000-image test set puts on the difference of two classifiers.
MIN_EFFECT_POINTS = 1.0
# Two-sided 95% critical values of Student's t for 1..9 degrees of freedom (no SciPy dependency).
T_CRITICAL_95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


@dataclass(frozen=True)
class AugmentSettings:
    """Everything that decides the experiment's numbers; the defaults run in under two minutes on 2 CPU cores.

    Attributes:
        per_class: real examples per digit, one experiment row per size.
        generated_per_class: K, the images each generator arm adds per digit.
        seeds: how many seeds (`seed`, `seed + 1`, ...); each picks other real examples and initial weights.
        seed: the first seed.
        test_limit: accuracy is measured on the first `test_limit` images of the MNIST test split.
        train_steps: classifier updates per training, the same for every arm whatever its size.
        batch_size: images per update.
        more_real: whether to add the reference arm of K more real images per digit.
    """

    per_class: tuple[int, ...] = (10, 50, 100)
    generated_per_class: int = 100
    seeds: int = 3
    seed: int = 0
    test_limit: int = 5000
    train_steps: int = 200
    batch_size: int = 64
    more_real: bool = True


@dataclass(frozen=True)
class GeneratorArm:
    """An arm that adds K images per digit from a source (a conditional model, real held-out images, noise)."""

    name: str
    label: str
    source: GeneratedSource


@dataclass
class ArmResult:
    """Test accuracies of one arm at one size, one per seed, with their summary."""

    per_class: int
    arm: str
    label: str
    train_size: int
    seeds: list[int]
    accuracies: list[float]

    @property
    def mean(self) -> float:
        return float(np.mean(self.accuracies))

    @property
    def std(self) -> float:
        """Sample standard deviation over the seeds (0 with one seed)."""
        return float(np.std(self.accuracies, ddof=1)) if len(self.accuracies) > 1 else 0.0

    @property
    def minimum(self) -> float:
        return float(np.min(self.accuracies))

    @property
    def maximum(self) -> float:
        return float(np.max(self.accuracies))

    def to_dict(self) -> dict:
        return {**asdict(self), "mean": self.mean, "std": self.std, "min": self.minimum, "max": self.maximum}


@dataclass(frozen=True)
class Comparison:
    """One arm against real-only at one size: paired differences per seed, in accuracy points."""

    per_class: int
    arm: str
    label: str
    differences: tuple[float, ...]
    outcome: str  # "helped", "hurt", "negligible", "no significant difference" or "one seed"

    @property
    def mean_points(self) -> float:
        return 100.0 * float(np.mean(self.differences))


@dataclass
class ExperimentResult:
    settings: AugmentSettings
    test_set: str
    rows: list[ArmResult]
    notes: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    cpu_s: float = 0.0  # this process's CPU time: comparable on a machine other people are loading

    def comparisons(self) -> list[Comparison]:
        return compare_arms(self.rows)

    def verdict(self) -> list[str]:
        return verdict_lines(self.comparisons())

    def to_dict(self) -> dict:
        return {
            "settings": {**asdict(self.settings), "per_class": list(self.settings.per_class)},
            "test_set": self.test_set,
            "rows": [row.to_dict() for row in self.rows],
            "comparisons": [{**asdict(item), "mean_points": item.mean_points} for item in self.comparisons()],
            "verdict": self.verdict(),
            "notes": list(self.notes),
            "elapsed_s": self.elapsed_s,
            "cpu_s": self.cpu_s,
        }


# -- validation ------------------------------------------------------------------------------------
def parse_per_class(text: str) -> tuple[int, ...]:
    """'10,50,100' -> (10, 50, 100); one-line ValueError for anything else."""
    parts = [part.strip() for part in str(text).split(",")]
    if not parts or any(not part.lstrip("-").isdigit() for part in parts):
        raise ValueError(f"per-class sizes must be whole numbers separated by commas, like 10,50,100; "
                         f"received {str(text)[:80]!r}")
    return tuple(int(part) for part in parts)


def count_trainings(settings: AugmentSettings, num_generator_arms: int) -> int:
    """Classifier trainings the experiment runs: sizes x arms (real-only, references, generators) x seeds."""
    arms = 1 + int(settings.more_real) + num_generator_arms
    return len(settings.per_class) * arms * settings.seeds


def validate_settings(settings: AugmentSettings, num_generator_arms: int = 0,
                      max_total_steps: int = MAX_TOTAL_STEPS) -> AugmentSettings:
    """Check every setting and their combination; return a normalized copy (sizes sorted, ints).

    Args:
        settings: what the user asked for.
        num_generator_arms: how many generator sources will be added (they multiply the work).
        max_total_steps: the most classifier updates accepted in all, trainings x train_steps
            (the page runs in the server's process, so it passes a smaller cap than the CLI).

    Raises:
        ValueError: one line naming the setting, the value received and what is allowed.
    """
    if not isinstance(settings.more_real, (bool, np.bool_)):
        raise MessageError(N_("{setting} must be true or false; received {value!r}"), setting="more_real",
                           value=settings.more_real)
    sizes = settings.per_class
    if isinstance(sizes, (int, np.integer)):
        sizes = (sizes,)
    if not isinstance(sizes, (tuple, list)) or not 1 <= len(sizes) <= MAX_SIZES:
        raise MessageError(N_("{setting} must list 1 to {limit} sizes; received {value!r}"), setting="per_class",
                           limit=MAX_SIZES, value=sizes)
    sizes = tuple(sorted(whole_number("per_class", size, *PER_CLASS_RANGE) for size in sizes))
    if len(set(sizes)) != len(sizes):
        raise MessageError(N_("{setting} sizes must differ from each other; received {value}"), setting="per_class",
                           value=list(settings.per_class))
    normalized = AugmentSettings(
        per_class=sizes,
        generated_per_class=whole_number("generated_per_class", settings.generated_per_class, *GENERATED_RANGE),
        seeds=whole_number("seeds", settings.seeds, *SEEDS_RANGE),
        seed=whole_number("seed", settings.seed, 0, MAX_SEED - SEEDS_RANGE[1]),
        test_limit=whole_number("test_limit", settings.test_limit, *TEST_LIMIT_RANGE),
        train_steps=whole_number("train_steps", settings.train_steps, *TRAIN_STEPS_RANGE),
        batch_size=whole_number("batch_size", settings.batch_size, *BATCH_SIZE_RANGE),
        more_real=bool(settings.more_real),
    )
    trainings = count_trainings(normalized, num_generator_arms)
    if trainings * normalized.train_steps > max_total_steps:
        arms = 1 + int(normalized.more_real) + num_generator_arms
        raise MessageError(
            N_("these settings need {total:,} classifier steps ({sizes} sizes x {arms} arms x {seeds} seeds x "
               "{steps} steps); at most {limit:,} are run here: use fewer sizes, arms, seeds or steps"),
            total=trainings * normalized.train_steps, sizes=len(sizes), arms=arms, seeds=normalized.seeds,
            steps=normalized.train_steps, limit=max_total_steps)
    return normalized


# -- data ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ExperimentData:
    """The MNIST training split (uint8) and the test subset (float, [0, 1]) the accuracies are measured on."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    test_set: str


def load_experiment_data(test_limit: int) -> ExperimentData:
    from aigc_core.data import load_images

    train = load_images("mnist", "train")
    test = load_images("mnist", "test", limit=test_limit)
    described = "the whole MNIST test split" if len(test.labels) >= 10_000 else \
        f"the first {len(test.labels):,} images of the MNIST test split"
    return ExperimentData(train.images, train.labels, to_unit(test.images), test.labels, described)


def to_unit(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) -> float32 in [0, 1]."""
    return images.astype(np.float32) / 255.0


def select_few_real(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Indices of exactly `per_class` training images of every digit, chosen with `seed`.

    Each digit's candidates are shuffled once per seed and the first `per_class` taken, so the
    10-per-class set of a seed is part of its 50-per-class set: the sizes grow the same examples.
    Only the first `FEW_REAL_POOL_END` images are candidates (the rest is the held-out pool).
    """
    rng = np.random.default_rng([int(seed), 0])
    chosen = []
    for digit in range(NUM_CLASSES):
        candidates = np.flatnonzero(labels[:FEW_REAL_POOL_END] == digit)
        if per_class > len(candidates):
            raise ValueError(f"per_class must be at most {len(candidates)} for digit {digit}; received {per_class}")
        chosen.append(rng.permutation(candidates)[:per_class])
    return np.concatenate(chosen)


def held_out_real_source(images: np.ndarray, labels: np.ndarray) -> GeneratedSource:
    """A source of real training images never among the few real examples: the "more real data" arm.

    Args:
        images: the whole training split, uint8 (60000, 28, 28).
        labels: its labels.
    """
    pool_by_digit = {digit: HELD_OUT_POOL_START + np.flatnonzero(labels[HELD_OUT_POOL_START:] == digit)
                     for digit in range(NUM_CLASSES)}

    def draw(digit: int, count: int, seed: int) -> np.ndarray:
        pool = pool_by_digit[digit]
        if count > len(pool):
            raise ValueError(f"generated_per_class must be at most {len(pool)} for the more-real arm; received {count}")
        picked = np.random.default_rng(seed).choice(pool, size=count, replace=False)
        return to_unit(images[picked])

    return draw


def model_source(model) -> GeneratedSource:
    """A conditional model as a source: `model.sample(n, seed=s, labels=[digit] * n)`."""

    def draw(digit: int, count: int, seed: int) -> np.ndarray:
        return model.sample(count, seed=seed, labels=np.full(count, digit, dtype=np.int64))

    return draw


def _source_seed(seed: int, digit: int) -> int:
    """A distinct seed per (experiment seed, digit), so digits never share one latent batch."""
    return int(np.random.SeedSequence([int(seed), int(digit), 7]).generate_state(1)[0] % MAX_SEED)


def draw_generated(arm: GeneratorArm, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`count` images of every digit from an arm's source, checked, with their labels."""
    images, labels = [], []
    for digit in range(NUM_CLASSES):
        drawn = np.asarray(arm.source(digit, count, _source_seed(seed, digit)), dtype=np.float32)
        if drawn.shape != (count, *IMAGE_SHAPE):
            raise ValueError(f"source {arm.label!r} returned images of shape {drawn.shape}; expected {(count, *IMAGE_SHAPE)}")
        if not np.all(np.isfinite(drawn)) or drawn.min() < 0.0 or drawn.max() > 1.0:
            raise ValueError(f"source {arm.label!r} returned pixels outside [0, 1]")
        images.append(drawn)
        labels.append(np.full(count, digit, dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


# -- the classifier --------------------------------------------------------------------------------
def build_small_classifier(seed: int):
    """A tiny convnet (about 60 k parameters): image (28, 28, 1) in [0, 1] -> 10 logits.

    Initializers are seeded one by one instead of through `keras.utils.set_random_seed`, which
    would reseed the whole process (the server's other sessions included). No dropout: its
    random state would carry over from one training to the next in a reused model.
    """
    import keras
    from keras import layers

    def initializer(index: int):
        return keras.initializers.GlorotUniform(seed=int(seed) * 16 + index)

    return keras.Sequential([
        keras.Input((*IMAGE_SHAPE, 1)),
        layers.Conv2D(16, 3, strides=2, padding="same", activation="relu", kernel_initializer=initializer(0)),
        layers.Conv2D(32, 3, strides=2, padding="same", activation="relu", kernel_initializer=initializer(1)),
        layers.Flatten(),
        layers.Dense(32, activation="relu", kernel_initializer=initializer(2)),
        layers.Dense(NUM_CLASSES, kernel_initializer=initializer(3)),
    ], name="augment_classifier")


class ClassifierTrainer:
    """One compiled classifier reused for every training of an experiment.

    Compiling and tracing a Keras model costs about a second, several times the training itself
    at these sizes; so each training restores seeded initial weights and a fresh optimizer
    state into the same model instead of building a new one. One trainer per experiment: it
    is not shared between threads.
    """

    def __init__(self, train_steps: int, batch_size: int, learning_rate: float = 1e-3):
        import keras

        self.train_steps = int(train_steps)
        self.batch_size = int(batch_size)
        self.model = build_small_classifier(seed=0)
        # Several updates per call into the compiled graph: a third less CPU at these tiny batches.
        self.model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                           loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                           steps_per_execution=min(25, self.train_steps))
        self.model.optimizer.build(self.model.trainable_variables)
        self._fresh_optimizer_state = [variable.numpy() for variable in self.model.optimizer.variables]

    def train(self, images: np.ndarray, labels: np.ndarray, seed: int) -> None:
        """Train from seeded initial weights for exactly `train_steps` updates, whatever the data size."""
        self.model.set_weights(build_small_classifier(seed).get_weights())
        for variable, value in zip(self.model.optimizer.variables, self._fresh_optimizer_state):
            variable.assign(value)
        rng = np.random.default_rng([int(seed), 1])
        needed = self.train_steps * self.batch_size
        # Whole shuffled passes laid end to end: one fit() epoch of exactly train_steps batches
        # (fit's per-epoch overhead would dominate 100 epochs of one batch each).
        passes = [rng.permutation(len(images)) for _ in range(-(-needed // len(images)))]
        order = np.concatenate(passes)[:needed]
        self.model.fit(images[order][..., None], labels[order], batch_size=self.batch_size, epochs=1,
                       shuffle=False, verbose=0)

    def accuracy(self, images: np.ndarray, labels: np.ndarray) -> float:
        logits = self.model.predict(images[..., None], batch_size=1000, verbose=0)
        return float(np.mean(np.argmax(logits, axis=1) == labels))


# -- the experiment --------------------------------------------------------------------------------
def run_experiment(settings: AugmentSettings, generators: list[GeneratorArm] | tuple = (),
                   progress: Progress | None = None, data: ExperimentData | None = None,
                   max_total_steps: int = MAX_TOTAL_STEPS, notes: list[str] | tuple = ()) -> ExperimentResult:
    """Train the classifier on every (size, arm, seed) and measure it on the test subset.

    Args:
        settings: checked here with `validate_settings`.
        generators: the generator arms (conditional GAN, CVAE, ...); the real-only arm and, with
            `settings.more_real`, the held-out real arm are always added.
        progress: called before each training and once at the end with (done, total, message).
        data: the images to use (loaded from the bundled MNIST when None).
        max_total_steps: passed to `validate_settings`.
        notes: sentences to carry into the result (e.g. which arm had no model).

    Returns:
        An `ExperimentResult`; its `verdict()` compares every arm with real-only.
    """
    generators = list(generators)
    names = [REAL_ARM, MORE_REAL_ARM] + [arm.name for arm in generators]
    if len(set(names)) != len(names):
        raise ValueError(f"arm names must be unique and not {REAL_ARM!r} or {MORE_REAL_ARM!r}; received {names[2:]}")
    settings = validate_settings(settings, len(generators), max_total_steps)
    started, cpu_started = time.monotonic(), time.process_time()
    data = data or load_experiment_data(settings.test_limit)
    if settings.more_real:
        generators.insert(0, GeneratorArm(MORE_REAL_ARM, MORE_REAL_LABEL,
                                          held_out_real_source(data.train_images, data.train_labels)))
    total = count_trainings(settings, len(generators) - int(settings.more_real))
    report = progress or (lambda done, total, message: None)
    trainer = ClassifierTrainer(settings.train_steps, settings.batch_size)
    seeds = [settings.seed + offset for offset in range(settings.seeds)]
    rows = {(size, arm.name): ArmResult(size, arm.name, arm.label, 0, [], [])
            for size in settings.per_class for arm in [GeneratorArm(REAL_ARM, REAL_LABEL, None)] + generators}
    done = 0
    for seed in seeds:
        # One draw per arm and seed, reused at every size: the sizes differ in real examples only.
        extras = {arm.name: draw_generated(arm, settings.generated_per_class, seed) for arm in generators}
        for size in settings.per_class:
            chosen = select_few_real(data.train_labels, size, seed)
            real_images, real_labels = to_unit(data.train_images[chosen]), data.train_labels[chosen]
            for name in [REAL_ARM] + [arm.name for arm in generators]:
                row = rows[(size, name)]
                report(done, total, Message(N_("seed {seed}, {size} real per class, {label}"), seed=seed, size=size,
                                             label=row.label, arm=name))
                images, labels = real_images, real_labels
                if name in extras:
                    images = np.concatenate([real_images, extras[name][0]])
                    labels = np.concatenate([real_labels, extras[name][1]])
                trainer.train(images, labels, seed)
                row.train_size = len(labels)
                row.seeds.append(seed)
                row.accuracies.append(trainer.accuracy(data.test_images, data.test_labels))
                done += 1
    elapsed = time.monotonic() - started
    report(done, total, Message(N_("finished in {seconds:.1f} s"), seconds=elapsed))
    return ExperimentResult(settings, data.test_set, list(rows.values()), list(notes), elapsed,
                            time.process_time() - cpu_started)


# -- the verdict -----------------------------------------------------------------------------------
def judge(differences) -> str:
    """Paired t-test at 95%: "helped", "hurt", "negligible", "no significant difference" or "one seed".

    The differences are per seed (arm minus real-only on the same real examples and initial
    weights), so the seed-to-seed spread that both arms share cancels out. A significant
    difference under `MIN_EFFECT_POINTS` is "negligible": arms that share so much can differ
    consistently by a few tenths of a point, which is no reason to generate data.
    """
    differences = np.asarray(differences, dtype=np.float64)
    if len(differences) < 2:
        return "one seed"
    mean = float(np.mean(differences))
    spread = float(np.std(differences, ddof=1))
    if spread == 0.0:
        significant = mean != 0.0
    else:
        critical = T_CRITICAL_95.get(len(differences) - 1, 1.96)
        significant = abs(mean) > critical * spread / math.sqrt(len(differences))
    if not significant:
        return "no significant difference"
    if abs(mean) * 100 < MIN_EFFECT_POINTS:
        return "negligible"
    return "helped" if mean > 0 else "hurt"


def compare_arms(rows: list[ArmResult]) -> list[Comparison]:
    """Every arm against the real-only arm of the same size, seed by seed."""
    baselines = {row.per_class: row for row in rows if row.arm == REAL_ARM}
    comparisons = []
    for row in rows:
        baseline = baselines.get(row.per_class)
        if row.arm == REAL_ARM or baseline is None:
            continue
        by_seed = dict(zip(baseline.seeds, baseline.accuracies))
        differences = tuple(accuracy - by_seed[seed] for seed, accuracy in zip(row.seeds, row.accuracies)
                            if seed in by_seed)
        if differences:
            comparisons.append(Comparison(row.per_class, row.arm, row.label, differences, judge(differences)))
    return comparisons


def _phrase(comparison: Comparison) -> str:
    points, size = round(comparison.mean_points, 1) + 0.0, comparison.per_class  # + 0.0: never "-0.0"
    if comparison.outcome == "helped":
        return f"helped by {points:.1f} points at {size} per class"
    if comparison.outcome == "hurt":
        return f"hurt by {-points:.1f} points at {size} per class"
    if comparison.outcome == "negligible":
        return f"no meaningful difference at {size} per class ({points:+.1f} points, under {MIN_EFFECT_POINTS:g})"
    if comparison.outcome == "one seed":
        return f"{points:+.1f} points at {size} per class"
    return f"no significant difference at {size} per class ({points:+.1f} points, within the seed-to-seed spread)"


def verdict_lines(comparisons: list[Comparison]) -> list[str]:
    """One sentence per arm, e.g. "+ CVAE: helped by 6.1 points at 10 per class; no significant
    difference at 100 per class (+0.3 points, within the seed-to-seed spread)." """
    lines, by_arm = [], {}
    for comparison in comparisons:
        by_arm.setdefault(comparison.arm, []).append(comparison)
    for items in by_arm.values():
        items = sorted(items, key=lambda item: item.per_class)
        label = items[0].label.lstrip("+ ").strip()
        caveat = " (one seed: no spread to judge it by)" if any(item.outcome == "one seed" for item in items) else ""
        lines.append(f"{label}: " + "; ".join(_phrase(item) for item in items) + caveat + ".")
    return lines


def format_table(result: ExperimentResult) -> str:
    """The result as a plain-text table: one line per size and arm, accuracies in percent."""
    width = max([len("arm")] + [len(row.label) for row in result.rows])
    header = f"{'per class':>9}  {'arm':{width}s} {'train':>6}  {'mean':>6} {'std':>5} {'min':>6} {'max':>6}  vs real only"
    lines = [f"test accuracy (%) on {result.test_set}, {result.settings.seeds} seed(s), "
             f"{result.settings.train_steps} training steps of {result.settings.batch_size}", header,
             "-" * len(header)]
    comparisons = {(item.per_class, item.arm): item for item in result.comparisons()}
    for row in result.rows:
        comparison = comparisons.get((row.per_class, row.arm))
        versus = f"{round(comparison.mean_points, 1) + 0.0:+5.1f} ({comparison.outcome})" if comparison else ""
        lines.append(f"{row.per_class:>9}  {row.label:{width}s} {row.train_size:>6}  {100 * row.mean:6.2f} "
                     f"{100 * row.std:5.2f} {100 * row.minimum:6.2f} {100 * row.maximum:6.2f}  {versus}")
    return "\n".join(lines)


# -- generator arms from models --------------------------------------------------------------------
ARM_FAMILIES = {"gan": "conditional GAN", "vae": "CVAE", "diffusion": "conditional diffusion model"}


def is_conditional_class(model_class_name: str | None) -> bool:
    """Whether a registered model class draws a chosen digit (it declares `num_classes`)."""
    from aigc_core.models.registry import MODEL_CLASSES

    model_class = MODEL_CLASSES.get(model_class_name or "")
    return bool(getattr(model_class, "num_classes", None))


def is_conditional_source(source) -> bool:
    """Whether a model source's saved config names a class that draws a chosen digit."""
    from aigc_core.files import read_json

    description = read_json(source.config_path)
    return isinstance(description, dict) and is_conditional_class(description.get("model_class"))


def conditional_sources(family: str, store=None, weights_dir: Path | None = None) -> list:
    """Shipped weights and runs with a checkpoint of a conditional model of `family` (shipped first,
    then runs, newest first); the one list the CLI, the Augment page and the Conditional page use."""
    from aigc_core.sources import list_sources
    from aigc_core.weights import WEIGHTS_DIR

    return [source for source in list_sources(store, weights_dir or WEIGHTS_DIR)
            if source.family == family and is_conditional_source(source)]


def load_generator_arm(family: str, key: str, store=None, weights_dir: Path | None = None,
                       model=None) -> GeneratorArm:
    """The arm of a conditional model named by a source key ("weights:NAME" or "run:ID").

    Args:
        model: the already loaded model behind `key` (the page passes its cached one).

    Raises:
        ValueError: for an unknown key, or a model that is not a conditional `family` model.
    """
    from aigc_core.files import read_json
    from aigc_core.sources import load_source, resolve_source
    from aigc_core.weights import WEIGHTS_DIR

    weights_dir = weights_dir or WEIGHTS_DIR
    source = resolve_source(key, store, weights_dir)
    model_class = (read_json(source.config_path) or {}).get("model_class")
    if source.family != family or not is_conditional_class(model_class):
        raise MessageError(N_("source {key!r} is a {found} model, not a {model}: it cannot draw a chosen digit"),
                           key=key, found=model_class or source.family, model=ARM_FAMILIES[family])
    model = model or load_source(key, store, weights_dir)
    return GeneratorArm(family, f"+ {ARM_FAMILIES[family]} ({key})", model_source(model))


def missing_model_note(family: str) -> str:
    return (f"No {ARM_FAMILIES[family]} is available (no shipped conditional weights and no run of one), "
            f"so its arm was not run. Train one on the Train page or with `python -m aigc_core train`.")
