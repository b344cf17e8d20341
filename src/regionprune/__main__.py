"""``python -m regionprune``: the jobs the workflow's rules run (``cli``); handed to the warm
job server of the ``snakemake`` call when there is one (``jobserver``), run here otherwise.

Ctrl-C reaches every job of the terminal's process group, also one that is still importing
(a second or more on a busy machine), before ``cli.main`` or the job server's client has a
handler of its own: such a job, too, says one line and exits 130 rather than leaving a
``KeyboardInterrupt`` traceback in its log."""

import sys

from regionprune import INTERRUPTED

try:
    from regionprune.workflow import jobclient

    code = jobclient.hand_over(sys.argv[1:])
    if code is None:
        from regionprune.workflow.cli import main

        main()
    else:
        jobclient.exit_like(code)
except KeyboardInterrupt:
    print(INTERRUPTED, file=sys.stderr)
    sys.exit(130)
