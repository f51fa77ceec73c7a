"""End-to-end training on the device: an MLP on gaussian blobs and a small CNN, with npx ops,
softmax cross-entropy written as -pick(log_softmax(x), label), and plain SGD."""
import numpy as onp

from clgrad import autograd, np, npx


def _blobs(n_per_class=100, seed=0):
    """Six gaussian blobs on a circle, opposite blobs in the same class: 3 classes that no
    linear classifier separates, but a hidden layer does."""
    rng = onp.random.default_rng(seed)
    ang = onp.deg2rad(onp.arange(6) * 60.0)
    centers = 3.0 * onp.stack([onp.cos(ang), onp.sin(ang)], 1)
    y = onp.repeat(onp.arange(3), n_per_class)
    side = rng.integers(0, 2, size=y.size)
    x = centers[y + 3 * side] + 0.5 * rng.standard_normal((y.size, 2))
    return x.astype(onp.float32), y.astype(onp.int64)


def _sgd(params, lr):
    for p in params:
        p -= lr * p.grad


def _cross_entropy(logits, label):
    return -npx.pick(npx.log_softmax(logits), label).mean()


def test_mlp_learns_gaussian_blobs():
    xh, yh = _blobs()
    x, y = np.array(xh), np.array(yh)
    np.random.seed(42)
    w1 = np.random.normal(0, 0.5, size=(32, 2))
    b1 = np.zeros(32)
    w2 = np.random.normal(0, 0.3, size=(3, 32))
    b2 = np.zeros(3)
    params = [w1, b1, w2, b2]
    for p in params:
        p.attach_grad()

    def forward(inp):
        h = npx.relu(npx.fully_connected(inp, w1, b1, num_hidden=32))
        return npx.fully_connected(h, w2, b2, num_hidden=3)

    def accuracy():
        return (np.argmax(forward(x), axis=1) == y).astype("float32").mean().item()

    before = accuracy()
    losses = []
    for _ in range(80):
        with autograd.record():
            loss = _cross_entropy(forward(x), y)
        loss.backward()
        _sgd(params, 0.2)
        losses.append(loss)
    after = accuracy()
    assert before < 0.6, f"accuracy before training {before}"
    assert after > 0.95, f"accuracy {after}"
    first, last = losses[0].item(), losses[-1].item()
    assert last < 0.3 * first, f"loss went from {first} to {last}"


def _bars(n, seed=1):
    """8x8 images: class 0 has a vertical bar, class 1 a horizontal one, plus noise."""
    rng = onp.random.default_rng(seed)
    x = 0.3 * rng.standard_normal((n, 1, 8, 8))
    y = rng.integers(0, 2, size=n)
    pos = rng.integers(1, 7, size=n)
    for i in range(n):
        if y[i] == 0:
            x[i, 0, :, pos[i]] += 1.5
        else:
            x[i, 0, pos[i], :] += 1.5
    return x.astype(onp.float32), y.astype(onp.int64)


def test_small_cnn_loss_falls():
    xh, yh = _bars(32)
    x, y = np.array(xh), np.array(yh)
    np.random.seed(7)
    wc = np.random.normal(0, 0.4, size=(4, 1, 3, 3))
    bc = np.zeros(4)
    wd = np.random.normal(0, 0.2, size=(2, 4 * 3 * 3))
    bd = np.zeros(2)
    params = [wc, bc, wd, bd]
    for p in params:
        p.attach_grad()
    losses = []
    for _ in range(8):
        with autograd.record():
            h = npx.convolution(x, wc, bc, kernel=(3, 3), num_filter=4)       # (32, 4, 6, 6)
            h = npx.pooling(npx.relu(h), kernel=(2, 2), stride=(2, 2))       # (32, 4, 3, 3)
            logits = npx.fully_connected(h, wd, bd, num_hidden=2)
            loss = _cross_entropy(logits, y)
        loss.backward()
        _sgd(params, 0.3)
        losses.append(loss.item())
    assert all(onp.isfinite(losses))
    assert losses[-1] < 0.8 * losses[0], f"losses {losses}"
    assert sum(b < a for a, b in zip(losses, losses[1:])) >= 5, f"losses {losses}"
    for p in params:
        assert onp.isfinite(p.grad.asnumpy()).all()
