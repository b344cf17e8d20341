"""Region labelling and statistics on hand-made maps with known answers."""

import numpy as np
import pytest

from regionprune.core.regions import (
    REGION_COLUMNS,
    label_map,
    label_neurons,
    mask_from_labels,
    region_scores,
    region_table,
    remove_regions,
)

DIAGONAL = np.array([[1, 0, 0, 1], [0, 1, 0, 1], [0, 0, 0, 0], [1, 1, 0, 0]], dtype=bool)


def test_four_vs_eight_connectivity():
    lab4 = label_map(DIAGONAL, 4)
    lab8 = label_map(DIAGONAL, 8)
    # 4-connectivity: (0,0), (1,1) apart; right column; bottom pair -> 4 regions
    assert lab4.max() == 4
    assert lab4[0, 0] != lab4[1, 1]
    # 8-connectivity joins the diagonal pair -> 3 regions
    assert lab8.max() == 3
    assert lab8[0, 0] == lab8[1, 1]
    # background stays 0, raster order numbering
    assert lab8[2].tolist() == [0, 0, 0, 0]
    assert lab8[0, 0] == 1 and lab8[0, 3] == 2 and lab8[3, 0] == 3


def test_label_map_rejects_bad_connectivity():
    with pytest.raises(ValueError, match="4 or 8"):
        label_map(DIAGONAL, 6)


def test_label_neurons_handles_empty_and_full_neurons():
    mask = np.zeros((3, 16), dtype=bool)
    mask[1] = DIAGONAL.ravel()
    mask[2] = True
    labels = label_neurons(mask, (4, 4), 8)
    assert labels.shape == (3, 4, 4)
    assert labels[0].max() == 0  # empty neuron: no region
    assert labels[1].max() == 3
    assert labels[2].max() == 1 and (labels[2] == 1).all()
    np.testing.assert_array_equal(mask_from_labels(labels), mask)


def test_region_table_statistics():
    weight = np.zeros((2, 16))
    w1 = np.zeros((4, 4))
    w1[0, 0], w1[1, 1] = 0.2, -0.4  # region 1 (8-conn): mean 0.3, max 0.4
    w1[0, 3], w1[1, 3] = 1.0, 0.5  # region 2: mean 0.75
    w1[3, 0], w1[3, 1] = -0.1, 0.1  # region 3: mean 0.1
    weight[1] = w1.ravel()
    mask = np.stack([np.zeros(16, bool), DIAGONAL.ravel()])
    labels = label_neurons(mask, (4, 4), 8)
    t = region_table(weight, labels)
    assert tuple(t.columns) == REGION_COLUMNS
    assert t["neuron"].tolist() == [1, 1, 1]
    assert t["region"].tolist() == [1, 2, 3]
    assert t["size"].tolist() == [2, 2, 2]
    np.testing.assert_allclose(t["mean_abs"], [0.3, 0.75, 0.1])
    np.testing.assert_allclose(t["sum_abs"], [0.6, 1.5, 0.2])
    np.testing.assert_allclose(t["max_abs"], [0.4, 1.0, 0.1])
    assert t[["top", "left", "height", "width"]].values.tolist() == [
        [0, 0, 2, 2],
        [0, 3, 2, 1],
        [3, 0, 1, 2],
    ]
    np.testing.assert_allclose(t["centroid_row"], [0.5, 0.5, 3.0])
    np.testing.assert_allclose(t["centroid_col"], [0.5, 3.0, 0.5])
    np.testing.assert_allclose(region_scores(t, "size"), [2, 2, 2])
    with pytest.raises(ValueError, match="region score"):
        region_scores(t, "median")


def test_region_table_of_no_regions():
    t = region_table(np.zeros((2, 4)), np.zeros((2, 2, 2), np.int32))
    assert len(t) == 0 and tuple(t.columns) == REGION_COLUMNS


def test_remove_regions_keeps_ids_and_masks():
    mask = np.stack([DIAGONAL.ravel(), DIAGONAL.ravel()])
    labels = label_neurons(mask, (4, 4), 8)
    removed = np.array([False, True, False, True, False, False])  # n0 r2, n1 r1
    kept = remove_regions(labels, removed)
    assert sorted(np.unique(kept[0])) == [0, 1, 3]
    assert sorted(np.unique(kept[1])) == [0, 2, 3]
    assert mask_from_labels(kept).sum() == mask.sum() - 2 - 2
    with pytest.raises(ValueError, match="decisions"):
        remove_regions(labels, removed[:-1])
    with pytest.raises(ValueError, match="gaps"):
        remove_regions(kept, np.zeros(4, bool))


@pytest.mark.parametrize(
    "score, weakest", [("mean_abs", 3), ("sum_abs", 3), ("max_abs", 3), ("size", 1)]
)
def test_each_region_score_ranks_as_defined(score, weakest):
    from regionprune.core.pruning import prune_lowest_fraction

    # region 1: one pixel |w|=0.5; region 2: 3 pixels 0.3 each; region 3: 2 pixels 0.1, 0.2
    w = np.zeros((1, 16))
    mask = np.zeros((1, 16), bool)
    for idx, v in ((0, 0.5), (3, 0.3), (7, 0.3), (11, 0.3), (12, 0.1), (13, 0.2)):
        w[0, idx], mask[0, idx] = v, True
    labels = label_neurons(mask, (4, 4), 4)
    t = region_table(w, labels)
    assert t["size"].tolist() == [1, 3, 2]
    removed = prune_lowest_fraction(region_scores(t, score), 1 / 3)  # one of three regions
    assert t.loc[removed, "region"].tolist() == [weakest]
