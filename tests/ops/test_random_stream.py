"""The random stream's continuity and its fixed values.

Philox-4x32 gives four 32-bit words per counter: a draw of n elements takes (n + 3) // 4
counters, each work-item writing four elements (a wide 64-bit draw, float64 uniform or a
randint range beyond 32 bits, takes each value's low bits from a second block of the same
counter). So after one seed, ``draw(n)`` then ``draw(m)`` must equal ``draw(n + m)`` split at n
for every n that is a multiple of 4, and a draw of any other n leaves the rest of its last
block unused. A stream advanced one block short (each draw repeating the previous one's last
four numbers) or one too far breaks these.

The golden values are the first numbers of each distribution after ``np.random.seed(0)``: they
pin the stream itself, and with it the promise that every OpenCL device draws the same numbers.
"""
import numpy as onp
import pytest

from clgrad import np, npx

DRAWS = {
    "uniform": lambda k: np.random.uniform(-2.0, 3.0, size=k),
    "uniform_float64": lambda k: np.random.uniform(size=k, dtype="float64"),     # wide
    "normal": lambda k: np.random.normal(1.0, 2.0, size=k),
    "normal_float64": lambda k: np.random.normal(size=k, dtype="float64"),
    "randint": lambda k: np.random.randint(-5, 1000, size=k),
    "randint_wide": lambda k: np.random.randint(0, 2 ** 40, size=k),            # wide
    "bernoulli": lambda k: npx.random.bernoulli(prob=0.3, size=k),
}


def _draws(name, *sizes, seed=7):
    np.random.seed(seed)
    return [DRAWS[name](k).asnumpy() for k in sizes]


# (n, m): n a multiple of 4 (the block), m anything; one pair spans many work-groups
BLOCK_ALIGNED = [(4, 4), (8, 5), (12, 1), (4, 3), (64, 64), (1024, 257)]


@pytest.mark.parametrize("n, m", BLOCK_ALIGNED)
@pytest.mark.parametrize("name", sorted(DRAWS))
def test_two_draws_are_one_draw_split(name, n, m):
    first, second = _draws(name, n, m)
    (whole,) = _draws(name, n + m)
    onp.testing.assert_array_equal(first, whole[:n])
    onp.testing.assert_array_equal(second, whole[n:], err_msg="the second draw does not "
                                   "continue the stream where the first stopped")


@pytest.mark.parametrize("n, m", [(1, 4), (5, 7), (6, 3), (7, 8), (1025, 2)])
@pytest.mark.parametrize("name", sorted(DRAWS))
def test_a_partial_block_is_left_unused(name, n, m):
    """A draw that ends inside a block leaves the block's other numbers unused: the next draw
    starts at the next block."""
    used = -(-n // 4) * 4
    first, second = _draws(name, n, m)
    (whole,) = _draws(name, used + m)
    onp.testing.assert_array_equal(first, whole[:n])
    onp.testing.assert_array_equal(second, whole[used:])


@pytest.mark.parametrize("wide", ["uniform_float64", "randint_wide"])
def test_a_wide_draw_advances_the_stream_as_far_as_a_narrow_one(wide):
    """Both take one counter per four values, so what follows them is the same."""
    np.random.seed(3)
    DRAWS[wide](8)
    after_wide = DRAWS["uniform"](8).asnumpy()
    np.random.seed(3)
    DRAWS["uniform"](8)
    after_narrow = DRAWS["uniform"](8).asnumpy()
    onp.testing.assert_array_equal(after_wide, after_narrow)


def test_draws_differ_and_the_seed_repeats_them():
    a, b = _draws("uniform", 8, 8)
    assert not onp.array_equal(a, b)
    onp.testing.assert_array_equal(_draws("uniform", 8)[0], a)


# The first six numbers of each distribution after np.random.seed(0), as every device gives them.
GOLDEN = {
    "uniform": (lambda: np.random.uniform(size=6), "float32",
                [0.8715687394142151, 0.24303239583969116, 0.959122359752655, 0.8941999673843384,
                 0.26776736974716187, 0.5056366324424744]),
    "uniform_float64": (lambda: np.random.uniform(size=6, dtype="float64"), "float64",
                        [0.8715687562885679, 0.24303240117431257, 0.9591224177041752,
                         0.8941999871987728, 0.26776742026049183, 0.5056366702622155]),
    "normal": (lambda: np.random.normal(size=6), "float32",
               [0.022947128862142563, 0.5238266587257385, 0.2273963838815689,
                -0.1782245934009552, -1.622334361076355, -0.05748097598552704]),
    "normal_float64": (lambda: np.random.normal(size=6, dtype="float64"), "float64",
                       [0.02294713755322438, 0.5238266666636069, 0.22739631769044233,
                        -0.1782246697862576, -1.6223344070657335, -0.05748063986976703]),
    "randint": (lambda: np.random.randint(0, 1000, size=6), "int64",
                [871, 243, 959, 894, 267, 505]),
    "randint_wide": (lambda: np.random.randint(0, 2 ** 40, size=6), "int64",
                     [379094589582, 28845003668, 1034134156887, 333544791027, 888112411424,
                      764830938647]),
    "bernoulli": (lambda: npx.random.bernoulli(prob=0.5, size=6), "float32",
                  [0.0, 1.0, 0.0, 0.0, 1.0, 0.0]),
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_values_after_seed_0(name):
    draw, dtype, expected = GOLDEN[name]
    np.random.seed(0)
    got = draw().asnumpy()
    assert got.dtype == dtype
    if name.startswith("normal"):
        # Box-Muller's log, sqrt, sin and cos may differ by an ulp between OpenCL devices
        onp.testing.assert_allclose(got, expected, rtol=1e-6 if dtype == "float32" else 1e-13)
    else:
        # uniform, integer and Bernoulli draws are exact functions of the Philox words
        onp.testing.assert_array_equal(got, onp.array(expected, dtype=dtype))
