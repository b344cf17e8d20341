"""The workflow's figures: of one run (``run``), of a grid of runs (``grid``) and of a stage's
decision basis (``evidence``), each written in every format of ``config.FIGURE_FORMATS``."""
