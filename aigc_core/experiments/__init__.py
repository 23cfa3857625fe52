"""Experiments: what a class does with trained models beyond one run.

Augmenting a classifier's training set with generated digits (`augment`), the visitor's own
drawn digit (`own_digit`), twin runs raced side by side (`twin`), walks through the latent
space (`latent`) and training timelines as animations (`animation`).

May import models, quality, data and the run store; never the engines (`aigc_core.runs.executors`)
directly: a twin run is launched through `aigc_core.runs.worker`. Nothing is re-exported here.
"""
