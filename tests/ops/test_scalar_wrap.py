"""Python numbers outside an operand type's range: every op converts a scalar into the type it
computes in as C converts it (MXNet's rule), never passing a raw driver error on.

An integer wraps modulo 2**bits into an integer type (two's complement for the signed ones);
``wrap`` below writes that rule out, and the expected results are NumPy's on the wrapped scalar
(NumPy itself refuses such scalars). A float beyond a float type's range is infinite. What has no
value at all in the type (2**1100 into float32, infinity or NaN into an integer type) raises
``ScalarConversionError``, an ``OverflowError`` (NaN: a ``ValueError``) and an ``MXNetError``.
"""
import warnings

import numpy as onp
import pytest

from clgrad import np
from clgrad.base import MXNetError, ScalarConversionError

INT_DTYPES = [onp.dtype(n) for n in ("int8", "int16", "int32", "int64", "uint8")]


def wrap(value, dtype):
    """``value`` converted to the integer ``dtype`` modulo 2**bits (``np.array(value).astype``
    on an integer that fits int64, written out for every integer)."""
    bits = dtype.itemsize * 8
    v = value % (1 << bits)
    if dtype.kind == "i" and v >= 1 << (bits - 1):
        v -= 1 << bits
    return dtype.type(v)


def beyond(dtype):
    """Integers just beyond ``dtype``'s range on both sides, and far beyond (int64's too)."""
    info = onp.iinfo(dtype)
    lo, hi, span = int(info.min), int(info.max), 1 << (dtype.itemsize * 8)
    return [hi + 1, hi + 3, lo - 1, lo - 3, span + 5, -span - 5, 2 ** 63, -2 ** 63 - 2,
            2 ** 64 + 7, 2 ** 70 + 9]


def operand(dtype):
    """Small values that keep every op defined (no x // -1 of the minimum, no zero divisor)."""
    return onp.array([0, 1, 2, 5, 9, 17], dtype=dtype) - (0 if dtype.kind == "u" else 4)


def _numpy(fn, *args):
    with warnings.catch_warnings(), onp.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return onp.asarray(fn(*args))


def check(got, want):
    got = got.asnumpy() if hasattr(got, "asnumpy") else onp.asarray(got)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    onp.testing.assert_array_equal(got, want)


# op name -> scalars it takes (None: every value ``beyond`` gives)
ARITHMETIC = ["add", "subtract", "multiply", "floor_divide", "mod", "maximum", "minimum",
              "bitwise_and", "bitwise_or", "bitwise_xor"]
COMPARISONS = ["equal", "not_equal", "less", "less_equal", "greater", "greater_equal"]
LOGICAL = ["logical_and", "logical_or", "logical_xor"]


@pytest.mark.parametrize("dtype", INT_DTYPES, ids=str)
@pytest.mark.parametrize("name", ARITHMETIC + COMPARISONS + LOGICAL)
def test_binary_op_wraps_the_scalar_into_the_array_type(name, dtype):
    a = operand(dtype)
    x = np.array(a)
    for s in beyond(dtype):
        w = wrap(s, dtype)
        check(getattr(np, name)(x, s), _numpy(getattr(onp, name), a, w))


@pytest.mark.parametrize("dtype", INT_DTYPES, ids=str)
@pytest.mark.parametrize("name", ["subtract", "floor_divide", "less", "maximum"])
def test_scalar_on_the_left_wraps_too(name, dtype):
    a = operand(dtype)
    a = onp.where(a == 0, 3, a).astype(dtype)        # a divisor: never zero
    x = np.array(a)
    for s in beyond(dtype):
        check(getattr(np, name)(s, x), _numpy(getattr(onp, name), wrap(s, dtype), a))


@pytest.mark.parametrize("dtype", INT_DTYPES, ids=str)
def test_python_operators_and_strided_operands(dtype):
    a = onp.arange(12).reshape(3, 4).astype(dtype)
    x = np.array(a).T                   # a strided view: the strided kernel's path
    at = a.T
    for s in beyond(dtype):
        w = wrap(s, dtype)
        check(x + s, _numpy(onp.add, at, w))
        check(s - x, _numpy(onp.subtract, w, at))
        check(x * s, _numpy(onp.multiply, at, w))
        check(x == s, _numpy(onp.equal, at, w))


@pytest.mark.parametrize("dtype", INT_DTYPES, ids=str)
def test_shift_and_power_amounts_wrap(dtype):
    # amounts that wrap to small non-negative values, where both ops are defined alike
    bits = dtype.itemsize * 8
    a = onp.array([1, 2, 3, 5], dtype=dtype)
    x = np.array(a)
    for s in (2 ** bits + 3, -2 ** bits + 2, 2 ** 64 + 1, 2 ** 70 + 2):
        w = wrap(s, dtype)
        check(np.left_shift(x, s), _numpy(onp.left_shift, a, w))
        check(np.right_shift(x, s), _numpy(onp.right_shift, a, w))
        check(np.power(x, s), _numpy(onp.power, a, w))
        check(np.power(s, x), _numpy(onp.power, w, a))


def test_the_issue_cases():
    a = np.array([1, 2], dtype="int32")
    check(a + 2 ** 31, onp.array([-2147483647, -2147483646], dtype="int32"))   # MXNet 1.9.1
    check(a * 2 ** 40, onp.array([0, 0], dtype="int32"))
    check(a == 2 ** 40, onp.array([False, False]))
    check(np.array([0], dtype="int32") == 2 ** 40, onp.array([True]))      # 2**40 wraps to 0
    check(np.array([1], dtype="int64") + 2 ** 63, onp.array([-2 ** 63 + 1], dtype="int64"))
    check(np.array([1], dtype="uint8") + 300, onp.array([45], dtype="uint8"))  # MXNet 1.9.1
    check(np.array([1], dtype="int8") + 200, onp.array([-55], dtype="int8"))   # MXNet 1.9.1
    check(np.full(2, 2 ** 40, dtype="int32"), onp.array([0, 0], dtype="int32"))
    check(np.full(2, 300, dtype="uint8"), onp.array([44, 44], dtype="uint8"))  # MXNet 1.9.1
    check(np.full(2, 2 ** 31, dtype="int32"), onp.array([-2 ** 31] * 2, dtype="int32"))


@pytest.mark.parametrize("dtype", INT_DTYPES, ids=str)
def test_creation_and_assignment_wrap(dtype):
    a = operand(dtype)
    for s in beyond(dtype):
        w = wrap(s, dtype)
        check(np.full((2, 3), s, dtype=dtype), onp.full((2, 3), w, dtype=dtype))
        check(np.array([[s, 1]], dtype=dtype), onp.array([[w, 1]], dtype=dtype))
        check(np.array(s, dtype=dtype), onp.array(w, dtype=dtype))
        check(np.full_like(np.array(a), s), onp.full_like(a, w))
        x = np.array(a)
        x[1] = s                                        # basic index
        x[4:] = s                                       # slice
        x[np.array([0])] = s                            # integer array
        x[np.array([False, False, True, False, False, False], dtype=bool)] = s  # mask
        want = a.copy()
        want[[0, 1, 2, 4, 5]] = w
        check(x, want)


@pytest.mark.parametrize("dtype", INT_DTYPES, ids=str)
def test_where_clip_and_initial_wrap(dtype):
    a = operand(dtype)
    x = np.array(a)
    cond = a % 2 == 0
    c = np.array(cond, dtype=bool)
    info = onp.iinfo(dtype)
    for s in beyond(dtype):
        w = wrap(s, dtype)
        check(np.where(c, x, s), onp.where(cond, a, w))
        check(np.where(c, s, x), onp.where(cond, w, a))
        check(np.clip(x, s, None), _numpy(onp.maximum, a, w))
        check(np.clip(x, None, s), _numpy(onp.minimum, a, w))
        check(np.max(x, initial=s), _numpy(onp.max, onp.append(a, w)))
    # both bounds beyond the range, wrapping to a proper interval
    lo, hi = int(info.min) - 2 ** 64 + 1, int(info.max) + 2 ** 64 - 1
    check(np.clip(x, lo, hi), _numpy(onp.clip, a, wrap(lo, dtype), wrap(hi, dtype)))


def test_boolean_arrays_promote_before_wrapping():
    # bool and a Python int compute in int64: 2**40 fits, 2**63 wraps
    t = np.array([True, False], dtype=bool)
    check(t + 2 ** 40, onp.array([2 ** 40 + 1, 2 ** 40], dtype="int64"))
    check(t + 2 ** 63, onp.array([-2 ** 63 + 1, -2 ** 63], dtype="int64"))
    check(np.full(2, 2 ** 40, dtype=bool), onp.array([True, True]))
    check(np.full(2, 0.0, dtype=bool), onp.array([False, False]))


def test_float_valued_ops_take_the_exact_value():
    # true_divide and arctan2 compute in float32: the integer converts to float, unwrapped
    a = onp.array([1, 2], dtype="int32")
    x = np.array(a)
    check(x / 2 ** 40, (a.astype("float32") / onp.float32(2 ** 40)))
    got = np.arctan2(x, -2 ** 70)
    assert got.dtype == onp.float32
    onp.testing.assert_allclose(got.asnumpy(), onp.arctan2(a.astype("float32"),
                                                           onp.float32(-2 ** 70)), rtol=1e-6)


def test_floats_beyond_a_float_type_are_infinite():
    with onp.errstate(over="ignore"):
        check(np.array([1.0], dtype="float16") + 1e6, onp.array([onp.inf], dtype="float16"))
        check(np.array([1.0], dtype="float16") * -1e6, onp.array([-onp.inf], dtype="float16"))
        check(np.array([1.0], dtype="float32") + 1e40, onp.array([onp.inf], dtype="float32"))
        check(np.array([1.0], dtype="float32") - 2 ** 200, onp.array([-onp.inf], dtype="float32"))
        check(np.full(2, 1e6, dtype="float16"), onp.array([onp.inf] * 2, dtype="float16"))
        check(np.full(2, -1e40, dtype="float32"), onp.array([-onp.inf] * 2, dtype="float32"))
        x = np.zeros(3, dtype="float16")
        x[1] = 1e6
        x[np.array([2])] = -1e6
        check(x, onp.array([0, onp.inf, -onp.inf], dtype="float16"))


@pytest.mark.parametrize("case", [
    lambda: np.array([1.0], dtype="float32") + 2 ** 1100,
    lambda: np.array([1], dtype="int32") / 2 ** 1100,
    lambda: np.full(2, -2 ** 1100, dtype="float16"),
    lambda: np.array([1], dtype="complex64") * 2 ** 1100,
    lambda: np.full(2, float("inf"), dtype="int32"),
    lambda: np.where(np.array([True], dtype=bool), np.array([1.0]), 2 ** 1100),
], ids=["add", "divide", "full", "complex", "inf into int", "where"])
def test_numbers_no_value_of_the_type_stands_for_raise_overflow(case):
    with pytest.raises(ScalarConversionError) as e:
        case()
    assert isinstance(e.value, OverflowError) and isinstance(e.value, MXNetError)
    assert "float" in str(e.value) or "int" in str(e.value)


def test_nan_into_an_integer_type_raises_value_error():
    with pytest.raises(ValueError, match="int32") as e:
        np.full(2, float("nan"), dtype="int32")
    assert isinstance(e.value, ScalarConversionError)
    x = np.zeros(2, dtype="int8")
    with pytest.raises(ScalarConversionError, match="int8"):
        x[0] = float("nan")


def test_error_names_the_value_and_the_dtype():
    with pytest.raises(ScalarConversionError, match=r"float32") as e:
        np.array([1.0], dtype="float32") + 2 ** 1100
    assert "digits" in str(e.value)         # a 332-digit integer is shortened, not printed


def test_diagonal_offsets_far_past_the_matrix_do_not_wrap():
    # tril/triu's k is an offset, not an operand value: any k past the matrix keeps all or none
    h = onp.arange(1, 7, dtype="float32").reshape(2, 3)
    x = np.array(h)
    for k in (2 ** 63, 2 ** 64, 2 ** 70, -2 ** 63 - 1, -2 ** 70):
        near = 4 if k > 0 else -3
        check(np.tril(x, k=k), onp.tril(h, k=near))
        check(np.triu(x, k=k), onp.triu(h, k=near))
