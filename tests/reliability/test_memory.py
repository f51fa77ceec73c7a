"""Long training runs keep device and host memory flat, and every backward frees its graph.

The graph is reference-counted, not collected: outputs point at their node, a node holds what its
forward saved and the nodes of its inputs, and nothing points back. So when the arrays of a step
go out of scope their nodes and saved arrays are freed at once, with the cyclic garbage collector
switched off; the tests below check exactly that.
"""
import gc
import os
import weakref

import numpy as onp
import pytest

from clgrad import autograd, np, npx

STEPS = 10_000          # the number of training steps
WARMUP = 300            # pools, kernel caches and Python's allocator settle in this many


def _rss():
    """Resident set size of this process in bytes (Linux), or None elsewhere."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class MLP:
    """16-32-4 with ReLU, softmax cross-entropy, plain SGD."""

    def __init__(self, seed=0, batch=16):
        rng = onp.random.default_rng(seed)
        self.x = np.array(rng.standard_normal((batch, 16)).astype(onp.float32))
        self.labels = np.array(rng.integers(0, 4, batch).astype(onp.int64))
        self.w1 = np.array((rng.standard_normal((16, 32)) * 0.3).astype(onp.float32))
        self.b1 = np.zeros(32)
        self.w2 = np.array((rng.standard_normal((32, 4)) * 0.3).astype(onp.float32))
        self.b2 = np.zeros(4)
        self.params = [self.w1, self.b1, self.w2, self.b2]
        for p in self.params:
            p.attach_grad()

    def forward(self):
        h = npx.relu(np.matmul(self.x, self.w1) + self.b1)
        logits = np.matmul(h, self.w2) + self.b2
        loss = -npx.pick(npx.log_softmax(logits), self.labels).mean()
        return h, logits, loss

    def step(self, lr=0.05):
        with autograd.record():
            loss = self.forward()[2]
        loss.backward()
        with autograd.pause():
            for p in self.params:
                p -= lr * p.grad
        return loss


def _graph(head):
    """Every node reachable from ``head`` and every array those nodes saved."""
    nodes, arrays, todo = [], [], [head._ag_node]
    seen = set()
    while todo:
        node = todo.pop()
        if node is None or id(node) in seen or not hasattr(node, "parents"):
            continue
        seen.add(id(node))
        nodes.append(node)
        arrays += [a for a in getattr(node.ctx, "saved", ()) if a is not None]
        todo += [p[0] for p in node.parents if p is not None]
    return nodes, arrays


@pytest.fixture
def no_gc():
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_backward_frees_the_graph_without_the_collector(no_gc):
    model = MLP()
    model.step()        # first use builds kernels (their one-off garbage is not a step's)
    gc.collect()
    keep = {id(a) for a in model.params + [model.x, model.labels]}
    for _ in range(3):
        with autograd.record():
            h, logits, loss = model.forward()
        nodes, saved = _graph(loss)
        assert len(nodes) >= 6
        outs = {id(a) for a in (h, logits, loss)}
        temps = [a for a in saved if id(a) not in keep and id(a) not in outs]
        assert temps, "the graph saved no intermediate arrays: nothing to check"
        node_refs = [weakref.ref(n) for n in nodes]
        temp_refs = [weakref.ref(a) for a in temps]
        out_refs = [weakref.ref(a) for a in (h, logits, loss)]
        del nodes, saved, temps
        loss.backward()
        # what the nodes saved is released by backward itself, while the outputs still live
        assert [r for r in temp_refs if r() is not None] == []
        del h, logits, loss
        assert [r for r in out_refs if r() is not None] == []
        assert [r for r in node_refs if r() is not None] == []
    assert gc.collect() == 0, "training steps left reference cycles for the collector"


def test_an_unused_graph_is_freed_without_the_collector(no_gc):
    model = MLP()
    with autograd.record():
        _, _, loss = model.forward()
    nodes, _ = _graph(loss)
    refs = [weakref.ref(n) for n in nodes]
    del nodes, _
    del loss
    assert [r for r in refs if r() is not None] == []


def test_device_memory_is_back_to_the_parameters_after_a_step():
    model = MLP()
    model.step()
    npx.waitall()
    before = npx.memory_stats()["in_use_bytes"]
    for _ in range(5):
        model.step()
    # the loss returned by step() is dropped: only parameters, gradients and data remain
    assert npx.memory_stats()["in_use_bytes"] == before


@pytest.mark.slow
def test_ten_thousand_steps_keep_memory_flat():
    model = MLP(seed=1)
    first = None
    for i in range(WARMUP):
        loss = model.step()
        if i == 0:
            first = loss.item()
    npx.waitall()
    dev0, reserved0, rss0 = (npx.memory_stats()["in_use_bytes"],
                             npx.memory_stats()["reserved_bytes"], _rss())
    for i in range(STEPS - WARMUP):
        loss = model.step()
        if i % 1000 == 999:
            loss.item()     # bounds how far the host runs ahead of the queue
    last = loss.item()
    del loss
    npx.waitall()
    stats = npx.memory_stats()
    assert stats["in_use_bytes"] <= dev0 * 1.05, (dev0, stats)
    assert stats["reserved_bytes"] <= reserved0 * 1.05, (reserved0, stats)
    if rss0 is not None:
        assert _rss() <= rss0 * 1.05, f"host RSS grew from {rss0} to {_rss()} bytes"
    # and the steps did train: the loss fell
    assert onp.isfinite(last) and last < first * 0.5, (first, last)
