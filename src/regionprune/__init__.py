"""Region pruning of an MLP's input weights, after Takehana & Ozaki (see README.md)."""

__version__ = "0.1.0"

#: What a job stopped by Ctrl-C says: one line (Snakemake reports the interruption itself).
INTERRUPTED = "interrupted; nothing of this job was kept"
