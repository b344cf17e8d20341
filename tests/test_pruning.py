"""Pruning math on small hand-made arrays whose answers are worked out by hand."""

import numpy as np
import pytest

from regionprune.core.pruning import (
    count_to_remove,
    density,
    lowest,
    magnitude_mask,
    neuron_pruning_ratios,
    prune_lowest_fraction,
)


def test_count_to_remove_rounds_like_torch_prune():
    assert count_to_remove(0.5, 10) == 5
    assert count_to_remove(0.4, 3) == 1  # 1.2
    assert count_to_remove(0.5, 5) == 2  # 2.5 -> half to even
    assert count_to_remove(0.5, 7) == 4  # 3.5 -> half to even
    assert count_to_remove(0.0, 7) == 0
    assert count_to_remove(1.0, 7) == 7
    assert count_to_remove(0.4, 0) == 0
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        count_to_remove(1.5, 3)


def test_magnitude_mask_removes_smallest_abs_globally():
    w = np.array([[0.5, -0.1, 0.3], [-0.9, 0.2, -0.05]])
    # |w| ranks: 0.05, 0.1, 0.2 | 0.3, 0.5, 0.9 ; half of 6 = 3 removed
    expected = np.array([[True, False, True], [True, False, False]])
    np.testing.assert_array_equal(magnitude_mask(w, 0.5), expected)


def test_magnitude_mask_ties_break_by_position():
    w = np.array([[1.0, -1.0], [1.0, 2.0]])
    # three tied at |w|=1; removing 2 takes the first two in C order
    np.testing.assert_array_equal(magnitude_mask(w, 0.5), [[False, False], [True, True]])


def test_magnitude_mask_rates_zero_and_one():
    w = np.arange(6.0).reshape(2, 3)
    assert magnitude_mask(w, 0.0).all()
    assert not magnitude_mask(w, 1.0).any()


def test_magnitude_mask_respects_existing_mask():
    w = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    mask = np.array([True, False, True, True, True])  # 0.2 already gone
    # 4 alive, rate 0.5 -> remove 2 more: 0.1 and 0.3 (dead 0.2 is not counted again)
    np.testing.assert_array_equal(magnitude_mask(w, 0.5, mask), [False, False, False, True, True])


def test_magnitude_mask_rejects_bad_input():
    with pytest.raises(ValueError, match="shape"):
        magnitude_mask(np.zeros((2, 2)), 0.5, np.ones((2, 3), bool))
    with pytest.raises(ValueError, match="NaN"):
        magnitude_mask(np.array([1.0, np.nan]), 0.5)


def test_lowest_marks_k_smallest_and_is_stable():
    s = np.array([3.0, 1.0, 2.0, 1.0])
    np.testing.assert_array_equal(lowest(s, 2), [False, True, False, True])
    np.testing.assert_array_equal(lowest(s, 1), [False, True, False, False])
    np.testing.assert_array_equal(lowest(s, 0), [False] * 4)
    with pytest.raises(ValueError):
        lowest(s, 5)


def test_prune_lowest_fraction_on_empty_scores():
    assert prune_lowest_fraction(np.zeros(0), 0.4).shape == (0,)


def test_prune_lowest_fraction_counts():
    s = np.array([0.9, 0.1, 0.5, 0.3, 0.7])
    # 0.4 of 5 = 2 regions: 0.1 and 0.3
    np.testing.assert_array_equal(prune_lowest_fraction(s, 0.4), [0, 1, 0, 1, 0])


def test_density_and_neuron_ratios():
    mask = np.array([[1, 1, 1, 1], [1, 0, 0, 0], [0, 0, 0, 0]], dtype=bool)
    assert density(mask) == pytest.approx(5 / 12)
    np.testing.assert_allclose(neuron_pruning_ratios(mask), [0.0, 0.75, 1.0])
    assert density(np.zeros((0, 3), bool)) == 0.0


def test_prune_to_count_keeps_exactly_the_highest():
    from regionprune.core.pruning import prune_to_count

    scores = np.array([[0.5, 0.1, 0.9], [0.3, 0.7, 0.2]])
    mask = np.array([[True, True, True], [False, True, True]])  # 0.3 already removed
    np.testing.assert_array_equal(
        prune_to_count(scores, mask, 2), [[False, False, True], [False, True, False]]
    )
    assert prune_to_count(scores, mask, 5).sum() == 5  # keep all that survive
    with pytest.raises(ValueError, match="cannot keep 6 of 5"):
        prune_to_count(scores, mask, 6)


def test_random_scores_are_seeded_and_prune_uniformly():
    from regionprune.core.pruning import prune_to_count, random_scores

    a, b = random_scores((100, 784), 1), random_scores((100, 784), 1)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, random_scores((100, 784), 2))
    kept = prune_to_count(a, np.ones((100, 784), bool), 39200)
    assert kept.sum() == 39200
    # random pruning takes about half of every neuron, unlike regions or magnitude
    assert 0.4 < kept.mean(axis=1).min() and kept.mean(axis=1).max() < 0.6


def test_per_group_fraction():
    from regionprune.core.pruning import prune_lowest_fraction_per_group

    scores = np.array([0.9, 0.1, 0.5, 0.3, 0.2, 0.8, 0.4])
    groups = np.array([0, 0, 0, 0, 1, 1, 2])
    # group 0: 4 regions, 0.5 -> 2 lowest (0.1, 0.3); group 1: 2 -> 1 (0.2); group 2: round(0.5)=0
    np.testing.assert_array_equal(
        prune_lowest_fraction_per_group(scores, groups, 0.5), [0, 1, 0, 1, 1, 0, 0]
    )


def test_criterion_scores_and_prune_fraction():
    from regionprune.core.pruning import criterion_scores, prune_fraction

    w = np.array([[0.5, -0.1, 0.3], [-0.9, 0.2, -0.05]])
    np.testing.assert_array_equal(criterion_scores("magnitude", w, 0), np.abs(w))
    np.testing.assert_array_equal(
        criterion_scores("random", w, 3), criterion_scores("random", w, 3)
    )
    np.testing.assert_array_equal(prune_fraction(np.abs(w), 0.5), magnitude_mask(w, 0.5))
    with pytest.raises(ValueError, match="criterion"):
        criterion_scores("gradient", w, 0)


def test_prune_fraction_removes_marked_inputs_first_within_the_same_count():
    from regionprune.core.pruning import prune_fraction

    w = np.array([[0.9, 0.1, 0.5, 0.2], [0.8, 0.7, 0.05, 0.6]])
    first = np.array([True, False, False, False])  # input 0: never active
    # 4 of 8 go either way; input 0's weights first, then the smallest |w| among the rest
    np.testing.assert_array_equal(prune_fraction(w, 0.5, first=first), [[0, 0, 1, 1], [0, 1, 0, 1]])
    np.testing.assert_array_equal(prune_fraction(w, 0.5), [[1, 0, 0, 0], [1, 1, 0, 1]])
    # the marked inputs alone exceed the rate: they all go, nothing else
    many = np.array([True, True, True, False])
    np.testing.assert_array_equal(prune_fraction(w, 0.25, first=many), [[0, 0, 0, 1], [0, 0, 0, 1]])
