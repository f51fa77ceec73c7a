"""The backward pass over the graph the ops recorded (``autograd.graph``), and the variables it
writes: ``attach_grad``, ``mark_variables``, ``backward``, ``grad``. It sits above the ops, since
vjps are ops. Attaching a gradient again gives an array a new leaf and so detaches it from the
graph that produced it, as MXNet does; this module also gives arrays their autograd methods
(``attach_grad``, ``grad``, ``grad_req``, ``backward``).

Backward walks the nodes reachable from the heads in reverse recording order (every node is
numbered when it is recorded, after the nodes of its inputs, so that order is topological and
deterministic), accumulates cotangents per output slot, and writes the leaves' buffers at the
end, so an exception midway (KeyboardInterrupt included) leaves every ``.grad`` untouched.
Unless ``retain_graph``, each node frees what it saved as soon as its vjp has run (no later
step reads it), so the forward's saved arrays return to the pool during backward; a backward
interrupted midway has then freed the nodes it passed, and running it again raises the freed
graph error, as a second backward without ``retain_graph`` does (saying that the earlier pass
was interrupted). A vjp returns None for an input that gets no gradient; a 'write' leaf
reached only by such zeros is written with zeros, as MXNet does.
"""
from .. import ops
from ..base import (AutogradError, DeviceMismatchError, DTypeError, GradReqError, MXNetError,
                    ShapeError)
from ..ndarray import ndarray
from . import graph
from .graph import (FREED, GRAD_REQS, NOT_IN_GRAPH, LeafNode, OpContext, OpNode,  # noqa: F401
                    by_seq, check_saved, freed_message, record_node, requires_grad)


class AutogradArgumentError(MXNetError, ValueError, AssertionError):
    """Arguments of ``backward`` or ``mark_variables`` that do not pair up (a head gradient per
    head, a buffer per variable): a ``ValueError``, and an ``AssertionError`` as MXNet asserts."""


class AutogradTypeError(MXNetError, TypeError):
    """A head or a variable of ``backward`` or ``grad`` that is not an array."""


# --- leaves ----------------------------------------------------------------------------------
def attach_grad(x, grad_req="write"):
    if grad_req not in GRAD_REQS:
        raise GradReqError(f"unknown grad_req {grad_req!r}: expected one of {GRAD_REQS}")
    # MXNet allocates the buffer for 'null' too: x.grad reads as zeros that backward never writes
    grad = ops.zeros_like(x)
    x._ag_node = LeafNode(grad, grad_req)
    x._ag_index = 0


def get_grad(x):
    node = x._ag_node
    return node.grad if type(node) is LeafNode else None


def get_grad_req(x):
    node = x._ag_node
    return node.grad_req if type(node) is LeafNode else "null"


def mark_variables(variables, gradients, grad_reqs="write"):
    """Mark arrays as variables whose gradients go into the given buffers."""
    if isinstance(variables, ndarray):
        variables, gradients = [variables], [gradients]
    if isinstance(grad_reqs, str):
        grad_reqs = [grad_reqs] * len(variables)
    if not (len(variables) == len(gradients) == len(grad_reqs)):
        raise AutogradArgumentError(f"mark_variables: variables, gradients and grad_reqs differ "
                                    f"in length ({len(variables)}, {len(gradients)} and "
                                    f"{len(grad_reqs)})")
    for v, g, r in zip(variables, gradients, grad_reqs):
        if r not in GRAD_REQS:
            raise GradReqError(f"unknown grad_req {r!r}: expected one of {GRAD_REQS}")
        if g is not None and g.shape != v.shape:
            raise ShapeError(f"mark_variables: gradient buffer shape {g.shape} does not match "
                             f"the variable's {v.shape}")
        v._ag_node = LeafNode(g, r)
        v._ag_index = 0


# --- backward --------------------------------------------------------------------------------
def _reachable(roots):
    """The OpNodes reachable from ``roots`` (a set)."""
    seen = set()
    stack = []
    for root in roots:
        if type(root) is OpNode and root not in seen:
            seen.add(root)
            stack.append(root)
    pop, push, add = stack.pop, stack.append, seen.add
    while stack:
        for p in pop().parents:
            if p is not None:
                pn = p[0]
                if type(pn) is OpNode and pn not in seen:
                    add(pn)
                    push(pn)
    return seen


def _topo_order(roots):
    """OpNodes reachable from ``roots``, consumers before producers (newest first)."""
    return sorted(_reachable(roots), key=by_seq, reverse=True)


class _Scaled:
    """A cotangent ``g * s`` not computed yet.

    The vjp of an op that multiplies its one array input by a constant (``x * 2.5``, ``-x``)
    is the incoming cotangent times that constant. Backward carries such factors along (their
    product in double precision) instead of launching a kernel per op, and multiplies once where
    the cotangent is used: a chain of scalings costs one launch, not one per op.
    """

    __slots__ = ("g", "s")

    def __init__(self, g, s):
        self.g, self.s = g, s


def _real(c):
    """The cotangent ``c`` as an array (a deferred scaling applied)."""
    if type(c) is _Scaled:
            return ops.multiply(c.g, c.s)
    return c


def _sum(a, b):
    """Two cotangents of one slot added (either may be None)."""
    if a is None:
        return b
    if b is None:
        return a
    return ops.add(_real(a), _real(b))


#: heads up to this many elements get their default gradient from ones kept per shape, dtype
#: and device, so that a training loop's ``loss.backward()`` of a per-sample loss fills none
_ONES_MAX_ELEMENTS = 1 << 16


def _ones_like(h):
    """Ones shaped like the head ``h``: for a small head, a copy-on-write alias of ones kept for
    its shape, dtype and device (``ops.core.kept``; whoever writes to it in place, a gradient
    callback for one, writes to a copy of its own: ``Storage.share``)."""
    if h.size > _ONES_MAX_ELEMENTS:
        return ops.ones_like(h)
    one = ops.core.kept(("ones", h.shape, h.dtype, h.device), lambda: ops.ones_like(h))
    return one._shared(one.shape, one._strides, one._offset)


def _as_list(x):
    if isinstance(x, ndarray):
        return [x]
    return list(x)


def _check_heads(heads, head_grads):
    if head_grads is None:
        head_grads = [None] * len(heads)
    else:
        head_grads = _as_list(head_grads) if isinstance(head_grads, (ndarray, list, tuple)) \
            else [head_grads]
    if len(head_grads) != len(heads):
        raise AutogradArgumentError(f"got {len(head_grads)} head gradients for {len(heads)} "
                                    "heads")
    for h in heads:
        if not isinstance(h, ndarray):
            raise AutogradTypeError(f"backward heads must be arrays, got {type(h).__name__}")
        node = h._ag_node
        if node is None or (type(node) is LeafNode and node.grad_req == "null"):
            raise AutogradError(NOT_IN_GRAPH)
        if type(node) is OpNode and node.freed:
            raise AutogradError(freed_message(node))
    out = []
    for h, g in zip(heads, head_grads):
        if g is not None:
            if not isinstance(g, ndarray):
                g = ops.array(g, dtype=h.dtype, device=h.device)
            if g.shape != h.shape:
                raise ShapeError(f"head gradient shape {g.shape} does not match the head's "
                                 f"shape {h.shape}")
            if g.device is not h.device:
                raise DeviceMismatchError(f"head gradient is on {g.device} but its head is on "
                                          f"{h.device}")
        out.append(g)
    return out


def _run(heads, head_grads, variables, retain_graph, train_mode, create_graph, final=None):
    """Core of backward and grad.

    Returns ``(leaves, captured)``: ``leaves`` maps every LeafNode the backward pass reached to
    its total gradient (None when only zero gradients reached it); ``captured`` maps id(OpNode)
    of each non-leaf variable to its cotangents. ``final(leaf, total)``, when given, is called
    for each leaf with an ``on_gradient_ready`` callback as soon as its total is complete.
    """

    heads = _as_list(heads)
    head_grads = _check_heads(heads, head_grads)

    passing = ()        # the nodes this pass frees as it goes (none freed before it)
    prev_rec = graph.set_recording(create_graph)
    prev_train = graph.set_training(train_mode)
    try:
        add = _sum
        defer = not create_graph    # a recorded backward needs every product as an op
        slots = {}      # OpNode -> [cotangent per output]
        leaves = {}     # LeafNode -> total
        for h, g in zip(heads, head_grads):
            if g is None:
                g = _ones_like(h)       # a non-scalar head means the gradient of its sum
            node = h._ag_node
            if type(node) is LeafNode:
                prev = leaves.get(node)
                leaves[node] = g if prev is None else add(prev, g)
            else:
                lst = slots.get(node)
                if lst is None:
                    lst = slots[node] = [None] * node.nout
                k = h._ag_index
                lst[k] = g if lst[k] is None else add(lst[k], g)
        prev = g = None

        wanted = None
        if variables is not None:
            wanted = {v._ag_node for v in variables if type(v._ag_node) is OpNode}

        order = _topo_order([h._ag_node for h in heads])
        for node in order:
            if node.freed:
                raise AutogradError(freed_message(node))
        pending = _pending_leaves(order) if final is not None else None
        passing = order
        captured = {}
        for node in order:
            outs = slots.pop(node, None)
            if wanted and node in wanted:
                captured[id(node)] = list(outs) if outs is not None else [None] * node.nout
            if outs is None:
                in_grads = ()       # nothing flows through here: its inputs get zero
            else:
                if node.nout > 1:   # (a single output always has its cotangent)
                    _fill_zero_cotangents(node, outs)
                ctx = node.ctx
                if type(ctx) is OpContext:  # (the ops' context, checked without a method call)
                    if ctx.versions:
                        check_saved(node.name, ctx.saved, ctx.versions)
                else:
                    check = getattr(ctx, "check_versions", None)
                    if check is not None:
                        check(node.name)
                scale = node.scale
                if scale is not None and defer:
                    g = outs[0]
                    g = _Scaled(g.g, g.s * scale) if type(g) is _Scaled else _Scaled(g, scale)
                    in_grads = tuple([None if p is None else g for p in node.parents])
                else:
                    if type(outs[0]) is _Scaled or (node.nout > 1 and
                                                        any(type(o) is _Scaled for o in outs)):
                        outs = [_real(o) for o in outs]
                    in_grads = node.backward(ctx, *outs)
                if type(in_grads) is not tuple and not isinstance(in_grads, (tuple, list)):
                    in_grads = (in_grads,)
                outs = None         # this node's cotangents are no longer needed
            n_in = len(in_grads)
            i = -1
            for parent in node.parents:
                i += 1
                if parent is None:
                    continue
                g = in_grads[i] if i < n_in else None
                pnode = parent[0]
                if type(pnode) is LeafNode:
                    # reached even with no gradient: a 'write' leaf is then written with zeros
                    if g is not None:
                        prev = leaves.get(pnode)
                        leaves[pnode] = g if prev is None else add(prev, g)
                    elif pnode not in leaves:
                        leaves[pnode] = None
                    if pending and pnode in pending:
                        left = pending[pnode] - 1
                        pending[pnode] = left
                        if not left:
                            final(pnode, leaves[pnode])
                elif g is not None:
                    lst = slots.get(pnode)
                    if lst is None:
                        lst = slots[pnode] = [None] * pnode.nout
                    slot = parent[1]
                    prev = lst[slot]
                    lst[slot] = g if prev is None else add(prev, g)
            in_grads = g = prev = lst = None
            if not retain_graph:
                # what this node saved is needed by no later step: release it now, so that
                # the forward's saved arrays go back to the pool while backward runs
                node.free()
        if final is not None:
            # hooked leaves that only heads reached
            for leaf in leaves:
                if leaf.ready is not None and leaf not in pending:
                    final(leaf, leaves[leaf])
        for outs in captured.values():
            outs[:] = [_real(o) for o in outs]
        return leaves, captured
    except BaseException as e:
        if not retain_graph:    # the nodes passed are freed: a retry must say why
            graph.mark_interrupted(passing, e)
        raise
    finally:
        graph.set_recording(prev_rec)
        graph.set_training(prev_train)


def _pending_leaves(order):
    """Leaves with an ``on_gradient_ready`` callback -> how many of the pass's edges reach
    them (their total is final when that many have been added)."""
    pending = {}
    for node in order:
        for parent in node.parents:
            if parent is not None:
                leaf = parent[0]
                if type(leaf) is LeafNode and leaf.ready is not None:
                    pending[leaf] = pending.get(leaf, 0) + 1
    return pending


def _fill_zero_cotangents(node, outs):
    """Zeros for the outputs of ``node`` that no gradient reached."""
    for k, g in enumerate(outs):
        if g is None:
            shape, dtype, dev = node.out_meta[k]
            outs[k] = ops.zeros(shape, dtype=dtype, device=dev)


def backward(heads, head_grads=None, retain_graph=False, train_mode=True):
    """Compute the gradients of ``heads`` and write them into the variables' ``.grad``.

    Every gradient is computed before any ``.grad`` is written, so an error (or an interrupt)
    during the pass leaves all of them as they were.
    """
    finals = {}         # leaf -> the value its .grad takes, made early for its callback

    def final(leaf, total):
        if leaf.grad_req == "null" or leaf.grad is None:
            return
        value = finals[leaf] = _final_value(leaf, total)   # (_run records nothing)
        leaf.ready(value)

    leaves, _ = _run(heads, head_grads, None, retain_graph, train_mode, False,
                     final if graph.gradient_callbacks() else None)
    prev = graph.set_recording(False)
    try:
        writes = []
        for leaf, total in leaves.items():
            if leaf.grad_req == "null" or leaf.grad is None:
                continue
            value = finals.get(leaf)
            if value is not None:
                if value is not leaf.grad:
                    writes.append((leaf.grad, value))
            elif total is None:
                if leaf.grad_req == "write":
                    writes.append((leaf.grad, 0))
            elif leaf.grad_req == "write":
                writes.append((leaf.grad, total))
            else:
                writes.append((leaf.grad, ops.add(leaf.grad, _real(total))))
        copies = []
        for buf, value in writes:
            if type(value) is _Scaled and value.g.shape == buf.shape:
                ops.multiply(value.g, value.s, out=buf)     # the scaling is the write
            else:
                copies.append((buf, _real(value)))
        ops.core.assign_many(copies)    # the plain copies batched into one launch
    finally:
        graph.set_recording(prev)


def _final_value(leaf, total):
    """The array ``leaf.grad`` takes from ``total`` (its grad_req applied)."""
    if total is None:
        # 'add': the gradient stays as it is (backward writes nothing)
        return leaf.grad if leaf.grad_req == "add" else ops.zeros_like(leaf.grad)
    if leaf.grad_req == "add":
        return ops.add(leaf.grad, _real(total))
    total = _real(total)
    return total if total.dtype == leaf.grad.dtype else total.astype(leaf.grad.dtype)


def grad(heads, variables, head_grads=None, retain_graph=None, create_graph=False,
         train_mode=True):
    """Gradients of ``heads`` with respect to ``variables``, returned (``.grad`` untouched).

    With ``create_graph`` the backward pass is itself recorded, so the returned gradients can
    be differentiated again; ``retain_graph`` then defaults to True.
    """
    variables = _as_list(variables)
    for i, v in enumerate(variables):
        if not isinstance(v, ndarray):
            raise AutogradTypeError(f"grad: variables must be arrays; variable {i} is a "
                                    f"{type(v).__name__}")
        if not requires_grad(v):
            raise AutogradError(f"Cannot differentiate with respect to the {i}-th variable "
                                "because it does not require gradient: call attach_grad() on it "
                                "before autograd.record().")
    reached = _reached(_as_list(heads))
    for i, v in enumerate(variables):
        if reached is not None and v._ag_node not in reached:
            raise AutogradError(f"Cannot differentiate with respect to the {i + 1}-th variable "
                                "because it is unreachable from the outputs (as MXNet; "
                                "backward() leaves such a variable's .grad at zero)")
    if retain_graph is None:
        retain_graph = create_graph
    leaves, captured = _run(heads, head_grads, variables, retain_graph, train_mode,
                            create_graph)
    prev = graph.set_recording(create_graph)
    try:
        out = []
        for v in variables:
            node = v._ag_node
            if type(node) is LeafNode:
                total = _real(leaves.get(node))
            else:
                total = captured.get(id(node), [None] * node.nout)[v._ag_index]
            if total is None:
                total = ops.zeros_like(v)
            elif total.dtype != v.dtype:
                total = total.astype(v.dtype)
            out.append(total)
    finally:
        graph.set_recording(prev)
    return out


def _reached(heads):
    """Every node (leaves included) the heads' graph reaches; None where a freed node hides
    part of it (the backward pass then says so)."""
    roots = [h._ag_node for h in heads if isinstance(h, ndarray) and h._ag_node is not None]
    if len(roots) != len(heads):
        return None     # a head outside the graph: the backward pass says so
    ops_ = _reachable(roots)
    if any(n.freed for n in ops_):
        return None
    return ops_ | set(roots) | {p[0] for n in ops_ for p in n.parents if p is not None}


def reaches(heads, variables):
    """Per variable: whether a gradient can flow to it from ``heads`` (the check ``grad``
    makes before it raises for an unreachable variable)."""
    reached = _reached(_as_list(heads))
    if reached is None:
        return [True] * len(variables)
    return [v._ag_node in reached for v in variables]


# --- the array's autograd methods --------------------------------------------------------------
def _attach_grad(self, grad_req="write", stype=None):
    """Give the array a gradient buffer (``grad_req``: 'write', 'add' or 'null')."""
    if self.dtype.kind == "c":
        raise DTypeError("attach_grad: autograd does not support complex arrays")
    attach_grad(self, grad_req)


def _backward(self, out_grad=None, retain_graph=False, train_mode=True):
    """The gradients of this array with respect to the variables it was computed from."""
    backward([self], None if out_grad is None else [out_grad], retain_graph=retain_graph,
             train_mode=train_mode)


ndarray.attach_grad = _attach_grad
ndarray.grad = property(get_grad, doc="The gradient buffer (None without attach_grad).")
ndarray.grad_req = property(get_grad_req, doc="'write', 'add' or 'null'.")
ndarray.backward = _backward
