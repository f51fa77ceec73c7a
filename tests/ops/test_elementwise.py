"""Forward of every elementwise op against NumPy: every dtype each op accepts, broadcasting, 0-d,
empty and non-contiguous inputs (transposed, sliced, negative steps), Python scalars and NumPy
arrays as operands, and the errors for bad input.

Kernel instantiations are deliberately few per (op, dtype): one contiguous kernel (also used by
0-d inputs) and one strided kernel of rank 2 (used by the broadcast, transposed and
negative-step layouts alike), so the disk cache keeps repeated runs fast.
"""
import dataclasses
import warnings

import numpy as onp
import pytest

import clgrad
from clgrad import np
from ops._rules import (DTYPES, INTLIKE, NONBOOL, assert_matches, expected_dtype, ids,
                        sample)

# --- the op tables ------------------------------------------------------------------------------
# Ops whose result is a float: MXNet gives float32 for integer and boolean inputs.
FLOAT_UNARY = {
    # name: (domain lo, hi)
    "exp": (-4, 4), "expm1": (-4, 4), "log": (0.1, 4), "log1p": (-0.5, 4), "log2": (0.1, 4),
    "log10": (0.1, 4), "sqrt": (0, 4), "sin": (-4, 4), "cos": (-4, 4), "tan": (-1.2, 1.2),
    "arcsin": (-1, 1), "arccos": (-1, 1), "arctan": (-4, 4), "sinh": (-4, 4),
    "cosh": (-4, 4), "tanh": (-4, 4),
}

# Ops whose result dtype NumPy decides (usually the input's): name -> (accepted dtypes, domain,
# avoid zero)
SAME_UNARY = {
    "negative": (NONBOOL, (-4, 4), False),
    "positive": (NONBOOL, (-4, 4), False),
    "absolute": (DTYPES, (-4, 4), False),
    "abs": (DTYPES, (-4, 4), False),
    "sign": (NONBOOL, (-4, 4), False),
    "square": (DTYPES, (-4, 4), False),
    "reciprocal": (DTYPES, (-4, 4), True),   # integer 1/0 is undefined in NumPy: not sampled
    "floor": (DTYPES, (-4, 4), False),
    "ceil": (DTYPES, (-4, 4), False),
    "trunc": (DTYPES, (-4, 4), False),
    "round": (DTYPES, (-4, 4), False),
    "isnan": (DTYPES, (-4, 4), False),
    "isinf": (DTYPES, (-4, 4), False),
    "isfinite": (DTYPES, (-4, 4), False),
    "logical_not": (DTYPES, (-4, 4), False),
    "invert": (INTLIKE, (-4, 4), False),
    "bitwise_invert": (INTLIKE, (-4, 4), False),
}

# name: (accepted dtypes, domain of a, domain of b, b avoids zero, float-valued)
BINARY = {
    "add": (DTYPES, (-4, 4), (-4, 4), False, False),
    "subtract": (NONBOOL, (-4, 4), (-4, 4), False, False),
    "multiply": (DTYPES, (-4, 4), (-4, 4), False, False),
    "divide": (DTYPES, (-4, 4), (-4, 4), True, True),
    "true_divide": (DTYPES, (-4, 4), (-4, 4), True, True),
    "floor_divide": (DTYPES, (-9, 9), (-4, 4), True, False),
    "mod": (DTYPES, (-9, 9), (-4, 4), True, False),
    "remainder": (DTYPES, (-9, 9), (-4, 4), True, False),
    "power": (DTYPES, (0.5, 3), (0, 3), False, False),
    "arctan2": (DTYPES, (-4, 4), (-4, 4), False, True),
    "maximum": (DTYPES, (-4, 4), (-4, 4), False, False),
    "minimum": (DTYPES, (-4, 4), (-4, 4), False, False),
    "logical_and": (DTYPES, (-2, 2), (-2, 2), False, False),
    "logical_or": (DTYPES, (-2, 2), (-2, 2), False, False),
    "logical_xor": (DTYPES, (-2, 2), (-2, 2), False, False),
    "equal": (DTYPES, (-2, 2), (-2, 2), False, False),
    "not_equal": (DTYPES, (-2, 2), (-2, 2), False, False),
    "less": (DTYPES, (-2, 2), (-2, 2), False, False),
    "less_equal": (DTYPES, (-2, 2), (-2, 2), False, False),
    "greater": (DTYPES, (-2, 2), (-2, 2), False, False),
    "greater_equal": (DTYPES, (-2, 2), (-2, 2), False, False),
    "bitwise_and": (INTLIKE, (-9, 9), (-9, 9), False, False),
    "bitwise_or": (INTLIKE, (-9, 9), (-9, 9), False, False),
    "bitwise_xor": (INTLIKE, (-9, 9), (-9, 9), False, False),
    "left_shift": (INTLIKE, (-9, 9), (0, 7), False, False),
    "right_shift": (INTLIKE, (-99, 99), (0, 7), False, False),
}

_NUMPY_NAME = {"bitwise_invert": "invert"}
# aliases name the op they stand for in their error messages
_CANONICAL = {"bitwise_invert": "invert", "abs": "absolute", "remainder": "mod",
              "divide": "true_divide"}
_BOOL_VALUED = {"equal", "not_equal", "less", "less_equal", "greater", "greater_equal",
                "logical_and", "logical_or", "logical_xor"}
_FLOAT_OPS = set(FLOAT_UNARY) | {n for n, v in BINARY.items() if v[4]}


def ref(name):
    return getattr(onp, _NUMPY_NAME.get(name, name))


def numpy_result(name, *args):
    """NumPy's result with MXNet's rules applied: integer arrays mixed with float arrays take the
    float arrays' type, and float-valued ops on integers compute in float32."""
    floats = [a.dtype for a in args if isinstance(a, onp.ndarray) and a.dtype.kind in "fc"]
    if floats:
        common = onp.result_type(*floats)
        args = [a.astype(common) if isinstance(a, onp.ndarray) and a.dtype.kind not in "fc"
                else a for a in args]
    if name in _FLOAT_OPS:
        arrays = [a for a in args if isinstance(a, onp.ndarray)]
        if not any(a.dtype.kind == "f" for a in arrays):
            args = [a.astype(onp.float32) if isinstance(a, onp.ndarray) else a for a in args]
    with warnings.catch_warnings(), onp.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return onp.asarray(ref(name)(*args))


def _dev(host):
    return np.array(host)


# --- layouts -------------------------------------------------------------------------------------
# Each returns host inputs and the matching device inputs, built with the same view operations,
# so the device sees genuinely strided data (not a contiguous copy).
def unary_layouts(dtype, lo, hi, nonzero=False, special=False):
    """``special``: float inputs also hold NaN and infinities."""
    def g(shape, s=0):
        x = sample(dtype, shape, seed=s, lo=lo, hi=hi, nonzero=nonzero)
        if special and dtype.kind == "f" and x.size >= 4:
            x.reshape(-1)[[0, 2, 3]] = [onp.nan, onp.inf, -onp.inf]
        return x
    out = []
    x = g((3, 4))
    out.append(("contiguous", x, _dev(x)))
    x = g(())
    out.append(("0-d", x, _dev(x)))
    x = g((0, 4))
    out.append(("empty", x, _dev(x)))
    base = g((4, 3), 1)
    out.append(("transposed", base.T, _dev(base).T))
    base = g((6, 8), 2)
    out.append(("negative steps", base[::-2, 1::2], _dev(base)[::-2, 1::2]))
    return out


def binary_layouts(da, db, a_dom, b_dom, b_nonzero=False):
    ga = lambda shape, s: sample(da, shape, seed=s, lo=a_dom[0], hi=a_dom[1])  # noqa: E731
    gb = lambda shape, s: sample(db, shape, seed=s, lo=b_dom[0], hi=b_dom[1],  # noqa: E731
                                 nonzero=b_nonzero)
    out = []
    a, b = ga((3, 4), 0), gb((3, 4), 1)
    out.append(("contiguous", a, b, _dev(a), _dev(b)))
    a, b = ga((), 2), gb((), 3)
    out.append(("0-d", a, b, _dev(a), _dev(b)))
    a, b = ga((0, 4), 4), gb((4,), 5)
    out.append(("empty", a, b, _dev(a), _dev(b)))
    a, b = ga((3, 1), 6), gb((1, 4), 7)
    out.append(("broadcast", a, b, _dev(a), _dev(b)))
    a, b = ga((4, 3), 8), gb((6, 8), 9)
    out.append(("transposed, negative steps", a.T, b[::-2, 1::2], _dev(a).T,
                _dev(b)[::-2, 1::2]))
    a, b = ga((3, 4), 10), gb((8,), 11)
    out.append(("broadcast negative step", a, b[::-2], _dev(a), _dev(b)[::-2]))
    return out


# --- unary ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=ids(DTYPES))
@pytest.mark.parametrize("name", sorted(FLOAT_UNARY))
def test_float_unary(name, dtype):
    lo, hi = FLOAT_UNARY[name]
    fn = getattr(np, name)
    for layout, xh, xd in unary_layouts(dtype, lo, hi):
        want = numpy_result(name, xh)
        got = fn(xd)
        # integer and boolean inputs give float32 (NumPy: float64 or float16)
        expect = dtype if dtype.kind == "f" else onp.dtype("float32")
        assert want.dtype == expect
        assert_matches(got, want, expect, f"{name}({dtype}, {layout})")


@pytest.mark.parametrize("dtype", DTYPES, ids=ids(DTYPES))
@pytest.mark.parametrize("name", sorted(SAME_UNARY))
def test_unary(name, dtype):
    accepted, (lo, hi), nonzero = SAME_UNARY[name]
    fn = getattr(np, name)
    if dtype not in accepted:
        x = np.array(sample(dtype, (3,)))
        before = x.asnumpy()
        with pytest.raises(clgrad.DTypeError, match=_CANONICAL.get(name, name)):
            fn(x)
        onp.testing.assert_array_equal(x.asnumpy(), before)
        return
    special = name in ("isnan", "isinf", "isfinite", "sign", "absolute", "floor")
    for layout, xh, xd in unary_layouts(dtype, lo, hi, nonzero, special):
        want = numpy_result(name, xh)
        if name == "round" and dtype == onp.bool_:
            want = xh        # rounding keeps the dtype, bool included (NumPy: float16)
        assert_matches(fn(xd), want, want.dtype, f"{name}({dtype}, {layout})")


def test_unary_nonfinite_floats():
    x = onp.array([onp.nan, onp.inf, -onp.inf, -0.0, 0.0, 1.5, -2.5], onp.float32)
    for name in ("isnan", "isinf", "isfinite", "sign", "absolute", "floor", "ceil", "trunc",
                 "negative", "exp", "sqrt", "logical_not"):
        assert_matches(getattr(np, name)(np.array(x)), numpy_result(name, x), None, name)
    # the sign of zero survives negative/abs
    assert onp.signbit(np.negative(np.array(x)).asnumpy()[4])
    assert not onp.signbit(np.abs(np.array(x)).asnumpy()[3])


def test_round_half_to_even_and_decimals():
    x = onp.array([0.5, 1.5, 2.5, -0.5, -1.5, 3.49, -3.51], onp.float32)
    assert_matches(np.round(np.array(x)), onp.round(x), onp.float32, "round")
    assert_matches(np.around(np.array(x)), onp.round(x), onp.float32, "around")
    y = onp.array([1.25, 1.35, -2.675, 10.0], onp.float64)
    assert_matches(np.round(np.array(y), 1), onp.round(y, 1), onp.float64, "round(., 1)")
    assert_matches(np.array(y).round(), onp.round(y), onp.float64, "method")


def test_integer_power_division_by_zero_and_overflowing_shifts():
    a = onp.array([5, -5, 0, 7, -7], onp.int32)
    z = onp.zeros(5, onp.int32)
    # NumPy gives 0 (with a warning) for integer division and modulo by zero
    assert_matches(np.floor_divide(np.array(a), np.array(z)), numpy_result("floor_divide", a, z))
    assert_matches(np.mod(np.array(a), np.array(z)), numpy_result("mod", a, z))
    f = a.astype(onp.float32)
    fz = z.astype(onp.float32)
    assert_matches(np.floor_divide(np.array(f), np.array(fz)),
                   numpy_result("floor_divide", f, fz))
    assert_matches(np.mod(np.array(f), np.array(fz)), numpy_result("mod", f, fz))
    # shifting by the width or more: NumPy defines the result (0, or -1 for negative >>)
    s = onp.array([0, 31, 32, 40, 63], onp.int32)
    assert_matches(np.left_shift(np.array(a), np.array(s)), numpy_result("left_shift", a, s))
    assert_matches(np.right_shift(np.array(a), np.array(s)), numpy_result("right_shift", a, s))
    # 0 ** 0 == 1; integer powers wrap like NumPy's
    p = onp.array([0, 2, 3, 1, 2], onp.int8)
    assert_matches(np.power(np.array(onp.array([0, 12, -6, 9, 16], onp.int8)), np.array(p)),
                   numpy_result("power", onp.array([0, 12, -6, 9, 16], onp.int8), p))


# --- binary --------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=ids(DTYPES))
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary(name, dtype):
    accepted, a_dom, b_dom, nonzero, _ = BINARY[name]
    fn = getattr(np, name)
    if dtype not in accepted:
        a, b = np.array(sample(dtype, (3,))), np.array(sample(dtype, (3,), seed=1))
        before = (a.asnumpy(), b.asnumpy())
        with pytest.raises(clgrad.DTypeError, match=_CANONICAL.get(name, name)):
            fn(a, b)
        onp.testing.assert_array_equal(a.asnumpy(), before[0])
        onp.testing.assert_array_equal(b.asnumpy(), before[1])
        return
    for layout, ah, bh, ad, bd in binary_layouts(dtype, dtype, a_dom, b_dom, nonzero):
        want = numpy_result(name, ah, bh)
        assert_matches(fn(ad, bd), want, want.dtype, f"{name}({dtype}, {layout})")


_OPERATORS = {
    "add": lambda a, b: a + b, "subtract": lambda a, b: a - b,
    "multiply": lambda a, b: a * b, "true_divide": lambda a, b: a / b,
    "floor_divide": lambda a, b: a // b, "mod": lambda a, b: a % b,
    "power": lambda a, b: a ** b, "bitwise_and": lambda a, b: a & b,
    "bitwise_or": lambda a, b: a | b, "bitwise_xor": lambda a, b: a ^ b,
    "left_shift": lambda a, b: a << b, "right_shift": lambda a, b: a >> b,
    "equal": lambda a, b: a == b, "not_equal": lambda a, b: a != b,
    "less": lambda a, b: a < b, "less_equal": lambda a, b: a <= b,
    "greater": lambda a, b: a > b, "greater_equal": lambda a, b: a >= b,
}

_INPLACE = {
    "add": "__iadd__", "subtract": "__isub__", "multiply": "__imul__",
    "true_divide": "__itruediv__", "floor_divide": "__ifloordiv__", "mod": "__imod__",
    "power": "__ipow__", "bitwise_and": "__iand__", "bitwise_or": "__ior__",
    "bitwise_xor": "__ixor__", "left_shift": "__ilshift__", "right_shift": "__irshift__",
}


def _scalar_cases(name):
    """(array dtype, Python scalar) pairs for ``name``: integer and float scalars."""
    accepted = BINARY[name][0]
    out = []
    if onp.dtype("int32") in accepted:
        out.append((onp.dtype("int32"), 3))
    if onp.dtype("float32") in accepted:
        out.append((onp.dtype("float32"), 1.5))
        out.append((onp.dtype("int32"), 2.5))    # MXNet: float32 (NumPy: float64)
    return out


@pytest.mark.parametrize("name", sorted(_OPERATORS))
def test_operators_with_arrays_scalars_and_numpy(name):
    """Operators, reflected operators and in-place forms, with every kind of right operand."""
    op = _OPERATORS[name]
    accepted, a_dom, b_dom, nonzero, _ = BINARY[name]
    d = onp.dtype("int32") if onp.dtype("int32") in accepted else onp.dtype("float32")
    ah = sample(d, (3, 4), 0, *a_dom)
    bh = sample(d, (3, 4), 1, *b_dom, nonzero=nonzero)
    # array op array, and array op NumPy array (which keeps its dtype), both directions
    assert_matches(op(np.array(ah), np.array(bh)), numpy_result(name, ah, bh), None, name)
    assert_matches(op(np.array(ah), bh), numpy_result(name, ah, bh), None, f"{name} numpy rhs")
    r = op(ah, np.array(bh))
    assert_matches(r, numpy_result(name, ah, bh), None, f"{name} numpy lhs (reflected)")
    # array op Python scalar, and the reflected scalar op array
    for dt_, s in _scalar_cases(name):
        xh = sample(dt_, (3, 4), 2, *b_dom, nonzero=True)
        want_dt = onp.dtype(bool) if name in _BOOL_VALUED else \
            expected_dtype(dt_, s, float_result=name in _FLOAT_OPS)
        xr = xh.astype(want_dt)
        assert_matches(op(np.array(xh), s), numpy_result(name, xr, s), want_dt,
                       f"{name}({dt_} array, {s!r})")
        assert_matches(op(s, np.array(xh)), numpy_result(name, s, xr), want_dt,
                       f"{name}({s!r}, {dt_} array)")
    # in place: writes into the same storage, visible through views (MXNet's: contiguous
    # basic indexing), not through new arrays (a strided slice, a reshape)
    if name in _INPLACE:
        # int /= int would need a float result: tested with the errors below
        d = onp.dtype("float32") if name == "true_divide" else d
        ah, bh = ah.astype(d), bh.astype(d)
        x = np.array(ah)
        alias = x[1:]
        other = x[:, ::-1]
        storage = x._storage
        res = getattr(x, _INPLACE[name])(np.array(bh))
        assert res is x and x._storage is storage
        want = numpy_result(name, ah, bh)
        assert_matches(x, want, d, f"{name} in place")
        assert_matches(alias, want[1:], d, f"{name} in place, seen through a view")
        assert_matches(other, ah[:, ::-1], d, f"{name} in place, not seen by a new array")
        # in place with a broadcast right operand, a NumPy array and a scalar
        x = np.array(ah)
        getattr(x, _INPLACE[name])(np.array(bh[0]))
        assert_matches(x, numpy_result(name, ah, bh[:1]), d, f"{name} in place broadcast")
        x = np.array(ah)
        getattr(x, _INPLACE[name])(bh)
        assert_matches(x, numpy_result(name, ah, bh), d, f"{name} in place NumPy operand")
        x = np.array(ah)
        getattr(x, _INPLACE[name])(2)
        assert_matches(x, numpy_result(name, ah, 2), d, f"{name} in place scalar")


def test_inplace_on_views_and_overlapping_operands():
    h = onp.arange(12, dtype=onp.float32).reshape(3, 4)
    x = np.array(h)
    v = x[1:, ::2]          # strided: a new array in MXNet, so the source keeps its values
    v += 100
    assert_matches(x, h)
    assert_matches(v, h[1:, ::2] + 100)
    x[1:, ::2] += 100       # through the source: read, add, written back
    h2 = h.copy()
    h2[1:, ::2] += 100
    assert_matches(x, h2)
    r = x[1:]               # contiguous: a view, so writes reach the source
    r += 1
    h2[1:] += 1
    assert_matches(x, h2)
    # overlapping source and destination: the result is as if the right side was read first
    x = np.array(h)
    x[:, 1:] += x[:, :-1]
    h3 = h.copy()
    h3[:, 1:] += h[:, :-1].copy()
    assert_matches(x, h3)
    x = np.array(h)
    x += x.T[:4, :3].T   # same values through a transposed alias
    assert_matches(x, h + h)


def test_unary_operators():
    h = sample("float32", (3, 4))
    x = np.array(h)
    assert_matches(-x, -h)
    assert_matches(+x, +h)
    assert_matches(abs(x), abs(h))
    i = sample("int16", (5,), lo=-9, hi=9)
    assert_matches(~np.array(i), ~i)
    b = sample("bool", (5,))
    assert_matches(~np.array(b), ~b)
    with pytest.raises(TypeError):
        ~x  # noqa: B018  (invert is not defined for floats)


def test_promotion_between_array_dtypes():
    """Every pair of dtypes under add, and under true_divide (MXNet: float32 for integers)."""
    for da in DTYPES:
        for db in DTYPES:
            ah, bh = sample(da, (2, 3), 0), sample(db, (2, 3), 1, nonzero=True)
            want = numpy_result("add", ah, bh)
            assert_matches(np.add(np.array(ah), np.array(bh)), want, want.dtype,
                           f"add({da}, {db})")


def test_mxnet_scalar_rules():
    i = onp.arange(6, dtype=onp.int32)
    x = np.array(i)
    assert (x / 2).dtype == onp.float32            # NumPy: float64
    assert (x * 1.5).dtype == onp.float32          # NumPy: float64
    assert (1.5 + x).dtype == onp.float32
    assert np.exp(x).dtype == onp.float32          # NumPy: float64
    assert np.sqrt(np.array(i.astype(onp.int8))).dtype == onp.float32   # NumPy: float16
    assert (x + 1).dtype == onp.int32               # weak Python int
    assert (np.array(i.astype(onp.uint8)) + 1).dtype == onp.uint8
    assert (np.array(onp.array([True])) + 1).dtype == onp.int64
    assert (np.array(onp.array([True])) & True).dtype == onp.bool_
    assert (np.array(onp.array([1.0], onp.float16)) * 2.5).dtype == onp.float16
    assert np.array([1, 2]).dtype == onp.float32   # lists are float32
    assert np.array(onp.array([1, 2], onp.int16)).dtype == onp.int16   # NumPy arrays keep theirs
    # a NumPy array operand keeps its dtype and promotes as an array
    assert (np.array(onp.array([1], onp.int8)) + onp.array([1], onp.int16)).dtype == onp.int16
    assert (np.array(onp.array([1], onp.float32)) + onp.array([1.0])).dtype == onp.float64


def test_reflected_numpy_lhs_returns_device_array():
    h = onp.arange(4, dtype=onp.float32)
    r = h + np.array(h)
    assert isinstance(r, clgrad.ndarray)
    r = h < np.array(h + 1)
    assert isinstance(r, clgrad.ndarray) and r.dtype == onp.bool_
    assert r.asnumpy().all()


# --- where, clip ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES, ids=ids(DTYPES))
def test_where(dtype):
    c = sample("bool", (3, 1), 0)
    xh, yh = sample(dtype, (3, 4), 1), sample(dtype, (4,), 2)
    assert_matches(np.where(np.array(c), np.array(xh), np.array(yh)), onp.where(c, xh, yh),
                   dtype, "where broadcast")
    c2 = sample("bool", (3, 4), 3)
    assert_matches(np.where(np.array(c2), np.array(xh), np.array(xh[::-1])),
                   onp.where(c2, xh, xh[::-1]), dtype, "where contiguous/negative step")
    # a non-bool condition means "nonzero"
    ci = sample("int32", (3, 4), 4, -1, 1)
    assert_matches(np.where(np.array(ci), np.array(xh), np.array(yh)), onp.where(ci, xh, yh),
                   dtype, "where int condition")
    # 0-d
    assert_matches(np.where(np.array(onp.array(True)), np.array(xh[0, 0]), np.array(yh[0])),
                   onp.where(True, xh[0, 0], yh[0]), dtype, "where 0-d")


def test_where_scalars_and_empty():
    c = onp.array([True, False, True])
    i = onp.array([1, 2, 3], onp.int32)
    assert_matches(np.where(np.array(c), np.array(i), 0), onp.where(c, i, 0), onp.int32)
    # a Python float with an integer array: float32 (NumPy: float64)
    assert_matches(np.where(np.array(c), 1.5, np.array(i)),
                   onp.where(c, 1.5, i).astype(onp.float32), onp.float32)
    e = np.where(np.array(onp.zeros((0, 3), bool)), np.array(i), 1)
    assert e.shape == (0, 3) and e.dtype == onp.int32


@pytest.mark.parametrize("dtype", NONBOOL, ids=ids(NONBOOL))
def test_clip(dtype):
    h = sample(dtype, (3, 4), 0, -9, 9)
    lo, hi = (-2, 3) if dtype.kind != "u" else (2, 6)
    assert_matches(np.clip(np.array(h), lo, hi), onp.clip(h, lo, hi), dtype, "clip")
    assert_matches(np.clip(np.array(h), lo, None), onp.clip(h, lo, None), dtype, "clip lo")
    assert_matches(np.array(h).T.clip(None, hi), onp.clip(h.T, None, hi), dtype, "clip hi T")
    # array bounds, broadcast
    lo_a = sample(dtype, (4,), 1, -3, 0)
    hi_a = sample(dtype, (3, 1), 2, 1, 4)
    assert_matches(np.clip(np.array(h), np.array(lo_a), np.array(hi_a)),
                   onp.clip(h, lo_a, hi_a), dtype, "clip arrays")
    z = np.clip(np.array(h[0, 0]), lo, hi)
    assert_matches(z, onp.clip(h[0, 0], lo, hi), dtype, "clip 0-d")


def test_clip_float_scalar_on_integers_and_errors():
    h = onp.array([-3, 0, 5], onp.int32)
    assert_matches(np.clip(np.array(h), -1.5, 2.5), onp.clip(h, -1.5, 2.5).astype(onp.float32),
                   onp.float32)
    x = np.array(h)
    with pytest.raises(clgrad.MXNetError, match="a_min"):
        np.clip(x, None, None)
    out = np.zeros(3, dtype="int32")
    np.clip(x, 0, 2, out=out)
    assert_matches(out, onp.clip(h, 0, 2))


# --- comparisons of whole arrays ------------------------------------------------------------------
def test_isclose():
    a = onp.array([1.0, 1.0 + 1e-7, 1.1, onp.nan, onp.inf, -onp.inf, 0.0], onp.float32)
    b = onp.array([1.0, 1.0, 1.0, onp.nan, onp.inf, onp.inf, 1e-9], onp.float32)
    for kw in ({}, {"equal_nan": True}, {"rtol": 0.2}, {"atol": 1e-8, "rtol": 0}):
        want = onp.isclose(a, b, **kw)
        assert_matches(np.isclose(np.array(a), np.array(b), **kw), want, onp.bool_, str(kw))
        # NumPy arrays and Python scalars are accepted on either side
        assert_matches(np.isclose(a, np.array(b), **kw), want, onp.bool_, str(kw))
        assert_matches(np.isclose(np.array(a), b, **kw), want, onp.bool_, str(kw))
    assert_matches(np.isclose(np.array(a), 1.0), onp.isclose(a, 1.0), onp.bool_)
    i = onp.array([1, 2, 3], onp.int32)
    assert_matches(np.isclose(np.array(i), np.array(i + onp.array([0, 1, 0], onp.int32))),
                   onp.isclose(i, i + [0, 1, 0]), onp.bool_)
    # broadcasting
    assert_matches(np.isclose(np.array(a[:3].reshape(3, 1)), np.array(b[:3])),
                   onp.isclose(a[:3].reshape(3, 1), b[:3]), onp.bool_)


def test_array_equal_equiv_allclose():
    h = onp.arange(6, dtype=onp.float32).reshape(2, 3)
    x = np.array(h)
    assert np.array_equal(x, h) and np.array_equal(h, x) and np.array_equal(x, x.copy())
    assert not np.array_equal(x, h[:1])
    assert not np.array_equal(x, h + 1)
    n = onp.array([onp.nan, 1.0])
    assert not np.array_equal(np.array(n), n)
    assert np.array_equal(np.array(n), n, equal_nan=True)
    assert np.array_equiv(x, h[1:] * 0 + h)
    assert np.array_equiv(np.array(onp.ones((2, 3))), onp.ones(3))
    assert not np.array_equiv(x, onp.ones(4))
    assert np.allclose(x, h * (1 + 1e-6)) and np.allclose(h, x)
    assert not np.allclose(x, h + 1e-3)
    assert np.allclose(x, h + 1e-3, atol=1e-2)
    assert type(np.array_equal(x, h)) is bool and type(np.allclose(x, h)) is bool


# --- bad input ----------------------------------------------------------------------------------
def _snap(*arrays):
    return [a.asnumpy().copy() for a in arrays]


def _unchanged(arrays, snaps):
    for a, s in zip(arrays, snaps):
        onp.testing.assert_array_equal(a.asnumpy(), s)


def test_broadcast_mismatch_raises_and_changes_nothing():
    a = np.array(sample("float32", (3, 4)))
    b = np.array(sample("float32", (3,), 1))
    snaps = _snap(a, b)
    for f in (np.add, np.subtract, np.maximum, np.less, np.arctan2, np.logical_and):
        with pytest.raises(ValueError, match=r"\(3, 4\).*\(3,\)"):
            f(a, b)
    with pytest.raises(clgrad.ShapeError, match="broadcast"):
        np.where(np.array(onp.ones(2, bool)), a, b)
    with pytest.raises(clgrad.ShapeError):
        a += b
    with pytest.raises(clgrad.ShapeError, match="broadcast"):
        b += a            # broadcasts fine but does not fit into b
    with pytest.raises(clgrad.ShapeError):
        np.add(a, a, out=b)
    with pytest.raises(clgrad.ShapeError):
        np.clip(a, b, None)
    _unchanged([a, b], snaps)


def test_unsupported_dtype_for_op_raises_clearly():
    f = np.array(sample("float32", (3,)))
    snaps = _snap(f)
    for fn in (np.bitwise_and, np.left_shift, np.right_shift, np.bitwise_or):
        with pytest.raises(clgrad.DTypeError, match="float32"):
            fn(f, f)
    with pytest.raises(clgrad.DTypeError, match="bool"):
        np.subtract(np.array(onp.array([True])), np.array(onp.array([False])))
    with pytest.raises(clgrad.DTypeError):
        np.negative(np.array(onp.array([True])))
    with pytest.raises(clgrad.DTypeError, match="float32"):
        np.invert(f)
    with pytest.raises((clgrad.DTypeError, TypeError)):
        np.add(f, "x")
    with pytest.raises((clgrad.DTypeError, TypeError)):
        np.add(f, onp.array([1, 2, 3], onp.uint16))
    with pytest.raises(clgrad.DTypeError):
        np.floor(f.astype("complex64"))    # rounding is not defined for complex numbers
    _unchanged([f], snaps)


def test_float64_without_fp64_raises():
    """A device whose caps say no cl_khr_fp64 refuses float64 everywhere, naming the device."""
    base = clgrad.runtime.default_device()
    dev = clgrad.Device(base.cl_device, base.platform_index, base.device_index,
                        base.device_type, 7)
    dev._caps = dataclasses.replace(base.caps, fp64=False)
    x = np.array(onp.arange(3, dtype=onp.float32), device=dev)
    snaps = _snap(x)
    with pytest.raises(clgrad.DeviceCapabilityError, match="float64.*cl_khr_fp64") as e:
        np.zeros(3, dtype="float64", device=dev)
    assert dev.name in str(e.value)
    with pytest.raises(clgrad.DeviceCapabilityError):
        np.array(onp.ones(3), device=dev)
    with pytest.raises(clgrad.DeviceCapabilityError):
        x.astype("float64")
    with pytest.raises(clgrad.DeviceCapabilityError):
        x + onp.ones(3)        # a float64 NumPy operand would promote to float64
    with pytest.raises(clgrad.DeviceCapabilityError):
        np.arange(3, dtype="float64", device=dev)
    with pytest.raises(clgrad.DeviceCapabilityError):
        np.full(3, 1.0, dtype="float64", device=dev)
    _unchanged([x], snaps)
    # the fallbacks still work: integer ops that would use double internally
    i = np.array(onp.array([2, 4], onp.int64), device=dev)
    assert_matches(np.arange(4, dtype="int64", device=dev), onp.arange(4))
    assert_matches(i / 2, onp.array([1.0, 2.0], onp.float32))
    assert_matches(np.sqrt(i), onp.sqrt([2.0, 4.0]).astype(onp.float32))


def test_mixing_devices_raises():
    """A second Device over the same OpenCL device has its own context: mixing must raise."""
    base = clgrad.runtime.default_device()
    other = clgrad.Device(base.cl_device, base.platform_index, base.device_index,
                          base.device_type, 9)
    a = np.array(onp.arange(4, dtype=onp.float32))
    b = np.array(onp.arange(4, dtype=onp.float32) + 10, device=other)
    assert b.device is other and a.device is base
    snaps = _snap(a, b)
    for f in (np.add, np.multiply, np.equal, np.maximum):
        with pytest.raises(clgrad.DeviceMismatchError, match="different devices"):
            f(a, b)
    with pytest.raises(clgrad.DeviceMismatchError):
        a += b
    with pytest.raises(clgrad.DeviceMismatchError):
        a[:] = b
    with pytest.raises(clgrad.DeviceMismatchError):
        b.copyto(a)
    with pytest.raises(clgrad.DeviceMismatchError):
        np.where(a > 1, a, b)
    with pytest.raises(clgrad.DeviceMismatchError):
        np.clip(a, b, None)
    # an out= that is no array is reported first, as NumPy checks it before the operands
    for bad in (True, onp.zeros(4, onp.float32)):
        with pytest.raises(TypeError, match="out must be a clgrad array") as e:
            np.less(a, b, out=bad)
        assert not isinstance(e.value, clgrad.DeviceMismatchError)
    _unchanged([a, b], snaps)
    # explicit moves work
    assert_matches(a + b.to_device(base), (onp.arange(4) * 2.0 + 10).astype(onp.float32))
    c = b.copyto(base)
    assert c.device is base
    assert_matches(c, onp.arange(4, dtype=onp.float32) + 10)


def test_inplace_that_needs_a_wider_dtype_raises():
    """As in NumPy: an in-place result must cast to the target's dtype with 'same_kind'."""
    x = np.array(onp.array([1, 2, 3], onp.int32))
    snaps = _snap(x)
    with pytest.raises(TypeError, match="int32"):
        x /= 2
    with pytest.raises(TypeError, match="float32.*int32"):
        x += 1.5
    with pytest.raises(TypeError):
        x *= np.array(onp.ones(3, onp.float32))
    with pytest.raises(TypeError):
        np.add(x, 1.5, out=x)
    _unchanged([x], snaps)
    # same-kind narrowing is allowed, as in NumPy
    x += np.array(onp.array([1, 1, 1], onp.int64))
    assert_matches(x, onp.array([2, 3, 4], onp.int32))
    f = np.array(onp.array([1.0, 2.0], onp.float32))
    f += onp.array([0.5, 0.5])
    assert_matches(f, onp.array([1.5, 2.5], onp.float32))


def test_wrong_number_of_arguments():
    a = np.array([1.0])
    with pytest.raises(TypeError, match="add"):
        np.add(a)
    with pytest.raises(TypeError, match="exp"):
        np.exp(a, a)


def test_all_scalar_inputs_make_an_array():
    r = np.add(1, 2)
    assert isinstance(r, clgrad.ndarray) and r.shape == () and r.dtype == onp.int64
    assert r.item() == 3
    r = np.exp(0.0)
    assert r.dtype == onp.float32 and r.item() == 1.0


@pytest.mark.parametrize("dtype", ["int8", "int16", "int32", "int64"])
def test_integer_negative_powers_truncate_as_mxnet(dtype):
    # NumPy raises ValueError; MXNet 1.9.1 defines them as the real power truncated toward
    # zero (measured), and clgrad follows it. 0 ** -n is 0, as integer division by zero is;
    # MXNet's is the undefined conversion of infinity (the type's minimum for int32/int64).
    a = np.array([2, 3, 1, -1, -2, 5, 0], dtype=dtype)
    b = np.array([-1, 2, -2, -3, -2, 0, -1], dtype=dtype)
    want = onp.array([0, 9, 1, -1, 0, 1, 0], dtype=dtype)
    onp.testing.assert_array_equal((a ** b).asnumpy(), want)
    onp.testing.assert_array_equal(np.power(a[:5], -1).asnumpy(), [0, 0, 1, -1, 0])
    onp.testing.assert_array_equal((2 ** np.array([-1, 2, 0], dtype=dtype)).asnumpy(), [0, 4, 1])
    onp.testing.assert_array_equal(np.power(-1, np.array([-1, -2, 3], dtype=dtype)).asnumpy(),
                                   [-1, 1, -1])
