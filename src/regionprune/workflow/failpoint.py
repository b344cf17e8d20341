"""Named points where a job can be made to stop, so that the fault tests kill it exactly there.

``REGIONPRUNE_PAUSE_AT=<text>`` in the environment of a run makes the first job that reaches a
point whose name contains ``<text>`` log ``paused at <name>`` and sleep until it is killed. The
points: ``training epoch <k>`` after each epoch of a training (the training jobs' ``after_epoch``
callback: the training loop itself knows nothing of this), ``wrote <path>`` after each result
file is in place (``after_write``, which every job sets as ``storage.after_write``: the writer
itself knows nothing of this either). Unset (always, outside the tests), a point costs one
dictionary lookup.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

VARIABLE = "REGIONPRUNE_PAUSE_AT"
log = logging.getLogger(__name__)


def reached(name: str) -> None:
    wanted = os.environ.get(VARIABLE)
    if wanted and wanted in name:
        log.warning("paused at %s (%s=%s); waiting to be killed", name, VARIABLE, wanted)
        for handler in logging.getLogger().handlers:
            handler.flush()
        while True:
            time.sleep(60)


def after_write(path: Path) -> None:
    """The point ``wrote <path>``: a result file is in place."""
    reached(f"wrote {path}")
