"""einsum, as diagonals, sums and products of the other ops (so its gradients come from theirs).
"""
import builtins as _b


from ...base import ShapeError
from ...ndarray import ndarray
from ..core import array, astype, eye, same_device
from ..registry import invoke, register
from .products import _finish, _mm, _promote



# --- einsum ------------------------------------------------------------------------------------
class EinsumError(ShapeError):
    """A malformed or unsupported einsum specification."""


def _diag_fwd(ctx, a, i, j):
    ctx.i, ctx.j, ctx.shape = i, j, a.shape
    shape = list(a.shape)
    strides = list(a._strides)
    strides[i] += strides[j]
    del shape[j]
    del strides[j]
    return a._shared(tuple(shape), tuple(strides), a._offset)    # a new array, as MXNet


def _diag_bwd(ctx, g):
    from ..elementwise import multiply
    from ..shape import expand_dims, reshape
    i, j, shape = ctx.i, ctx.j, ctx.shape
    n = shape[i]
    mask_shape = [1] * len(shape)
    mask_shape[i] = mask_shape[j] = n
    mask = reshape(eye(n, dtype=g.dtype, device=g.device), tuple(mask_shape))
    return (multiply(expand_dims(g, j), mask),)


_diag_op = register("einsum_diagonal", _diag_fwd, _diag_bwd)


def _parse_einsum(subscripts, shapes):
    if not isinstance(subscripts, str):
        raise EinsumError("einsum: the first argument must be a subscripts string such as "
                          "'ij,jk->ik'")
    s = subscripts.replace(" ", "")
    if "->" in s:
        lhs, rhs = s.split("->", 1)
        if "->" in rhs:
            raise EinsumError(f"einsum: '{subscripts}' has more than one '->'")
    else:
        lhs, rhs = s, None
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise EinsumError(f"einsum: '{subscripts}' names {len(terms)} operands but "
                          f"{len(shapes)} were given")
    used = set(c for c in s if c.isalpha())
    for c in s:
        if not (c.isalpha() and c.isascii()) and c not in ",->.":
            raise EinsumError(f"einsum: invalid character {c!r} in subscripts '{subscripts}'")
    spare = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" if c not in used]
    ell_nd = 0
    for t, shp in zip(terms, shapes):
        if "..." in t:
            ell_nd = _b.max(ell_nd, len(shp) - (len(t) - 3))
    if ell_nd > len(spare):
        raise EinsumError("einsum: too many dimensions under '...'")
    ell = spare[:ell_nd]
    out_terms = []
    for t, shp in zip(terms, shapes):
        if t.count("...") > 1 or "." in t.replace("...", ""):
            raise EinsumError(f"einsum: malformed term '{t}' in '{subscripts}'")
        if "..." in t:
            k = len(shp) - (len(t) - 3)
            if k < 0:
                raise EinsumError(f"einsum: term '{t}' has more labels than operand dimensions "
                                  f"{shp}")
            t = t.replace("...", "".join(ell[ell_nd - k:]))
        if len(t) != len(shp):
            raise EinsumError(f"einsum: term '{t}' has {len(t)} labels but the operand has "
                              f"{len(shp)} dimensions (shape {shp})")
        out_terms.append(t)
    if rhs is None:
        counts = {}
        for t in out_terms:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        out = "".join(ell) + "".join(sorted(c for c, n in counts.items()
                                            if n == 1 and c not in ell))
    else:
        if rhs.count("...") > 1 or "." in rhs.replace("...", ""):
            raise EinsumError(f"einsum: malformed output '{rhs}'")
        out = rhs.replace("...", "".join(ell))
        if "..." not in rhs and ell and any(c not in out for c in ell):
            # NumPy: broadcast dimensions must appear in an explicit output
            raise EinsumError("einsum: output subscripts must include '...' when the inputs use it")
    for c in out:
        if out.count(c) > 1:
            raise EinsumError(f"einsum: output label '{c}' appears more than once in "
                              f"'{subscripts}'")
        if not any(c in t for t in out_terms):
            raise EinsumError(f"einsum: output label '{c}' does not appear in any input of "
                              f"'{subscripts}'")
    return out_terms, out


def _einsum_single(x, lx, keep):
    """Take diagonals of repeated labels and sum labels not in ``keep``; returns (x, labels)."""
    from ..reduce import sum as _sum
    lx = list(lx)
    while True:
        rep = next((c for c in lx if lx.count(c) > 1), None)
        if rep is None:
            break
        i = lx.index(rep)
        j = lx.index(rep, i + 1)
        if x.shape[i] != x.shape[j]:
            raise EinsumError(f"einsum: repeated label '{rep}' has sizes {x.shape[i]} and "
                              f"{x.shape[j]} in one operand (shape {x.shape})")
        x = invoke(_diag_op, [x], i=i, j=j)
        del lx[j]
    drop = [i for i, c in enumerate(lx) if c not in keep]
    if drop:
        dtype = x.dtype
        x = _sum(x, axis=tuple(drop))
        if x.dtype != dtype:        # einsum keeps the operand dtype (sum widens integers)
            x = astype(x, dtype)
        lx = [c for c in lx if c in keep]
    return x, lx


def _align(x, lx, lo):
    """``x`` (labels ``lx``, a subset of ``lo``) transposed and expanded to broadcast over lo."""
    from ..shape import reshape, transpose
    order = [lx.index(c) for c in lo if c in lx]
    if order != list(range(len(order))):
        x = transpose(x, order)
    shape = []
    for c in lo:
        shape.append(x.shape[[d for d in lo if d in lx].index(c)] if c in lx else 1)
    return reshape(x, tuple(shape)) if tuple(shape) != x.shape else x


def _einsum_pair(x, lx, y, ly, lo):
    """Contract x (labels lx) with y (labels ly) to labels lo."""
    from ..elementwise import multiply
    from ..shape import broadcast_to, reshape, transpose
    keep_x = set(lo) | set(ly)
    keep_y = set(lo) | set(lx)
    x, lx = _einsum_single(x, lx, keep_x)
    y, ly = _einsum_single(y, ly, keep_y)
    size = {}
    for t, v in ((lx, x), (ly, y)):
        for c, n in zip(t, v.shape):
            if c in size and size[c] != n and 1 not in (size[c], n):
                raise EinsumError(f"einsum: label '{c}' has sizes {size[c]} and {n} in operands "
                                  f"of shapes {x.shape} and {y.shape}")
            size[c] = n if c not in size or size[c] == 1 else size[c]
    contract = [c for c in lx if c in ly and c not in lo]
    if not contract:
        return multiply(_align(x, lx, lo), _align(y, ly, lo)), lo
    batch = [c for c in lo if c in lx and c in ly]
    xf = [c for c in lx if c not in ly]
    yf = [c for c in ly if c not in lx]
    # contracted labels of size 1 in one operand and n in the other: broadcast (a view)
    for c in contract:
        if x.shape[lx.index(c)] != size[c]:
            x = broadcast_to(x, tuple(size[d] if d == c else n for d, n in zip(lx, x.shape)))
        if y.shape[ly.index(c)] != size[c]:
            y = broadcast_to(y, tuple(size[d] if d == c else n for d, n in zip(ly, y.shape)))
    ox = [lx.index(c) for c in batch + xf + contract]
    oy = [ly.index(c) for c in batch + contract + yf]
    xt = transpose(x, ox) if ox != list(range(len(ox))) else x
    yt = transpose(y, oy) if oy != list(range(len(oy))) else y
    xb = tuple(xt.shape[:len(batch)])
    yb = tuple(yt.shape[:len(batch)])
    M = K = N = 1
    for c in xf:
        M *= size[c]
    for c in contract:
        K *= size[c]
    for c in yf:
        N *= size[c]
    xt = reshape(xt, xb + (M, K))
    yt = reshape(yt, yb + (K, N))
    xt, yt = _promote(xt, yt)
    r = _mm(xt, yt)
    rb = r.shape[:len(batch)]
    r = reshape(r, tuple(rb) + tuple(size[c] for c in xf) + tuple(size[c] for c in yf))
    have = batch + xf + yf
    order = [have.index(c) for c in lo]
    if order != list(range(len(order))):
        r = transpose(r, order)
    return r, lo


def einsum(subscripts, *operands, out=None, optimize=False):
    """Einstein summation: any number of operands, contracted pairwise left to right through
    matmul (transposes, diagonals of repeated labels, sums of labels that appear once, '...',
    implicit and explicit output)."""
    from ..shape import transpose
    if not operands:
        raise EinsumError("einsum: no operands given")
    dev = same_device(operands, "einsum")
    ops = [x if isinstance(x, ndarray) else array(x, device=dev) for x in operands]
    terms, lo = _parse_einsum(subscripts, [x.shape for x in ops])
    lo = list(lo)
    x, lx = ops[0], list(terms[0])
    for i in range(1, len(ops)):
        later = set("".join(terms[i + 1:])) | set(lo)
        y, ly = ops[i], list(terms[i])
        want = []
        for c in lx + ly:
            if c in later and c not in want:
                want.append(c)
        x, lx = _einsum_pair(x, lx, y, ly, want)
    x, lx = _einsum_single(x, lx, set(lo))
    order = [lx.index(c) for c in lo]
    if order != list(range(len(order))) or any(x is o for o in ops):
        x = transpose(x, order)     # a new array (shared until written), never the operand
    return _finish(x, out)
