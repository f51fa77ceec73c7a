"""Defects the API fuzzer (test_api_fuzz.py) found, each pinned by a focused case.

Most were hostile arguments that reached Python or pyopencl unchecked and came out as raw
``TypeError`` / ``IndexError`` / ``AttributeError``: now each raises a clgrad error
(``MXNetError``) that is also the builtin NumPy raises, naming the function or the argument.
The rest were wrong results or crashes, checked by value below.
"""
import os
import warnings

import numpy as onp
import pytest

import clgrad
from clgrad import array_api as xp
from clgrad import autograd, gluon, np, npx
from clgrad.base import MXNetError


def _a(shape=(2, 3), dtype="float32"):
    return np.array(onp.arange(int(onp.prod(shape)), dtype=dtype).reshape(shape))


# (id, call, builtin class NumPy / Python raise, a word the message must name)
CASES = [
    # elementwise ops
    ("unary op given two operands", lambda: np.exp(_a(), _a()), TypeError, "exp"),
    ("binary op given one operand", lambda: np.add(_a()), TypeError, "add"),
    ("out= that is not an array", lambda: np.add(_a(), 1, out=True), TypeError, "out"),
    ("a ragged list operand", lambda: np.add(_a((2,)), [[1], [1, 2]]), ValueError, "operand"),
    ("round's decimals not an integer", lambda: np.around(_a(), decimals="1"), TypeError,
     "decimals"),
    ("round's decimals beyond a float's range", lambda: np.around(_a(), decimals=400),
     OverflowError, "decimals"),
    # reductions
    ("reduction out= that is not an array", lambda: np.sum(_a(), out=[1]), TypeError, "out"),
    ("axis that is not an integer", lambda: np.flip(_a(), axis=print), TypeError, "axis"),
    ("argmax axis that is a float", lambda: np.argmax(_a(), axis=1.5), TypeError, "axis"),
    ("var's ddof not a number", lambda: np.var(_a(), ddof=(1, 2)), TypeError, "ddof"),
    # single-axis functions given a tuple, an empty tuple or a 0-d array
    ("concatenate with axis=()", lambda: np.concatenate([_a(), _a()], axis=()), TypeError,
     "axis"),
    ("take with a tuple axis", lambda: np.take(_a(), np.array([0]), axis=(0, 1)), TypeError,
     "axis"),
    ("vecdot of 0-d operands", lambda: np.linalg.vecdot(0.5, 0.5), IndexError, "axis"),
    ("rot90 of a 0-d array", lambda: np.rot90(np.array(0.5)), ValueError, "rot90"),
    # integer and shape arguments
    ("tile reps that are not integers", lambda: np.tile(_a(), "float32"), TypeError, "reps"),
    ("roll by a function", lambda: np.roll(_a(), print, axis=0), TypeError, "shift"),
    ("diag k not an integer", lambda: np.diag(_a(), k=print), TypeError, "k"),
    ("tril k not an integer", lambda: np.tril(_a(), k=print), TypeError, "k"),
    ("topk k a tuple", lambda: np.topk(_a(), k=(1, 2)), TypeError, "k"),
    ("one_hot depth a tuple", lambda: npx.one_hot(np.array([0, 1]), depth=()), TypeError,
     "depth"),
    ("dropout p a tuple", lambda: npx.dropout(_a(), p=()), TypeError, "p"),
    ("fully_connected num_hidden NaN",
     lambda: npx.fully_connected(_a(), _a((4, 3)), num_hidden=float("nan"), no_bias=True),
     TypeError, "num_hidden"),
    ("reshape to a float", lambda: np.reshape(_a(), 0.5), TypeError, "newshape"),
    ("transpose axes a string", lambda: np.transpose(_a(), "ab"), TypeError, "axes"),
    ("broadcast_to a float", lambda: np.broadcast_to(_a(), 2.5), TypeError, "shape"),
    ("npx.reshape to a float", lambda: npx.reshape(_a(), 0.5), TypeError, "newshape"),
    ("broadcast_shapes of a float", lambda: np.broadcast_shapes(1.5), TypeError, "shapes"),
    ("norm over a float axis", lambda: np.linalg.norm(_a(), axis=1.0), TypeError, "axis"),
    ("eye of a negative size", lambda: np.eye(-1), ValueError, "eye"),
    ("eye of a non-integer size", lambda: np.eye(2.5), TypeError, "eye"),
    ("eye of a negative column count", lambda: np.eye(2, M=-3), ValueError, "eye"),
    ("array_split into 2**40 sections", lambda: np.array_split(_a((0,)), 2 ** 40),
     MemoryError, "array_split"),
    # arrays where a clgrad array is required
    ("astype of an object", lambda: np.astype(object(), "int32"), TypeError, "astype"),
    ("copy of a NumPy array", lambda: np.copy(onp.arange(3)), TypeError, "copy"),
    ("to_device of an object", lambda: np.to_device(object(), npx.cpu()), TypeError,
     "to_device"),
    ("fill of a NumPy array", lambda: np.fill(onp.arange(3), 1.0), TypeError, "fill"),
    ("assign into a list", lambda: np.assign([1.0, 2.0], _a()), TypeError, "assign"),
    ("getitem of a list", lambda: np.getitem([1.0, 2.0], 0), TypeError, "getitem"),
    ("stop_gradient of a NumPy array", lambda: npx.stop_gradient(onp.arange(3)), TypeError,
     "stop_gradient"),
    ("concatenate of a float", lambda: np.concatenate(0.5), TypeError, "seq"),
    ("stack of None", lambda: np.stack(None), TypeError, "arrays"),
    ("hstack of a float", lambda: np.hstack(-0.0), TypeError, "tup"),
    ("np.ndarray constructed directly", lambda: np.ndarray((2, 3)), TypeError, "ndarray"),
    ("shuffle of a NumPy array", lambda: np.random.shuffle(onp.arange(3)), TypeError,
     "shuffle"),
    # NumPy-backed helpers
    ("allclose of shapes that do not broadcast", lambda: np.allclose(_a((3,)), _a((2, 2))),
     ValueError, "allclose"),
    ("isclose of a dict", lambda: np.isclose({}, [1.0]), TypeError, "isclose"),
    ("isclose with an array for equal_nan", lambda: np.isclose(_a(), _a(), equal_nan=_a()),
     TypeError, "equal_nan"),
    ("size over a missing axis", lambda: np.size(np.array(1.0), axis=1), IndexError, "axis"),
    ("result_type of nothing", lambda: np.result_type(), ValueError, "result_type"),
    ("zeros with an array as dtype", lambda: np.zeros(2, np.array([True])), TypeError,
     "dtype"),
    ("pick with a list mode", lambda: np.pick(_a(), np.array([0, 1]), mode=[]), ValueError,
     "mode"),
    ("memory_stats of a bad device", lambda: npx.memory_stats(device=3.5), ValueError,
     "device"),
    # array_api
    ("array_api function given a float", lambda: xp.all(0.5), TypeError, "x"),
    ("array_api.permute_dims of a string", lambda: xp.permute_dims(_a(), "ab"), TypeError,
     "axes"),
    ("array_api.tile of a string", lambda: xp.tile(_a(), "ab"), TypeError, "repetitions"),
    ("array_api.concat of a slice", lambda: xp.concat(slice(None)), TypeError, "arrays"),
    ("array_api.meshgrid indexing", lambda: xp.meshgrid(_a((2,)), indexing="bogus"),
     ValueError, "indexing"),
    ("array_api.isdtype kind", lambda: xp.isdtype(xp.float32, "bogus"), ValueError, "kind"),
    ("array_api.diff n negative", lambda: xp.diff(_a((3,)), n=-1), ValueError, "n"),
    ("array_api.diff axis=()", lambda: xp.diff(_a((3,)), axis=()), TypeError, "axis"),
    ("array_api.logaddexp of complex", lambda: xp.logaddexp(xp.asarray([1j]), 1.0),
     TypeError, "logaddexp"),
    ("all of None", lambda: np.all(None), TypeError, "None"),
    ("sort with an array for descending", lambda: np.sort(_a(), descending=onp.arange(3)),
     ValueError, "descending"),
    ("unique with an array for return_counts",
     lambda: np.unique(_a(), return_counts=onp.arange(3)), ValueError, "return_counts"),
    ("reduction with an array for keepdims", lambda: np.argmax(_a(), keepdims=onp.arange(3)),
     ValueError, "keepdims"),
    ("ravel with a float order", lambda: np.ravel(_a(), order=float("nan")), TypeError,
     "order"),
    ("softmax with an array for use_length",
     lambda: npx.softmax(_a(), use_length=onp.arange(3)), ValueError, "use_length"),
    ("array_api.isdtype of None", lambda: xp.isdtype(None, "bool"), TypeError, "dtype"),
    ("masked_log_softmax over axis=()",
     lambda: npx.masked_log_softmax(_a(), np.array(onp.ones((2, 3), bool)), axis=()),
     TypeError, "axis"),
    ("meshgrid indexing an array", lambda: np.meshgrid(_a((2,)), indexing=onp.arange(3)),
     ValueError, "indexing"),
    ("take_along_axis of ragged indices",
     lambda: np.take_along_axis(_a(), [[1], [1, 2]], -1), ValueError, "indices"),
    ("searchsorted side an array", lambda: np.searchsorted(_a((3,)), 1.0, side=onp.arange(3)),
     ValueError, "side"),
    ("size over an axis beyond C's int", lambda: np.size(0.5, axis=2 ** 31), OverflowError,
     "size"),
    ("array_api.iinfo of None", lambda: xp.iinfo(None), TypeError, "dtype"),
    ("diagonal offset a dtype", lambda: np.diagonal(_a(), offset=onp.dtype("float64")),
     TypeError, "offset"),
    ("repeat by ragged counts", lambda: np.repeat(-1, [[1], [1, 2]]), ValueError, "repeats"),
    ("sort kind an array", lambda: np.sort(_a(), kind=onp.arange(3)), ValueError, "kind"),
    ("array_api.nextafter toward a dtype",
     lambda: xp.nextafter(xp.asarray([1.0]), onp.dtype("float64")), TypeError, "x2"),
    ("array_api.vecdot over a float axis",
     lambda: xp.vecdot(xp.asarray([1.0]), xp.asarray([1.0]), axis=0.5), TypeError, "axis"),
    ("meshgrid sparse an array", lambda: np.meshgrid(_a((2,)), sparse=onp.arange(3)),
     ValueError, "sparse"),
    ("unique with an array for return_index", lambda: np.unique(True, _a((3,))), TypeError,
     "return_index"),
    ("one_hot of complex indices",
     lambda: npx.one_hot(np.array(onp.ones(2, onp.complex64)), depth=2), TypeError, "one_hot"),
    ("set_np with an array", lambda: npx.set_np(shape=onp.arange(3)), ValueError, "shape"),
    ("leaky_relu act_type an array", lambda: npx.leaky_relu(_a(), act_type=onp.arange(3)),
     ValueError, "act_type"),
    ("array_api.cumulative_prod of a 0-d array",
     lambda: xp.cumulative_prod(xp.asarray(1)), ValueError, "cumprod"),
    ("setitem of a function", lambda: np.setitem(_a(), 0, print), TypeError, "setitem"),
    # npx.save / load
    ("save to an object", lambda: npx.save(object(), _a()), TypeError, "file"),
    ("save to a missing folder", lambda: npx.save("/nonexistent/dir/x.npy", _a()),
     FileNotFoundError, "npx.save"),
    ("load of a missing file", lambda: npx.load("/nonexistent/x.params"), FileNotFoundError,
     "npx.load"),
    ("savez of a non-array", lambda: npx.savez("x.npz", a=1), TypeError, "npx.savez"),
    # gluon
    ("a layer called on a float", lambda: _initialized(gluon.nn.Dense(2))(0.5), TypeError,
     "Dense"),
    ("a loss called on a tuple", lambda: gluon.loss.L2Loss()((2, 1), _a()), TypeError,
     "L2Loss"),
    ("a loss's batch_axis a tuple", lambda: gluon.loss.L1Loss(batch_axis=(0, 1)), TypeError,
     "batch_axis"),
    ("CTCLoss layout an array", lambda: gluon.loss.CTCLoss(layout=onp.arange(3)), ValueError,
     "layout"),
    ("Dense units a dtype", lambda: gluon.nn.Dense(onp.dtype("float64")), TypeError, "units"),
    ("Embedding input_dim NaN", lambda: gluon.nn.Embedding(float("nan"), 3), TypeError,
     "input_dim"),
    ("Conv1D groups a string", lambda: gluon.nn.Conv1D(2, 3, groups="float32"), TypeError,
     "groups"),
    ("Conv2DTranspose output_padding a string",
     lambda: gluon.nn.Conv2DTranspose(2, 3, output_padding="f2"), ValueError,
     "output_padding"),
    ("GroupNorm num_groups an array", lambda: gluon.nn.GroupNorm(num_groups=onp.arange(3)),
     TypeError, "num_groups"),
    ("LayerNorm axis an array", lambda: _initialized(gluon.nn.LayerNorm(axis=onp.arange(3)))(
        _a()), TypeError, "axis"),
    ("Dense use_bias an array", lambda: gluon.nn.Dense(2, use_bias=onp.arange(3)), ValueError,
     "use_bias"),
    ("Activation named by an array", lambda: gluon.nn.Activation(onp.arange(3)), ValueError,
     "activation"),
    ("pooling layout an array", lambda: gluon.nn.AvgPool2D(layout=onp.arange(3)), ValueError,
     "layout"),
    ("PReLU in_channels -inf", lambda: gluon.nn.PReLU(in_channels=-float("inf")), TypeError,
     "in_channels"),
    ("BatchNorm in_channels NaN", lambda: gluon.nn.BatchNorm(in_channels=float("nan")),
     TypeError, "in_channels"),
    ("InstanceNorm in_channels a dict", lambda: gluon.nn.InstanceNorm(in_channels={}),
     TypeError, "in_channels"),
    ("a parameter initialised by an array",
     lambda: gluon.Parameter("w", shape=(2,), init=onp.arange(3)).initialize(), TypeError,
     "initializer"),
    ("Trainer optimizer_params an array",
     lambda: gluon.Trainer([gluon.Parameter("w", shape=(2,))], "sgd", onp.arange(3)),
     TypeError, "optimizer_params"),
    ("split_data into 2**40 slices", lambda: gluon.utils.split_data(_a((0,)), 2 ** 40),
     ValueError, "slices"),
    ("GELU approximation an array", lambda: gluon.nn.GELU(approximation=onp.arange(3)),
     ValueError, "approximation"),
    ("Parameter grad_stype an array", lambda: gluon.Parameter(grad_stype=onp.arange(3)),
     ValueError, "grad_stype"),
    ("Dropout rate an array", lambda: gluon.nn.Dropout(_a((3,))), TypeError, "rate"),
    ("Parameter differentiable an array",
     lambda: gluon.Parameter(differentiable=onp.arange(3)), ValueError, "differentiable"),
    ("Parameter grad_req an array", lambda: gluon.Parameter(grad_req=onp.arange(3)),
     ValueError, "grad_req"),
    ("SoftmaxCELoss of a 0-d pred",
     lambda: gluon.loss.SoftmaxCELoss(from_logits=True)(np.array(1.0), np.array(0)),
     ValueError, "pred"),
    ("pooling ceil_mode an array", lambda: gluon.nn.AvgPool2D(ceil_mode=onp.arange(3)),
     ValueError, "ceil_mode"),
    ("Swish beta a dtype", lambda: gluon.nn.Swish(onp.dtype("float64")), TypeError, "beta"),
    ("Parameter shape a function", lambda: gluon.Parameter(shape=print), TypeError, "shape"),
    ("split_data of None", lambda: gluon.utils.split_data(None, 2), TypeError, "data"),
    ("split_data batch_axis a string", lambda: gluon.utils.split_data(_a(), 2, batch_axis="a"),
     TypeError, "batch_axis"),
    ("split_and_load onto one device, not a list",
     lambda: gluon.utils.split_and_load(_a(), npx.cpu()), TypeError, "device_list"),
    ("clip_global_norm of None", lambda: gluon.utils.clip_global_norm(None, 1.0), TypeError,
     "arrays"),
]


def _initialized(block):
    block.initialize()
    return block


@pytest.mark.parametrize("name, call, builtin, word", CASES, ids=[c[0] for c in CASES])
def test_hostile_call_raises_a_clgrad_error(name, call, builtin, word, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(builtin) as info:
        call()
    assert isinstance(info.value, MXNetError), f"{type(info.value).__name__}: {info.value}"
    assert word in str(info.value), str(info.value)


def test_keepdims_takes_any_truth_value():
    onp.testing.assert_array_equal(np.sum(_a(), keepdims={}).asnumpy(), 15.0)


@pytest.mark.parametrize("fn", ["sum", "prod", "mean", "cumsum", "cumprod"])
def test_complex_reduced_into_a_real_dtype_takes_the_real_parts(fn):
    """As NumPy: the elements are cast to ``dtype=`` first. The kernels used to fail to build
    (a float2 accumulated into a float), and the failure switched the device's reductions to
    their slow fallback."""
    h = onp.array([[1 + 2j], [3 + 4j], [5 + 6j]], dtype=onp.complex64)
    with warnings.catch_warnings():
        warnings.simplefilter("error", clgrad.base.KernelFallbackWarning)
        got = getattr(np, fn)(np.array(h), dtype="float32")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # NumPy's ComplexWarning
        want = getattr(onp, fn)(h, dtype="float32")
    assert got.dtype == onp.float32
    onp.testing.assert_allclose(got.asnumpy(), want, rtol=1e-6)


@pytest.mark.parametrize("fn", ["nonzero", "flatnonzero", "argwhere"])
def test_nonzero_of_complex_arrays(fn):
    """A complex element is non-zero when either part is; the compaction kernel used to fail to
    build for complex dtypes (it compared a float2 with 0)."""
    h = onp.array([[1 + 0j, 0, 2j], [0, 0, -1e-30j]], dtype=onp.complex64)
    got = getattr(np, fn)(np.array(h))
    want = getattr(onp, fn)(h)
    for g, w in zip(got if fn == "nonzero" else [got], want if fn == "nonzero" else [want]):
        onp.testing.assert_array_equal(g.asnumpy(), w)


@pytest.mark.parametrize("dtype, out_dtype", [("int8", "int64"), ("uint8", "int32"),
                                              ("float16", "float32")])
def test_out_of_a_wider_dtype_gets_the_result_of_the_operands_dtype(dtype, out_dtype):
    """As NumPy: the product is computed in the operands' dtype (int8 wraps, float16 rounds and
    overflows) and then cast into out; it used to be computed at out's width."""
    values = {"int8": [-128, 100, 3, 1], "uint8": [255, 16, 3, 1],
              "float16": [300.0, 1e-3, 3.0, 0.1]}
    h = onp.array(values[dtype], dtype=dtype)
    out = np.array(onp.zeros(4, out_dtype))
    np.multiply(np.array(h), np.array(h), out=out)
    with onp.errstate(over="ignore"):
        want = onp.multiply(h, h, out=onp.zeros(4, out_dtype))
    onp.testing.assert_array_equal(out.asnumpy(), want)


@pytest.mark.parametrize("fn", ["sum", "cumsum", "prod"])
def test_reduction_into_bool_tests_each_element(fn):
    """As NumPy: 0.5 is True; it used to be converted through an integer (0, False)."""
    h = onp.array([0.5, 0.0, 0.25])
    onp.testing.assert_array_equal(getattr(np, fn)(np.array(h), dtype="bool").asnumpy(),
                                   getattr(onp, fn)(h, dtype=bool))


@pytest.mark.parametrize("fn, initial", [("sum", 0.001), ("prod", 1.5), ("max", 0.5),
                                         ("min", -0.5)])
def test_initial_takes_the_reductions_dtype(fn, initial):
    """As NumPy: ``initial`` is cast to the reduction's dtype; it used to promote an integer
    result to float."""
    h = onp.array([2, -1, 3])
    got = getattr(np, fn)(np.array(h), initial=initial)
    want = getattr(onp, fn)(h, initial=initial)
    assert got.dtype.kind == "i"
    onp.testing.assert_array_equal(got.asnumpy(), want)


def test_eye_of_a_negative_size_makes_no_array():
    """It used to return an array of shape (-1, -1) (or reach pyopencl with a negative size)."""
    with pytest.raises(ValueError):
        np.eye(-1)
    with pytest.raises(ValueError):
        np.identity(-2)


def test_ravel_in_fortran_order():
    """``order='F'`` used to be ignored (the C order came back)."""
    h = onp.arange(6).reshape(2, 3)
    onp.testing.assert_array_equal(np.ravel(np.array(h), order="F").asnumpy(), h.ravel("F"))


def test_inner_with_a_0d_array_is_a_product():
    onp.testing.assert_allclose(np.inner(np.array(2.0), _a((3,))).asnumpy(),
                                onp.inner(2.0, onp.arange(3.0)))


def test_clip_gradient_when_the_bounds_broadcast_a():
    """Bounds larger than ``a`` broadcast the result; a's gradient is summed back to its shape
    (it used to keep the result's shape)."""
    a = np.array(0.5, dtype="float64")
    a.attach_grad()
    with autograd.record():
        y = np.clip(a, np.array([0.0, 0.6], dtype="float64"), 1.0)
    y.backward()
    assert a.grad.shape == ()
    onp.testing.assert_allclose(a.grad.asnumpy(), 1.0)     # inside [0, 1], below 0.6


def test_load_of_a_missing_file_keeps_its_errno(tmp_path):
    path = os.fspath(tmp_path / "missing.params")
    with pytest.raises(FileNotFoundError) as info:
        npx.load(path)
    assert info.value.errno == 2 and info.value.filename == path


def test_a_layer_still_takes_a_user_block_input():
    """Only clgrad's own layers require array inputs; a user's block takes anything."""
    class Echo(gluon.HybridBlock):
        def forward(self, x):
            return x
    assert Echo()("text") == "text"
