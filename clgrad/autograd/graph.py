"""The autograd graph, below the ops that record it: recording state, nodes, what a forward
saved for its vjp (with the version counters that guard it), and ``record_node``.

Every marked variable has a ``LeafNode`` (its gradient buffer and grad_req); every recorded op
has an ``OpNode`` holding its backward function, what its forward saved (an ``OpContext``) and,
for each input, the node and output slot that produced it *at record time*. Nodes are numbered
as they are recorded, after the nodes of their inputs, so that order is topological and
deterministic; the backward pass (``autograd.tape``, above the ops, since vjps are ops) walks
them newest first.

The recording and training flags are thread-local (``flags``), as in MXNet: the default is not
recording and predict mode, and every scope restores the previous values on exit, also when its
body raises (KeyboardInterrupt included).
"""
import itertools
import threading
import weakref
from operator import attrgetter

from ..base import AutogradError
from ..ndarray import ndarray

# Recording order: a node is numbered after the nodes of its inputs (they exist before it), so
# sorting by this number, newest first, is a reverse topological order of any graph.
_next_seq = itertools.count().__next__
by_seq = attrgetter("seq")

NOT_IN_GRAPH = (
    "Cannot differentiate node because it is not in a computational graph. You need to set "
    "is_recording to true or use autograd.record() to save computational graphs for backward, "
    "and call attach_grad() on the inputs you want gradients for.")

FREED = (
    "Trying to backward through the graph a second time: the graph of op '{op}' was freed by an "
    "earlier backward(). Pass retain_graph=True to the first backward() (or autograd.grad()) if "
    "you need to backward through the graph again.")

FREED_INTERRUPTED = (
    "Trying to backward through the graph again: the graph of op '{op}' was freed by an earlier "
    "backward() that was interrupted ({error}) before it finished (each op frees what it saved "
    "once its gradient is computed). Record the forward pass again; pass retain_graph=True to "
    "backward() if the graph must survive an interrupted pass.")

MODIFIED = (
    "An array needed for the gradient of op '{op}' was modified in place after it was recorded "
    "(its version is {now}, expected {then}). Use an out-of-place op, or .copy() the array "
    "before modifying it.")

IN_GRAPH = (
    "{what}: assigning to an array that is already in the recorded graph (an array with "
    "attach_grad() or the result of a recorded op) would make its gradients undefined, as in "
    "MXNet. Call backward() first, do this outside autograd.record(), or assign into a copy "
    "made outside the record scope.")

GRAD_REQS = ("write", "add", "null")




# --- recording state ---------------------------------------------------------------------------
class _Flags(threading.local):
    """This thread's flags; class defaults, so reading one never needs a fallback."""

    recording = False
    training = False


#: This thread's ``recording`` and ``training`` flags (read by the ops on every call).
flags = _Flags()


def is_recording():
    return flags.recording


def is_training():
    return flags.training


def set_recording(is_recording):
    """Set the recording flag; returns the previous value."""
    prev = flags.recording
    flags.recording = bool(is_recording)
    return prev


def set_training(train_mode):
    """Set the training flag; returns the previous value."""
    prev = flags.training
    flags.training = bool(train_mode)
    return prev
class _RecordingStateScope:
    """Sets whichever of the two flags is not None, and restores both on exit."""

    __slots__ = ("_enter_record", "_enter_train", "_prev_record", "_prev_train")

    def __init__(self, is_record, train_mode):
        self._enter_record = is_record
        self._enter_train = train_mode
        self._prev_record = None
        self._prev_train = None

    def __enter__(self):
        self._prev_record = is_recording()
        self._prev_train = is_training()
        if self._enter_record is not None:
            set_recording(self._enter_record)
        if self._enter_train is not None:
            set_training(self._enter_train)
        return self

    def __exit__(self, *exc):
        flags.recording = self._prev_record
        flags.training = self._prev_train
        return False


def record(train_mode=True):
    """Record the operations in this scope for backward; ``train_mode`` sets the training flag."""
    return _RecordingStateScope(True, train_mode)


def pause(train_mode=False):
    """Stop recording inside this scope (for updates and metrics inside a ``record`` block)."""
    return _RecordingStateScope(False, train_mode)


def train_mode():
    """Training behaviour (dropout, batch statistics) without touching the recording flag."""
    return _RecordingStateScope(None, True)


def predict_mode():
    """Prediction behaviour without touching the recording flag."""
    return _RecordingStateScope(None, False)


# --- nodes -------------------------------------------------------------------------------------
class LeafNode:
    """A variable marked with attach_grad: where its gradient is written."""

    __slots__ = ("grad", "grad_req", "live", "ready", "__weakref__")

    def __init__(self, grad, grad_req):
        self.grad = grad
        self.grad_req = grad_req
        self.live = grad_req != "null"     # takes part in the graph (see parents_of)
        self.ready = None                   # on_gradient_ready's callback


def on_gradient_ready(variable, callback):
    """Call ``callback(value)`` during ``backward`` as soon as the value that ``variable.grad``
    will take is final (every op that contributes to it has run; with grad_req 'add' the sum
    with the old gradient), before the rest of the pass. ``value`` is a device array that
    ``backward`` then writes into ``.grad``; the callback may read it (enqueued reads see it)
    but not change it. Gradients are still written only when the whole pass succeeded. This is
    how data-parallel training starts communicating gradients while backward runs. One
    callback per variable (None removes it); ``attach_grad`` again drops it."""
    node = variable._ag_node
    if type(node) is not LeafNode:
        raise AutogradError("on_gradient_ready: the array is not a variable (call "
                            "attach_grad() on it first)")
    node.ready = callback
    if callback is None:
        _HOOKED.discard(node)
    else:
        _HOOKED.add(node)


_HOOKED = weakref.WeakSet()     # the live leaves that have a callback


def gradient_callbacks():
    """Whether any live variable has an ``on_gradient_ready`` callback."""
    return bool(_HOOKED)


class OpNode:
    """One recorded op: its backward, saved state, and the producers of its inputs."""

    __slots__ = ("name", "backward", "ctx", "parents", "nout", "out_meta", "freed", "live",
                 "seq", "scale", "__weakref__")

    def __init__(self, name, backward, ctx, parents, out_meta):
        self.name = name
        self.backward = backward
        self.ctx = ctx
        self.parents = parents          # per input: (node, slot) or None
        self.nout = len(out_meta)
        self.out_meta = out_meta        # per output: (shape, dtype, device) for zero cotangents
        # False; True once a backward freed what it saved; the name of the exception that
        # stopped that backward when it did not finish (see freed_message)
        self.freed = False
        self.live = True        # until a backward frees it (see parents_of)
        self.seq = _next_seq()
        # set when the op is its one array input times a constant (see _Scaled)
        self.scale = None

    def free(self):
        self.ctx = None
        self.parents = ()
        self.freed = True
        self.live = False



def mark_interrupted(nodes, error):
    """Note on those of ``nodes`` that a backward freed before ``error`` stopped it that the pass
    did not finish, so that running it again says so rather than blaming a completed backward."""
    why = type(error).__name__
    for node in nodes:
        if node.freed is True:
            node.freed = why


def freed_message(node):
    """Why ``node``'s graph cannot be differentiated again (it was freed)."""
    if isinstance(node.freed, str):
        return FREED_INTERRUPTED.format(op=node.name, error=node.freed)
    return FREED.format(op=node.name)


class OpContext:
    """What a forward keeps for its vjp: saved arrays (version-checked) and plain attributes.

    The defaults are class attributes, so making a context (once per op call) costs nothing
    beyond the object itself.
    """

    saved = ()
    versions = ()
    needs = None        # per input: does it need a gradient (None when not recording)

    def save(self, *arrays):
        """Keep ``arrays`` (or None) for the vjp; a later in-place write to one is an error."""
        self.saved = arrays
        self.versions = tuple([None if a is None else a._storage.version for a in arrays])

    def check_versions(self, op_name):
        check_saved(op_name, self.saved, self.versions)


def check_saved(op_name, arrays, versions):
    """Raise ``AutogradError`` if an array saved for the vjp of ``op_name`` was written in place
    since (its storage's version moved on): the one check that guards saved arrays."""
    for a, v in zip(arrays, versions):
        # (a version is kept for saved arrays only)
        if v is not None and a._storage.version != v:
            raise AutogradError(MODIFIED.format(op=op_name, now=a._storage.version, then=v))


def check_assignable(a, what):
    """MXNet's rule for writes in place: inside ``record()``, an array that is in the graph (a
    leaf with ``attach_grad()`` or a recorded result) cannot be written; ``AutogradError``
    (an ``MXNetError``) before anything changes. Outside it the version counters guard what
    a recorded op saved."""
    node = a._ag_node
    if flags.recording and node is not None and (type(node) is LeafNode or not node.freed):
        raise AutogradError(IN_GRAPH.format(what=what))


def parents_of(inputs):
    """(parents, needs) of an op call's inputs: per input, the (node, output slot) it was
    computed by and True when it needs a gradient, else None and False; (None, None) when no
    input needs one. This is the one place that decides whether an input takes part in the
    graph: it has a node, that node is not a leaf with grad_req 'null', and not an op whose
    graph a backward has freed (as in MXNet, such a result is a constant from then on)."""
    if len(inputs) == 2:        # binary ops, the common case, without the loop
        a, b = inputs
        # (a Python number, the common other operand, without a call)
        na = a._ag_node if type(a) is ndarray else None if type(a) in _PLAIN else _node_of(a)
        nb = b._ag_node if type(b) is ndarray else None if type(b) in _PLAIN else _node_of(b)
        la = na is not None and na.live
        lb = nb is not None and nb.live
        if not (la or lb):
            return None, None
        return (((na, a._ag_index) if la else None, (nb, b._ag_index) if lb else None),
                (la, lb))
    parents = []
    needs = []
    found = False
    for x in inputs:
        if type(x) is ndarray:
            node = x._ag_node
        elif x is None or type(x) in _PLAIN:
            node = None
        else:
            node = getattr(x, "_ag_node", None)
        if node is not None and node.live:
            parents.append((node, x._ag_index))
            needs.append(True)
            found = True
        else:
            parents.append(None)
            needs.append(False)
    if not found:
        return None, None
    return tuple(parents), tuple(needs)


_PLAIN = (float, int, bool, complex)


def _node_of(x):
    """The graph node of an operand that is not a clgrad array (None for scalars)."""
    if x is None or type(x) in _PLAIN:
        return None
    return getattr(x, "_ag_node", None)


def requires_grad(x):
    """Whether ``x`` takes part in the graph (see ``parents_of``)."""
    return parents_of((x,))[0] is not None


# --- recording ---------------------------------------------------------------------------------
def record_node(name, backward, ctx, inputs, outputs, parents=None):
    """Attach a new node to ``outputs``; ``inputs`` are the op's arguments (arrays or not), and
    ``parents`` their ``parents_of`` (worked out here when the caller has not)."""
    if parents is None:
        parents = parents_of(inputs)[0] or (None,) * len(inputs)
    if len(outputs) == 1:       # the common case, without the loops
        o = outputs[0]
        node = OpNode(name, backward, ctx, parents, ((o.shape, o.dtype, o._storage.device),))
        o._ag_node = node
        o._ag_index = 0
        if backward in _SCALED_VJPS:
            node.scale = scale_for(backward, inputs, o)
        return node
    meta = tuple([(o.shape, o.dtype, o._storage.device) for o in outputs])
    node = OpNode(name, backward, ctx, parents, meta)
    for k, o in enumerate(outputs):
        o._ag_node = node
        o._ag_index = k
    return node


_SCALED_VJPS = set()


def mark_scaled(vjp, scale_of):
    """Declare that ``vjp`` is ``g * scale_of(inputs)`` whenever ``scale_of`` gives a number
    (not None): backward may then defer the product (see ``scale_for``)."""
    vjp.scale_of = scale_of
    _SCALED_VJPS.add(vjp)


def scale_for(backward, inputs, out):
    """The constant ``s`` when ``backward`` (a vjp with ``scale_of``) is ``g * s`` for this call,
    else None. Only for floating outputs whose array inputs have the output's dtype, so that the
    deferred product (``_Scaled``) gives the cotangent the dtype the vjp would have."""
    if out.dtype.kind != "f":
        return None
    for x in inputs:
        d = getattr(x, "dtype", None)
        if d is not None and d != out.dtype:
            return None
    return backward.scale_of(inputs)


