"""The tiled matmul kernel's parameters: the names, baselines per device type, fallbacks,
constraints, and what fits a device (``param_problem``, verified vector widths included).
"""
import builtins as _b


from ... import dtypes as dt
from ...runtime import vector_width as verified_width



# =============================================================================================
# Parameters of the tiled kernel
# =============================================================================================
PARAM_NAMES = ("MWG", "NWG", "KWG", "MDIMC", "NDIMC", "VW", "SA", "SB", "KC", "MC")
#: Parameters that may be left out, with their values then.
OPTIONAL_PARAMS = {"KC": 0, "MC": 0}

#: Baseline parameters per device type for ``A @ B`` (any layout; also what the tuner starts
#: from). CPUs: one work-item per group, no barriers, each holding an 8 x 32 block of C in 16
#: vector accumulators of 16 lanes (2x the GFLOP/s of 8 work-items with interleaved rows on
#: PoCL, 1024^2 and 2048^2); operands read straight from cache; K in chunks of KC = 256, so
#: the panel of B that consecutive groups share stays in cache (a host loop; the size buckets
#: below "large" run whole, see ``default_params``). MC (rows in blocks launched one after
#: another, so a block of A stays in cache while every panel of B passes) is left to the tuner:
#: at 2048^2 on PoCL 512 and 1024 measured within the noise of whole columns.
#: ``default_params`` adapts the vector width to the device. GPUs: 64 x 64 tiles staged in local
#: memory by 16 x 16 work-items, 4 x 4 outputs each.
DEFAULT_PARAMS = {
    "cpu": {"MWG": 8, "NWG": 32, "KWG": 16, "MDIMC": 1, "NDIMC": 1, "VW": 16, "SA": 0, "SB": 0,
            "KC": 256, "MC": 0},
    "gpu": {"MWG": 64, "NWG": 64, "KWG": 16, "MDIMC": 16, "NDIMC": 16, "VW": 4, "SA": 1, "SB": 1,
            "KC": 0, "MC": 0},
}
DEFAULT_PARAMS["accelerator"] = DEFAULT_PARAMS["gpu"]

#: Baseline parameters for ``A @ B.T`` with both operands contiguous along K (the "kvec" form,
#: vectors along K, summed at the end): a 2 x 8 block of outputs per work-item on CPUs.
DEFAULT_PARAMS_NT = {
    "cpu": {"MWG": 16, "NWG": 128, "KWG": 32, "MDIMC": 8, "NDIMC": 1, "VW": 16, "SA": 0,
            "SB": 0, "KC": 0, "MC": 0},
    "gpu": DEFAULT_PARAMS["gpu"],
}
DEFAULT_PARAMS_NT["accelerator"] = DEFAULT_PARAMS_NT["gpu"]

#: Small configurations tried in order when the chosen one does not fit the device (local
#: memory, work-group size, the compiled kernel's limit) or does not build.
FALLBACK_PARAMS = (
    {"MWG": 16, "NWG": 16, "KWG": 8, "MDIMC": 4, "NDIMC": 4, "VW": 1, "SA": 0, "SB": 0},
    {"MWG": 4, "NWG": 4, "KWG": 4, "MDIMC": 1, "NDIMC": 1, "VW": 4, "SA": 0, "SB": 0},
    {"MWG": 1, "NWG": 1, "KWG": 1, "MDIMC": 1, "NDIMC": 1, "VW": 1, "SA": 0, "SB": 0},
)

#: Parameter constraints, as Python expressions over the parameter names.
CONSTRAINTS = (
    "VW in (1, 2, 4, 8, 16)",
    "SA in (0, 1) and SB in (0, 1)",
    "MWG >= 1 and NWG >= 1 and KWG >= 1 and MDIMC >= 1 and NDIMC >= 1",
    "MWG % MDIMC == 0",
    "NWG % (NDIMC * VW) == 0",
    "KWG % VW == 0",
    # bounds the unrolled source (and the registers it asks for)
    "(MWG // MDIMC) * (NWG // (NDIMC * VW)) <= 64",
    "KC >= 0 and (KC == 0 or KC % KWG == 0)",
    "MC >= 0 and (MC == 0 or MC % MWG == 0)",
)

#: The parameters that shape the kernel source (KC and MC only shape the host loops).
_SOURCE_PARAMS = tuple(n for n in PARAM_NAMES if n not in ("KC", "MC"))


def full_params(params):
    """``params`` with the optional ones filled in, as ints (KeyError names a missing one)."""
    return {n: int(params[n]) if n in params else OPTIONAL_PARAMS[n] for n in PARAM_NAMES}


def local_mem_bytes(params, itemsize):
    """Local memory one work-group of ``params`` uses (compute type of ``itemsize`` bytes)."""
    return itemsize * params["KWG"] * (params["SA"] * params["MWG"] + params["SB"] * params["NWG"])


def work_group_size(params):
    """The work-group shape (dimension 0 along N, dimension 1 along M)."""
    return (params["NDIMC"], params["MDIMC"])


def _compute_dtype(dtype):
    return dt.float64 if dtype == dt.float64 else dt.float32


def param_problem(params, device=None, dtype=dt.float32):
    """Why ``params`` cannot run (a message), or None when they can, as far as is known before
    building: the constraints, the device's work-group and local-memory limits."""
    missing = [n for n in PARAM_NAMES if n not in params and n not in OPTIONAL_PARAMS]
    if missing:
        return f"missing parameters {missing}"
    try:
        p = full_params(params)
    except (TypeError, ValueError):
        return f"parameters must be integers: {params}"
    for c in CONSTRAINTS:
        if not eval(c, {}, dict(p)):  # noqa: S307  (our own constant expressions)
            return f"constraint '{c}' does not hold for {p}"
    if device is not None:
        caps = device.caps
        wx, wy = work_group_size(p)
        if wx * wy > caps.max_wg:
            return (f"work-group {wx}x{wy} is larger than the device's maximum work-group size "
                    f"{caps.max_wg}")
        sizes = caps.max_work_item_sizes
        if len(sizes) >= 2 and (wx > sizes[0] or wy > sizes[1]):
            return f"work-group {wx}x{wy} exceeds the device's work-item sizes {sizes[:2]}"
        lm = local_mem_bytes(p, _compute_dtype(dt.as_dtype(dtype)).itemsize)
        if lm > caps.local_mem:
            return f"needs {lm} bytes of local memory; the device has {caps.local_mem}"
        vw = vector_width(device, dt.as_dtype(dtype), 16)
        if p["VW"] > vw:
            return (f"vector width {p['VW']} did not pass the device self-check for "
                    f"{dt.as_dtype(dtype)} (at most {vw})")
    return None


def size_key(M, N, K):
    """The size bucket tuned parameters are stored under."""
    w = M * N * K
    if w <= 1 << 21:
        return "small"
    if w <= 1 << 27:
        return "medium"
    return "large"


def default_params(device, dtype, nt=False, size=None, panel=False):
    """Baseline parameters for ``device`` and ``dtype`` (``nt``: the A @ B.T form) and the size
    bucket ``size`` (``size_key``; None: any); ``panel``: B is packed (``_pack_panels``)."""
    table = DEFAULT_PARAMS_NT if nt else DEFAULT_PARAMS
    p = dict(table.get(device.caps.kind, table["gpu"]))
    if device.caps.kind == "cpu":
        if panel:
            # a packed panel is contiguous: K in one pass beats chunks of 256 (2048^2 on PoCL:
            # 103-120 GFLOP/s against 57-68, both packed)
            p["KC"] = 0
        if size in ("small", "medium"):
            # K chunks and row blocks pay off when many row blocks re-read B's panel; below
            # the large bucket the extra launches cost more (128x784x256: 0.88 ms whole,
            # 1.13 ms in K chunks)
            p["KC"] = p["MC"] = 0
        caps = device.caps
        pref = caps.pref_vec_double if dtype == dt.float64 else caps.pref_vec_float
        # the register block is sized for the compiler's own SIMD registers: the widest vector
        # on which builtins verified too (``native_width``), not only arithmetic
        vw = _b.min(vector_width(device, dtype, _b.max(pref, 4)), native_width(device, dtype))
        # keep the register block the same size in vectors when the width changes
        p["NWG"] = p["NWG"] // p["VW"] * vw
        p["KWG"] = _b.max(p["KWG"] // p["VW"] * vw, vw)
        if vw * _compute_dtype(dtype).itemsize < 64 and not nt:
            # narrower SIMD (SSE/AVX2) comes with 16 vector registers, not 32: 6 rows of two
            # vectors (12 accumulators, two vectors of B and a broadcast of A: 15 registers,
            # the classic AVX2 block). On AVX2 PoCL (Zen 4 guest without AVX-512), float32,
            # against the 4-row block, medians of 5 alternated runs: 128x784x256 1.34x,
            # 256x128x784 (A transposed) 1.25x, 128x256x256 1.02-1.13x; 512^3 1.16-1.22x
            p["MWG"] = p["MWG"] * 3 // 4
        p["VW"] = vw
        if p["KC"] % p["KWG"]:
            p["KC"] = 0
    else:
        p["VW"] = vector_width(device, dtype, p["VW"] // 2 if dtype == dt.float64 else p["VW"])
    return p


def native_width(device, dtype):
    """The vector width (elements of ``dtype``'s compute type) of the SIMD registers the device's
    compiler targets, as far as the self-check shows: the widest vector on which builtin calls
    verified. PoCL 3.0 from PyPI on AMD Zen 4 claims and verifies float16 arithmetic but
    compiles for AVX2 (its builtins on float16 warn about the ABI): each float16 operation is
    two 8-wide ones there, and the 8 x 32 block of 16-wide accumulators needs twice the 16
    registers AVX2 has. The MLP's five products ran 1.9-2.5x faster with the 8-wide AVX2 block
    (6 rows of two vectors) than with the 16-wide one, in one run: 128x784x256 0.58 against
    1.10 ms, 256x128 @ 128x784 (A transposed) 0.41 against 0.94 ms."""
    return verified_width(device, _compute_dtype(dtype), classes=("math",), want=16)


def vector_width(device, dtype, want):
    """The widest vector (at most ``want``) the tiled kernel may use for ``dtype`` on
    ``device``: what the device self-check verified for arithmetic on its compute type, and
    for vload_halfN / vstore_halfN when ``dtype`` is stored as half."""
    w = verified_width(device, _compute_dtype(dtype), want=want)
    if dtype == dt.float16:
        w = _b.min(w, verified_width(device, dtype, ("loadstore",), want=want))
    return w
