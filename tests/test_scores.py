"""Region scores on hand-made regions with known answers; every score is a column and a setting."""

import numpy as np
import pytest

from regionprune.core.regions import region_scores, region_table
from regionprune.core.scores import SCORES
from regionprune.workflow.settings import RegionSettings

# three regions: |w| = {1, 3}, {2}, {0.5, 0.5, 2}
ABSW = np.array([1.0, 3.0, 2.0, 0.5, 0.5, 2.0])
GROUP = np.array([0, 0, 1, 2, 2, 2])
KNOWN = {
    "mean_abs": [2.0, 2.0, 1.0],
    "sum_abs": [4.0, 2.0, 3.0],
    "max_abs": [3.0, 2.0, 2.0],
    "size": [2, 1, 3],
}


@pytest.mark.parametrize("name", list(SCORES))
def test_each_score_by_hand(name):
    assert name in KNOWN, f"add the new score {name!r} to KNOWN with its values"
    np.testing.assert_allclose(SCORES[name](ABSW, GROUP, 3), KNOWN[name])


def test_every_score_is_a_column_and_an_allowed_setting():
    labels = np.array([[[1, 1, 0], [0, 0, 2]], [[1, 1, 1], [0, 0, 0]]], dtype=np.int32)
    weight = np.array([[1.0, -3.0, 9.0, 9.0, 9.0, 2.0], [0.5, -0.5, 2.0, 9.0, 9.0, 9.0]])
    table = region_table(weight, labels)
    for name, values in KNOWN.items():
        np.testing.assert_allclose(region_scores(table, name), values)
        assert RegionSettings(score=name).score == name
    with pytest.raises(ValueError, match="region score must be one of"):
        region_scores(table, "median_abs")
