"""Training with masks: pruned weights stay exactly zero; same seed, same result."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from regionprune.core.model import build_model, load_params, params_to_numpy
from regionprune.core.network import W1
from regionprune.workflow.settings import stream_seed
from regionprune.core.training import as_float, evaluate, set_determinism, to_split, train


@pytest.fixture(scope="module")
def small_data(mnist_dir):
    from regionprune.io.data import load_split

    set_determinism(1)
    dev = torch.device("cpu")
    return (
        to_split(*load_split(mnist_dir, "mnist", "train", 1000), dev),
        to_split(*load_split(mnist_dir, "mnist", "test", 500), dev),
    )


def _mask(seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(100, 784, generator=g) > 0.6).float()


def test_masked_weights_are_zero_after_every_step_and_at_the_end(small_data):
    train_data, test_data = small_data
    model = build_model("sigmoid", "default", 0)
    mask = _mask(1)
    steps = []

    def check(m):
        w = m.fc1.weight.detach()
        steps.append(int((w[mask == 0] != 0).sum()))

    train(
        model,
        train_data,
        test_data,
        epochs=2,
        lr=0.5,
        batch_size=100,
        seed=3,
        masks={"fc1.weight": mask},
        after_step=check,
    )
    assert len(steps) == 20 and max(steps) == 0
    w = model.fc1.weight.detach()
    assert (w[mask == 0] == 0).all()
    assert (w[mask == 1] != 0).float().mean() > 0.99  # the rest really trained


def _torch_sgd(ref, train_data, *, weight_decay, masks=None):
    """The reference: two epochs of autograd and torch's SGD (lr 0.3, batches of 64, seed 5),
    each batch indexed out of the set; ``masks`` applied to the gradients and weights by hand."""
    from torch.nn import functional as F

    params = dict(ref.named_parameters())
    opt = torch.optim.SGD(ref.parameters(), lr=0.3, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(5)
    n = len(train_data.y)
    for _ in range(2):
        order = torch.randperm(n, generator=gen)
        for i in range(0, n, 64):
            idx = order[i : i + 64]
            loss = F.cross_entropy(ref(train_data.x[idx].float() / 255), train_data.y[idx])
            opt.zero_grad()
            loss.backward()
            with torch.no_grad():
                for name, mask in (masks or {}).items():
                    params[name].grad.mul_(mask)
                opt.step()
                for name, mask in (masks or {}).items():
                    params[name].mul_(mask)


@pytest.mark.parametrize("weight_decay", [0.0, 1e-3])
def test_training_equals_the_plain_loop_with_torch_prune_masks(small_data, weight_decay):
    """``train`` against an independent implementation: nn.Sequential with the mask applied by
    torch.nn.utils.prune (weight = weight_orig * mask at every forward), a batch indexed out of
    the set at every step, torch's SGD. The same seed's order; the same weights, bit for bit."""
    import torch.nn.utils.prune as prune
    from torch import nn

    train_data, test_data = small_data
    model = build_model("sigmoid", "default", 4)
    ref = nn.Sequential(
        nn.Linear(784, 100), nn.Sigmoid(), nn.Linear(100, 50), nn.Sigmoid(), nn.Linear(50, 10)
    )
    ref.load_state_dict(
        {
            f"{2 * i}.{k}": v
            for i, layer in enumerate(("fc1", "fc2", "fc3"))
            for k, v in getattr(model, layer).state_dict().items()
        }
    )
    mask = _mask(2)
    prune.custom_from_mask(ref[0], "weight", mask)
    train(
        model,
        train_data,
        test_data,
        epochs=2,
        lr=0.3,
        batch_size=64,
        seed=5,
        masks={"fc1.weight": mask},
        weight_decay=weight_decay,
    )
    _torch_sgd(ref, train_data, weight_decay=weight_decay)
    prune.remove(ref[0], "weight")  # weight = weight_orig * mask, as of the last step
    assert torch.equal(model.fc1.weight.detach(), ref[0].weight.detach())
    for layer, i in (("fc2", 2), ("fc3", 4)):
        assert torch.equal(getattr(model, layer).weight.detach(), ref[i].weight.detach())
        assert torch.equal(getattr(model, layer).bias.detach(), ref[i].bias.detach())


@pytest.mark.parametrize("activation", ["sigmoid", "relu", "tanh"])
@pytest.mark.parametrize("sizes", [(784, 100, 50, 10), (784, 30, 10), (784, 40, 30, 20, 10)])
def test_training_equals_autograd_for_every_activation_and_depth(small_data, activation, sizes):
    """``train`` takes each step's gradients by hand (``backprop``); here autograd takes them: the
    module's forward, ``F.cross_entropy(...).backward()``, torch's SGD with weight decay, masks
    on two layers, a last batch of another size (1000 = 15 x 64 + 40). The same weights, bit
    for bit."""

    from regionprune.core.model import MLP

    train_data, test_data = small_data
    torch.manual_seed(3)
    model, ref = MLP(sizes, activation), MLP(sizes, activation)
    ref.load_state_dict(model.state_dict())
    g = torch.Generator().manual_seed(1)
    masks = {
        name: (torch.rand(p.shape, generator=g) > 0.5).float()
        for name, p in model.named_parameters()
        if name in ("fc1.weight", "fc2.weight")
    }
    train(
        model, *small_data, epochs=2, lr=0.3, batch_size=64, seed=5, masks=masks, weight_decay=1e-3
    )
    params = dict(ref.named_parameters())
    with torch.no_grad():
        for name, mask in masks.items():
            params[name].mul_(mask)
    _torch_sgd(ref, train_data, weight_decay=1e-3, masks=masks)
    for name, p in model.named_parameters():
        assert torch.equal(p.detach(), params[name].detach()), name


def test_a_network_pruned_by_torch_trains_through_its_hooks(small_data):
    """A network with torch.nn.utils.prune's reparametrisation (``weight_orig`` and a forward
    hook: docs/api.md's example) is trained by autograd through its module; the result equals
    the plain network trained with the same mask."""
    import torch.nn.utils.prune as prune

    hooked, plain = build_model("tanh", "default", 2), build_model("tanh", "default", 2)
    mask = _mask(4)
    prune.custom_from_mask(hooked.fc1, "weight", mask)
    train(hooked, *small_data, epochs=1, lr=0.3, batch_size=100, seed=6)
    train(plain, *small_data, epochs=1, lr=0.3, batch_size=100, seed=6, masks={W1: mask})
    prune.remove(hooked.fc1, "weight")
    for name, p in plain.named_parameters():
        assert torch.equal(p.detach(), dict(hooked.named_parameters())[name].detach()), name


def test_every_activation_has_its_derivative():
    from regionprune.core.network import ACTIVATIONS
    from regionprune.core.training import ACTIVATION_GRADS

    assert set(ACTIVATION_GRADS) == set(ACTIVATIONS)


def test_unknown_mask_name_is_an_error(small_data):
    with pytest.raises(KeyError, match="fc9.weight"):
        train(
            build_model("relu", "default", 0),
            *small_data,
            epochs=1,
            lr=0.1,
            batch_size=100,
            seed=0,
            masks={"fc9.weight": _mask(0)},
        )


def test_same_seed_same_weights_and_metrics(small_data):
    runs = []
    for _ in range(2):
        model = build_model("relu", "kaiming_uniform", 7)
        rec = train(
            model,
            *small_data,
            epochs=2,
            lr=0.1,
            batch_size=50,
            seed=11,
            masks={"fc1.weight": _mask(2)},
        )
        runs.append((params_to_numpy(model), [(r["train_loss"], r["test_acc"]) for r in rec]))
    (p1, m1), (p2, m2) = runs
    assert m1 == m2
    for k in p1:
        np.testing.assert_array_equal(p1[k], p2[k])


def test_different_seed_different_order(small_data):
    a = build_model("sigmoid", "default", 0)
    b = build_model("sigmoid", "default", 0)
    train(a, *small_data, epochs=1, lr=0.1, batch_size=100, seed=stream_seed(0, 1))
    train(b, *small_data, epochs=1, lr=0.1, batch_size=100, seed=stream_seed(0, 2))
    assert not torch.equal(a.fc1.weight, b.fc1.weight)


@pytest.mark.parametrize("init", ["default", "xavier_uniform", "xavier_normal", "kaiming_normal"])
@pytest.mark.parametrize("activation", ["sigmoid", "relu", "tanh"])
def test_models_build_and_round_trip(init, activation):
    m = build_model(activation, init, 0)
    assert [tuple(p.shape) for p in m.parameters()] == [
        (100, 784),
        (100,),
        (50, 100),
        (50,),
        (10, 50),
        (10,),
    ]
    params = params_to_numpy(m)
    m2 = build_model(activation, "default", 1)
    load_params(m2, params)
    x = torch.rand(4, 784)
    assert torch.equal(m(x), m2(x))


def test_evaluate_counts_correct(small_data):
    _, test_data = small_data
    model = build_model("sigmoid", "default", 0)
    acc, loss = evaluate(model, test_data, batch_size=128)
    pred = model(as_float(test_data.x)).argmax(1)
    assert acc == pytest.approx(float((pred == test_data.y).float().mean()))
    assert loss > 0


def test_final_scores_are_an_evaluation_of_the_trained_weights(small_data):
    """The checkpoints' test accuracy and loss come from the last epoch's evaluation: the same
    numbers as evaluating the trained network again; evaluated when no epoch ran."""
    from regionprune.core.training import Lockstep, evaluate_lockstep, final_scores, train_lockstep

    def never() -> tuple[float, float]:
        raise AssertionError("evaluated again although an epoch ran")

    model = build_model("sigmoid", "default", 0)
    records = train(model, *small_data, epochs=2, lr=0.5, batch_size=100, seed=3)
    assert final_scores(records, never) == evaluate(model, small_data[1])
    assert final_scores([], lambda: (0.5, 1.5)) == (0.5, 1.5)
    stack = Lockstep([build_model("sigmoid", "default", i) for i in range(2)], torch.device("cpu"))
    per_model = train_lockstep(stack, *small_data, epochs=2, lr=0.5, batch_size=100, seeds=[3, 3])
    assert [final_scores(r, never) for r in per_model] == evaluate_lockstep(stack, small_data[1])


def test_lockstep_equals_separate_training(small_data):
    from regionprune.core.training import Lockstep, evaluate_lockstep, train_lockstep

    seeds = [5, 6, 7]
    masks = [{"fc1.weight": _mask(s)} for s in seeds]
    separate = []
    for i, s in enumerate(seeds):
        model = build_model("sigmoid", "default", i)
        rec = train(model, *small_data, epochs=2, lr=0.5, batch_size=100, seed=s, masks=masks[i])
        separate.append((params_to_numpy(model), rec))
    stack = Lockstep([build_model("sigmoid", "default", i) for i in range(3)], torch.device("cpu"))
    records = train_lockstep(
        stack, *small_data, epochs=2, lr=0.5, batch_size=100, seeds=seeds, masks=masks
    )
    for (params, rec), lock_params, lock_rec, mask in zip(
        separate, stack.state_dicts(), records, masks
    ):
        for k in params:  # float rounding only: bmm sums in another order than addmm
            np.testing.assert_allclose(lock_params[k], params[k], atol=2e-5, rtol=0)
        assert (lock_params["fc1.weight"][mask["fc1.weight"].numpy() == 0] == 0).all()
        for a, b in zip(lock_rec, rec):
            assert a["train_loss"] == pytest.approx(b["train_loss"], abs=1e-5)
            assert abs(a["test_acc"] - b["test_acc"]) <= 2 / 500  # at most 2 test images flip
    accs = [acc for acc, _ in evaluate_lockstep(stack, small_data[1])]
    assert accs == [r[-1]["test_acc"] for r in records]


def test_weight_decay_shrinks_weights_without_gradient_and_keeps_masked_ones_at_zero(small_data):
    """A blank pixel's weights get no gradient: SGD's L2 term alone scales them by (1 - lr*wd)
    per step. Masked weights stay exactly zero."""
    train_data, test_data = small_data
    blank = (train_data.x == 0).all(dim=0)
    assert blank.sum() > 0
    model = build_model("sigmoid", "default", 0)
    w0 = model.fc1.weight.detach().clone()
    mask = _mask(2)
    lr, wd, steps = 0.1, 0.01, len(train_data.y) // 100
    train(
        model,
        train_data,
        test_data,
        epochs=1,
        lr=lr,
        batch_size=100,
        seed=0,
        masks={"fc1.weight": mask},
        weight_decay=wd,
    )
    w = model.fc1.weight.detach()
    keep = (mask == 1) & blank[None, :]
    torch.testing.assert_close(w[keep], w0[keep] * (1 - lr * wd) ** steps, rtol=1e-5, atol=1e-7)
    assert (w[mask == 0] == 0).all()


def test_numpy_and_torch_scale_pixels_alike():
    from regionprune.io.data import unit_pixels

    pixels = np.arange(256, dtype=np.uint8).reshape(2, 128)
    np.testing.assert_array_equal(unit_pixels(pixels), as_float(torch.from_numpy(pixels)).numpy())
    assert unit_pixels(pixels).dtype == np.float32 and unit_pixels(pixels).max() == 1.0


def test_determinism_prepares_cublas_before_cuda_starts():
    """On CUDA, deterministic algorithms need CUBLAS_WORKSPACE_CONFIG set before CUDA starts;
    the training jobs call set_determinism first, so the environment must hold it after."""
    import subprocess
    import sys

    code = (
        "import os, torch\n"
        "os.environ.pop('CUBLAS_WORKSPACE_CONFIG', None)\n"
        "from regionprune.core import training\n"
        "training.set_determinism(1)\n"
        "assert torch.are_deterministic_algorithms_enabled()\n"
        "assert not torch.cuda.is_initialized()\n"
        "import sys\n"  # nor does it import the compiler's stack (1.5 s), which it never uses
        "assert 'torch._inductor' not in sys.modules, 'torch._inductor imported'\n"
        "print(os.environ['CUBLAS_WORKSPACE_CONFIG'])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "CUBLAS_WORKSPACE_CONFIG"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() in (":4096:8", ":16:8")


def test_thread_count_changes_only_the_last_float_digits(small_data):
    """1 and 2 torch threads split the float sums differently, so weights may differ in their
    last digits (measured: up to ~1e-6 after a 15-epoch baseline); each checkpoint records its
    thread count, and train_threads is a rule parameter so that a change reruns the jobs. This
    bounds the difference and checks that the same count repeats exactly."""
    results = {}
    for threads in (1, 2, 2):
        set_determinism(threads)
        model = build_model("sigmoid", "default", 5)
        train(model, *small_data, epochs=2, lr=0.5, batch_size=10, seed=9)
        results.setdefault(threads, []).append(params_to_numpy(model))
    set_determinism(1)
    for k, w in results[2][0].items():
        np.testing.assert_array_equal(results[2][1][k], w)  # same count: bit-identical
        np.testing.assert_allclose(results[1][0][k], w, rtol=0, atol=1e-5)


def test_the_exact_stack_of_bench_stack_equals_separate_training(small_data):
    """bench/stack.py's stack (layer 1 one wide product, the rest per network) gives separate
    training's weights bit for bit: the claim docs/benchmark.md makes for runs of one seed."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[1] / "bench" / "stack.py"
    spec = importlib.util.spec_from_file_location("bench_stack", path)
    stack = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stack)
    train_data, test_data = small_data
    masks = [_mask(s) for s in range(1, 10)]  # nine: a wider sum would round differently
    models = [build_model("sigmoid", "default", s) for s in range(9)]
    inits = [{k: v.detach().clone() for k, v in m.state_dict().items()} for m in models]
    got = stack.exact_stack(inits, masks, train_data, "sigmoid")
    for model, mask, params in zip(models, masks, got):
        train(
            model,
            train_data,
            test_data,
            epochs=1,
            lr=stack.LR,
            batch_size=stack.BATCH,
            seed=stack.SEED,
            masks={"fc1.weight": mask},
        )
        for k, v in params_to_numpy(model).items():
            np.testing.assert_array_equal(params[k], v, err_msg=k)
