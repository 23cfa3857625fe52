"""Data-parallel training: the devices TensorFlow can train on, and the strategy mirroring a model over them.

With `devices=N > 1` a run builds its model inside a `tf.distribute.MirroredStrategy` over the
first N devices TensorFlow lists (its GPUs, or else its CPUs): every replica holds a copy of
the weights, takes 1/N of each global batch, and the replicas' gradients are all-reduced
before one identical update of every copy (see `GenerativeModel.average_gradients_across_replicas`).

A machine with one CPU can still be split into N logical CPUs, for tests and for trying the
code path: `$AIGC_LOGICAL_CPUS`, read by `python -m aigc_core` (CLI and workers) before
TensorFlow starts. They share the same cores, so they are no faster than one device.
"""

from __future__ import annotations

import contextlib
import functools
import os

LOGICAL_CPUS_VARIABLE = "AIGC_LOGICAL_CPUS"
# Far above any real machine's device count; bounds what a typo can ask TensorFlow to create.
MAX_LOGICAL_CPUS = 64


def logical_cpus_from_environment() -> int | None:
    """The logical CPU count `$AIGC_LOGICAL_CPUS` asks for, or None when it is unset or empty.

    Raises:
        ValueError: a value that is not a whole number between 1 and `MAX_LOGICAL_CPUS`.
    """
    text = os.environ.get(LOGICAL_CPUS_VARIABLE, "").strip()
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= MAX_LOGICAL_CPUS:
        raise ValueError(
            f"Expected ${LOGICAL_CPUS_VARIABLE} to be a whole number between 1 and {MAX_LOGICAL_CPUS}. "
            f"Received: {text[:40]!r}"
        )
    return int(text)


def configure_logical_cpus(count: int | None = None) -> int | None:
    """Split the physical CPU into `count` logical devices (default: `$AIGC_LOGICAL_CPUS`).

    TensorFlow fixes its device list when its runtime starts, so this must run before the
    process lists devices or runs an op; importing TensorFlow is fine. Returns the count set,
    or None when there was nothing to do (no count asked for, or just one).

    Raises:
        ValueError: a bad `$AIGC_LOGICAL_CPUS`.
        RuntimeError: TensorFlow's runtime had already started with a different split.
    """
    count = logical_cpus_from_environment() if count is None else count
    if count is None or count == 1:
        return None
    import tensorflow as tf

    physical = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(physical)
    if current is not None and len(current) == count:
        return count
    try:
        tf.config.set_logical_device_configuration(physical, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError as error:
        raise RuntimeError(
            f"could not split the CPU into {count} logical devices: TensorFlow had already started "
            f"({str(error).splitlines()[0]}); set ${LOGICAL_CPUS_VARIABLE} before the process uses TensorFlow"
        ) from None
    return count


def training_devices() -> list[str]:
    """Names of the devices a run can be mirrored over: the logical GPUs, or the logical CPUs if there are none."""
    import tensorflow as tf

    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    return [device.name for device in devices]


def device_count() -> int:
    """How many devices TensorFlow offers for data-parallel training (see `training_devices`)."""
    return len(training_devices())


# One strategy per device set and process: a second MirroredStrategy over the same devices numbers
# its collective all-reduces from where the first began, and its first step then fails with
# "Shape mismatch in the collective instance 100" (measured with TensorFlow 2.21 on two logical CPUs).
_STRATEGIES: dict[tuple[str, ...], object] = {}


def make_strategy(devices: int):
    """The `MirroredStrategy` over the first `devices` training devices; None for one device.

    One device gets no strategy at all, so a single-device run takes exactly the code path
    (and gives exactly the numbers) it took before data parallelism existed. A process that
    trains several runs (tests, a notebook) reuses one strategy per device set.
    """
    if devices == 1:
        return None
    import tensorflow as tf

    names = training_devices()
    if devices > len(names):
        raise ValueError(f"devices must be at most the {len(names)} device(s) TensorFlow sees; received {devices}")
    key = tuple(names[:devices])
    if key not in _STRATEGIES:
        _STRATEGIES[key] = tf.distribute.MirroredStrategy(list(key))
    return _STRATEGIES[key]


def strategy_scope(strategy):
    """`strategy.scope()`, or a scope that does nothing when there is no strategy (one device)."""
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


# Keras dtype policies a run may train under. "mixed_bfloat16" keeps the weights in float32 and
# computes in bfloat16, which needs no loss scaling (unlike float16); GPUs and CPUs with AMX or
# AVX512-BF16 run it faster (bench/precision.py measured 1.25x on an AMX Xeon), others slower.
PRECISIONS = ("float32", "mixed_bfloat16")
# Linux /proc/cpuinfo flags of the CPU instructions that multiply bfloat16 natively. Without
# them TensorFlow emulates bfloat16 in float32 and a mixed-precision step is slower, not faster.
BFLOAT16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


@functools.lru_cache(maxsize=None)
def cpu_computes_bfloat16(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU has bfloat16 arithmetic (AVX512-BF16 or AMX); False where it cannot be told.

    Read from the CPU's flags, not by importing TensorFlow, so the CLI and the app's sidebar can
    ask it for free.
    """
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as lines:
            for line in lines:
                if line.startswith("flags"):
                    return any(flag in line.split(":", 1)[-1].split() for flag in BFLOAT16_CPU_FLAGS)
    except OSError:
        pass
    return False


def default_precision(prefers_bfloat16: bool) -> str:
    """The precision a run gets when it names none: mixed bfloat16 for a variant measured faster and
    no worse in it (`Variant.prefers_bfloat16`), on a CPU that computes it; float32 otherwise."""
    return "mixed_bfloat16" if prefers_bfloat16 and cpu_computes_bfloat16() else "float32"


@contextlib.contextmanager
def dtype_policy(precision: str):
    """Build models under the Keras dtype policy `precision`, then restore the previous global policy.

    Layers keep the policy they were built with, so a model built in this block trains in that
    precision afterwards, while anything built later in the process (a test, the app's
    sampling) is float32 again. Checkpoints hold float32 weights either way.
    """
    import keras

    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def enable_gpu_memory_growth() -> int:
    """Let TensorFlow take GPU memory as it needs it instead of all of it at start; return the GPU count.

    A demo server runs the app and a training worker (and may share the GPU with others), so no
    process may reserve the whole card. Must run before the GPUs are initialized; later calls
    and non-TensorFlow backends do nothing.
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        return 0
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialized: its setting stays as it was
            pass
    return len(gpus)
