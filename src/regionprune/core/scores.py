"""Region scores: what region pruning can rank a neuron's regions by, one function each (numpy).

A score maps each surviving weight's |w| and its region (a row of the region table) to one value
per region. ``regions.region_table`` writes a column per score and ``RegionSettings.score``
picks the one to rank by (the paper: ``mean_abs``). A new score is one entry in ``SCORES``
(then ``python -m regionprune settings --write``, so that the schema allows it).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

#: (|w| of every surviving weight, its region id, number of regions) -> a value per region
Score = Callable[[NDArray[np.float64], NDArray[np.int64], int], NDArray]


def _max_abs(absw: NDArray[np.float64], g: NDArray[np.int64], n: int) -> NDArray:
    out = np.zeros(n)
    np.maximum.at(out, g, absw)
    return out


SCORES: dict[str, Score] = {
    "mean_abs": lambda absw, g, n: (
        np.bincount(g, weights=absw, minlength=n) / np.bincount(g, minlength=n)
    ),
    "sum_abs": lambda absw, g, n: np.bincount(g, weights=absw, minlength=n),
    "max_abs": _max_abs,
    "size": lambda absw, g, n: np.bincount(g, minlength=n).astype(np.int32),
}
