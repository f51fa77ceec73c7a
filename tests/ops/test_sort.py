"""sort, argsort, topk, searchsorted and unique against NumPy, with gradients."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as onp
import pytest

from clgrad import MXNetError, autograd, np
from clgrad.ops.sort import topk
from gradcheck import check_grad

from _data import DTYPES, host, same


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("axis", [0, 1, -1, None])
def test_sort_and_argsort_dtypes(dtype, axis):
    x = host((5, 7), dtype, hi=4)       # small integer range: many ties, so stability matters
    a = np.array(x)
    same(np.sort(a, axis=axis), onp.sort(x, axis=axis))
    same(np.argsort(a, axis=axis), onp.argsort(x, axis=axis, kind="stable"))
    same(np.sort(a.T, axis=axis), onp.sort(x.T, axis=axis))


@pytest.mark.parametrize("n", [1, 2, 3, 255, 256, 257, 1000, 4099])
def test_sort_lengths(n):
    # lengths around and above the local-memory block exercise the global merge stages
    x = host((n,), "int32", seed=n, lo=-(n // 3) - 1, hi=n // 3 + 1)
    a = np.array(x)
    same(np.argsort(a), onp.argsort(x, kind="stable"))
    same(np.sort(a), onp.sort(x))
    y = host((3, n), "float32", seed=n)
    same(np.sort(np.array(y), axis=1), onp.sort(y, axis=1))


_SMALL_DEVICE = """
import numpy as onp
from clgrad import np
rng = onp.random.default_rng(0)
for n in list(range(1, 40)) + [100, 129]:
    x = rng.integers(-5, 5, size=(2, n)).astype(onp.float32)
    assert onp.array_equal(np.argsort(np.array(x)).asnumpy(), onp.argsort(x, kind="stable"))
print("ok")
"""


def test_sort_on_a_device_with_tiny_work_groups():
    # work-groups of 2: the local stage sorts blocks of 4 and every other stage is global
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, CLGRAD_DEVICE_LIMITS="max_wg=2",
               PYTHONPATH=str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    res = subprocess.run([sys.executable, "-c", _SMALL_DEVICE], env=env, capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr


def test_sort_nan_last_and_inf():
    x = onp.array([3.0, onp.nan, -onp.inf, 1.0, onp.nan, onp.inf, -0.5, 1.0], onp.float32)
    same(np.sort(np.array(x)), onp.sort(x))
    same(np.argsort(np.array(x)), onp.argsort(x, kind="stable"))
    h = x.astype(onp.float16)
    same(np.sort(np.array(h)), onp.sort(h))


def test_sort_layouts_and_edge_shapes():
    x = host((4, 3, 5))
    a = np.array(x)
    same(np.sort(a[::-1, :, ::2], axis=1), onp.sort(x[::-1, :, ::2], axis=1))
    same(np.sort(a.transpose(2, 0, 1), axis=0), onp.sort(x.transpose(2, 0, 1), axis=0))
    same(np.sort(np.zeros((0, 3))), onp.sort(onp.zeros((0, 3), onp.float32)))
    same(np.argsort(np.zeros((3, 0))), onp.argsort(onp.zeros((3, 0)), kind="stable"))
    same(np.sort(np.array(onp.array(2.0)), axis=None), onp.sort(onp.array(2.0), axis=None))
    big = onp.array([2 ** 62, -2 ** 62, 5, 2 ** 40 + 1, 2 ** 40], onp.int64)
    same(np.sort(np.array(big)), onp.sort(big))
    same(np.sort(a, axis=0), onp.sort(x, axis=0))


def test_sort_errors():
    with pytest.raises(ValueError):
        np.sort(np.array(1.0))
    with pytest.raises(IndexError):
        np.sort(np.zeros((2, 3)), axis=2)
    with pytest.raises(ValueError):
        np.argsort(np.zeros(3), order="x")
    with pytest.raises(ValueError):
        np.sort(np.zeros(3), kind="bogus")


def test_descending_is_stable():
    x = onp.array([1, 3, 2, 3, 1, 2], onp.int32)
    got = np.argsort(np.array(x), descending=True).asnumpy()
    onp.testing.assert_array_equal(got, onp.argsort(-x, kind="stable"))


# --- topk --------------------------------------------------------------------------------------
def np_topk(x, axis, k, is_ascend):
    order = onp.argsort(x if is_ascend else -x, axis=axis, kind="stable")
    idx = onp.take(order, onp.arange(k), axis=axis)
    return onp.take_along_axis(x, idx, axis), idx


@pytest.mark.parametrize("axis", [0, 1, -1])
@pytest.mark.parametrize("is_ascend", [False, True])
def test_topk(axis, is_ascend):
    x = host((4, 6), seed=3)
    a = np.array(x)
    val, idx = np_topk(x, axis, 3, is_ascend)
    same(topk(a, axis=axis, k=3, ret_typ="value", is_ascend=is_ascend), val)
    same(topk(a, axis=axis, k=3, is_ascend=is_ascend), idx.astype(onp.float32))
    v, i = topk(a, axis=axis, k=3, ret_typ="both", is_ascend=is_ascend, dtype="int64")
    same(v, val)
    same(i, idx)
    mask = onp.zeros_like(x)
    onp.put_along_axis(mask, idx, 1, axis)
    same(topk(a, axis=axis, k=3, ret_typ="mask", is_ascend=is_ascend), mask)


def test_topk_whole_axis_flattened_and_errors():
    x = host((3, 4), "int32", seed=5)
    a = np.array(x)
    same(topk(a, k=0, ret_typ="value"), -onp.sort(-x, axis=-1))
    same(topk(a, axis=None, k=2, ret_typ="value"), -onp.sort(-x.reshape(-1))[:2])
    with pytest.raises(ValueError):
        topk(a, k=5)
    with pytest.raises(MXNetError):
        topk(a, ret_typ="nope")
    with pytest.raises(IndexError):
        topk(a, axis=3)


# --- searchsorted --------------------------------------------------------------------------------
@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64", "float16"])
def test_searchsorted(side, dtype):
    a = onp.sort(host((9,), dtype, hi=5))
    v = host((2, 5), dtype, seed=1, lo=-60, hi=60)
    same(np.searchsorted(np.array(a), np.array(v), side=side), onp.searchsorted(a, v, side=side))


def test_searchsorted_nan_sorter_scalar_and_errors():
    a = onp.array([1.0, 2.0, 2.0, 5.0, onp.nan], onp.float32)
    v = onp.array([onp.nan, 2.0, 7.0, -1.0], onp.float32)
    for side in ("left", "right"):
        same(np.searchsorted(np.array(a), np.array(v), side=side),
             onp.searchsorted(a, v, side=side))
    u = onp.array([5.0, 1.0, 2.0], onp.float32)
    sorter = onp.argsort(u)
    same(np.searchsorted(np.array(u), np.array([1.5, 5.0]), sorter=sorter),
         onp.searchsorted(u, [1.5, 5.0], sorter=sorter))
    got = np.searchsorted(np.array(a), 2.0, side="right")
    assert got.shape == () and int(got) == 3
    ints = np.array(onp.array([1, 3, 5], onp.int64))
    same(np.searchsorted(ints, np.array([2.5, 3.0])), onp.array([1, 1]))
    with pytest.raises(ValueError):
        np.searchsorted(np.zeros((2, 2)), 1.0)
    with pytest.raises(ValueError):
        np.searchsorted(np.zeros(2), 1.0, side="middle")


# --- unique ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_unique(dtype):
    x = host((4, 6), dtype, hi=5)
    got = np.unique(np.array(x), return_index=True, return_inverse=True, return_counts=True)
    want = onp.unique(x, return_index=True, return_inverse=True, return_counts=True)
    for g, w in zip(got, want):
        same(g, w)
    same(np.unique(np.array(x)), onp.unique(x))


def test_unique_nan_empty_and_errors():
    x = onp.array([2.0, onp.nan, 1.0, onp.nan, 2.0], onp.float32)
    got = np.unique(np.array(x), return_counts=True)
    want = onp.unique(x, return_counts=True)
    for g, w in zip(got, want):
        same(g, w)
    same(np.unique(np.zeros((0,))), onp.unique(onp.zeros((0,), onp.float32)))
    with pytest.raises(MXNetError):
        np.unique(np.zeros((2, 2)), axis=0)


def test_unique_inverse_rebuilds_input():
    x = host((50,), "int64", hi=7)
    u, inv = np.unique(np.array(x), return_inverse=True)
    onp.testing.assert_array_equal(u.asnumpy()[inv.asnumpy()], x)


# --- gradients ---------------------------------------------------------------------------------
def test_grad_sort_values():
    x = host((3, 5), "float64", seed=2)
    check_grad(lambda a: np.sort(a, axis=1), x)
    check_grad(lambda a: np.sort(a, axis=0), x)
    check_grad(lambda a: np.sort(a, axis=None), x)


def test_grad_topk_values():
    x = host((3, 5), "float64", seed=4)
    check_grad(lambda a: topk(a, axis=1, k=2, ret_typ="value"), x)
    check_grad(lambda a: topk(a, axis=0, k=2, ret_typ="both")[0], x)
    check_grad(lambda a: topk(a, axis=-1, k=3, ret_typ="value", is_ascend=True), x)


def test_second_order_through_sort():
    x = onp.array([0.5, -1.0, 2.0, 0.25])
    a = np.array(x)
    a.attach_grad()
    w = onp.array([1.0, 2.0, 3.0, 4.0])
    with autograd.record():
        y = (np.sort(a) ** 2 * np.array(w)).sum()
        (g,) = autograd.grad([y], [a], create_graph=True)
        z = (g * g).sum()
    z.backward()
    rank = onp.argsort(onp.argsort(x))
    g_host = 2 * x * w[rank]
    onp.testing.assert_allclose(g.asnumpy(), g_host, rtol=1e-12)
    onp.testing.assert_allclose(a.grad.asnumpy(), 2 * g_host * 2 * w[rank], rtol=1e-12)
