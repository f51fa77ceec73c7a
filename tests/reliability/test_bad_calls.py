"""A call that fails leaves no half-written output: every array it was given is unchanged.

For calls that can be validated on the host (shapes, dtypes, host indices, parameters) clgrad
raises before enqueuing anything; calls whose validity depends on device data (device index
arrays, device masks) may run their checks on the device first, but still write nothing.
"""
import numpy as onp
import pytest

import clgrad
from clgrad import autograd, np, npx
from clgrad.ops import launch


@pytest.fixture
def launches(monkeypatch):
    """Counts kernel launches (every enqueue of a clgrad kernel goes through these two)."""
    count = [0]
    orig_launch, orig_call = launch.Kernel.launch, launch.Kernel.__call__

    def rec_launch(self, *args):
        count[0] += 1
        return orig_launch(self, *args)

    def rec_call(self, *args):
        count[0] += 1
        return orig_call(self, *args)

    monkeypatch.setattr(launch.Kernel, "launch", rec_launch)
    monkeypatch.setattr(launch.Kernel, "__call__", rec_call)
    return count


def _arrays():
    rng = onp.random.default_rng(0)

    def mk(shape, dtype="float32"):
        return np.array(rng.standard_normal(shape).astype(dtype))
    out = {
        "x": mk((3, 5)), "y4": mk((4,)), "o34": mk((3, 4)), "o5": mk((5,)), "col": mk((3, 1)),
        "i35": np.array(onp.arange(15, dtype=onp.int32).reshape(3, 5)), "v35": mk((3, 5)),
        "v2": mk((2,)), "v3": mk((3,)), "g5": np.ones(5), "b5": np.zeros(5), "g4": np.ones(4),
        "rm": np.array(onp.linspace(-1, 1, 5).astype(onp.float32)),
        "rv": np.array(onp.linspace(1, 2, 5).astype(onp.float32)),
        "rm4": np.zeros(4), "rvi": np.array(onp.ones(5, onp.int32)),
        "w52": mk((5, 2)), "dev_idx": np.array(onp.array([0, 3])),
        "dev_mask": np.array(onp.ones(15, bool).reshape(3, 5)),
        "idx01": np.array(onp.array([0, 1])),
    }
    leaf = mk((3, 5))
    leaf.attach_grad()
    with autograd.record():
        out["rec"] = leaf * 2.0
    return out


def _train_bn(a, gamma):
    with autograd.train_mode():
        return npx.batch_norm(a["x"], a[gamma], a["b5"], a["rm"], a["rv"], axis=1)


# (id, call on the arrays, expected exception, validated on the host (nothing enqueued))
CASES = [
    ("add out= of the wrong shape", lambda a: np.add(a["x"], a["x"], out=a["o34"]),
     clgrad.ShapeError, True),
    ("add out= of an unsafe dtype", lambda a: np.add(a["x"], a["x"], out=a["i35"]),
     TypeError, True),
    ("subtract out= too small", lambda a: np.subtract(a["x"], 1.0, out=a["o5"]),
     ValueError, True),
    ("add of shapes that do not broadcast", lambda a: np.add(a["x"], a["y4"], out=a["v35"]),
     ValueError, True),
    ("x += y, y not broadcastable", lambda a: a["x"].__iadd__(a["y4"]), ValueError, True),
    ("x += y, the result larger than x", lambda a: a["col"].__iadd__(a["x"]), ValueError, True),
    ("int += float", lambda a: a["i35"].__iadd__(a["x"]), TypeError, True),
    ("x -= y inside record", lambda a: _recorded_isub(a), clgrad.AutogradError, True),
    ("x[idx] = v, host index out of bounds", lambda a: a["x"].__setitem__([0, 7], 1.0),
     IndexError, True),
    ("x[i, j] = v, negative index out of bounds",
     lambda a: a["x"].__setitem__(([0, 1], [2, -9]), a["v2"]), IndexError, True),
    ("x[idx] = v, device index out of bounds",
     lambda a: a["x"].__setitem__(a["dev_idx"], a["v35"][0]), IndexError, False),
    ("x[idx] = v of the wrong shape", lambda a: a["x"].__setitem__([0, 1], a["v35"]),
     ValueError, True),
    ("x[a:b] = v of the wrong shape", lambda a: a["x"].__setitem__(slice(0, 2), a["v3"]),
     ValueError, True),
    ("x[i] = v, basic index out of bounds", lambda a: a["x"].__setitem__(5, 1.0), IndexError,
     True),
    ("x[mask] = v, mask of the wrong length",
     lambda a: a["x"].__setitem__(np.array(onp.ones(4, bool)), 0.0), IndexError, True),
    ("x[mask] = v, mask of the wrong width",
     lambda a: a["x"].__setitem__(onp.ones((3, 4), bool), 0.0), IndexError, True),
    ("x[mask] = v, host mask, v of the wrong length",
     lambda a: a["x"].__setitem__(onp.ones((3, 5), bool), a["v2"]), ValueError, True),
    ("x[mask] = v, device mask, v of the wrong length",
     lambda a: a["x"].__setitem__(a["dev_mask"], a["v2"]), ValueError, False),
    ("x.copyto(y) of the wrong shape", lambda a: a["x"].copyto(a["o34"]), ValueError, True),
    ("batch_norm, running_mean of the wrong shape",
     lambda a: npx.batch_norm(a["x"], a["g5"], a["b5"], a["rm4"], a["rv"], axis=1),
     ValueError, True),
    ("batch_norm, integer running_var",
     lambda a: npx.batch_norm(a["x"], a["g5"], a["b5"], a["rm"], a["rvi"], axis=1),
     TypeError, True),
    ("batch_norm in training, gamma of the wrong shape", lambda a: _train_bn(a, "g4"),
     ValueError, True),
    ("batch_norm in training, momentum out of range",
     lambda a: npx.batch_norm(a["x"], a["g5"], a["b5"], a["rm"], a["rv"], momentum=1.5, axis=1),
     ValueError, True),
    ("clip out= of the wrong shape", lambda a: np.clip(a["x"], 0, 1, out=a["o34"]),
     ValueError, False),
    ("matmul out= of the wrong shape", lambda a: np.matmul(a["x"], a["w52"], out=a["o34"]),
     ValueError, False),
    ("take out= of the wrong shape",
     lambda a: np.take(a["x"], a["idx01"], axis=0, out=a["o34"]), ValueError, False),
]


def _recorded_isub(a):
    with autograd.record():     # a recorded result is not updated in place (MXNet's rule)
        a["rec"] -= a["y4"]


@pytest.mark.parametrize("name,call,exc,host", CASES, ids=[c[0] for c in CASES])
def test_bad_call_changes_nothing(name, call, exc, host, launches):
    a = _arrays()
    npx.waitall()
    before = {k: v.asnumpy().copy() for k, v in a.items()}
    versions = {k: v._storage.version for k, v in a.items()}
    launches[0] = 0
    with pytest.raises(exc) as info:
        call(a)
    assert isinstance(info.value, clgrad.MXNetError), type(info.value)
    if host:
        assert launches[0] == 0, f"{name}: {launches[0]} kernels enqueued before the error"
    for k, v in a.items():
        onp.testing.assert_array_equal(v.asnumpy(), before[k], err_msg=f"{name}: {k} changed")
        assert v._storage.version == versions[k], f"{name}: {k} was written"
    assert not autograd.is_recording() and not autograd.is_training()


def test_the_check_can_fail(launches):
    """A good call is counted and changes its output: the checks above have teeth."""
    a = _arrays()
    npx.waitall()
    before = a["x"].asnumpy().copy()
    launches[0] = 0
    a["x"][[0, 1]] = a["v35"][:2]
    assert launches[0] > 0 and not onp.array_equal(a["x"].asnumpy(), before)


@pytest.mark.parametrize("name", ["clip out= of the wrong shape", "matmul out= of the wrong shape",
                                  "take out= of the wrong shape"])
def test_out_is_checked_before_enqueuing(name, launches):
    call = dict((c[0], c[1]) for c in CASES)[name]
    a = _arrays()
    launches[0] = 0
    with pytest.raises(ValueError):
        call(a)
    assert launches[0] == 0


@pytest.mark.parametrize("op", ["clip", "matmul", "take"])
def test_out_dtype_follows_same_kind_casting(op):
    x = np.array(onp.linspace(-2, 2, 15).astype(onp.float32).reshape(3, 5))
    calls = {
        "clip": lambda: np.clip(x, 0, 1, out=np.array(onp.zeros((3, 5), onp.int32))),
        "matmul": lambda: np.matmul(x, np.ones((5, 2)), out=np.array(onp.zeros((3, 2), onp.int32))),
        "take": lambda: np.take(x, np.array(onp.array([0, 1])), axis=0,
                                out=np.array(onp.zeros((2, 5), onp.int32))),
    }
    with pytest.raises(TypeError):
        calls[op]()
