"""Region pruning of an MLP's input weights, after Takehana & Ozaki (see README.md)."""

__version__ = "0.1.0"
