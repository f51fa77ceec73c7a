"""complex64 / complex128 elementary functions: values against NumPy (random data and hard
points: huge, tiny, near branch cuts and the unit circle), the Array API standard's special
cases (exact, signed zeros included), complex powers and the ops that still refuse complex."""
import cmath
import math
from fractions import Fraction

import numpy as onp
import pytest

from clgrad import autograd, np
from clgrad.base import DTypeError
from clgrad.runtime import default_device

_FP64 = default_device().caps.fp64
DTYPES = [onp.complex64,
          pytest.param(onp.complex128, marks=pytest.mark.skipif(
              not _FP64, reason="the device lacks cl_khr_fp64"))]
RTOL = {onp.dtype(onp.complex64): 1e-5, onp.dtype(onp.complex128): 1e-12}

UNARY = ["exp", "expm1", "log", "log1p", "log2", "log10", "sqrt", "reciprocal", "square",
         "sin", "cos", "tan", "sinh", "cosh", "tanh", "arcsin", "arccos", "arctan",
         "arcsinh", "arccosh", "arctanh", "sign"]

inf, nan, pi = math.inf, math.nan, math.pi


def _run(name, a):
    return getattr(np, name)(np.array(a)).asnumpy()


def _reference(name, a):
    """NumPy's value in complex128 (rounded to a's dtype), where NumPy is accurate."""
    z = a.astype(onp.complex128)
    with onp.errstate(all="ignore"):
        want = getattr(onp, name)(z)
        if name == "expm1":     # NumPy gives exp(x) sin(0) = inf * 0 = NaN for a large real x
            real = z.imag == 0
            want[real] = onp.expm1(z.real[real]) + 1j * z.imag[real]
        if name == "log1p":     # NumPy takes log|1 + z|: no digits left for tiny z
            tiny = onp.abs(z) < 1e-3
            want[tiny] = _log1p_series(z[tiny])
        return want.astype(a.dtype)


def _log1p_series(z):
    return sum((-1) ** (k + 1) * z ** k / k for k in range(1, 8))


def _square_exact(a):
    """z * z computed in rationals, then rounded (NumPy's x*x - y*y cancels, or overflows)."""
    def rounded(f):
        try:
            return float(f)
        except OverflowError:
            return inf if f > 0 else -inf
    out = []
    for c in a:
        x, y = Fraction(float(c.real)), Fraction(float(c.imag))
        out.append(complex(rounded(x * x - y * y), rounded(2 * x * y)))
    with onp.errstate(over="ignore"):
        return onp.array(out).astype(a.dtype)


def _check(got, want, rtol, atol=0.0):
    """Each part within rtol of want's modulus (of its finite parts); NaN where want has NaN,
    the same infinity where want has one."""
    assert got.dtype == want.dtype and got.shape == want.shape
    scale = onp.hypot(*[onp.where(onp.isfinite(p), p, 0) for p in (want.real, want.imag)])
    for g, w in ((got.real, want.real), (got.imag, want.imag)):
        with onp.errstate(invalid="ignore"):
            ok = (g == w) | (onp.isnan(g) & onp.isnan(w)) | \
                (onp.abs(g - w) <= atol + rtol * scale)
        assert ok.all(), (g[~ok], w[~ok], onp.nonzero(~ok))


def _random(dtype, n=200, seed=0):
    r = onp.random.default_rng(seed)
    mag = 10.0 ** r.uniform(-2, 1.5, n)       # moduli from 0.01 to 30
    return (mag * r.standard_normal(n) + 1j * mag * r.standard_normal(n)).astype(dtype)


# --- against NumPy ----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", UNARY)
def test_random_matches_numpy(dtype, name):
    a = _random(dtype)
    if name in ("sinh", "cosh", "tanh", "exp", "expm1"):
        a = a.real.clip(-20, 20) + 1j * a.imag    # (keep exp(x) well inside the range)
    got = _run(name, a)
    _check(got, _reference(name, a), RTOL[onp.dtype(dtype)])


def _hard_grid(dtype):
    big = [1e30] + ([1e300] if dtype == onp.complex128 else [])
    tiny = [1e-30] + ([1e-300] if dtype == onp.complex128 else [])
    parts = [0.0, -0.0, 1e-5, 0.5, -0.5, 1.0, -1.0, 2.0, -3.0, 1e5]
    parts += big + [-b for b in big] + tiny + [-t for t in tiny]
    re, im = onp.meshgrid(parts, parts)
    return (re + 1j * im).ravel().astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", UNARY)
def test_hard_points_match_numpy(dtype, name):
    """Huge and tiny parts, both signed zeros, points on the branch cuts (the real axis beyond
    +-1, the imaginary axis beyond +-i, the negative real axis) and near them."""
    a = _hard_grid(dtype)
    with onp.errstate(all="ignore"):
        got = _run(name, a)
    want = _square_exact(a) if name == "square" else _reference(name, a)
    _check(got, want, RTOL[onp.dtype(dtype)])


@pytest.mark.parametrize("dtype", DTYPES)
def test_branch_cut_sides(dtype):
    """On a cut, the sign of the zero part picks the side (C99): log(-2 +- 0j) = log 2 +- i pi."""
    a = onp.array([complex(-2, 0.0), complex(-2, -0.0), complex(0.0, 2), complex(-0.0, 2),
                   complex(3, 0.0), complex(3, -0.0), complex(-3, 0.0), complex(-3, -0.0)],
                  dtype)
    for name in ("log", "sqrt", "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh",
                 "log1p"):
        got = _run(name, a)
        want = _reference(name, a)
        _check(got, want, RTOL[onp.dtype(dtype)])
        onp.testing.assert_array_equal(onp.signbit(got.imag), onp.signbit(want.imag))


def _exact_log_abs(x, y, one_plus=False):
    """log|z| (log|1 + z| when one_plus) from |z|^2 - 1 computed exactly in rationals."""
    x, y = Fraction(float(x)), Fraction(float(y))
    m = (2 * x + x * x + y * y) if one_plus else (x * x + y * y - 1)
    return 0.5 * math.log1p(float(m))


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_near_unit_circle(dtype):
    """log|z| near |z| = 1 and log|1 + z| near |1 + z| = 1: small real parts, each to its own
    relative accuracy (cancellation in |z|^2 - 1 would leave none)."""
    t = onp.linspace(0.1, 3.0, 13)
    z = onp.concatenate([onp.exp(1j * t), onp.exp(1j * t) * (1 + 1e-6),
                         [0.6 + 0.8j, 1 - 1e-7 + 1e-4j, 0.999 + 0.01j]]).astype(dtype)
    rtol = RTOL[onp.dtype(dtype)]
    got = _run("log", z)
    want = onp.array([_exact_log_abs(c.real, c.imag) for c in z])
    onp.testing.assert_allclose(got.real, want, rtol=100 * rtol, atol=0)
    w = (z - 1).astype(dtype)       # 1 + w is z again, up to rounding of w
    got = _run("log1p", w)
    want = onp.array([_exact_log_abs(c.real, c.imag, True) for c in w])
    onp.testing.assert_allclose(got.real, want, rtol=100 * rtol, atol=0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_tiny_arguments_keep_their_digits(dtype):
    """f(z) ~ z (or 1 + z, 2 sqrt(z)...) for |z| = 1e-30: the leading term must survive."""
    z = onp.array([complex(1e-30, 2e-30), complex(-3e-30, 1e-30)], dtype)
    rtol = RTOL[onp.dtype(dtype)]
    c = z.astype(onp.complex128)
    for name, want in [("expm1", c), ("log1p", c), ("sin", c), ("tan", c), ("sinh", c),
                       ("tanh", c), ("arcsin", c), ("arctan", c), ("arcsinh", c),
                       ("arctanh", c), ("sqrt", onp.array([cmath.sqrt(v) for v in c]))]:
        _check(_run(name, z), want.astype(dtype), rtol)


# --- special values (the Array API standard, C99 Annex G) --------------------------------------
# Classes of parts, as the standard names them.
FIN = (0.0, -0.0, 1.5, -2.5)        # "a finite number"
POS = (1.5, 3.0)                    # "a positive (i.e., greater than 0) finite number"
NZ = (1.5, -2.5)                    # "a nonzero finite number"
NZI = (1.5, -2.5, inf)              # "not equal to 0", "a nonzero number"
ZERO = (0.0, -0.0)                  # "either +0 or -0"
ANY = FIN + (nan,)                  # "any value" (an infinite b has its own case)


def _cis(r, b):
    return complex(r * math.cos(b), r * math.sin(b))


# function: [(a or class of a, b or class of b, result or result(a, b), unspecified signs)]
# ("r": the real part's sign is unspecified, "i": the imaginary part's, "ri": both)
SPECIAL = {
    "exp": [
        (ZERO, 0.0, 1 + 0j, ""), (FIN, inf, complex(nan, nan), ""),
        (FIN, nan, complex(nan, nan), ""), (inf, 0.0, complex(inf, 0.0), ""),
        (-inf, FIN, lambda a, b: _cis(0.0, b), ""), (inf, NZ, lambda a, b: _cis(inf, b), ""),
        (-inf, inf, 0j, "ri"), (inf, inf, complex(inf, nan), "r"), (-inf, nan, 0j, "ri"),
        (inf, nan, complex(inf, nan), "r"), (nan, 0.0, complex(nan, 0.0), ""),
        (nan, NZI, complex(nan, nan), ""), (nan, nan, complex(nan, nan), "")],
    "expm1": [
        (ZERO, 0.0, 0j, ""), (FIN, inf, complex(nan, nan), ""),
        (FIN, nan, complex(nan, nan), ""), (inf, 0.0, complex(inf, 0.0), ""),
        (-inf, FIN, lambda a, b: _cis(0.0, b) - 1, ""),
        (inf, NZ, lambda a, b: _cis(inf, b) - 1, ""),
        (-inf, inf, -1 + 0j, "i"), (inf, inf, complex(inf, nan), "r"), (-inf, nan, -1 + 0j, "i"),
        (inf, nan, complex(inf, nan), "r"), (nan, 0.0, complex(nan, 0.0), ""),
        (nan, NZI, complex(nan, nan), ""), (nan, nan, complex(nan, nan), "")],
    "log": [
        (-0.0, 0.0, complex(-inf, pi), ""), (0.0, 0.0, complex(-inf, 0.0), ""),
        (FIN, inf, complex(inf, pi / 2), ""), (FIN, nan, complex(nan, nan), ""),
        (-inf, POS, complex(inf, pi), ""), (inf, POS, complex(inf, 0.0), ""),
        (-inf, inf, complex(inf, 3 * pi / 4), ""), (inf, inf, complex(inf, pi / 4), ""),
        ((inf, -inf), nan, complex(inf, nan), ""), (nan, FIN, complex(nan, nan), ""),
        (nan, inf, complex(inf, nan), ""), (nan, nan, complex(nan, nan), "")],
    "log1p": [
        (-1.0, 0.0, complex(-inf, 0.0), ""),
        (FIN, inf, complex(inf, pi / 2), ""), (FIN, nan, complex(nan, nan), ""),
        (-inf, POS, complex(inf, pi), ""), (inf, POS, complex(inf, 0.0), ""),
        (-inf, inf, complex(inf, 3 * pi / 4), ""), (inf, inf, complex(inf, pi / 4), ""),
        ((inf, -inf), nan, complex(inf, nan), ""), (nan, FIN, complex(nan, nan), ""),
        (nan, inf, complex(inf, nan), ""), (nan, nan, complex(nan, nan), "")],
    "sqrt": [
        (ZERO, 0.0, 0j, ""), (ANY, inf, complex(inf, inf), ""),
        (FIN, nan, complex(nan, nan), ""), (-inf, POS, complex(0.0, inf), ""),
        (inf, POS, complex(inf, 0.0), ""), (-inf, nan, complex(nan, inf), "i"),
        (inf, nan, complex(inf, nan), ""), (nan, ANY, complex(nan, nan), ""),
        (nan, nan, complex(nan, nan), "")],
    "sinh": [
        (0.0, 0.0, 0j, ""), (0.0, inf, complex(0.0, nan), "r"),
        (0.0, nan, complex(0.0, nan), "r"), (POS, inf, complex(nan, nan), ""),
        (POS, nan, complex(nan, nan), ""), (inf, 0.0, complex(inf, 0.0), ""),
        (inf, POS, lambda a, b: _cis(inf, b), ""), (inf, inf, complex(inf, nan), "r"),
        (inf, nan, complex(inf, nan), "r"), (nan, 0.0, complex(nan, 0.0), ""),
        (nan, NZ, complex(nan, nan), ""), (nan, nan, complex(nan, nan), "")],
    "cosh": [
        (0.0, 0.0, 1 + 0j, ""), (0.0, inf, complex(nan, 0.0), "i"),
        (0.0, nan, complex(nan, 0.0), "i"), (NZ, inf, complex(nan, nan), ""),
        (NZ, nan, complex(nan, nan), ""), (inf, 0.0, complex(inf, 0.0), ""),
        (inf, NZ, lambda a, b: _cis(inf, b), ""), (inf, inf, complex(inf, nan), "r"),
        (inf, nan, complex(inf, nan), ""), (nan, ZERO, complex(nan, 0.0), "i"),
        (nan, NZ, complex(nan, nan), ""), (nan, nan, complex(nan, nan), "")],
    "tanh": [
        (0.0, 0.0, 0j, ""), (NZ, inf, complex(nan, nan), ""), (0.0, inf, complex(0.0, nan), ""),
        (NZ, nan, complex(nan, nan), ""), (0.0, nan, complex(0.0, nan), ""),
        (inf, POS, 1 + 0j, ""), (inf, inf, 1 + 0j, "i"), (inf, nan, 1 + 0j, "i"),
        (nan, 0.0, complex(nan, 0.0), ""), (nan, NZI, complex(nan, nan), ""),
        (nan, nan, complex(nan, nan), "")],
    "arcsinh": [
        (0.0, 0.0, 0j, ""), (POS, inf, complex(inf, pi / 2), ""),
        (FIN, nan, complex(nan, nan), ""), (inf, POS, complex(inf, 0.0), ""),
        (inf, inf, complex(inf, pi / 4), ""), (nan, 0.0, complex(nan, 0.0), ""),
        (nan, NZ, complex(nan, nan), ""), (nan, inf, complex(inf, nan), "r"),
        (nan, nan, complex(nan, nan), "")],
    "arccos": [
        (ZERO, 0.0, complex(pi / 2, -0.0), ""), (ZERO, nan, complex(pi / 2, nan), ""),
        (FIN, inf, complex(pi / 2, -inf), ""), (NZ, nan, complex(nan, nan), ""),
        (-inf, POS, complex(pi, -inf), ""), (inf, POS, complex(0.0, -inf), ""),
        (-inf, inf, complex(3 * pi / 4, -inf), ""), (inf, inf, complex(pi / 4, -inf), ""),
        ((inf, -inf), nan, complex(nan, inf), "i"), (nan, FIN, complex(nan, nan), ""),
        (nan, inf, complex(nan, -inf), ""), (nan, nan, complex(nan, nan), "")],
    "arccosh": [
        (ZERO, 0.0, complex(0.0, pi / 2), ""), (FIN, inf, complex(inf, pi / 2), ""),
        (NZ, nan, complex(nan, nan), ""), (0.0, nan, complex(nan, pi / 2), "i"),
        (-inf, POS, complex(inf, pi), ""), (inf, POS, complex(inf, 0.0), ""),
        (-inf, inf, complex(inf, 3 * pi / 4), ""), (inf, inf, complex(inf, pi / 4), ""),
        ((inf, -inf), nan, complex(inf, nan), ""), (nan, FIN, complex(nan, nan), ""),
        (nan, inf, complex(inf, nan), ""), (nan, nan, complex(nan, nan), "")],
    "arctanh": [
        (0.0, 0.0, 0j, ""), (0.0, nan, complex(0.0, nan), ""), (1.0, 0.0, complex(inf, 0.0), ""),
        (POS, inf, complex(0.0, pi / 2), ""), (NZ, nan, complex(nan, nan), ""),
        (inf, POS, complex(0.0, pi / 2), ""), (inf, inf, complex(0.0, pi / 2), ""),
        (inf, nan, complex(0.0, nan), ""), (nan, FIN, complex(nan, nan), ""),
        (nan, inf, complex(0.0, pi / 2), "r"), (nan, nan, complex(nan, nan), "")],
    "sign": [
        (ZERO, ZERO, 0j, ""), (nan, FIN + (inf, nan), complex(nan, nan), ""),
        (FIN + (inf,), nan, complex(nan, nan), "")],
}


def _cases(name):
    """(input, expected, unspecified signs) for each case of the table, and its conjugate
    (these functions commute with conj; sign's table lists every zero itself)."""
    def each(v):
        return v if isinstance(v, tuple) else (v,)
    out = []
    for a_cls, b_cls, res, loose in SPECIAL[name]:
        for a in each(a_cls):
            for b in each(b_cls):
                r = res(a, b) if callable(res) else res
                out.append((complex(a, b), r, loose))
                if name != "sign":
                    out.append((complex(a, -b), complex(r.real, -r.imag), loose))
    return out


def _rotated(name, inner):
    """The standard defines f(z) = -i g(iz) (sin, tan, asin, atan) or cos(z) = cosh(iz): the
    cases of g at w become cases of f at z = -i w."""
    out = []
    for w, r, loose in _cases(inner):
        z = complex(w.imag, -w.real)
        if name == "cos":
            out.append((z, r, loose))
        else:   # -i r, with the unspecified signs swapping parts
            out.append((z, complex(r.imag, -r.real),
                        "".join({"r": "i", "i": "r"}[c] for c in loose)))
    return out


def _scaled(inner, k):
    """log2/log10: the standard's change of base, log(z) / log(k), part by part."""
    return [(z, complex(r.real / math.log(k), r.imag / math.log(k)), loose)
            for z, r, loose in _cases(inner)]


def _all_cases(name):
    rotated = {"sin": "sinh", "cos": "cosh", "tan": "tanh", "arcsin": "arcsinh",
               "arctan": "arctanh"}
    if name in rotated:
        return _rotated(name, rotated[name])
    if name in ("log2", "log10"):
        return _scaled("log", 2 if name == "log2" else 10)
    return _cases(name)


def _same_value(g, w, loose, eps):
    """g equals w exactly: NaN as NaN, zeros with their sign (unless loose), infinities with
    their sign; other values (multiples of pi) to a few ulp."""
    if math.isnan(w):
        return math.isnan(g)
    if loose:
        g, w = abs(g), abs(w)
    if w == 0 or math.isinf(w):
        return g == w and math.copysign(1, g) == math.copysign(1, w)
    return abs(g - w) <= 4 * eps * abs(w)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(set(SPECIAL) | {"sin", "cos", "tan", "arcsin", "arctan",
                                                        "log2", "log10"}))
def test_special_cases(dtype, name):
    cases = _all_cases(name)
    z = onp.array([c[0] for c in cases], dtype)
    with onp.errstate(all="ignore"):
        got = _run(name, z)
    eps = onp.finfo(dtype).eps
    bad = []
    for (zin, want, loose), g in zip(cases, got):
        if not (_same_value(float(g.real), want.real, "r" in loose, eps) and
                _same_value(float(g.imag), want.imag, "i" in loose, eps)):
            bad.append(f"{name}({zin!r}) = {complex(g)!r}, want {want!r}")
    assert not bad, "\n".join(bad)


# --- powers -----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_power_matches_numpy(dtype):
    rtol = RTOL[onp.dtype(dtype)]
    base = onp.array([1 + 1j, -2 + 0.5j, 0.3 - 4j, 1e-3j, -1.5 + 0j, 2.5 + 1e-7j, 0j,
                      complex(0, -0.0), 7 - 7j], dtype)
    expo = onp.array([0, 1, 2, 3, -1, -2, 5, -7, 0.5, -0.5, 1 + 1j, 2.5 - 1j, 1j, 30, 0.1 + 0j],
                     dtype)
    a, b = onp.meshgrid(base, expo)
    got = np.power(np.array(a), np.array(b)).asnumpy()
    with onp.errstate(all="ignore"):
        want = onp.power(a.astype(onp.complex128), b.astype(onp.complex128)).astype(dtype)
    _check(got, want, 10 * rtol)
    # Gaussian integers to small integer powers: exact, as NumPy's repeated multiplication
    g = onp.array([1 + 1j, 1 + 2j, -3 + 1j], dtype)
    for n in (2, 3, 4, 7):
        onp.testing.assert_array_equal((np.array(g) ** n).asnumpy(), g ** n)


@pytest.mark.parametrize("dtype", DTYPES)
def test_power_with_scalars(dtype):
    rtol = RTOL[onp.dtype(dtype)]
    a = _random(dtype, 24, seed=3)
    x = np.array(a)
    for s in (2, 3, -2, 0.5, 1 + 2j, -1j):
        got = (x ** s).asnumpy()
        want = a ** s
        assert got.dtype == want.dtype == dtype
        _check(got, (a.astype(onp.complex128) ** s).astype(dtype), 10 * rtol)
        got = (s ** x).asnumpy()
        assert got.dtype == dtype
        _check(got, (s ** a.astype(onp.complex128)).astype(dtype), 10 * rtol)
    # a real array to a complex power is complex, of the real array's precision
    r = onp.abs(a.real).astype(dtype(0).real.dtype)
    got = np.power(np.array(r), 1 + 1j).asnumpy()
    assert got.dtype == dtype
    _check(got, (r.astype(onp.float64) ** (1 + 1j)).astype(dtype), 10 * rtol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_power_special_values(dtype):
    """NumPy's rules: z**0 = 1 (also for NaN), 0**b = 0 for real b > 0, else NaN."""
    z = onp.array([complex(nan, nan), complex(inf, 1), 0j, 2 - 1j], dtype)
    onp.testing.assert_array_equal((np.array(z) ** 0).asnumpy(), onp.ones(4, dtype))
    zero = np.array(onp.zeros(4, dtype))
    e = onp.array([2, 0.5, -1, 1j], dtype)
    got = np.power(zero, np.array(e)).asnumpy()
    onp.testing.assert_array_equal(got, onp.array([0, 0, complex(nan, nan), complex(nan, nan)],
                                                  dtype))


# --- layouts, namespaces -------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_views_broadcasting_and_0d(dtype):
    rtol = RTOL[onp.dtype(dtype)]
    a = _random(dtype, 24, seed=5).reshape(4, 6)
    x = np.array(a)
    _check(np.exp(x.T[::2]).asnumpy(), onp.exp(a.T[::2]), rtol)
    _check(np.sqrt(x[:, ::-3]).asnumpy(), onp.sqrt(a[:, ::-3]), rtol)
    _check(np.power(x, np.array(a[0])).asnumpy(), onp.power(a, a[0]), 10 * rtol)
    z = onp.array(0.5 - 2j, dtype)
    got = np.arctanh(np.array(z)).asnumpy()
    assert got.shape == () and got.dtype == dtype
    _check(got, onp.arctanh(z), rtol)
    assert np.log(np.zeros((0, 2), dtype=dtype)).shape == (0, 2)


def test_array_api_namespace():
    from clgrad import array_api as xp
    a = _random(onp.complex64, 16, seed=6)
    x = xp.asarray(a)
    for std, numpy_name in [("exp", "exp"), ("log", "log"), ("sqrt", "sqrt"), ("sin", "sin"),
                            ("acos", "arccos"), ("asinh", "arcsinh"), ("atanh", "arctanh"),
                            ("sign", "sign"), ("square", "square"), ("reciprocal", "reciprocal")]:
        _check(getattr(xp, std)(x).asnumpy(), getattr(onp, numpy_name)(a), 1e-5)
    _check(xp.pow(x, 2.5).asnumpy(), a ** onp.complex64(2.5), 1e-5)


# --- still refused ------------------------------------------------------------------------------
def test_other_ops_still_refuse_complex():
    x = np.array(_random(onp.complex64, 4, seed=7))
    for fn in (np.floor, np.ceil, np.trunc, np.cbrt, np.degrees, np.isposinf):
        with pytest.raises(DTypeError, match="complex"):
            fn(x)
    for fn in (np.maximum, np.arctan2, np.hypot, np.mod):
        with pytest.raises(DTypeError, match="complex"):
            fn(x, x)


def test_autograd_still_refuses_complex():
    r = np.array(onp.array([1.0, 2.0], onp.float32))
    r.attach_grad()
    c = np.array(onp.array([1 + 1j, 2j], onp.complex64))
    with autograd.record():
        with pytest.raises(DTypeError, match="autograd"):
            np.power(r, 1j)
        with pytest.raises(DTypeError, match="autograd"):
            np.power(c, r)
        y = np.exp(c)       # no operand needs a gradient: computed, not recorded
    _check(y.asnumpy(), onp.exp(c.asnumpy()), 1e-5)
