"""``python -m regionprune``: the jobs the workflow's rules run (``cli``)."""

from regionprune.cli import main

main()
