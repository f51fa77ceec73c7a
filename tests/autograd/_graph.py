"""Helpers for the autograd tests: which ops a recorded computation went through."""
from clgrad import autograd, np
from clgrad.autograd.tape import _topo_order


def recorded_ops(fn, *host_inputs, dtype="float64"):
    """Names of the ops recorded while ``fn`` runs on device copies of ``host_inputs``."""
    dev = [np.array(h, dtype=dtype) for h in host_inputs]
    for d in dev:
        d.attach_grad()
    with autograd.record():
        out = fn(*dev)
    outs = out if isinstance(out, (tuple, list)) else [out]
    return {n.name for n in _topo_order([o._ag_node for o in outs])}


def ops_in_graph(out):
    """Names of the ops recorded in the graph that produced ``out``."""
    return {n.name for n in _topo_order([out._ag_node])}
