"""np.random: reproducible Philox streams, statistics of 10**6 draws, choice / permutation /
shuffle. Statistical bounds are six standard errors wide: a correct sampler fails them with
probability below 1e-8 per check, a biased one (wrong range, scale or offset) fails them."""
import numpy as onp
import pytest

from clgrad import MXNetError, np

N = 10 ** 6


def bounded(value, expect, stderr, k=6.0):
    assert abs(value - expect) <= k * stderr, (value, expect, stderr)


def test_same_seed_same_stream_and_draws_advance():
    draws = []
    for _ in range(2):
        np.random.seed(1234)
        draws.append([np.random.uniform(size=50).asnumpy(), np.random.normal(size=(3, 5)).asnumpy(),
                      np.random.randint(0, 100, size=20).asnumpy(),
                      np.random.choice(10, 4, replace=False).asnumpy(),
                      np.random.permutation(9).asnumpy()])
    for x, y in zip(*draws):
        onp.testing.assert_array_equal(x, y)
    np.random.seed(1234)
    a = np.random.uniform(size=50).asnumpy()
    b = np.random.uniform(size=50).asnumpy()
    assert not onp.array_equal(a, b)
    np.random.seed(1235)
    assert not onp.array_equal(np.random.uniform(size=50).asnumpy(), a)


def test_uniform_statistics():
    np.random.seed(0)
    x = np.random.uniform(-1.0, 3.0, size=N).asnumpy().astype(onp.float64)
    assert x.min() >= -1.0 and x.max() < 3.0
    var = 16.0 / 12.0
    bounded(x.mean(), 1.0, onp.sqrt(var / N))
    bounded(x.var(), var, onp.sqrt((16.0 ** 2 / 80.0 - var ** 2) / N))   # E(x-m)^4 = w^4/80
    x64 = np.random.uniform(size=N, dtype="float64").asnumpy()
    assert x64.dtype == onp.float64
    bounded(x64.mean(), 0.5, onp.sqrt(1 / 12 / N))


def test_normal_statistics():
    np.random.seed(1)
    x = np.random.normal(2.0, 3.0, size=N).asnumpy().astype(onp.float64)
    bounded(x.mean(), 2.0, 3.0 / onp.sqrt(N))
    bounded(x.var(), 9.0, 9.0 * onp.sqrt(2.0 / N))
    z = (x - 2.0) / 3.0
    bounded(onp.mean(z ** 3), 0.0, onp.sqrt(15.0 / N))       # symmetric
    bounded(onp.mean(onp.abs(z) < 1.0), 0.6826894921370859, onp.sqrt(0.25 / N))


def test_randint_statistics():
    np.random.seed(2)
    x = np.random.randint(-3, 7, size=N).asnumpy()
    assert x.dtype == onp.int64 and x.min() == -3 and x.max() == 6
    var = (10 ** 2 - 1) / 12.0
    bounded(x.mean(), 1.5, onp.sqrt(var / N))
    bounded(x.var(), var, onp.sqrt((3 * 10 ** 4 / 80.0) / N))
    counts = onp.bincount(x + 3, minlength=10)
    for c in counts:
        bounded(c, N / 10, onp.sqrt(N * 0.1 * 0.9))


def test_randint_wide_range():
    np.random.seed(3)
    hi = 2 ** 40
    x = np.random.randint(0, hi, size=10 ** 5).asnumpy().astype(onp.float64)
    assert x.min() >= 0 and x.max() < hi
    assert (x > 2 ** 33).mean() > 0.9                 # the high bits are really drawn
    bounded(x.mean(), hi / 2, hi / onp.sqrt(12 * 10 ** 5))


def test_permutation_and_shuffle():
    np.random.seed(4)
    p = np.random.permutation(1000).asnumpy()
    assert p.dtype == onp.int64
    onp.testing.assert_array_equal(onp.sort(p), onp.arange(1000))
    assert not onp.array_equal(p, onp.arange(1000))
    rows = onp.arange(12, dtype=onp.float32).reshape(6, 2)
    q = np.random.permutation(np.array(rows)).asnumpy()
    onp.testing.assert_array_equal(onp.sort(q[:, 0]), rows[:, 0])
    onp.testing.assert_array_equal(q[:, 1] - q[:, 0], onp.ones(6))    # rows move whole
    assert np.random.permutation(0).shape == (0,)
    x = np.array(onp.arange(30, dtype=onp.int32).reshape(10, 3))
    before = x.asnumpy()
    np.random.shuffle(x)
    after = x.asnumpy()
    assert not onp.array_equal(before, after)
    onp.testing.assert_array_equal(after[onp.argsort(after[:, 0])], before)
    y = np.array([5.0])
    np.random.shuffle(y)
    assert y.asnumpy().tolist() == [5.0]
    with pytest.raises(ValueError):
        np.random.permutation(-1)
    with pytest.raises(TypeError):
        np.random.shuffle([1, 2, 3])


def test_permutation_is_uniform():
    np.random.seed(5)
    first = onp.array([int(np.random.permutation(4).asnumpy()[0]) for _ in range(400)])
    counts = onp.bincount(first, minlength=4)
    for c in counts:
        bounded(c, 100, onp.sqrt(400 * 0.25 * 0.75))


def test_choice_with_replacement():
    np.random.seed(6)
    p = onp.array([0.1, 0.0, 0.2, 0.3, 0.4])
    x = np.random.choice(5, size=(200, 500), p=p).asnumpy()
    assert x.shape == (200, 500) and x.dtype == onp.int64
    freq = onp.bincount(x.reshape(-1), minlength=5)
    n = x.size
    assert freq[1] == 0
    for f, q in zip(freq, p):
        bounded(f, n * q, onp.sqrt(n * q * (1 - q)) + 1e-9)
    u = np.random.choice(7, size=N).asnumpy()
    assert u.min() == 0 and u.max() == 6
    bounded(u.mean(), 3.0, onp.sqrt(4.0 / N))
    vals = np.array(onp.array([1.5, -2.0, 8.0], onp.float32))
    s = np.random.choice(vals, size=100).asnumpy()
    assert set(s.tolist()) <= {1.5, -2.0, 8.0} and s.dtype == onp.float32
    assert np.random.choice(3).shape == ()


_WEIGHTED_DRAWS = """
import json
from clgrad import np
np.random.seed(3)
print(json.dumps([np.random.multinomial(100, [.5, .5]).asnumpy().tolist(),
                  np.random.choice(5, size=40, p=[.1, 0, .3, .4, .2]).asnumpy().tolist(),
                  np.random.choice(9, size=4, replace=False,
                                   p=[.05, .1, .2, 0, .15, .1, .1, .2, .1]).asnumpy().tolist(),
                  np.random.uniform(size=3).asnumpy().tolist()]))
"""


def test_weighted_draws_do_not_depend_on_float64_support():
    # the same seed gives the same weighted draws (and the stream stays in step) on a device
    # with float64 and on one without (CLGRAD_DEVICE_LIMITS=fp64=0 hides it)
    import json
    import os
    import subprocess
    import sys
    outs = []
    for limits in ("", "fp64=0"):
        env = dict(os.environ, CLGRAD_DEVICE_LIMITS=limits)
        r = subprocess.run([sys.executable, "-c", _WEIGHTED_DRAWS], env=env, capture_output=True,
                           text=True, timeout=600)
        assert r.returncode == 0, r.stderr
        outs.append(json.loads(r.stdout.splitlines()[-1]))
    assert outs[0] == outs[1]
    assert sum(outs[0][0]) == 100 and 1 not in outs[0][1] and 3 not in outs[0][2]


def test_choice_without_replacement():
    np.random.seed(7)
    for _ in range(5):
        s = np.random.choice(20, size=(4, 5), replace=False).asnumpy()
        onp.testing.assert_array_equal(onp.sort(s.reshape(-1)), onp.arange(20))
    p = onp.array([0.1, 0.0, 0.2, 0.3, 0.4])
    firsts = []
    for _ in range(300):
        s = np.random.choice(5, size=3, replace=False, p=p).asnumpy()
        assert len(set(s.tolist())) == 3 and 1 not in s
        firsts.append(s[0])
    freq = onp.bincount(firsts, minlength=5)
    for f, q in zip(freq, p):      # the first pick follows p
        bounded(f, 300 * q, onp.sqrt(300 * q * (1 - q)) + 1e-9)


def test_choice_errors():
    with pytest.raises(ValueError):
        np.random.choice(3, 4, replace=False)
    with pytest.raises(ValueError):
        np.random.choice(3, p=[0.5, 0.5])
    with pytest.raises(ValueError):
        np.random.choice(3, p=[0.5, 0.6, -0.1])
    with pytest.raises(ValueError):
        np.random.choice(3, p=[0.2, 0.2, 0.2])
    with pytest.raises(ValueError):
        np.random.choice(3, 2, replace=False, p=[1.0, 0.0, 0.0])
    with pytest.raises(ValueError):
        np.random.choice(0, 2)
    with pytest.raises(ValueError):
        np.random.choice(np.zeros((2, 2)), 2)
    with pytest.raises(MXNetError):
        np.random.randint(5, 5)
    assert np.random.choice(0, 0).shape == (0,)


@pytest.mark.parametrize("seed_fn", ["np.random.seed", "npx.random.seed", "clgrad.random.seed"])
def test_every_seed_spelling_reseeds_sampling_and_dropout(seed_fn):
    import clgrad
    from clgrad import autograd, npx
    fn = {"np.random.seed": np.random.seed, "npx.random.seed": npx.random.seed,
          "clgrad.random.seed": clgrad.random.seed}[seed_fn]
    x = np.ones((64,))
    runs = []
    for _ in range(2):
        fn(7)
        with autograd.train_mode():
            d = npx.dropout(x, p=0.5).asnumpy()
        runs.append((np.random.uniform(size=8).asnumpy(), d,
                     clgrad.random.normal(0, 1, shape=(4,)).asnumpy()))
    for a, b in zip(*runs):
        onp.testing.assert_array_equal(a, b)
    assert 0 < (runs[0][1] == 0).sum() < 64         # dropout did drop, the same ones


def test_seed_of_one_device_and_of_all():
    from clgrad import npx
    dev = npx.current_device()
    np.random.seed(11)
    a = np.random.uniform(size=5).asnumpy()
    np.random.seed(11, device=dev)          # this device's generator only
    onp.testing.assert_array_equal(np.random.uniform(size=5, device=dev).asnumpy(), a)
    np.random.seed(99)
    np.random.seed(11, ctx=dev)             # MXNet 1.x's keyword
    onp.testing.assert_array_equal(np.random.uniform(size=5).asnumpy(), a)
    np.random.seed(11, device="all")
    onp.testing.assert_array_equal(np.random.uniform(size=5).asnumpy(), a)
    for bad in (-1, 1.5, "3", True):
        with pytest.raises(MXNetError, match="seed must be a non-negative integer"):
            np.random.seed(bad)


def test_multinomial_counts():
    np.random.seed(3)
    fair = np.ones(6) / 6
    one = np.random.multinomial(1, fair)
    assert one.dtype == onp.int64 and one.shape == (6,) and int(one.sum()) == 1
    many = np.random.multinomial(10, fair, size=500)
    assert many.shape == (500, 6)
    onp.testing.assert_array_equal(many.asnumpy().sum(axis=1), 10)
    counts = np.random.multinomial(N, [0.1, 0.2, 0.7]).asnumpy()
    assert counts.sum() == N
    for c, p in zip(counts, [0.1, 0.2, 0.7]):
        bounded(c / N, p, (p * (1 - p) / N) ** 0.5)
    assert np.random.multinomial(5, [0.5, 0.5], size=(2, 3)).shape == (2, 3, 2)
    with pytest.raises(MXNetError, match="n must be a non-negative integer"):
        np.random.multinomial(-1, fair)
    with pytest.raises(MXNetError, match="must not exceed 1"):
        np.random.multinomial(3, [0.9, 0.9, 0.1])


def test_bad_randint_range_and_seed_have_numpys_categories():
    # NumPy raises ValueError for both ranges (MXNet 1.9.1 aborts with SIGFPE on the first)
    for low, high in ((5, 5), (6, 5)):
        with pytest.raises(MXNetError, match=r"low \(\d\) must be less than high") as e:
            np.random.randint(low, high, size=3)
        assert isinstance(e.value, ValueError)
    with pytest.raises(MXNetError) as e:
        np.random.seed(-1)
    assert isinstance(e.value, ValueError)                  # NumPy: ValueError
    for bad in (1.5, "3", True):
        with pytest.raises(MXNetError) as e:
            np.random.seed(bad)
        assert isinstance(e.value, TypeError), bad          # NumPy: TypeError


def test_normal_scale_must_not_be_negative():
    import clgrad
    from clgrad.ops.random import RandomParameterError
    for draw in (lambda: np.random.normal(0, -1, size=3),
                 lambda: np.random.normal(0.0, -1e-30),
                 lambda: clgrad.random.normal(0, -0.5, shape=(2,))):
        with pytest.raises(RandomParameterError, match="scale < 0") as e:   # NumPy's words
            draw()
        assert isinstance(e.value, ValueError) and isinstance(e.value, MXNetError)
    # scale 0 gives loc, NaN gives NaN samples: NumPy accepts both
    onp.testing.assert_array_equal(np.random.normal(2.0, 0.0, size=3).asnumpy(), [2, 2, 2])
    assert onp.isnan(np.random.normal(0.0, float("nan"), size=2).asnumpy()).all()


def test_uniform_takes_low_above_high_but_not_an_infinite_range():
    s = np.random.uniform(1.0, 0.0, size=1000).asnumpy()      # NumPy: samples from (0, 1]
    assert (s > 0).all() and (s <= 1).all()
    bad = [(0.0, float("inf"), None), (0.0, float("nan"), None), (float("-inf"), 0.0, None),
           (-1e308, 1e308, "float64"),
           (-3e38, 3e38, None)]            # float32 samples: high - low overflows float32
    for low, high, dtype in bad:
        with pytest.raises(OverflowError, match="exceeds the valid bounds") as e:
            np.random.uniform(low, high, size=2, dtype=dtype)
        assert isinstance(e.value, MXNetError) and isinstance(e.value, ValueError)
    s = np.random.uniform(-3e38, 3e38, size=4, dtype="float64").asnumpy()
    assert onp.isfinite(s).all()


def test_multinomial_pvals_must_be_probabilities():
    from clgrad.ops.random import RandomParameterError
    for pvals in ([0.5, -0.1, 0.6], [0.5, 2.0], [float("nan"), 0.5]):
        with pytest.raises(RandomParameterError,
                           match="pvals < 0, pvals > 1 or pvals contains NaNs"):
            np.random.multinomial(5, pvals)
    # the last category still takes what the others leave (NumPy)
    onp.testing.assert_array_equal(np.random.multinomial(4, [0.0, 0.0]).asnumpy(), [0, 4])


def test_bernoulli_checks_array_probabilities():
    from clgrad import npx
    for p in ([0.5, 1.5], [-0.1, 0.5], [float("nan"), 0.5]):
        with pytest.raises(ValueError, match=r"prob must be in \[0, 1\]") as e:
            npx.random.bernoulli(prob=np.array(p))
        assert isinstance(e.value, MXNetError)
    onp.testing.assert_array_equal(
        npx.random.bernoulli(prob=np.array([0.0, 1.0, 1.0, 0.0])).asnumpy(), [0, 1, 1, 0])
