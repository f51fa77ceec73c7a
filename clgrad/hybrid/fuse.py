"""Passes over a captured event list: constant folding, dead-code elimination and elementwise
fusion.

Values are named by their buffers (a capture hands no buffer out twice). ``keep`` holds the
buffers that must be materialised whatever happens inside: the call's outputs and what the
backward reads. Buffers from outside the capture (inputs, parameters, constants) are always
visible, so every write to them stays.

Fusion merges a tree of elementwise ops into its root when each inner value is written by
exactly one elementwise op, read by exactly one other as the very same view or broadcast as
NumPy broadcasts it, and needed nowhere else: the inner expressions become named subexpressions
(``lets``) of one kernel of the elementwise template, their operands broadcast to the root's
shape (a value read broadcast is computed at each place it is read). Values read twice stay in
memory (no recomputation of work two ops share); float16 and complex values, and expressions
that use the element index, are not fused.

What the fusion leaves, ``folds`` folds into other kernels: epilogues and copies into matrix
products, prologues into reductions, row sums into products.
"""
import re
from collections import defaultdict

from .. import dtypes as dt
from ..ops import launch as _launch
from .trace import Ew, Launch, Upload

#: the fused kernels' plan names: "fused_v" when every part is valid on vector types
_launch.VECTOR_SAFE.add("fused_v")

_V = re.compile(r"\bv(\d+)\b")


def _buf(x):
    return x._storage.buffer


def _is_array(x):
    return hasattr(x, "_storage")


def _fusable(e, lets_ok=False):
    p = e.plan
    if (p.lets and not lets_ok) or "gid" in p.expr:
        return False
    if p.out_dtype.kind not in "biuf" or p.out_dtype == dt.float16:
        return False
    for is_arr, d, c in p.sig:
        if c.kind not in "biuf" or c == dt.float16 or (is_arr and (d.kind not in "biuf" or
                                                                   d == dt.float16)):
            return False
    return True


def eliminate_dead(events, internal, keep):
    """Drop the writes of values nothing reads: elementwise ops, copies and uploads whose
    output is an internal buffer that no later event reads and ``keep`` does not hold."""
    needed = set(keep)
    out = []
    for e in reversed(events):
        t = type(e)
        if t is not Launch:
            dst = e.writes()[0]
            if id(dst) in internal and id(dst) not in needed:
                continue
        for b in e.reads():
            needed.add(id(b))
        out.append(e)
    out.reverse()
    return out


def fold_constants(events, internal, keep):
    """Drop the elementwise ops whose array operands are all constants of the capture (values
    only uploads wrote, or folded before): the capture computed them, and their outputs, which
    nothing else writes, are constants from then on (kept as computed)."""
    writers = defaultdict(list)
    for e in events:
        for b in e.writes():
            writers[id(b)].append(e)
    const = {i for i, ws in writers.items()
             if i in internal and all(type(w) is Upload for w in ws)}
    out = []
    for e in events:
        if type(e) is Ew and "gid" not in e.plan.expr:
            b = id(_buf(e.out))
            if b in internal and b not in keep and writers[b] == [e] and \
                    all(id(_buf(x)) in const for x in e.inputs if _is_array(x)):
                const.add(b)
                continue
        out.append(e)
    return out


def _accesses(events):
    """(writers, readers): per buffer (by id), the indices of the events that write / read it."""
    writers = defaultdict(list)
    readers = defaultdict(list)
    for i, e in enumerate(events):
        for b in e.writes():
            writers[id(b)].append(i)
        for b in e.reads():
            readers[id(b)].append(i)
    return writers, readers


def fuse_elementwise(events, internal, keep):
    """Fuse trees of elementwise ops (see the module's docstring); returns the new list."""
    writers, readers = _accesses(events)
    producer = {}       # (consumer index, input position) -> producer index
    for i, e in enumerate(events):
        if type(e) is not Ew or not _fusable(e):
            continue
        b = _buf(e.out)
        if id(b) in keep or id(b) not in internal or writers[id(b)] != [i]:
            continue
        rs = readers[id(b)]
        if len(rs) != 1 or rs[0] <= i:
            continue
        j = rs[0]
        c = events[j]
        if type(c) is not Ew or not _fusable(c):
            continue
        for k, x in enumerate(c.inputs):
            if _is_array(x) and _buf(x) is b:
                if _reads_whole(x, e.out):
                    producer[(j, k)] = i
                break
    if not producer:
        return events
    children = defaultdict(dict)        # consumer index -> {input position: producer index}
    for (j, k), i in producer.items():
        children[j][k] = i
    inner = set(producer.values())
    replaced = {}
    for root in children:
        if root in inner:
            continue
        tree = _tree(root, children)
        if _valid(events, root, tree, writers):
            replaced[root] = _fused(events, root, children)
            for i in tree:
                replaced[i] = None
    out = []
    for i, e in enumerate(events):
        if i in replaced:
            if replaced[i] is not None:
                out.append(replaced[i])
        else:
            out.append(e)
    return out


def _reads_whole(x, out):
    """Whether the view ``x`` reads the value ``out`` as it was written, or broadcast the way
    NumPy broadcasts it (a (128, 1) value read as (128, 10): the producer is then computed at
    each place of the broadcast, which costs less than storing and loading it)."""
    if x._offset != out._offset or x.dtype != out.dtype:
        return False
    if x.shape == out.shape:
        return x._strides == out._strides
    pad = len(x.shape) - len(out.shape)
    if pad < 0 or any(n not in (1, m) for n, m in zip(out.shape, x.shape[pad:])):
        return False
    return tuple(x._strides) == tuple(_launch.broadcast_strides(out, x.shape))


def _tree(root, children):
    """The producers fused into ``root`` (indices, transitively)."""
    found = []
    stack = list(children[root].values())
    while stack:
        i = stack.pop()
        found.append(i)
        stack.extend(children.get(i, {}).values())
    return found


def _valid(events, root, tree, writers):
    """Whether computing the producers of ``tree`` at ``root``'s place reads what they read at
    their own: nothing in between writes their inputs, and the root does not write any buffer
    a producer reads (work-items would race with each other's reads)."""
    out = _buf(events[root].out)
    members = set(tree)
    for i in tree:
        for x in events[i].inputs:
            if not _is_array(x):
                continue
            b = _buf(x)
            if b is out:
                return False
            for w in writers.get(id(b), ()):
                if i < w < root and w not in members:
                    return False
    return True


def _broadcast_view(x, shape):
    return x._view(shape, _launch.broadcast_strides(x, shape), x._offset)


def _fused(events, root, children):
    """One ``Ew`` computing the tree rooted at ``root``."""
    operands = []       # arrays (viewed at the root's shape) and scalars
    sig = []
    seen = {}
    lets = []
    helpers = []
    names = set()

    def operand(x, c, shapes):
        if _is_array(x):
            for s in shapes:
                if x.shape != s:
                    x = _broadcast_view(x, s)
            key = (id(_buf(x)), x._offset, x.shape, x._strides, x.dtype, c)
        else:
            key = None
        if key is not None and key in seen:
            return seen[key]
        k = len(operands)
        operands.append(x)
        sig.append((True, x.dtype, c) if key is not None else (False, None, c))
        if key is not None:
            seen[key] = k
        return k

    root_shape = events[root].out.shape
    order = []          # the tree's events, every producer before its consumer
    stack = [(root, False)]
    while stack:
        i, done = stack.pop()
        if done:
            order.append(i)
            continue
        stack.append((i, True))
        for j in children.get(i, {}).values():
            stack.append((j, False))
    value = {}          # event index -> (let name, dtype)
    for i in order:
        e = events[i]
        p = e.plan
        names.add(p.name)
        if p.helpers and p.helpers not in helpers:
            helpers.append(p.helpers)
        subs = []
        for k, x in enumerate(e.inputs):
            c = p.sig[k][2]
            j = children.get(i, {}).get(k)
            if j is not None:
                subs.append(_convert(*value[j], c))
            else:
                # x broadcasts to e's shape, which broadcasts to the root's
                subs.append(f"v{operand(x, c, (e.out.shape, root_shape))}")
        text = _V.sub(lambda m, subs=subs: subs[int(m.group(1))], p.expr)
        if i == root:
            expr, out_dtype = text, p.out_dtype
        else:
            lets.append((dt.compute_ctype(p.out_dtype), text))
            value[i] = (f"u{len(lets) - 1}", p.out_dtype)

    vector = all(n in _launch.VECTOR_SAFE for n in names)
    plan = _launch.ew_plan("fused_v" if vector else "fused", expr, out_dtype, tuple(sig),
                           "\n".join(helpers), tuple(lets))
    out = events[root].out
    _, _, flat, _ = _launch.operands([out] + operands)
    count = 1 + sum(events[i].fused for i in _tree(root, children))
    return Ew(plan, out, operands, flat, "fused", fused=count)


def _convert(u, d, c):
    """Let ``u`` (a value of dtype ``d`` in its compute type) as an operand of compute type
    ``c`` reads it after a store and a load would: the store's conversion, then the load's."""
    cd, cc = dt.compute_ctype(d), dt.compute_ctype(c)
    if d == dt.bool_:
        return f"(({cc})(uchar)(({u}) != 0))"
    st = dt.ctype(d)
    if st == cd == cc:
        return u
    return f"(({cc})({st})({u}))"


def count_kernels(events):
    """(elementwise kernels, other launches, elementwise ops computed in all, launches with an
    elementwise epilogue, with an elementwise prologue, products writing a sum beside)."""
    ew = sum(1 for e in events if type(e) is Ew)
    other = sum(1 for e in events if type(e) is Launch)
    fused = sum(e.fused for e in events if type(e) in (Ew, Launch))
    roles = [e.role for e in events if type(e) is Launch]
    return ew, other, fused, roles.count("epilogue"), roles.count("prologue"), \
        roles.count("row sums")


__all__ = ["fold_constants", "eliminate_dead", "fuse_elementwise", "count_kernels"]
