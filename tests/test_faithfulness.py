"""The faithfulness evaluation against implementations that share none of its code.

Here the deletion, insertion and remove-and-retrain tests are written again in plain torch,
with the regions labelled by scipy.ndimage and every ablation done by zeroing weights of a
``torch.nn.Sequential``; occlusion is checked against Captum's ``FeatureAblation``, the regions'
integrated gradients against a plain Riemann sum of weight gradients, and the sanity check on
maps whose answer is known. Nothing below imports ``regionprune`` except the functions under test.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from captum.attr import IntegratedGradients
from scipy import ndimage

from conftest import sequential
from regionprune.core.explain import deletion as dl
from regionprune.core.explain import importance as ev
from regionprune.core.explain import sanity as sn
from regionprune.core.regions import global_ids, label_neurons

SHAPE = (5, 5)
P = 25


def small(activation: str = "sigmoid", seed: int = 0):
    """A 5x5 input, 4 hidden neurons with several regions each, 6 then 3 classes; ranking and
    test images of a structure the network can read (class c lights a band of rows)."""
    rng = np.random.default_rng(seed)
    sizes = (P, 4, 6, 3)
    params = {}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        params[f"fc{i}.weight"] = rng.normal(0, 1.2, (b, a)).astype(np.float32)
        params[f"fc{i}.bias"] = rng.normal(0, 0.2, b).astype(np.float32)
    mask = rng.random((4, P)) > 0.55

    def images(n):
        y = np.arange(n) % 3
        x = rng.uniform(0, 0.4, (n, *SHAPE)).astype(np.float32)
        for i, c in enumerate(y):
            x[i, c : c + 2] += 0.6
        return x.reshape(n, P), y

    xr, yr = images(90)
    x, y = images(90)
    return params, mask, xr, yr, x, y


# ---- the independent implementation ----------------------------------------------------------


def scipy_regions(mask: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """(neuron, flat pixels) of every 8-connected region, neuron by neuron, raster order."""
    out = []
    for j in range(mask.shape[0]):
        lab, n = ndimage.label(mask[j].reshape(SHAPE), structure=np.ones((3, 3)))
        out += [(j, np.flatnonzero(lab.ravel() == r)) for r in range(1, n + 1)]
    return out


def scores(params, activation, w1, x, y, c) -> tuple[float, float, float]:
    """Accuracy, mean logit and mean log-probability of class c over the images of class c."""
    model = sequential({**params, "fc1.weight": w1}, activation)
    with torch.no_grad():
        out = model(torch.tensor(x[y == c])).double()
    logp = torch.log_softmax(out, dim=1)[:, c]
    return float((out.argmax(1) == c).double().mean()), float(out[:, c].mean()), float(logp.mean())


def weight_order(units: list[np.ndarray], w1: np.ndarray) -> list[int]:
    """Flat W1 indices: units in the given order, within a unit the larger |w| first."""
    order = []
    for flat in units:
        order += sorted(flat.tolist(), key=lambda f: (-abs(w1.ravel()[f]), f))
    return order


def plain_curves(params, activation, w1, order, counts, x, y, c):
    """Deletion and insertion: class c's accuracy and logit with the first k of ``order``
    zeroed, and with only them kept."""
    deleted, kept = [], []
    for k in counts:
        w = w1.ravel().copy()
        w[order[:k]] = 0.0
        deleted.append(scores(params, activation, w.reshape(w1.shape), x, y, c)[:2])
        w = np.zeros(w1.size, dtype=np.float32)
        w[order[:k]] = w1.ravel()[order[:k]]
        kept.append(scores(params, activation, w.reshape(w1.shape), x, y, c)[:2])
    return np.array(deleted), np.array(kept)


def plain_ablation_order(params, activation, w1, units, xr, yr, c) -> list[int]:
    """Units ranked by the drop of class c's mean log-probability when each is zeroed on its
    own (highest first, ties: the earlier unit), as flat weight indices."""
    base = scores(params, activation, w1, xr, yr, c)[2]
    drop = []
    for flat in units:
        w = w1.ravel().copy()
        w[flat] = 0.0
        drop.append(base - scores(params, activation, w.reshape(w1.shape), xr, yr, c)[2])
    ranked = sorted(range(len(units)), key=lambda g: (-drop[g], g))
    return weight_order([units[g] for g in ranked], w1)


BUDGETS = [0.1, 0.3, 0.6]


@pytest.fixture(scope="module", params=["sigmoid", "relu"])
def evaluated(request):
    activation = request.param
    params, mask, xr, yr, x, y = small(activation)
    net = ev.Net.from_params(params, activation, mask)
    labels = label_neurons(mask, SHAPE, 8)
    ranked = dl.Ranked(net, labels, xr, yr, 3, ig_steps=16)
    retrain = dl.Retrain(xr, yr, budget=0.3, lr=0.5, batch_size=16, seed=7)
    table = dl.deletion_test(
        net, labels, ranked, x, y, BUDGETS, 3, np.random.default_rng(0), retrain
    )
    return activation, params, mask, xr, yr, x, y, table


def project(table, test, method, c):
    rows = table[(table["test"] == test) & (table["method"] == method) & (table["class"] == c)]
    return rows.sort_values("budget")[["class_acc", "class_logit"]].to_numpy()


@pytest.mark.parametrize("method", ["region", "neuron"])
def test_deletion_and_insertion_equal_a_plain_torch_reimplementation(evaluated, method):
    """The region and neuron methods (ranked by ablation) rebuilt from scratch: regions by
    scipy.ndimage, importance by zeroing weights of a torch Sequential, budgets counted from
    the surviving weights. Catches: least important first, the order within a unit reversed,
    the budget counted from removed weights."""
    activation, params, mask, xr, yr, x, y, table = evaluated
    w1 = params["fc1.weight"] * mask
    if method == "region":
        units = [flat + j * P for j, flat in scipy_regions(mask)]
    else:
        units = [np.flatnonzero(mask[j]) + j * P for j in range(4) if mask[j].any()]
    counts = [0] + [round(b * int(mask.sum())) for b in BUDGETS]
    for c in range(3):
        order = plain_ablation_order(params, activation, w1, units, xr, yr, c)
        deleted, kept = plain_curves(params, activation, w1, order, counts, x, y, c)
        for test, want in (("deletion", deleted), ("insertion", kept)):
            got = project(table, test, method, c)
            np.testing.assert_array_equal(got[:, 0], want[:, 0], err_msg=f"{test} c{c}")
            np.testing.assert_allclose(got[:, 1], want[:, 1], rtol=1e-5, atol=1e-5)


def test_occlusion_equals_captums_feature_ablation():
    """Occlusion per pixel (every pixel set to 0 on its own) against Captum's FeatureAblation
    of the per-image log-probability, averaged over each class's images."""
    from captum.attr import FeatureAblation

    params, mask, xr, yr, _, _ = small("tanh", seed=3)
    net = ev.Net.from_params(params, "tanh", mask)
    model = sequential({**params, "fc1.weight": params["fc1.weight"] * mask}, "tanh")
    got = ev.occlusion(net, xr, yr, 3)
    for c in range(3):
        fa = FeatureAblation(lambda t, c=c: torch.log_softmax(model(t), dim=1)[:, c])
        want = fa.attribute(torch.tensor(xr[yr == c]), baselines=0.0).mean(0).double().numpy()
        np.testing.assert_allclose(got[c], want, rtol=1e-4, atol=1e-6)
    assert (got[:, ~mask.any(axis=0)] == 0).all()  # pixels without weights change nothing


def test_region_integrated_gradients_equal_a_riemann_sum_of_weight_gradients():
    """The compactness control's scores: per region, the weights' integrated gradients (w *
    mean gradient of the class's mean log-probability along alpha * W1), by a 400-step
    midpoint sum in plain torch; they add up to logp(W1) - logp(W1 = 0) (completeness); and
    they equal Captum's integrated gradients on the regions' scales."""
    params, mask, xr, yr, _, _ = small("sigmoid", seed=5)
    net = ev.Net.from_params(params, "sigmoid", mask)
    labels = label_neurons(mask, SHAPE, 8)
    got = dl.Ranked(net, labels, xr, yr, 3, ig_steps=32).region_gradients
    w1 = torch.tensor(params["fc1.weight"] * mask)
    # the project's table rows (neuron by neuron, ids 1..n) matched to scipy's by pixel set:
    # OpenCV and scipy number a neuron's regions in different orders
    gid = global_ids(labels)[0]
    row = {(j, tuple(flat)): int(gid[j, flat[0]]) for j, flat in scipy_regions(mask)}
    assert sorted(row.values()) == list(range(len(row)))
    regions = sorted(row, key=row.get)
    for c in range(3):
        grads = torch.zeros_like(w1)
        steps = 400
        for a in (np.arange(steps) + 0.5) / steps:
            w = (a * w1).clone().requires_grad_(True)
            model = sequential(
                {**params, "fc1.weight": np.zeros_like(params["fc1.weight"])}, "sigmoid"
            )
            h = torch.sigmoid(torch.tensor(xr[yr == c]) @ w.T + model[0].bias)
            logp = torch.log_softmax(model[2:](h), dim=1)[:, c].mean()
            grads += torch.autograd.grad(logp, w)[0] / steps
        per_weight = (w1 * grads).numpy()
        want = [per_weight[j, list(flat)].sum() for j, flat in regions]
        np.testing.assert_allclose(got[c], want, rtol=2e-3, atol=1e-5)
        ends = [scores(params, "sigmoid", m, xr, yr, c)[2] for m in (w1.numpy(), 0 * w1.numpy())]
        assert got[c].sum() == pytest.approx(ends[0] - ends[1], rel=1e-3)
        # and Captum's IntegratedGradients (32 Gauss-Legendre steps) of logp on region scales
        gid_t = torch.from_numpy(gid)

        def logp_of(scales, c=c, model=model):  # (steps, regions) -> (steps,)
            out = []
            for s in scales:
                w = w1 * torch.where(gid_t >= 0, s[gid_t.clamp(min=0)], 0.0)
                h = torch.sigmoid(torch.tensor(xr[yr == c]) @ w.T + model[0].bias)
                out.append(torch.log_softmax(model[2:](h), dim=1)[:, c].mean())
            return torch.stack(out)

        ig = IntegratedGradients(logp_of).attribute(
            torch.ones(1, len(regions)), baselines=0.0, n_steps=32, internal_batch_size=32
        )
        np.testing.assert_allclose(got[c], ig[0].detach().numpy(), rtol=1e-4, atol=1e-6)


def test_remove_and_retrain_equals_a_plain_sgd_loop(evaluated):
    """ROAR rebuilt: the region order's first weights zeroed, one epoch of plain SGD (torch's
    randperm batch order from the seed) with them held at zero, class accuracy and logit after;
    the budget-0 network, retrained with nothing deleted; and the random control's point, from
    its first draw. Catches: deleted weights that come back in retraining, another batch order,
    the wrong budget, another draw of the random control."""
    activation, params, mask, xr, yr, x, y, table = evaluated
    w1 = params["fc1.weight"] * mask
    units = [flat + j * P for j, flat in scipy_regions(mask)]
    k = round(0.3 * int(mask.sum()))

    def retrained(keep: np.ndarray):
        model = sequential({**params, "fc1.weight": w1 * keep}, activation).train()
        held = torch.tensor(keep.astype(np.float32))
        opt = torch.optim.SGD(model.parameters(), lr=0.5)
        order = torch.randperm(len(yr), generator=torch.Generator().manual_seed(7))
        xs, ys = torch.tensor(xr)[order], torch.tensor(yr)[order]
        for i in range(0, len(yr), 16):
            loss = torch.nn.functional.cross_entropy(model(xs[i : i + 16]), ys[i : i + 16])
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                model[0].weight.mul_(held)
        return model.eval()

    base = retrained(mask)
    for c in range(3):
        order = plain_ablation_order(params, activation, w1, units, xr, yr, c)
        keep = mask.ravel().copy()
        keep[order[:k]] = False
        for model, budget in ((base, 0.0), (retrained(keep.reshape(mask.shape)), 0.3)):
            with torch.no_grad():
                out = model(torch.tensor(x[y == c]))
            row = table[
                (table["test"] == "roar")
                & (table["method"] == "region")
                & (table["class"] == c)
                & (table["budget"] == budget)
            ]
            assert len(row) == 1
            assert row["removed"].item() == (k if budget else 0)
            assert row["class_acc"].item() == float((out.argmax(1) == c).double().mean())
            assert row["class_logit"].item() == pytest.approx(float(out[:, c].mean()), abs=2e-4)
    roar = table[table["test"] == "roar"]
    assert set(roar["method"]) == {m for m, s in dl.METHODS.items() if s.roar}

    # the random control's point is its first draw's: the generator replayed (3 draws per
    # class, the only draws of the test) over scipy's regions, numbered as the labels number
    # them (a draw permutes the numbers)
    gid = global_ids(label_neurons(mask, SHAPE, 8))[0]
    regions = [
        flat + j * P for j, flat in sorted(scipy_regions(mask), key=lambda u: gid[u[0], u[1][0]])
    ]
    rng = np.random.default_rng(0)
    apart = []
    for c in range(3):
        draws = [rng.permutation(len(regions)) for _ in range(3)]
        got = roar[(roar["method"] == "random") & (roar["class"] == c) & (roar["budget"] > 0)]
        logits = []
        for perm in draws[:2]:
            keep = mask.ravel().copy()
            keep[weight_order([regions[r] for r in perm], w1)[:k]] = False
            model = retrained(keep.reshape(mask.shape))
            with torch.no_grad():
                out = model(torch.tensor(x[y == c]))
            logits.append(float(out[:, c].mean()))
        assert got["class_logit"].item() == pytest.approx(logits[0], abs=2e-4), c
        apart.append(abs(logits[0] - logits[1]) > 1e-3)
    assert any(apart)  # draw 1's point is another: the check can tell the draws apart


def test_the_random_controls_orders_differ_from_the_ranked_and_each_other(evaluated):
    *_, table = evaluated
    d = table[(table["test"] == "deletion") & (table["budget"] > 0)]
    curves = d.pivot_table(
        index=["class", "budget"], columns=["method", "draw"], values="class_logit"
    )
    random = curves["random"]
    assert all(not np.allclose(random[a], random[b]) for a in random for b in random if a < b)
    for method in ("region", "neuron", "region_gradients"):
        assert all(not np.allclose(random[a], curves[(method, 0)]) for a in random)


# ---- the sanity check -------------------------------------------------------------------------


def test_randomise_redraws_the_named_layers_and_keeps_w1s_zeros():
    params, mask, *_ = small("relu")
    net = ev.Net.from_params(params, "relu", mask)
    out = sn.randomise(net, ["fc3", "fc1"], np.random.default_rng(0))
    assert np.array_equal(out.params["fc2.weight"], net.params["fc2.weight"])
    for name in ("fc3.weight", "fc3.bias", "fc1.weight"):
        assert not np.array_equal(out.params[name], net.params[name])
    assert ((out.w1 != 0) == mask).all()
    bound = 1 / np.sqrt(6)  # fc3's fan-in: PyTorch's nn.Linear initialisation
    assert np.abs(out.params["fc3.weight"]).max() <= bound


def test_similarity_measures_by_hand():
    a = np.arange(25, dtype=float).reshape(5, 5)
    assert sn.spearman(a, a**3) == pytest.approx(1.0)  # ranks only
    assert sn.spearman(a, -a) == pytest.approx(-1.0)
    assert sn.ssim(a, a) == pytest.approx(1.0)
    assert sn.ssim(a, a[::-1]) < 0.5
    assert np.isnan(sn.spearman(a, np.zeros_like(a)))


def test_the_cascade_flags_a_map_that_ignores_the_network():
    """A map that is the images' mean (it never reads the weights) stays the same under every
    randomisation: correlation and SSIM 1. The region maps change once every layer is
    re-drawn. Catches: a randomisation that leaves the network as it was."""
    params, mask, xr, yr, _, _ = small("sigmoid")
    net = ev.Net.from_params(params, "sigmoid", mask)
    labels = label_neurons(mask, SHAPE, 8)

    def ink(net, labels, x, y, n_classes, steps):
        return np.stack([x[y == c].mean(0) for c in range(n_classes)])

    methods = {"ink": ink, "region": sn.region_maps}
    table = sn.cascade(net, labels, xr, yr, 3, SHAPE, np.random.default_rng(0), 8, methods)
    assert table["randomised"].unique().tolist() == ["fc3", "fc3+fc2", "fc3+fc2+fc1"]
    ink_rows = table[table["maps"] == "ink"]
    np.testing.assert_allclose(ink_rows[["spearman", "ssim"]], 1.0)
    last = table[(table["maps"] == "region") & (table["layers"] == 3)]
    assert last["spearman"].mean() < 0.8


@pytest.mark.parametrize(
    "activation, sizes",
    [("sigmoid", (784, 100, 50, 10)), ("relu", (784, 100, 50, 10)), ("tanh", (784, 30, 4))],
)
@pytest.mark.parametrize("baselines", [0.0, 0.3])
def test_attributions_equal_captums(activation, sizes, baselines):
    """``integrated_gradients`` and ``input_x_gradient`` (layer 1 run once, through its
    linearity) against Captum's own ``IntegratedGradients`` and ``InputXGradient`` with
    ``target`` per image, on pruned networks of the workflow's size and of one hidden layer,
    from black and from grey, in batches that do not divide N; and the Gauss-Legendre rule
    against Captum's."""
    from captum.attr import InputXGradient, IntegratedGradients
    from captum.attr._utils.approximation_methods import approximation_parameters

    from regionprune.core.explain.attribution import (
        gauss_legendre,
        input_x_gradient,
        integrated_gradients,
        network,
    )
    from regionprune.core.model import MLP

    weights, alphas = approximation_parameters("gausslegendre")
    np.testing.assert_allclose(gauss_legendre(16), (weights(16), alphas(16)), rtol=1e-12)

    rng = np.random.default_rng(11)
    # a seeded network: layer 1 taken through its linearity rounds differently from Captum's
    # per-step product, and where a ReLU's input is within that rounding of 0 the two take
    # opposite sides of the kink (1 network in 60 unseeded ones, test order deciding which)
    torch.manual_seed(11)
    params = {k: v.detach().numpy() for k, v in MLP(sizes=sizes).state_dict().items()}
    params["fc1.weight"] = params["fc1.weight"] * (rng.random(params["fc1.weight"].shape) < 0.3)
    x = rng.random((70, 784)).astype(np.float32)
    y = np.arange(70) % sizes[-1]
    got = integrated_gradients(params, activation, x, y, 16, baselines, batch=32)
    want = IntegratedGradients(network(params, activation)).attribute(
        torch.from_numpy(x), baselines=baselines, target=torch.from_numpy(y), n_steps=16
    )
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-4, atol=1e-6 * np.abs(want.numpy()).max())
    if baselines == 0.0:  # InputXGradient has no baseline
        got = input_x_gradient(params, activation, x, y)
        want = (
            InputXGradient(network(params, activation))
            .attribute(torch.from_numpy(x).requires_grad_(), target=torch.from_numpy(y))
            .detach()
            .numpy()
        )
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6 * np.abs(want).max())


def test_pixel_integrated_gradients_equal_a_riemann_sum_from_black():
    """Integrated gradients as the deletion test ranks pixels (class means) and as the yardstick
    maps each image: x * the mean input gradient of the class's logit along alpha * x, from a
    black image, by a 400-step midpoint sum in plain torch; per image they add up to
    logit(x) - logit(black) (completeness), which a grey baseline breaks."""
    from regionprune.core.explain.yardstick import ig_attributions

    params, mask, xr, yr, _, _ = small("sigmoid", seed=3)
    net = ev.Net.from_params(params, "sigmoid", mask)
    ranked = dl.Ranked(net, label_neurons(mask, SHAPE, 8), xr, yr, 3, ig_steps=32)
    got = dl.METHODS["integrated_gradients"].scores(ranked)
    per_image = ig_attributions(net, xr, yr, steps=32)
    model = sequential({**params, "fc1.weight": params["fc1.weight"] * mask}, "sigmoid")
    x = torch.tensor(xr, dtype=torch.float64)
    model = model.double()
    steps = 400
    grads = torch.zeros_like(x)
    for a in (np.arange(steps) + 0.5) / steps:
        xa = (a * x).requires_grad_(True)
        out = model(xa)[torch.arange(len(yr)), torch.tensor(yr)].sum()
        grads += torch.autograd.grad(out, xa)[0] / steps
    want = (x * grads).numpy()
    np.testing.assert_allclose(per_image, want, rtol=2e-3, atol=1e-5)
    for c in range(3):
        np.testing.assert_allclose(got[c], want[yr == c].mean(0), rtol=2e-3, atol=1e-5)
    with torch.no_grad():
        ends = model(x) - model(torch.zeros_like(x))
    np.testing.assert_allclose(per_image.sum(1), ends[np.arange(len(yr)), yr].numpy(), rtol=1e-3)


# ---- the yardstick: per-image maps and Quantus's metrics --------------------------------------


def own_logprob(params, activation, w1, x, y) -> np.ndarray:
    """Each image's log-probability of its own class, in float64."""
    model = sequential({**params, "fc1.weight": w1}, activation)
    with torch.no_grad():
        out = torch.log_softmax(model(torch.tensor(x)).double(), dim=1)
    return out[torch.arange(len(y)), torch.tensor(y)].numpy()


def test_region_maps_per_image_equal_zeroing_each_scipy_region():
    """A region map's pixel: the sum, over the regions containing it, of the drop in the image's
    class log-probability when that region alone is zeroed in a torch.nn.Sequential."""
    from regionprune.core.explain.yardstick import region_attributions

    params, mask, xr, yr, _, _ = small("relu", seed=2)
    net = ev.Net.from_params(params, "relu", mask)
    got = region_attributions(net, label_neurons(mask, SHAPE, 8), xr, yr)
    w1 = params["fc1.weight"] * mask
    base = own_logprob(params, "relu", w1, xr, yr)
    want = np.zeros((len(yr), P))
    for j, flat in scipy_regions(mask):
        w = w1.copy()
        w[j, flat] = 0.0
        want[:, flat] += (base - own_logprob(params, "relu", w, xr, yr))[:, None]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    assert (want != 0).sum() > P  # not vacuous: many pixels carry an effect


def test_occlusion_per_image_equals_captums_feature_ablation():
    from captum.attr import FeatureAblation

    params, mask, xr, yr, _, _ = small("sigmoid", seed=6)
    net = ev.Net.from_params(params, "sigmoid", mask)
    model = sequential({**params, "fc1.weight": params["fc1.weight"] * mask}, "sigmoid")
    rows = torch.arange(len(yr)), torch.tensor(yr)
    fa = FeatureAblation(lambda t: torch.log_softmax(model(t), dim=1)[rows])
    want = fa.attribute(torch.tensor(xr), baselines=0.0).double().numpy()
    np.testing.assert_allclose(ev.occlusion_per_image(net, xr, yr), want, rtol=1e-4, atol=1e-6)


def test_quantus_pixel_flipping_equals_the_definition_and_random_maps_fail_mprt():
    """Pixel flipping (Bach et al. 2015) by hand: per image, pixels in descending attribution,
    a row (5 pixels) a step set to black, the softmax probability of the image's class after
    each step, averaged over images. MPRT of maps drawn at random is about 0 at every layer:
    they change completely, whatever the network. Steps and layers are named as documented."""
    from regionprune.core.explain import yardstick as ys

    params, mask, xr, yr, _, _ = small("sigmoid", seed=4)
    x, y = xr[:30].copy(), yr[:30]
    x[:, -1] = 0.0  # every image's darkest value is 0: Quantus's "black"
    net = ev.Net.from_params(params, "sigmoid", mask)
    labels = label_neurons(mask, SHAPE, 8)
    maps = {k: ys.MAPS[k] for k in ("occlusion", "random")}
    table = ys.yardstick(net, labels, x, y, SHAPE, np.random.default_rng(0), 16, 0, maps)

    a = ev.occlusion_per_image(net, x, y).astype(np.float32)
    a = a / np.abs(a).max(axis=1, keepdims=True)  # Quantus's normalise (order unchanged)
    order = np.argsort(-a, axis=1)
    model = sequential({**params, "fc1.weight": params["fc1.weight"] * mask}, "sigmoid")
    xs, want = x.copy(), []
    for step in range(5):
        np.put_along_axis(xs, order[:, step * 5 : (step + 1) * 5], 0.0, axis=1)
        with torch.no_grad():
            prob = torch.softmax(model(torch.tensor(xs)), dim=1)[torch.arange(30), y]
        want.append(float(prob.mean()))
    pf = table[(table["maps"] == "occlusion") & (table["metric"] == "pixel_flipping")]
    np.testing.assert_allclose(pf["fraction"], [0.2, 0.4, 0.6, 0.8, 1.0])
    np.testing.assert_allclose(pf["value"], want, rtol=1e-4)

    mprt = table[table["metric"] == "mprt"]
    assert list(mprt["randomised"][:3]) == ["fc3", "fc3+fc2", "fc3+fc2+fc1"]
    assert list(mprt["layers"][:3]) == [1, 2, 3]
    rand = mprt[mprt["maps"] == "random"]["value"]
    assert (rand.abs() < 0.15).all(), rand
    occ = mprt[mprt["maps"] == "occlusion"]["value"]
    assert occ.iloc[0] > rand.abs().max() + 0.2  # a real map keeps some likeness at first
    road = table[table["metric"] == "road"]
    assert sorted(road["fraction"].unique()) == [p / 100 for p in ys.ROAD_PERCENT]
    assert road["value"].between(0, 1).all()


def test_maps_that_are_zero_everywhere_score_nan_where_quantus_refuses_them():
    """A network pruned until a method sees nothing (W1 empty: every region, gradient and
    occlusion map is 0) stopped its run with Quantus's AssertionError; its rows are now NaN,
    step for step the rows a live network gets, and the random control is still scored."""
    from regionprune.core.explain import yardstick as ys

    params, mask, xr, yr, _, _ = small("sigmoid", seed=4)
    x, y = xr[:20], yr[:20]
    maps = {k: ys.MAPS[k] for k in ("region", "occlusion", "random")}
    live_net = ev.Net.from_params(params, "sigmoid", mask)
    live = ys.yardstick(
        live_net, label_neurons(mask, SHAPE, 8), x, y, SHAPE, np.random.default_rng(0), 8, 0, maps
    )
    empty = np.zeros_like(mask)
    dead_net = ev.Net.from_params(params, "sigmoid", empty)
    dead = ys.yardstick(
        dead_net, label_neurons(empty, SHAPE, 8), x, y, SHAPE, np.random.default_rng(0), 8, 0, maps
    )
    keys = ["maps", "metric", "fraction", "randomised", "layers"]
    pd.testing.assert_frame_equal(dead[keys], live[keys])
    blind = dead["maps"] != "random"
    assert dead.loc[blind, "value"].isna().all() and blind.sum() > 20
    assert dead.loc[~blind, "value"].notna().all()
    assert live["value"].notna().all()


def test_skipping_quantus_no_change_check_leaves_the_scores_alone(monkeypatch):
    """The yardstick turns off Quantus's check that a perturbation changed an image (it only
    warns, slowly): the same table with the check on, and the check restored afterwards."""
    import contextlib

    import quantus

    from regionprune.core.explain import yardstick as ys

    params, mask, xr, yr, _, _ = small("sigmoid", seed=4)
    net = ev.Net.from_params(params, "sigmoid", mask)
    labels = label_neurons(mask, SHAPE, 8)
    maps = {"occlusion": ys.MAPS["occlusion"]}
    check = quantus.helpers.warn.warn_perturbation_caused_no_change
    run = lambda: ys.yardstick(  # noqa: E731
        net, labels, xr[:20], yr[:20], SHAPE, np.random.default_rng(0), 8, 0, maps
    )
    fast = run()
    assert quantus.helpers.warn.warn_perturbation_caused_no_change is check
    monkeypatch.setattr(ys, "_no_change_check_off", lambda _: contextlib.nullcontext())
    pd.testing.assert_frame_equal(fast, run())


def test_road_imputation_equals_quantus_own_and_repeats():
    """The fast ROAD imputation gives Quantus's ``noisy_linear_imputation`` values (the same
    noise, drawn from the same seed) on images of several shapes, removed pixels at the borders
    and corners included; and a stage's ROAD repeats exactly (its noise is seeded)."""
    from quantus.functions.perturb_func import noisy_linear_imputation

    from regionprune.core.explain import yardstick as ys

    rng = np.random.default_rng(0)
    for t, (h, w) in enumerate([(5, 5), (4, 7), (28, 28), (28, 28)]):
        x = rng.random((1, h, w)).astype(np.float32)
        idx = rng.permutation(h * w)[: int(rng.integers(1, h * w))]
        np.random.seed(t)
        want = noisy_linear_imputation(x, idx, noise=0.01)
        got = ys.road_imputation(x, idx, noise=0.01, rng=np.random.RandomState(t))
        np.testing.assert_allclose(got, want, atol=1e-6)
        assert np.abs(got - x).max() > 0.05  # not vacuous: the removed pixels changed

    params, mask, xr, yr, _, _ = small("relu", seed=0)  # predicts all 3 classes
    net = ev.Net.from_params(params, "relu", mask)
    labels = label_neurons(mask, SHAPE, 8)
    maps = {"random": ys.MAPS["random"]}
    x = xr[:60]
    model = sequential({**params, "fc1.weight": params["fc1.weight"] * mask}, "relu")
    with torch.no_grad():  # the network's own predictions as labels: ROAD starts at 1
        y = model(torch.tensor(x)).argmax(1).numpy()
    # noise large enough to change predictions, so that unseeded noise would show
    runs = [
        ys.yardstick(net, labels, x, y, SHAPE, np.random.default_rng(1), 8, s, maps, road_noise=0.5)
        for s in (3, 3, 4)
    ]
    pd.testing.assert_frame_equal(runs[0], runs[1])
    road = [r.loc[r["metric"] == "road", "value"].to_numpy() for r in runs]
    assert not np.array_equal(road[0], road[2])  # another seed, other noise

    # ROAD by its definition: per fraction, each image's top pixels of its (random) map imputed,
    # the noise drawn in Quantus's order (fractions, then images); the share still predicted
    # as labelled, over all images
    a = np.random.default_rng(np.random.default_rng(1).integers(2**63)).random(x.shape)
    noise = np.random.RandomState([3, 0])
    want = []
    for pct in ys.ROAD_PERCENT:
        top = np.argsort(-a, axis=1)[:, : int(P * pct / 100)]
        xs = np.stack(
            [
                ys.road_imputation(xi.reshape(1, *SHAPE), t, 0.5, noise).ravel()
                for xi, t in zip(x, top)
            ]
        )
        with torch.no_grad():
            want.append(float((model(torch.tensor(xs)).argmax(1).numpy() == y).mean()))
    np.testing.assert_allclose(road[0], want)


def test_every_deliberate_bug_finds_its_line_once():
    """tests/mutants.py patches each bug in by its line's text: a reformatted line would drop
    it from the mutation check unseen."""
    from mutants import MUTANTS, ROOT

    for name, path, old, _ in MUTANTS:
        assert (ROOT / path).read_text().count(old) == 1, name


def test_mprt_similarity_equals_quantus_own_and_survives_a_constant_map():
    """Quantus's correlation_spearman fails on a batch of one image whose map is constant
    (scipy then answers a plain float NaN); ours gives NaN there and, elsewhere, Quantus's
    numbers bit for bit."""
    from quantus.functions.similarity_func import correlation_spearman

    from regionprune.core.explain.yardstick import spearman_per_image

    rng = np.random.default_rng(0)
    a, b = rng.random((5, 30)), rng.random((5, 30))
    np.testing.assert_array_equal(
        spearman_per_image(a, b, batched=True), correlation_spearman(a, b, batched=True)
    )
    one, flat = rng.random((1, 30)), np.zeros((1, 30))
    ours = spearman_per_image(one, b[:1], batched=True)
    assert ours.shape == (1,)  # one score per image, as MPRT averages them
    np.testing.assert_array_equal(ours, correlation_spearman(one, b[:1], batched=True))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy: "An input array is constant"
        constant = spearman_per_image(one, flat, batched=True)
        assert constant.shape == (1,) and np.isnan(constant).all()
        with pytest.raises(AttributeError):  # Quantus's own: the crash the grid met
            correlation_spearman(one, flat, batched=True)
    assert spearman_per_image(a[0], b[0]) == correlation_spearman(a[0], b[0])
