"""Finite-difference checks of clgrad gradients, in float64 on the device."""
import numpy as onp

from clgrad import autograd, np


def numeric_grad(f, xs, i, eps=1e-6):
    """Central differences of sum(f(*xs) * w) with respect to xs[i] (host float64 arrays)."""
    x = xs[i]
    g = onp.zeros_like(x, dtype=onp.float64)
    flat = x.reshape(-1)
    gf = g.reshape(-1)
    for k in range(flat.size):
        old = flat[k]
        flat[k] = old + eps
        hi = f(*xs)
        flat[k] = old - eps
        lo = f(*xs)
        flat[k] = old
        gf[k] = (hi - lo) / (2 * eps)
    return g


def check_grad(fn, *inputs, weight_seed=0, rtol=1e-5, atol=1e-6, eps=1e-6):
    """Compare autograd's gradient of sum(fn(*inputs) * w) with central differences.

    ``inputs`` are NumPy arrays (converted to float64 device arrays); ``w`` is a fixed random
    weight so that every output element matters. Returns the analytic gradients.
    """
    host = [onp.array(x, dtype=onp.float64) for x in inputs]
    rng = onp.random.default_rng(weight_seed)
    out_shape = onp.shape(fn(*[np.array(h) for h in host]).asnumpy())
    w = rng.uniform(0.5, 1.5, size=out_shape)

    def scalar(*hs):
        return float((fn(*[np.array(h) for h in hs]).asnumpy().astype(onp.float64) * w).sum())

    dev = [np.array(h) for h in host]
    for d in dev:
        d.attach_grad()
    with autograd.record():
        out = fn(*dev)
    out.backward(np.array(w))
    grads = [d.grad.asnumpy() for d in dev]
    for i, g in enumerate(grads):
        num = numeric_grad(scalar, host, i, eps)
        onp.testing.assert_allclose(g, num, rtol=rtol, atol=atol,
                                    err_msg=f"gradient of input {i} differs from finite differences")
    return grads
