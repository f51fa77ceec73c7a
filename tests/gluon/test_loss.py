"""gluon.loss against NumPy references written here, in float32 and float64; gradients against
central differences in float64; and the errors bad shapes and options get."""
import itertools

import numpy as onp
import pytest

from clgrad import MXNetError, ShapeError, autograd, np
from clgrad.gluon import loss as gloss
from gradcheck import check_grad

W = 1.5     # the scalar weight every case uses


# --- NumPy references --------------------------------------------------------------------
def per_sample(loss, batch_axis=0):
    axes = tuple(a for a in range(loss.ndim) if a != batch_axis)
    return loss.mean(axis=axes) if axes else loss


def softplus(x):
    return onp.logaddexp(0, x)


def log_softmax(x, axis=-1):
    m = x.max(axis=axis, keepdims=True)
    return x - m - onp.log(onp.exp(x - m).sum(axis=axis, keepdims=True))


def sigmoid(x):
    return 1 / (1 + onp.exp(-x))


def bce_logits(x, z, pw=1.0):
    return -(pw * z * onp.log(sigmoid(x)) + (1 - z) * onp.log(1 - sigmoid(x)))


def bce_probs(p, z, pw=1.0):
    return -(pw * z * onp.log(p + 1e-12) + (1 - z) * onp.log(1 - p + 1e-12))


def pick_last(logp, idx):
    return onp.take_along_axis(logp, idx[..., None].astype(int), axis=-1)


def stirling(t):
    safe = onp.where(t > 1, t, 1.0)
    return onp.where(t > 1, safe * onp.log(safe) - safe + 0.5 * onp.log(2 * onp.pi * safe), 0)


def cosine(x, y):
    dot = (x * y).sum(-1)
    return (dot / onp.maximum(onp.linalg.norm(x, axis=-1) * onp.linalg.norm(y, axis=-1),
                              1e-12))[:, None]


# --- cases: (id, loss, inputs(rng), reference(*inputs) before weighting, sample_weight shape,
#             indices of the inputs whose gradient is checked) --------------------------------
rng0 = onp.random.default_rng(0)


def rand(rng, *shape, lo=-2.0, hi=2.0):
    return rng.uniform(lo, hi, size=shape)


def signs(rng, *shape):
    return rng.choice([-1.0, 1.0], size=shape)


def dist(rng, *shape):
    e = onp.exp(rng.normal(size=shape))
    return e / e.sum(-1, keepdims=True)


def away_from(rng, values, *shape, gap=0.1):
    """Uniform values kept ``gap`` away from the kinks in ``values`` (for finite differences)."""
    x = rand(rng, *shape)
    for v in values:
        near = onp.abs(x - v) < gap
        x[near] = v + onp.where(x[near] >= v, gap, -gap)
    return x


CASES = [
    ("L2", lambda: gloss.L2Loss(weight=W),
     lambda r: [rand(r, 4, 3), rand(r, 12)],
     lambda p, l: 0.5 * (p - l.reshape(p.shape)) ** 2, (4, 1), (0, 1)),
    ("L1", lambda: gloss.L1Loss(weight=W),
     lambda r: [rand(r, 4, 3), rand(r, 4, 3) + 5],
     lambda p, l: onp.abs(p - l), (4, 1), (0, 1)),
    ("BCE-logits", lambda: gloss.SigmoidBCELoss(weight=W),
     lambda r: [away_from(r, [0], 4, 3), r.uniform(size=(4, 3))],
     bce_logits, (4, 1), (0, 1)),
    ("BCE-probs", lambda: gloss.SigmoidBinaryCrossEntropyLoss(from_sigmoid=True, weight=W),
     lambda r: [r.uniform(0.05, 0.95, (4, 3)), r.uniform(size=(4, 3))],
     bce_probs, (4, 1), (0, 1)),
    ("SoftmaxCE-sparse", lambda: gloss.SoftmaxCrossEntropyLoss(weight=W),
     lambda r: [rand(r, 4, 5), r.integers(0, 5, 4).astype(onp.float64)],
     lambda p, l: -pick_last(log_softmax(p), l), (4, 1), (0,)),
    ("SoftmaxCE-dense", lambda: gloss.SoftmaxCELoss(sparse_label=False, weight=W),
     lambda r: [rand(r, 4, 5), dist(r, 4, 5)],
     lambda p, l: -(log_softmax(p) * l).sum(-1, keepdims=True), (4, 1), (0, 1)),
    ("SoftmaxCE-axis1-logits", lambda: gloss.SoftmaxCELoss(axis=1, from_logits=True, weight=W),
     lambda r: [rand(r, 2, 4, 3), r.integers(0, 4, (2, 3)).astype(onp.float64)],
     lambda p, l: -onp.take_along_axis(p, l[:, None, :].astype(int), axis=1), (2, 1, 1), (0,)),
    ("KLDiv-logits", lambda: gloss.KLDivLoss(weight=W),
     lambda r: [log_softmax(rand(r, 4, 5)), dist(r, 4, 5)],
     lambda p, l: l * (onp.log(l + 1e-12) - p), (4, 1), (0, 1)),
    ("KLDiv-scores", lambda: gloss.KLDivLoss(from_logits=False, weight=W),
     lambda r: [rand(r, 4, 5), dist(r, 4, 5)],
     lambda p, l: l * (onp.log(l + 1e-12) - log_softmax(p)), (4, 1), (0, 1)),
    ("Huber", lambda: gloss.HuberLoss(rho=0.7, weight=W),
     lambda r: [away_from(r, [-0.7, 0, 0.7], 4, 3), onp.zeros((4, 3))],
     lambda p, l: onp.where(onp.abs(p - l) > 0.7, onp.abs(p - l) - 0.35,
                            0.5 / 0.7 * (p - l) ** 2), (4, 1), (0,)),
    ("Hinge", lambda: gloss.HingeLoss(margin=1.2, weight=W),
     lambda r: [away_from(r, [-1.2, 1.2], 4, 3), signs(r, 4, 3)],
     lambda p, l: onp.maximum(0, 1.2 - p * l), (4, 1), (0,)),
    ("SquaredHinge", lambda: gloss.SquaredHingeLoss(weight=W),
     lambda r: [away_from(r, [-1, 1], 4, 3), signs(r, 4, 3)],
     lambda p, l: onp.maximum(0, 1 - p * l) ** 2, (4, 1), (0,)),
    ("Logistic-signed", lambda: gloss.LogisticLoss(weight=W),
     lambda r: [away_from(r, [0], 4, 3), signs(r, 4, 3)],
     lambda p, l: onp.log1p(onp.exp(-p * l)), (4, 1), (0,)),
    ("Logistic-binary", lambda: gloss.LogisticLoss(weight=W, label_format="binary"),
     lambda r: [away_from(r, [0], 4, 3), (signs(r, 4, 3) + 1) / 2],
     lambda p, l: onp.log1p(onp.exp(-p * (2 * l - 1))), (4, 1), (0,)),
    ("Poisson-logits", lambda: gloss.PoissonNLLLoss(weight=W),
     lambda r: [rand(r, 4, 3, lo=-1, hi=1), r.integers(0, 6, (4, 3)).astype(onp.float64)],
     lambda p, t: onp.exp(p) - t * p, (4, 1), (0, 1)),
    ("Poisson-rates-full", lambda: gloss.PoissonNLLLoss(weight=W, from_logits=False,
                                                        compute_full=True),
     lambda r: [r.uniform(0.5, 3, (4, 3)), onp.array([[0, 1, 2], [5, 3, 0], [1, 1, 7], [2, 0, 4]],
                                                     dtype=onp.float64)],
     lambda p, t: p - t * onp.log(p + 1e-8) + stirling(t), (4, 1), (0,)),
]


def _device(x, dtype):
    return np.array(onp.asarray(x, dtype=dtype))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_forward_matches_numpy(case, dtype):
    _, make, inputs, ref, sw_shape, _ = case
    rng = onp.random.default_rng(1)
    host = inputs(rng)
    sw = rng.uniform(0.5, 2.0, sw_shape)
    out = make()(*[_device(h, dtype) for h in host], _device(sw, dtype))
    assert out.dtype == onp.dtype(dtype)
    want = per_sample(W * sw * ref(*host))
    tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == "float32" else {"rtol": 1e-10, "atol": 1e-12}
    onp.testing.assert_allclose(out.asnumpy(), want, **tol)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_gradients_match_finite_differences(case):
    _, make, inputs, _, sw_shape, wrt = case
    rng = onp.random.default_rng(2)
    host = inputs(rng)
    sw = np.array(rng.uniform(0.5, 2.0, sw_shape))
    loss = make()

    def fn(*varied):
        args = [np.array(h) for h in host]
        for i, v in zip(wrt, varied):
            args[i] = v
        return loss(*args, sw)

    check_grad(fn, *[host[i] for i in wrt])


# --- losses with other signatures ------------------------------------------------------------
def test_bce_pos_weight_from_logits_and_from_sigmoid():
    rng = onp.random.default_rng(3)
    x, z = away_from(rng, [0], 4, 3), rng.uniform(size=(4, 3))
    pw = onp.array([[0.5, 2.0, 3.0]])
    out = gloss.SigmoidBCELoss()(np.array(x), np.array(z), None, np.array(pw))
    onp.testing.assert_allclose(out.asnumpy(), per_sample(bce_logits(x, z, pw)), rtol=1e-10)
    p = sigmoid(x)
    out = gloss.SigmoidBCELoss(from_sigmoid=True)(np.array(p), np.array(z),
                                                  pos_weight=np.array(pw))
    onp.testing.assert_allclose(out.asnumpy(), per_sample(bce_probs(p, z, pw)), rtol=1e-10)
    check_grad(lambda a: gloss.SigmoidBCELoss()(a, np.array(z), pos_weight=np.array(pw)), x)
    check_grad(lambda a: gloss.SigmoidBCELoss(from_sigmoid=True)(
        a, np.array(z), pos_weight=np.array(pw)), p)


def test_bce_from_logits_is_stable_for_large_logits():
    x = np.array([[100.0, -100.0, 30.0]], dtype="float32")
    z = np.array([[0.0, 1.0, 1.0]], dtype="float32")
    out = gloss.SigmoidBCELoss()(x, z).asnumpy()
    onp.testing.assert_allclose(out, [(100 + 100 + softplus(-30.0)) / 3], rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_triplet(dtype):
    rng = onp.random.default_rng(4)
    pred, pos, neg = rand(rng, 4, 3), rand(rng, 4, 3), rand(rng, 12)
    sw = rng.uniform(0.5, 2, 4)
    loss = gloss.TripletLoss(margin=0.5, weight=W)
    out = loss(*[_device(a, dtype) for a in (pred, pos, neg, sw)])
    gap = ((pos - pred) ** 2).sum(1) - ((neg.reshape(4, 3) - pred) ** 2).sum(1)
    tol = 1e-5 if dtype == "float32" else 1e-12
    onp.testing.assert_allclose(out.asnumpy(), W * sw * onp.maximum(gap + 0.5, 0), rtol=tol)
    # keep every sample away from the hinge at gap == -margin
    pos = pred + 0.1 * (pos - pred)
    check_grad(lambda a, b, c: loss(a, b, c), pred, pos, neg.reshape(4, 3))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cosine_embedding(dtype):
    rng = onp.random.default_rng(5)
    x1, x2 = rand(rng, 5, 4), rand(rng, 5, 4)
    label = onp.array([1, -1, 1, -1, -1], dtype=onp.float64)
    sw = rng.uniform(0.5, 2, (5, 1))
    loss = gloss.CosineEmbeddingLoss(margin=0.1, weight=W)
    out = loss(*[_device(a, dtype) for a in (x1, x2, label, sw)])
    cos = cosine(x1, x2)
    want = onp.where(label[:, None] == 1, 1 - cos, onp.clip(cos - 0.1, 0, 0.9))
    tol = 1e-5 if dtype == "float32" else 1e-12
    onp.testing.assert_allclose(out.asnumpy(), (W * sw * want)[:, 0], rtol=tol, atol=tol)
    # a dissimilar pair under the margin contributes nothing (and gets no gradient)
    x2[1] = -x1[1]
    check_grad(lambda a, b: loss(a, b, np.array(label)), x1, x2)


def ctc_brute_force(logits, label):
    """-log of the summed probability of every path over (T, C) logits that collapses (merge
    repeats, drop the blank C - 1) to ``label``."""
    steps, classes = logits.shape
    p = onp.exp(log_softmax(logits))
    total = 0.0
    for path in itertools.product(range(classes), repeat=steps):
        spelled = [k for i, k in enumerate(path)
                   if k != classes - 1 and (i == 0 or k != path[i - 1])]
        if spelled == list(label):
            total += onp.prod(p[onp.arange(steps), list(path)])
    return -onp.log(total)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_ctc_matches_brute_force(dtype):
    rng = onp.random.default_rng(8)
    x = rng.normal(size=(3, 5, 4))                      # N, T, C (blank = 3)
    labels = onp.array([[1, 0, -1], [2, 2, -1], [0, 1, 2]])
    sw = rng.uniform(0.5, 2, 3)
    tol = 1e-5 if dtype == "float32" else 1e-10
    out = gloss.CTCLoss(weight=W)(_device(x, dtype), np.array(labels), None, None,
                                  _device(sw, dtype))
    assert out.dtype == onp.dtype(dtype)
    want = [ctc_brute_force(x[n], [v for v in labels[n] if v >= 0]) for n in range(3)]
    onp.testing.assert_allclose(out.asnumpy(), W * sw * onp.array(want), rtol=tol)
    # explicit lengths, and the time-major layouts
    out = gloss.CTCLoss(layout="TNC", label_layout="TN")(
        _device(x.transpose(1, 0, 2), dtype), np.array(labels.T),
        pred_lengths=np.array([4, 5, 5]), label_lengths=np.array([1, 2, 3]))
    want = [ctc_brute_force(x[0, :4], [1]), ctc_brute_force(x[1], [2, 2]),
            ctc_brute_force(x[2], [0, 1, 2])]
    onp.testing.assert_allclose(out.asnumpy(), want, rtol=tol)


def test_ctc_gradients_and_impossible_labels():
    rng = onp.random.default_rng(9)
    x = rng.normal(size=(2, 4, 3))
    labels = np.array([[0, 1], [1, -1]])
    check_grad(lambda a: gloss.CTCLoss()(a, labels), x)
    check_grad(lambda a: gloss.CTCLoss()(a, labels, np.array([3, 4])), x)
    # [1, 1] needs three steps (a blank between the repeats); two cannot spell it
    out = gloss.CTCLoss()(np.array(x[:, :2]), np.array([[1, 1], [0, -1]])).asnumpy()
    assert out[0] >= 1e29 and onp.isfinite(out).all()
    assert out[1] == pytest.approx(ctc_brute_force(x[1, :2], [0]), rel=1e-10)


def test_batch_axis_one():
    rng = onp.random.default_rng(6)
    pred, label = rand(rng, 3, 4), rand(rng, 3, 4)
    sw = rng.uniform(0.5, 2, (1, 4))
    out = gloss.L2Loss(batch_axis=1)(np.array(pred), np.array(label), np.array(sw))
    assert out.shape == (4,)
    onp.testing.assert_allclose(out.asnumpy(), per_sample(0.5 * sw * (pred - label) ** 2, 1),
                                rtol=1e-12)
    logits, idx = rand(rng, 5, 2, 3), rng.integers(0, 3, (5, 2))
    out = gloss.SoftmaxCELoss(batch_axis=1)(np.array(logits), np.array(idx))
    assert out.shape == (2,)
    onp.testing.assert_allclose(out.asnumpy(), per_sample(-pick_last(log_softmax(logits), idx), 1),
                                rtol=1e-12)


def test_defaults_and_block_behaviour():
    rng = onp.random.default_rng(7)
    pred, label = rand(rng, 3, 2), rand(rng, 3, 2)
    # L2Loss's default weight 1 still halves the square; one value per sample
    out = gloss.L2Loss()(np.array(pred), np.array(label))
    assert out.shape == (3,)
    onp.testing.assert_allclose(out.asnumpy(), (0.5 * (pred - label) ** 2).mean(1), rtol=1e-12)
    assert gloss.SigmoidBCELoss is gloss.SigmoidBinaryCrossEntropyLoss
    assert gloss.SoftmaxCELoss is gloss.SoftmaxCrossEntropyLoss
    assert isinstance(gloss.L1Loss(), gloss.Loss)
    assert repr(gloss.L1Loss(weight=2.0, batch_axis=1)) == "L1Loss(batch_axis=1, w=2.0)"
    # a 1-d prediction is already one value per sample
    assert gloss.L1Loss()(np.array([1.0, -2.0]), np.array([0.0, 0.0])).asnumpy().tolist() \
        == [1.0, 2.0]
    # integer class labels are accepted as they are
    logits = np.array(rand(rng, 3, 4))
    a = gloss.SoftmaxCELoss()(logits, np.array([0, 3, 1], dtype="int32")).asnumpy()
    b = gloss.SoftmaxCELoss()(logits, np.array([0.0, 3.0, 1.0])).asnumpy()
    onp.testing.assert_array_equal(a, b)


def test_training_step_reaches_the_parameters():
    x = np.array([[1.0, 2.0], [3.0, -1.0]])
    w = np.array([[0.5], [-0.25]])
    w.attach_grad()
    with autograd.record():
        loss = gloss.L2Loss()(np.dot(x, w), np.array([1.0, 0.0]))
    loss.backward()
    resid = x @ w.asnumpy() - onp.array([[1.0], [0.0]])
    onp.testing.assert_allclose(w.grad.asnumpy(), x.asnumpy().T @ resid, rtol=1e-12)


# --- errors ----------------------------------------------------------------------------------
def _raises(kind, fn, *words):
    with pytest.raises(kind) as info:
        fn()
    assert isinstance(info.value, MXNetError)
    for w in words:
        assert w in str(info.value)


def test_mismatched_shapes_are_reported():
    p = np.zeros((4, 3))
    _raises(ShapeError, lambda: gloss.L2Loss()(p, np.zeros((4, 2))), "L2Loss", "label",
            "(4, 2)", "(4, 3)")
    _raises(ValueError, lambda: gloss.HingeLoss()(p, np.zeros(5)), "HingeLoss")
    _raises(ValueError, lambda: gloss.SoftmaxCELoss()(p, np.zeros(3)),
            "SoftmaxCrossEntropyLoss", "sparse label", "(4,)")
    _raises(ValueError, lambda: gloss.SoftmaxCELoss(sparse_label=False)(p, np.zeros(4)),
            "label")
    _raises(ValueError, lambda: gloss.TripletLoss()(p, p, np.zeros((4, 4))), "negative")
    _raises(ValueError, lambda: gloss.CosineEmbeddingLoss()(p, np.zeros((4, 2)), np.ones(4)),
            "input1")
    _raises(ValueError, lambda: gloss.CosineEmbeddingLoss()(p, p, np.ones(3)), "label")


def test_sample_weight_must_fit_the_loss():
    p = np.zeros((4, 3))
    _raises(ShapeError, lambda: gloss.L1Loss()(p, p, np.ones((3, 1))), "sample_weight", "(3, 1)")
    # (4,) against the (4, 1) loss of SoftmaxCE would broadcast to (4, 4): refused
    _raises(ShapeError, lambda: gloss.SoftmaxCELoss()(p, np.zeros(4), np.ones(4)),
            "sample_weight", "(4, 1)")


def test_ctc_bad_input_is_reported():
    x, labels = np.zeros((2, 4, 3)), np.array([[0, 1], [1, -1]])
    _raises(ValueError, lambda: gloss.CTCLoss(layout="NCT"), "layout", "NCT")
    _raises(ValueError, lambda: gloss.CTCLoss(label_layout="NN"), "label_layout")
    _raises(ShapeError, lambda: gloss.CTCLoss()(x, np.array([[0, 2], [1, -1]])), "blank")
    _raises(ShapeError, lambda: gloss.CTCLoss()(x, np.array([[0, 1]])), "1 sequences", "2")
    _raises(ShapeError, lambda: gloss.CTCLoss()(x, labels, np.array([4, 5])), "pred_lengths")
    _raises(ShapeError, lambda: gloss.CTCLoss()(x, labels, None, np.array([3, 1])),
            "label_lengths")
    _raises(ShapeError, lambda: gloss.CTCLoss()(x[0], labels), "3-d")


def test_bad_options_are_reported():
    _raises(ValueError, lambda: gloss.LogisticLoss(label_format="pm1"), "label_format", "pm1")
    _raises(gloss.LossArgumentError, lambda: gloss.L1Loss(weight="2"), "weight")
    _raises(ValueError, lambda: gloss.L1Loss(batch_axis=2)(np.zeros((2, 2)), np.zeros((2, 2))),
            "batch_axis 2")


def test_a_loss_with_one_value_per_sample_is_not_reduced_again():
    """A per-sample loss of shape (batch, 1) (SoftmaxCrossEntropyLoss's picked class) is its own
    mean over the size-1 axis: no reduction runs, forward or backward, and the values and
    gradients are the mean's."""
    from clgrad.ops.launch import launch_count
    rng = onp.random.default_rng(4)
    P, L = rng.standard_normal((6, 1)), rng.standard_normal((6, 1))
    loss_fn = gloss.L1Loss()
    counts = []
    for cols in (1, 2):
        pred = np.array(onp.repeat(P, cols, axis=1))
        pred.attach_grad()
        label = np.array(onp.repeat(L, cols, axis=1))
        before = launch_count()
        with autograd.record():
            out = loss_fn(pred, label)
        counts.append(launch_count() - before)
        out.backward()
        onp.testing.assert_allclose(out.asnumpy(), onp.abs(P - L)[:, 0], rtol=1e-6)
        onp.testing.assert_allclose(pred.grad.asnumpy(),
                                   onp.repeat(onp.sign(P - L) / cols, cols, 1), rtol=1e-6)
    assert counts[1] == counts[0] + 1       # only the (batch, 2) loss launches a mean
    out[0] = 5.0                            # the result is the loss's own array
    assert pred.asnumpy()[0, 0] == P[0, 0]


def test_a_per_sample_loss_of_zero_is_positive_zero_as_mxnet_gives():
    """MXNet averages each sample's loss over its axes, a sum that starts from +0.0, so a loss
    of exactly zero is +0.0; clgrad skips that mean where it would average one value, so the
    losses negate as ``0 - x`` (MXNet 1.9.1 prints [0. 0.6931472] for the first case)."""
    one = np.array([[1.0], [0.5]])
    cases = [
        (gloss.SigmoidBinaryCrossEntropyLoss(from_sigmoid=True), one, np.ones((2, 1))),
        (gloss.SoftmaxCrossEntropyLoss(from_logits=True),
         np.array([[0.0, -30.0], [-1.0, -0.5]]), np.array([0, 1])),
        (gloss.SoftmaxCrossEntropyLoss(from_logits=True, sparse_label=False),
         np.array([[0.0, -30.0], [-1.0, -0.5]]), np.array([[1.0, 0.0], [0.0, 1.0]])),
    ]
    for loss_fn, pred, label in cases:
        got = loss_fn(pred, label).asnumpy()
        assert got[0] == 0 and not onp.signbit(got[0]), (type(loss_fn).__name__, got)
        assert got[1] > 0
