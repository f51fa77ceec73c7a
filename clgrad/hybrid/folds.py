"""Passes that fold elementwise ops and reductions into the kernels of other families, run on
a captured event list after ``fuse`` (same conventions: values named by their buffers, ``keep``
what must be materialised).

An elementwise op (a fused tree, or one op) that alone reads a matrix product's result, as the
product wrote it, becomes the product kernel's epilogue (``fuse_epilogues``): the tiled kernel
applies it to each value before the store and writes the op's output instead, so the product's
own result never exists (Dense's bias add and activation, for instance). A copy of a product's
result into another layout is stored by the product's kernel beside the result
(``fuse_copies``).

An elementwise op whose output only a reduction reads becomes the reduction's prologue
(``fuse_prologues``): its first stage computes each element where it would load it (the
``(x - m) ** 2`` of a variance, the negation before a loss's mean). And a sum of a product's
operand A over the product's K (a bias gradient beside its weight gradient) is written by the
product's kernel as it reads A (``fuse_row_sums``).
"""
import math
from collections import defaultdict

from .. import dtypes as dt
from ..base import MXNetError
from ..codegen import render as R
from ..ops import launch as _launch
from ..ops.linalg import Epilogue
from ..ops.reduce.prologue import Prologue
from .fuse import _V, _accesses, _broadcast_view, _buf, _convert, _fusable, _is_array
from .trace import Ew, Launch


def fuse_epilogues(events, internal, keep):
    """Fold an elementwise op (a fused tree or a single op) into the matrix product whose
    result it alone reads: the product's kernel applies it before each store and writes the
    elementwise op's output instead (``Kernel.epilogue``; one K pass, no batch dimensions).
    The product's own result then exists nowhere. The elementwise op must read that result
    once, as the product wrote it (either orientation), and nothing between the two may
    write the op's other operands or touch its output."""
    writers, readers = _accesses(events)
    replaced = {}
    for i, e in enumerate(events):
        if type(e) is not Launch or e.kernel.epilogue is None or e.per_call is not None:
            continue
        result = e.kernel.epilogue.product(e.args)
        if result is None:
            continue
        C, co, scm, scn, M, N = result
        bid = id(C)
        if bid not in internal or bid in keep or writers[bid] != [i] or \
                any(w < i for w in readers[bid]):
            continue
        rs = [r for r in readers[bid] if r != i]
        if len(rs) != 1:
            continue
        j = rs[0]
        c = events[j]
        if type(c) is not Ew or not _fusable(c, lets_ok=True) or j in replaced:
            continue
        fused = _epilogue(events, i, j, c, C, (co, scm, scn, M, N), writers)
        if fused is not None:
            replaced[i] = fused
            replaced[j] = None
    return _replace(events, replaced)


def _replace(events, replaced):
    """``events`` with ``replaced`` applied (index -> the new event, or None to drop it)."""
    if not replaced:
        return events
    return [replaced.get(i, e) for i, e in enumerate(events) if replaced.get(i, e) is not None]


def _epilogue(events, i, j, c, C, geometry, writers):
    """The Launch of product ``events[i]`` with the elementwise ``c`` (``events[j]``) as its
    epilogue, or None when it does not apply."""
    co, scm, scn, M, N = geometry
    pos = [k for k, x in enumerate(c.inputs) if _is_array(x) and _buf(x) is C]
    if len(pos) != 1:
        return None
    x = c.inputs[pos[0]]
    if x.shape != c.out.shape or x.ndim != 2 or x._offset != co:
        return None
    if x.shape == (M, N) and x._strides == (scm, scn):
        perm = (0, 1)           # the kernel's (m, n) are the op's axes (0, 1)
    elif x.shape == (N, M) and x._strides == (scn, scm):
        perm = (1, 0)           # a swapped plan: the kernel computes the transpose
    else:
        return None
    out = c.out
    ob = _buf(out)
    for y in c.inputs:
        if _is_array(y) and _buf(y) is not C:
            if _buf(y) is ob:
                return None
            if any(i < w < j for w in writers.get(id(_buf(y)), ())):
                return None
    for k in range(i + 1, j):
        if any(b is ob for b in events[k].reads()):
            return None
    plan = c.plan
    operands, args, names, nclass = [], [], [], []
    # on vectors when every part is valid on them and every value is of the product's type
    vector = plan.name in _launch.VECTOR_SAFE and plan.out_dtype == x.dtype
    for k, y in enumerate(c.inputs):
        is_arr, d, comp = plan.sig[k]
        vector = vector and comp == x.dtype and (not is_arr or d == x.dtype)
        if k == pos[0]:
            names.append(_convert("v_", x.dtype, comp))
            continue
        names.append(f"w{len(operands)}")
        if is_arr:
            if y.shape != out.shape:
                y = _broadcast_view(y, out.shape)
            sm, sn = y._strides[perm[0]], y._strides[perm[1]]
            operands.append(R.Operand(True, d, comp))
            nclass.append("unit" if sn == 1 else "zero" if sn == 0 else "any")
            args += [y._storage.buffer, y._offset, sm, sn]
        else:
            operands.append(R.Operand(False, comp, comp))
            nclass.append("any")
            args.append(dt.cast_scalar(y, comp))
    vector = vector and all(t == dt.compute_ctype(x.dtype) for t, _ in plan.lets)

    def sub(text):
        return _V.sub(lambda m: names[int(m.group(1))], text)
    vector = vector and plan.classes is not None
    epi = Epilogue(operands, [(t, sub(te)) for t, te in plan.lets], sub(plan.expr),
                   plan.helpers, R.Operand(True, plan.out_dtype), nclass, vector,
                   plan.classes or ())
    so = out._strides
    e = events[i]
    try:
        kernel, new = e.kernel.epilogue.fuse(e.args, epi, out._storage.buffer, out._offset,
                                             so[perm[0]], so[perm[1]], args)
    except MXNetError:
        return None
    return Launch(kernel, e.glob, e.local, new, None, f"{e.op}+{c.op}", fused=c.fused,
                  role="epilogue")


def fuse_copies(events, internal, keep):
    """Fold a copy of a matrix product's result into another layout (the transposed copy the
    next product reads, while the backward reads the result as it is) into the product: its
    kernel stores every final value to both (``_EpilogueSite.fuse_copy``), with or without an
    epilogue, and the copy's launch is dropped. The copy must read the whole result, as the
    product wrote it (either orientation), into an array nothing else writes, and nothing
    between the two may write the result."""
    writers, readers = _accesses(events)
    replaced = {}
    for i, e in enumerate(events):
        if type(e) is not Launch or e.kernel.epilogue is None or e.per_call is not None or \
                i in replaced:
            continue
        got = e.kernel.epilogue.output(e.args)
        if got is None:
            continue
        C, co, scm, scn, M, N = got
        if writers[id(C)] != [i]:
            continue
        for j in readers[id(C)]:
            c = events[j]
            if j <= i or type(c) is not Ew or c.plan.name != "copy" or len(c.inputs) != 1 or \
                    j in replaced:
                continue
            x, y = c.inputs[0], c.out
            if not _is_array(x) or _buf(x) is not C or x._offset != co or \
                    c.plan.out_dtype != x.dtype or y.shape != x.shape or y.ndim != 2 or \
                    writers[id(_buf(y))] != [j]:
                continue
            if x.shape == (M, N) and x._strides == (scm, scn):
                s2m, s2n = y._strides
            elif x.shape == (N, M) and x._strides == (scn, scm):
                s2n, s2m = y._strides
            else:
                continue
            try:
                kernel, args = e.kernel.epilogue.fuse_copy(
                    e.args, R.Operand(True, y.dtype), _buf(y), y._offset, s2m, s2n)
            except MXNetError:
                continue
            replaced[i] = Launch(kernel, e.glob, e.local, args, None, f"{e.op}+{c.op}",
                                 fused=e.fused + c.fused, role=e.role or "epilogue")
            replaced[j] = None
            break
    return _replace(events, replaced)


def fuse_prologues(events, internal, keep):
    """Fold an elementwise op (a fused tree or a single op) into the reduction that alone
    reads its output: the reduction's first stage computes each element it reads from the op's
    operands instead (``Kernel.prologue``), so the op's output exists nowhere. The reduction
    must read all of that output (dimensions it merged are split again where an operand's
    strides need it, where its layout allows), and nothing between the two may write the op's
    operands."""
    writers, readers = _accesses(events)
    replaced = {}
    for i, e in enumerate(events):
        if type(e) is not Launch or e.kernel.prologue is None or e.per_call is not None or \
                e.fused:
            continue
        buf, off, dims = e.kernel.prologue.source(e.args)
        bid = id(buf)
        if bid not in internal or bid in keep or readers[bid] != [i] or len(writers[bid]) != 1:
            continue
        j = writers[bid][0]
        c = events[j]
        if j > i or type(c) is not Ew or not _fusable(c, lets_ok=True) or j in replaced:
            continue
        fused = _prologue(events, j, i, c, off, dims, writers)
        if fused is not None:
            replaced[i] = fused
            replaced[j] = None
    return _replace(events, replaced)


def _runs(out, offset, dims):
    """Per reduction dimension (size, stride), the run of ``out``'s axes it walks (outer to
    inner), when the reduction reads all of ``out`` (as ``launch.collapse`` merged its axes),
    else None."""
    if offset != out._offset:
        return None
    free = {a for a, n in enumerate(out.shape) if n != 1}
    runs = []
    for n, s in dims:
        run = [a for a in free if out._strides[a] == s]
        if len(run) != 1:
            return None
        size = out.shape[run[0]]
        while size < n:
            inner = run[0]
            nxt = [a for a in free if a not in run and
                   out._strides[a] == out._strides[inner] * out.shape[inner]]
            if len(nxt) != 1:
                return None
            run.insert(0, nxt[0])
            size *= out.shape[nxt[0]]
        if size != n:
            return None
        free.difference_update(run)
        runs.append(run)
    return runs if not free else None


def _pieces(runs, shape, views):
    """``runs`` split between neighbouring axes that some array of ``views`` cannot walk with
    one stride (a broadcast row where the reduction walks the whole array as one run)."""
    out = []
    for run in runs:
        piece = [run[0]]
        for a, b in zip(run, run[1:]):
            if all(v._strides[a] == v._strides[b] * shape[b] for v in views):
                piece.append(b)
            else:
                out.append(piece)
                piece = [b]
        out.append(piece)
    return out


def _prologue(events, j, i, c, offset, dims, writers):
    """The Launch of reduction ``events[i]`` computing what it reads with the elementwise ``c``
    (``events[j]``), or None when it does not apply."""
    runs = _runs(c.out, offset, dims[0])
    if runs is None:
        return None
    e = events[i]
    dst = e.args[2]
    plan = c.plan
    shape = c.out.shape
    operands, views = [], []
    for k, y in enumerate(c.inputs):
        is_arr, d, comp = plan.sig[k]
        if is_arr:
            b = _buf(y)
            if b is dst or b is _buf(c.out) or any(j < w < i for w in writers.get(id(b), ())):
                return None
            operands.append(R.Operand(True, d, comp))
            views.append(y if y.shape == shape else _broadcast_view(y, shape))
        else:
            operands.append(R.Operand(False, comp, comp))
            views.append(dt.cast_scalar(y, comp))
    arrays = [v for v in views if _is_array(v)]
    if not arrays:
        return None
    # the reduction's dimensions, split where an operand needs it; outer ones first
    outer = _pieces(runs[:dims[1]], shape, arrays)
    pieces = outer + _pieces(runs[dims[1]:], shape, arrays)
    sizes = [math.prod(shape[a] for a in p) for p in pieces]
    walked = [(v._storage.buffer, v._offset, [v._strides[p[-1]] for p in pieces])
              if _is_array(v) else v for v in views]

    def sub(text):
        return _V.sub(lambda m: f"w{m.group(1)}", text)
    pro = Prologue(operands, [(t, sub(te)) for t, te in plan.lets],
                   _convert(sub(plan.expr), plan.out_dtype, plan.out_dtype), plan.helpers)
    try:
        got = e.kernel.prologue.fuse(e.args, e.glob, e.local, pro, sizes, len(outer),
                                     walked[pro.first], [walked[k] for k in pro.extra()])
    except MXNetError:
        return None
    if got is None:
        return None
    kernel, args, glob, local = got
    return Launch(kernel, glob, local, args, None, f"{c.op}+{e.op}", fused=c.fused,
                  role="prologue")


def fuse_row_sums(events, internal, keep):
    """Fold a sum of a matrix over its columns into the product that reads that matrix as A
    (a bias gradient beside its weight gradient, ``dW = dY.T @ X`` and ``db = dY.sum(0)``): the
    product's kernel also writes A's row sums (``_EpilogueSite.fuse_rows``), where the
    reduction's launch is dropped. The reduction must sum A over the product's K for each of
    its M rows, in one stage, into a result of A's dtype, and nothing between the two may write
    A or touch the sums."""
    writers, readers = _accesses(events)
    sums = defaultdict(list)        # id(buffer) -> indices of one-stage sums reading it
    for i, e in enumerate(events):
        if type(e) is Launch and e.kernel.prologue is not None and e.per_call is None and \
                not e.fused:
            site = e.kernel.prologue
            if site.kind == "sum" and site.out_dtype is not None:
                sums[id(site.source(e.args)[0])].append(i)
    if not sums:
        return events
    replaced = {}
    for i, e in enumerate(events):
        if type(e) is not Launch or e.kernel.epilogue is None or e.per_call is not None or \
                e.fused or i in replaced:
            continue
        site = e.kernel.epilogue
        a = site.operand_a(e.args)
        if a is None or site.dtype.kind != "f":
            continue
        A, ao, sam, sak, M, K = a
        if writers[id(site.product(e.args)[0])] != [i] or M < 2 or K < 2:
            continue        # (a product in K chunks; size-1 dimensions the sum drops)
        for j in sums.get(id(A), ()):
            r = events[j]
            if j in replaced or r.kernel.prologue.out_dtype != site.dtype:
                continue
            _, off, (dims, outer) = r.kernel.prologue.source(r.args)
            if off != ao or outer != 1 or dims != [(M, sam), (K, sak)]:
                continue
            dst = r.args[2]
            lo, hi = min(i, j), max(i, j)
            if writers[id(dst)] != [j] or any(lo < x < hi for x in readers[id(dst)]) or \
                    any(lo < w < hi for w in writers[id(A)]):
                continue
            try:
                kernel, args = site.fuse_rows(e.args, R.Operand(True, site.dtype), dst, 0, 1)
            except MXNetError:
                continue
            replaced[i] = Launch(kernel, e.glob, e.local, args, None, f"{e.op}+{r.op}",
                                 role="row sums")
            replaced[j] = None
            break
    return _replace(events, replaced)


__all__ = ["fuse_epilogues", "fuse_copies", "fuse_prologues", "fuse_row_sums"]
