"""Reference rules for the forward tests: test data per dtype, MXNet's dtype rules, comparisons.

The expected dtypes are derived from NumPy 2 (NEP 50: Python scalars are weak) with MXNet's
documented differences applied on top, not from clgrad's own promotion code.
"""
import numpy as onp

DTYPES = [onp.dtype(n) for n in ("bool", "int8", "int16", "int32", "int64", "uint8",
                                  "float16", "float32", "float64")]
INTS = [d for d in DTYPES if d.kind in "iu"]
FLOATS = [d for d in DTYPES if d.kind == "f"]
NONBOOL = [d for d in DTYPES if d.kind != "b"]
INTLIKE = [d for d in DTYPES if d.kind in "biu"]
F32 = onp.dtype("float32")


def ids(dtypes):
    return [str(d) for d in dtypes]


def sample(dtype, shape, seed=0, lo=-4.0, hi=4.0, nonzero=False):
    """Host test data of ``dtype``: values in [lo, hi] (integers: whole numbers in that range,
    unsigned: clipped at 0), optionally avoiding zero (divisors)."""
    dtype = onp.dtype(dtype)
    rng = onp.random.default_rng(seed)
    if dtype.kind == "b":
        x = rng.integers(0, 2, size=shape).astype(bool)
        if nonzero:
            x[...] = True
        return x
    if dtype.kind in "iu":
        lo_i = max(int(onp.ceil(lo)), 0 if dtype.kind == "u" else -10 ** 6)
        x = rng.integers(lo_i, int(onp.floor(hi)) + 1, size=shape)
        if nonzero:
            x = onp.where(x == 0, 1, x)
        return x.astype(dtype)
    x = rng.uniform(lo, hi, size=shape)
    if nonzero:
        x = onp.where(onp.abs(x) < 0.25, 0.5, x)
    return x.astype(dtype)


def expected_dtype(*operands, float_result=False):
    """MXNet's result dtype for arrays (NumPy dtypes) mixed with Python scalars.

    NumPy's promotion, except: integer or bool arrays mixed with float arrays take the float
    arrays' type (MXNet: int32 + float32 is float32, where NumPy gives float64), a Python float
    with no float array gives float32 (NumPy: float64), and float-valued ops (true_divide,
    exp, ...) on integers or bools give float32 too.
    """
    arrays = [o for o in operands if isinstance(o, onp.dtype)]
    scalars = [o for o in operands if not isinstance(o, onp.dtype)]
    floats = [a for a in arrays if a.kind in "fc"]
    if floats:
        arrays = floats
    r = onp.result_type(*arrays, *scalars)
    if r.kind == "f" and not any(a.kind == "f" for a in arrays):
        r = F32
    if float_result and r.kind != "f":
        r = F32
    return r


def tolerance(dtype):
    """(rtol, atol) for comparing a device result of ``dtype`` with NumPy."""
    dtype = onp.dtype(dtype)
    if dtype == onp.float16:
        return 2e-3, 2e-3
    if dtype == onp.float32:
        return 2e-5, 1e-6
    if dtype == onp.float64:
        return 1e-12, 1e-14
    return 0, 0


def assert_matches(got, want, dtype=None, what=""):
    """``got`` (clgrad array) equals ``want`` (NumPy) in shape, dtype and value."""
    from clgrad import ndarray
    assert isinstance(got, ndarray), f"{what}: expected a clgrad array, got {type(got)}"
    want = onp.asarray(want)
    dtype = onp.dtype(dtype) if dtype is not None else want.dtype
    assert got.dtype == dtype, f"{what}: dtype {got.dtype}, expected {dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    host = got.asnumpy()
    assert host.dtype == dtype
    rtol, atol = tolerance(dtype)
    if dtype.kind == "f":
        onp.testing.assert_allclose(host.astype(onp.float64), want.astype(onp.float64),
                                    rtol=rtol, atol=atol, equal_nan=True, err_msg=what)
    else:
        onp.testing.assert_array_equal(host, want.astype(dtype), err_msg=what)
