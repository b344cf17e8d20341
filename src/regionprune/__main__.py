"""``python -m regionprune``: the jobs the workflow's rules run (``cli``); handed to the warm
job server of the ``snakemake`` call when there is one (``jobserver``), run here otherwise."""

import sys

from regionprune import jobserver

code = jobserver.hand_over(sys.argv[1:])
if code is None:
    from regionprune.cli import main

    main()
else:
    jobserver.exit_like(code)
