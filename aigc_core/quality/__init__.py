"""Quality: how good a model's images are, and what a run's curves say about it.

The digit classifier (`classifier`), FID and Inception Score (`evaluation`), the live scores
taken during training (`live`), the diagnosis of a run's losses (`diagnosis`) and the moment
a teacher narrates from them (`narration`).

May import models, data and files; never the run store (`aigc_core.runs`), `aigc_core.studio`
or the faces: a caller hands in the run's folder or its numbers. Nothing is re-exported here.
"""
