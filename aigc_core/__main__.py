"""`python -m aigc_core ...`: see aigc_core.cli."""

import sys

from aigc_core.tensorflow_noise import silence_tensorflow_import

silence_tensorflow_import()  # before anything imports TensorFlow: an error stays one line on stderr

from aigc_core.cli import main  # noqa: E402

sys.exit(main())
