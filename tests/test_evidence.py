"""The decision-basis math on tiny networks, against direct recomputation with torch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import sequential
from regionprune.core.explain import deletion as dl
from regionprune.core.explain import importance as ev
from regionprune.core.explain.attribution import input_x_gradient, integrated_gradients, network
from regionprune.core.regions import label_neurons

SHAPE = (4, 4)
SIZES = (16, 3, 5, 3)  # a 4x4 input, 3 hidden neurons on it, 5, then 3 classes
#: Other depths: one hidden layer (W1's layer feeds the logits), and three.
DEPTHS = [(16, 3, 3), SIZES, (16, 3, 4, 5, 3)]


def tiny(activation: str, seed: int = 0, sizes=SIZES):
    """Random weights, a mask with several regions per neuron, inputs and labels of 3 classes."""
    rng = np.random.default_rng(seed)
    params = {}
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        params[f"fc{i}.weight"] = rng.normal(0, 1.5, (n_out, n_in)).astype(np.float32)
        params[f"fc{i}.bias"] = rng.normal(0, 0.3, n_out).astype(np.float32)
    mask = np.zeros((3, 16), dtype=bool)
    mask[0, [0, 1, 4, 10, 11, 15]] = True  # two regions: {0, 1, 4} and {10, 11, 15}
    mask[1, [2, 3, 8, 12, 13]] = True
    mask[2, :] = rng.random(16) > 0.5
    x = rng.random((60, 16)).astype(np.float32)
    y = np.arange(60) % 3
    return params, mask, x, y


def direct(params, mask, activation, labels, x, y):
    """Every region zeroed in a torch model, one at a time: per class acc, logit, log-prob."""

    def scores(w1):
        p = {**params, "fc1.weight": w1}
        with torch.no_grad():
            out = sequential(p, activation)(torch.from_numpy(x)).double()
        logp = torch.log_softmax(out, dim=1)
        rows = []
        for c in range(3):
            sel = torch.from_numpy(y == c)
            rows.append(
                (
                    (out[sel].argmax(1) == c).double().mean().item(),
                    out[sel, c].mean().item(),
                    logp[sel, c].mean().item(),
                )
            )
        return np.array(rows)

    w1 = params["fc1.weight"] * mask
    before = scores(w1)
    out = []
    for j in range(labels.shape[0]):
        for r in range(1, labels[j].max() + 1):
            member = (labels[j] == r).ravel()
            w = w1.copy()
            w[j, member] = 0.0
            after = scores(w)
            for c in range(3):
                out.append((j, r, c, member.sum(), *(after[c] - before[c])))
    return pd.DataFrame(out, columns=list(ev.IMPORTANCE_COLUMNS))


@pytest.mark.parametrize("activation", ["sigmoid", "relu", "tanh"])
@pytest.mark.parametrize("sizes", DEPTHS, ids=lambda s: "-".join(map(str, s)))
def test_forward_matches_torch(activation, sizes):
    params, mask, x, _ = tiny(activation, sizes=sizes)
    masked = {**params, "fc1.weight": params["fc1.weight"] * mask}
    net = ev.Net.from_params(params, activation, mask)
    with torch.no_grad():
        expected = sequential(masked, activation)(torch.from_numpy(x)).numpy()
        torch_mlp = network(masked, activation)(torch.from_numpy(x)).numpy()
    assert network(masked, activation).sizes == sizes
    np.testing.assert_allclose(net.logits(x), expected, atol=1e-5)
    np.testing.assert_allclose(torch_mlp, expected, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_sigmoid_is_the_two_sided_formula_bit_for_bit(dtype):
    """The numpy network's sigmoid (in place, for speed) against the two-sided formula written
    out here: the same bits, also at 0, -0, very large |z|, infinities and NaN; and within 1e-6
    of torch's."""
    from regionprune.core.network import activation

    z = np.random.default_rng(0).normal(0, 8, (50, 40)).astype(dtype)
    z[0, :8] = [0.0, -0.0, 1e-30, -1e-30, 1000.0, -1000.0, np.inf, -np.inf]
    z[1, 0] = np.nan
    e = np.exp(-np.abs(z))
    expected = np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(dtype)
    got = activation("sigmoid", z)(z)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got.view(f"u{z.itemsize}"), expected.view(f"u{z.itemsize}"))
    np.testing.assert_allclose(got, torch.sigmoid(torch.from_numpy(z)).numpy(), atol=1e-6)


def test_class_scores_by_hand():
    logits = np.array([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0], [0.0, 0.0]], dtype=np.float32)
    y = np.array([0, 0, 1, 1])
    acc, mean_logit, mean_logp = ev.class_scores(logits, y, 2)
    np.testing.assert_allclose(acc, [0.5, 0.0])  # class 1: image 3 ties, argmax takes class 0
    np.testing.assert_allclose(mean_logit, [1.0, 0.5])
    lp = lambda a, b: a - np.log(np.exp(a) + np.exp(b))  # noqa: E731
    np.testing.assert_allclose(
        mean_logp, [(lp(2, 0) + lp(0, 1)) / 2, (lp(1, 3) + lp(0, 0)) / 2], rtol=1e-6
    )
    # batched logits give the same per batch
    acc2, _, _ = ev.class_scores(np.stack([logits, logits[:, ::-1]]), y, 2)
    np.testing.assert_allclose(acc2, [[0.5, 0.0], [0.5, 0.5]])


@pytest.mark.parametrize("activation", ["sigmoid", "relu", "tanh"])
@pytest.mark.parametrize("connectivity", [4, 8])
@pytest.mark.parametrize("sizes", DEPTHS, ids=lambda s: "-".join(map(str, s)))
def test_region_importance_matches_direct_recomputation(activation, connectivity, sizes):
    params, mask, x, y = tiny(activation, sizes=sizes)
    labels = label_neurons(mask, SHAPE, connectivity)
    net = ev.Net.from_params(params, activation, mask)
    # max_elements small: several chunks of regions, as on a real network
    got = ev.region_importance(net, labels, x, y, n_classes=3, max_elements=2 * 60 * 5)
    want = direct(params, mask, activation, labels, x, y)
    assert len(got) == 3 * int(sum(lab.max() for lab in labels)) > 3 * 3
    pd.testing.assert_frame_equal(
        got[["neuron", "region", "class", "size"]],
        want[["neuron", "region", "class", "size"]],
        check_dtype=False,
    )
    np.testing.assert_allclose(got["delta_acc"], want["delta_acc"], atol=1e-12)  # same counts
    np.testing.assert_allclose(got["delta_logit"], want["delta_logit"], atol=2e-5)
    np.testing.assert_allclose(got["delta_logprob"], want["delta_logprob"], atol=2e-5)
    assert (got["delta_logit"].abs() > 1e-3).any()  # the comparison is not between zeros


def test_importance_matrix_and_evidence_maps_by_hand():
    labels = np.zeros((2, 2, 3), dtype=np.int32)
    labels[0] = [[1, 1, 0], [0, 0, 2]]
    labels[1] = [[0, 1, 1], [0, 1, 0]]
    table = pd.DataFrame(
        {
            "neuron": [0, 0, 0, 0, 1, 1],
            "region": [1, 1, 2, 2, 1, 1],
            "class": [0, 1, 0, 1, 0, 1],
            "delta_logprob": [-1.0, 0.5, -2.0, 0.0, -0.25, 1.0],
        }
    )
    imp = ev.importance_matrix(table.sample(frac=1, random_state=0), 3, 2)  # any row order
    np.testing.assert_array_equal(imp, [[1.0, -0.5], [2.0, 0.0], [0.25, -1.0]])
    maps = ev.evidence_maps(labels, imp)
    np.testing.assert_array_equal(maps[0], [[1.0, 1.25, 0.25], [0.0, 0.25, 2.0]])
    np.testing.assert_array_equal(maps[1], [[-0.5, -1.5, -1.0], [0.0, -1.0, 0.0]])


def test_specific_importance_by_hand():
    imp = np.array([[1.0, 2.0], [3.0, 6.0], [2.0, 4.0]])  # class 1 is twice as easy to hurt
    # scaled by each class's spread, every region does the same for both: nothing specific
    np.testing.assert_allclose(ev.specific_importance(imp), 0.0, atol=1e-12)
    imp = np.array([[1.0, -1.0], [-1.0, 1.0]])
    np.testing.assert_allclose(ev.specific_importance(imp), [[1.0, -1.0], [-1.0, 1.0]])


def test_deletion_order_by_hand():
    groups = np.array([[0, 0, -1], [1, 1, 1]])
    weight = np.array([[0.1, -0.5, 9.0], [0.3, 0.2, -0.4]])
    # unit 1 first; inside a unit the larger |w| first; removed weights never appear
    assert dl.deletion_order(groups, np.array([1, 0]), weight).tolist() == [5, 3, 4, 1, 0]
    assert dl.deletion_order(groups, np.array([0, 1]), weight).tolist() == [1, 0, 5, 3, 4]
    assert ev.ranking([0.2, 0.9, 0.2]).tolist() == [1, 0, 2]
    assert dl.budget_counts(200, [0.01, 0.5]).tolist() == [0, 2, 100]
    mask = np.array([[True, False], [True, True]])
    assert dl.pixel_groups(mask).tolist() == [[0, -1], [0, 1]]


def test_deletion_order_is_one_sort_by_unit_then_magnitude():
    """Against a sort of its own per order (numpy's lexsort on the unit's place, then -|w|,
    ties by index): random partitions with removed weights, empty units, units past the last
    surviving one, and tied magnitudes."""
    rng = np.random.default_rng(0)
    for n_units in (1, 3, 40, 300):
        groups = rng.integers(-1, n_units, (7, 60))
        groups[groups == n_units - 1] = -1  # the last unit has no weight left
        weight = rng.choice([-0.5, -0.1, 0.0, 0.1, 0.5, 2.0], size=groups.shape)  # ties
        blocks = dl.UnitBlocks.of(groups, weight)
        alive = np.flatnonzero(groups.ravel() >= 0)
        for _ in range(5):
            units = rng.permutation(n_units)
            position = np.empty(n_units, dtype=np.int64)
            position[units] = np.arange(n_units)
            keys = (-np.abs(weight.ravel()[alive]), position[groups.ravel()[alive]])
            expected = alive[np.lexsort(keys)]
            assert blocks.order(units).tolist() == expected.tolist()
            assert dl.deletion_order(groups, units, weight).tolist() == expected.tolist()


def test_deletion_curve_matches_direct_zeroing():
    params, mask, x, y = tiny("sigmoid", seed=1)
    net = ev.Net.from_params(params, "sigmoid", mask)
    order = np.flatnonzero(mask.ravel())[::-1]
    acc, logit = dl.deletion_curve(net, order, np.array([0, 3, 7]), x[y == 2], y[y == 2], 2)
    for k, a, lg in zip([0, 3, 7], acc, logit):
        w1 = net.w1.ravel().copy()
        w1[order[:k]] = 0
        out = net.with_w1(w1.reshape(net.w1.shape)).logits(x[y == 2])
        assert a == np.mean(out.argmax(1) == 2)
        assert lg == pytest.approx(out[:, 2].mean())
    assert acc[0] == pytest.approx(ev.class_scores(net.logits(x), y, 3)[0][2])


def test_faithfulness_table_by_hand():
    rows = []
    for method, draw, accs in [
        ("region", 0, [0.9, 0.7, 0.3]),
        ("random", 0, [0.9, 0.9, 0.8]),
        ("random", 1, [0.9, 0.8, 0.8]),
    ]:
        for b, a in zip([0.0, 0.1, 0.2], accs):
            rows.append({"class": 0, "method": method, "draw": draw, "budget": b, "class_acc": a})
    t = dl.faithfulness_table(pd.DataFrame(rows))
    assert t["budget"].tolist() == [0.1, 0.2]
    np.testing.assert_allclose(t["drop_region"], [0.2, 0.6])
    np.testing.assert_allclose(t["drop_random"], [0.05, 0.1])
    np.testing.assert_allclose(t["ratio_vs_random"], [4.0, 6.0])
    np.testing.assert_allclose(t["drop_random_sd"], [np.std([0.9, 0.8], ddof=1), 0.0], atol=1e-12)
    # gap random - region: 0, 0.15, 0.5 at budgets 0, 0.1, 0.2: trapezoids 0.0075, then +0.0325
    np.testing.assert_allclose(t["area_vs_random"], [0.0075, 0.04])


def test_input_x_gradient_is_input_times_the_analytic_gradient():
    params, mask, x, y = tiny("tanh", seed=2)
    p = {**params, "fc1.weight": params["fc1.weight"] * mask}
    got = ev.class_means(input_x_gradient(p, "tanh", x, y), y, 3)
    net = ev.Net.from_params(params, "tanh", mask)
    _, h1, z2 = net.hidden(x)
    for c in range(3):
        # d logit_c / dx = W1^T (act'(z1) * W2^T (act'(z2) * W3[c])), with tanh' = 1 - tanh^2
        d2 = (1 - np.tanh(z2) ** 2) * net.params["fc3.weight"][c]
        d1 = (1 - h1**2) * (d2 @ net.params["fc2.weight"])
        grad = d1 @ net.w1
        want = (x * grad)[y == c].mean(axis=0)
        np.testing.assert_allclose(got[c], want, atol=1e-5)


def test_integrated_gradients_are_complete():
    """Summed over pixels, integrated gradients from a black image give logit(x) - logit(0)."""
    params, mask, x, y = tiny("sigmoid", seed=3)
    p = {**params, "fc1.weight": params["fc1.weight"] * mask}
    got = ev.class_means(integrated_gradients(p, "sigmoid", x, y, n_steps=200), y, 3)
    net = ev.Net.from_params(params, "sigmoid", mask)
    gap = net.logits(x) - net.logits(np.zeros_like(x[:1]))
    for c in range(3):
        assert got[c].sum() == pytest.approx(gap[y == c, c].mean(), abs=2e-3)
    with pytest.raises(ValueError, match=r"classes \[1, 2\] have no images"):
        ev.class_means(got, np.zeros(3, dtype=np.int64), 3)


def test_deletion_test_runs_every_registered_method_at_equal_counts():
    params, mask, x, y = tiny("relu", seed=4)
    net = ev.Net.from_params(params, "relu", mask)
    labels = label_neurons(mask, SHAPE, 8)
    ranked = dl.Ranked(net, labels, x[::-1].copy(), y[::-1].copy(), 3, ig_steps=8)
    table = dl.deletion_test(net, labels, ranked, x, y, [0.25, 0.5], 4, np.random.default_rng(0))
    assert list(table.columns) == list(dl.DELETION_COLUMNS)
    assert table.groupby("method")["draw"].nunique().to_dict() == {
        m: (4 if s.scores is None else 1) for m, s in dl.METHODS.items()
    }
    n = int(mask.sum())
    assert sorted(table["removed"].unique()) == [0, round(0.25 * n), round(0.5 * n)]
    assert set(table["test"]) == {"deletion", "insertion"}  # no retraining asked for
    for test, d in table.groupby("test"):  # every method starts from the same network
        assert (d[d["budget"] == 0].groupby("class")["class_acc"].nunique() == 1).all(), test
    table = table[table["test"] == "deletion"]
    # the region method's order is the ranking images' importance, highest first
    imp = ranked.region_importance
    c = 1
    first = dl.deletion_order(dl.region_groups(labels), ev.ranking(imp[:, c]), net.w1)
    acc, _ = dl.deletion_curve(net, first, np.array([0, round(0.25 * n)]), x[y == c], y[y == c], c)
    got = table[(table["method"] == "region") & (table["class"] == c)]["class_acc"].to_numpy()
    assert got[:2].tolist() == acc.tolist()


# ---- a hand-built network whose answer is known: one region carries class 0 --------------------
#
# 2 x 6 images, one hidden layer of 3 ReLU neurons, 2 classes. Neuron 0 reads region A, the
# pixels of columns 0-1 (flat 0, 1, 6, 7), with weight 1 each; class 0's logit is 2 h0 - 3. Neurons
# 1 and 2 read four single-pixel regions (pixels 3, 5, 9, 11) with weight 0.01, and class 1's
# logit is their sum. A class-0 image lights region A (h0 = 4: logit 5); a class-1 image leaves it
# dark (logit -3). Deleting 3 or more of A's 4 weights makes every class-0 image wrong; nothing
# else changes any answer. 8 weights survive: region A is half of them.
HAND_SHAPE = (2, 6)
REGION_A = [0, 1, 6, 7]


def hand_built():
    w1 = np.zeros((3, 12), dtype=np.float32)
    w1[0, REGION_A] = 1.0
    w1[1, [3, 5]] = 0.01
    w1[2, [9, 11]] = 0.01
    params = {
        "fc1.weight": w1,
        "fc1.bias": np.zeros(3, np.float32),
        "fc2.weight": np.array([[2.0, 0.0, 0.0], [0.0, 1.0, 1.0]], np.float32),
        "fc2.bias": np.array([-3.0, 0.0], np.float32),
    }
    rng = np.random.default_rng(0)
    x = rng.uniform(0.2, 0.6, (40, 12)).astype(np.float32)
    y = np.arange(40) % 2
    x[np.ix_(y == 0, REGION_A)] = 1.0
    x[np.ix_(y == 1, REGION_A)] = 0.0
    mask = w1 != 0
    net = ev.Net.from_params(params, "relu", mask)
    return net, label_neurons(mask, HAND_SHAPE, 8), x, y


def hand_deletion(budgets=(0.125, 0.5), draws=10, seed=0):
    net, labels, x, y = hand_built()
    ranked = dl.Ranked(net, labels, x, y, 2, ig_steps=16)
    table = dl.deletion_test(
        net, labels, ranked, x, y, list(budgets), draws, np.random.default_rng(seed)
    )
    return table[table["test"] == "deletion"], ranked


def test_the_hand_built_network_is_what_it_says():
    net, labels, x, y = hand_built()
    assert (net.logits(x).argmax(1) == y).all()
    assert int(labels.max(axis=(1, 2)).sum()) == 5  # A, and four single pixels
    w1 = net.w1.copy()
    w1[0, REGION_A[:3]] = 0.0
    assert (net.with_w1(w1).logits(x[y == 0]).argmax(1) == 1).all()


def test_deleting_the_carrier_region_first_costs_class_0_everything():
    """Caught mutation: the least important units deleted first (the drop would be 0)."""
    table, ranked = hand_deletion()
    region = table[(table["method"] == "region") & (table["class"] == 0)].set_index("budget")
    # 8 surviving weights: budgets 0.125 and 0.5 delete 1 and 4 of them
    assert region["removed"].tolist() == [0, 1, 4]
    # the first weight deleted is one of A's (the top region), which alone changes no answer;
    # at half the weights A is gone, and with it every class-0 image
    assert region["class_acc"].tolist() == [1.0, 1.0, 0.0]
    # the ranking itself: A is class 0's most important region by far
    imp = ranked.region_importance[:, 0]
    assert int(np.argmax(imp)) == 0 and imp[0] > 10 * np.abs(imp[1:]).max()


def test_the_budget_counts_surviving_weights():
    """Caught mutation: the budget counted from the removed weights (88 of 96 here, not 8)."""
    table, _ = hand_deletion(budgets=(0.25, 0.5))
    assert sorted(table["removed"].unique()) == [0, 2, 4]


def test_reversing_the_ranking_lowers_the_drop():
    net, labels, x, y = hand_built()
    ranked = dl.Ranked(net, labels, x, y, 2)
    groups, units = dl.region_groups(labels), ev.ranking(ranked.region_importance[:, 0])
    counts = dl.budget_counts(8, [0.5])
    best, _ = dl.deletion_curve(
        net, dl.deletion_order(groups, units, net.w1), counts, x[y == 0], y[y == 0], 0
    )
    worst, _ = dl.deletion_curve(
        net, dl.deletion_order(groups, units[::-1], net.w1), counts, x[y == 0], y[y == 0], 0
    )
    assert (best[0] - best[1], worst[0] - worst[1]) == (1.0, 0.0)


def test_the_random_control_draws_orders_of_its_own():
    """Caught mutation: the random control using the region order (every draw would lose all of
    class 0 at half the weights, like the regions, and all draws would agree)."""
    table, _ = hand_deletion()
    rand = table[(table["method"] == "random") & (table["class"] == 0) & (table["budget"] == 0.5)]
    region = table[(table["method"] == "region") & (table["class"] == 0) & (table["budget"] == 0.5)]
    assert len(rand) == 10 and rand["class_acc"].nunique() > 1  # the draws differ
    # A goes first in a draw 1 time in 5, or second after a one-pixel region: about 2 in 5 lose
    # class 0; the regions' own order always does
    assert rand["class_acc"].mean() > region["class_acc"].iloc[0] + 0.3


def test_integrated_gradients_start_from_a_black_image():
    """Caught mutation: another IG baseline. From a black image, a class's mean attributions
    sum to its mean logit gap logit(x) - logit(0) (completeness), here exactly: the path from
    0 to x stays on one linear piece of each ReLU."""
    net, labels, x, y = hand_built()
    ranked = dl.Ranked(net, labels, x, y, 2, ig_steps=16)
    attr = dl.METHODS["integrated_gradients"].scores(ranked)
    gap = net.logits(x) - net.logits(np.zeros_like(x[:1]))
    for c in (0, 1):
        assert attr[c].sum() == pytest.approx(gap[y == c, c].mean(), rel=1e-4)
    # class 0's evidence lies on region A, 2 per unit of ink (weight 1 through fc2's 2)
    np.testing.assert_allclose(attr[0][REGION_A], 2.0, rtol=1e-4)


def test_curves_in_batches_equal_one_order_at_a_time():
    """The deletion test measures a class's orders as a batch (bounded by ``max_elements``):
    the same numbers, bit for bit, as one order per call."""
    params, mask, x, y = tiny("sigmoid", seed=6)
    net = ev.Net.from_params(params, "sigmoid", mask)
    groups = dl.pixel_groups(mask)
    rng = np.random.default_rng(0)
    orders = [dl.deletion_order(groups, rng.permutation(mask.shape[1]), net.w1) for _ in range(5)]
    counts = dl.budget_counts(int(mask.sum()), [0.1, 0.3, 0.6])
    one_by_one = [dl.unit_curves(net, o, counts, x, y, 0) for o in orders]
    for max_elements in (1, 2 * len(counts) * len(x) * net.w1.shape[0], 2**24):
        batched = dl.curves(net, orders, counts, x, y, 0, max_elements=max_elements)
        for got, want in zip(batched, one_by_one, strict=True):
            for g, w in zip(np.ravel(got), np.ravel(want)):
                np.testing.assert_array_equal(g, w)
