"""The JAX gradient step: how the models train under `KERAS_BACKEND=jax`.

Keras's JAX trainer compiles a pure `train_step(state, data) -> (logs, state)`: every variable
(weights, batch-norm statistics, seed generators, optimizer slots, metric trackers) comes in as
an array and leaves as a new one. The models' steps are written with ordinary stateful Keras
calls (`network(x)`, `optimizer.apply`, `tracker.update_state`, `keras.random` with the model's
seed generator), the same calls their TensorFlow steps make. `stateless_step` runs such a step
inside a `keras.StatelessScope` that maps each variable to its array and collects the new values
("open a StatelessScope and pretend everything is stateful", keras-team/keras#18881), and
`losses_and_gradients` plays the part of `tf.GradientTape` with `jax.vjp` (and `input_gradients`
that of a tape watching an input, for WGAN-GP's penalty). Only this module imports JAX, and only
when the step is traced.

A GAN has two optimizers, while the trainer carries only `model.optimizer`'s variables through
its state; `CarriesAllOptimizers` widens that slot to every optimizer in `named_optimizers()`.
"""

from __future__ import annotations

import keras


def is_jax_backend() -> bool:
    """True when Keras runs on JAX, whose trainer calls `train_step(state, data)`."""
    return keras.backend.backend() == "jax"


def optimizer_variables(model) -> list:
    """Every optimizer variable the model's step updates, in `named_optimizers()` order."""
    return [variable for optimizer in model.named_optimizers().values() for variable in optimizer.variables]


def state_variables(model) -> tuple[list, list, list, list]:
    """The variables behind each slot of the trainer's state tuple, in the trainer's order."""
    return (
        model.trainable_variables,
        model.non_trainable_variables,
        optimizer_variables(model),
        model.metrics_variables,
    )


def stateless_step(model, state, data, step):
    """Run `step(data)`, written with stateful Keras calls, as the pure function JAX's trainer compiles.

    Args:
        model: the model whose variables `state` holds.
        state: (trainable, non_trainable, optimizer, metrics) value lists, as the trainer passes them.
        data: the batch, passed on to `step`.
        step: a function that trains on one batch and returns the logs.

    Returns:
        (logs, new_state): the step's logs and the updated value lists, in `state`'s shape.
    """
    variable_lists = state_variables(model)
    if [len(values) for values in state] != [len(variables) for variables in variable_lists]:
        raise ValueError(
            f"Expected state lists of lengths {[len(variables) for variables in variable_lists]}. "
            f"Received: lengths {[len(values) for values in state]}"
        )
    mapping = [
        (variable, value)
        for variables, values in zip(variable_lists, state)
        for variable, value in zip(variables, values)
    ]
    with keras.StatelessScope(state_mapping=mapping) as scope:
        logs = step(data)
    new_state = tuple([scope.get_current_value(variable) for variable in variables] for variables in variable_lists)
    return logs, new_state


def losses_and_gradients(model, forward, variable_groups):
    """JAX's `tf.GradientTape`: run `forward()` once and differentiate loss i w.r.t. `variable_groups[i]`.

    Must be called inside `stateless_step`. `forward` may update variables as a side effect
    (batch-norm statistics, a seed generator drawing noise); those updates are kept, as a tape
    keeps them. One forward pass serves every loss, like two tapes over the same computation.

    Args:
        model: the model whose variables `forward` reads.
        forward: a function of no arguments returning (losses, extras): a tuple of scalar losses,
            one per group, and any values to hand back undifferentiated (logits, loss terms).
        variable_groups: one list of trainable variables per loss.

    Returns:
        (losses, extras, gradients): gradients[i] matches variable_groups[i].
    """
    import jax

    differentiated = list({id(variable): variable for group in variable_groups for variable in group}.values())
    differentiated_ids = {id(variable) for variable in differentiated}
    # Inside a nested scope a variable it does not map reads its own stored value, which the
    # trainer has purged; so the nested scope maps every other variable to its current value too.
    context = [
        variable
        for variables in state_variables(model)
        for variable in variables
        if id(variable) not in differentiated_ids
    ]
    context_values = [variable.value for variable in context]

    def pure_forward(differentiated_values):
        mapping = list(zip(differentiated, differentiated_values)) + list(zip(context, context_values))
        with keras.StatelessScope(state_mapping=mapping) as scope:
            before = [scope.get_current_value(variable) for variable in context]
            losses, extras = forward()
        updates = {
            index: scope.get_current_value(variable)
            for index, variable in enumerate(context)
            if scope.get_current_value(variable) is not before[index]
        }
        return tuple(losses), (extras, updates)

    losses, pullback, (extras, updates) = jax.vjp(
        pure_forward, [variable.value for variable in differentiated], has_aux=True
    )
    for index, value in updates.items():
        context[index].assign(value)
    position = {id(variable): index for index, variable in enumerate(differentiated)}
    gradients = []
    for loss_index, group in enumerate(variable_groups):
        cotangent = tuple(
            keras.ops.ones_like(loss) if index == loss_index else keras.ops.zeros_like(loss)
            for index, loss in enumerate(losses)
        )
        (all_gradients,) = pullback(cotangent)
        gradients.append([all_gradients[position[id(variable)]] for variable in group])
    return losses, extras, gradients


def input_gradients(function, inputs):
    """The gradient of `ops.sum(function(inputs))` w.r.t. `inputs`, under either backend.

    For a penalty on a network's input gradient (WGAN-GP's, R1's): a `tf.GradientTape` that
    watches `inputs` under TensorFlow, `jax.grad` under JAX. Called inside a training step's
    own differentiation (a tape, or the `forward` of `losses_and_gradients`), it nests there,
    so the penalty's gradient w.r.t. the weights `function` reads (a second derivative) reaches
    the update. `function` must not update variables (no batch norm or dropout in training
    mode): under JAX, values made inside the inner trace cannot leave it.
    """
    def total(points):
        return keras.ops.sum(keras.ops.cast(function(points), "float32"))

    if is_jax_backend():
        import jax

        return jax.grad(total)(inputs)
    import tensorflow as tf

    with tf.GradientTape() as tape:
        tape.watch(inputs)
        value = total(inputs)
    return tape.gradient(value, inputs)


class CarriesAllOptimizers:
    """Mixin for models with several optimizers: the JAX trainer's state carries all of them.

    Keras's JAX trainer moves `model.optimizer.variables` in and out of its compiled step in
    three methods; these overrides put `optimizer_variables(model)` in that slot instead (for a
    GAN, both players' Adam states). `model.optimizer`, the unused default of `compile()`, is
    left alone, so weight files stay the same under every backend. These are private hooks of
    keras 3.15's JAX trainer (pinned in requirements.txt); tests/test_jax_backend.py fails if
    they change, because the optimizers' step counters would stop advancing.
    Under TensorFlow nothing calls them.
    """

    def compile(self, **kwargs):
        super().compile(**kwargs)
        if is_jax_backend() and not self.optimizer.built:
            # JAX's fit() builds an unbuilt `model.optimizer` over every weight, which would give
            # the weight file a slot per weight that TensorFlow's lacks (a warning on loading it
            # there). Built empty, it saves its two scalars, as under TensorFlow.
            self.optimizer.build([])

    def _get_jax_state(
        self,
        trainable_variables=False,
        non_trainable_variables=False,
        optimizer_variables=False,
        metrics_variables=False,
        purge_model_variables=False,
    ):
        trainable, non_trainable, optimizers, metrics = state_variables(self)
        chosen = (
            (trainable_variables, trainable),
            (non_trainable_variables, non_trainable),
            (optimizer_variables, optimizers),
            (metrics_variables, metrics),
        )
        state = tuple([variable.value for variable in variables] for wanted, variables in chosen if wanted)
        if purge_model_variables:
            # Dropping the stored copies saves memory; `jax_state_sync` restores them.
            self._purge_model_variables(
                trainable_variables=trainable_variables,
                non_trainable_variables=non_trainable_variables,
                metrics_variables=metrics_variables,
            )
        return state

    def _purge_model_variables(
        self,
        trainable_variables=False,
        non_trainable_variables=False,
        optimizer_variables=False,
        metrics_variables=False,
    ):
        # Optimizer variables keep their stored values: `model.optimizer`'s are not in the state
        # and would never be restored, and the others are small.
        super()._purge_model_variables(
            trainable_variables=trainable_variables,
            non_trainable_variables=non_trainable_variables,
            metrics_variables=metrics_variables,
        )

    def jax_state_sync(self):
        jax_state = getattr(self, "_jax_state", None)
        if not jax_state or self._jax_state_synced:
            return
        optimizer_values = jax_state.get("optimizer_variables")
        self._jax_state = {name: values for name, values in jax_state.items() if name != "optimizer_variables"}
        try:
            super().jax_state_sync()
        finally:
            self._jax_state = jax_state
        if optimizer_values:
            for variable, value in zip(optimizer_variables(self), optimizer_values):
                variable.assign(value)
