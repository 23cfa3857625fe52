"""Runs: the run store, the training loop and the engines that place runs.

A run is a folder of small files (`store`, checked file by file in `run_files`), trained by
`training` (Keras `fit()` with callbacks, the generator average of `averaging`) in a worker
process that an executor starts (`executors/`: local processes or a Ray cluster); `worker`
launches, resumes and stops runs through the executor, under the caps of `ownership` (the
numbers live in `aigc_core.limits`), and `housekeeping` clears old ones.

May import models, quality, data and files (and `experiments.twin`, the one writer of twin.json,
when a recorded twin race is replayed); never `aigc_core.studio`, the faces or Streamlit.
Nothing is re-exported here, so importing one module does not load Keras for another.
"""
