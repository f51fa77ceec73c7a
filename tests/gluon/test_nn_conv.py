"""gluon.nn convolution and pooling layers: forward against loop-and-einsum NumPy references,
gradients against central differences (float64), deferred channels, reprs and errors."""
import numpy as onp
import pytest
from test_nn_basic import check_block_grads, rand, set_params

from clgrad import np
from clgrad.base import MXNetError
from clgrad.gluon import nn


def conv_ref(x, w, b, stride, pad, dilate, groups):
    """Cross-correlation of (N, C, [H,] W) by (F, C/groups, [KH,] KW)."""
    one_d = x.ndim == 3
    if one_d:
        x, w = x[:, :, None], w[:, :, None]
        stride, pad, dilate = (1,) + stride, (0,) + pad, (1,) + dilate
    n, _c, h, wd = x.shape
    f, cg, kh, kw = w.shape
    fg = f // groups
    xp = onp.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    oh = (h + 2 * pad[0] - dilate[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + 2 * pad[1] - dilate[1] * (kw - 1) - 1) // stride[1] + 1
    out = onp.zeros((n, f, oh, ow))
    for g in range(groups):
        xs, ws = xp[:, g * cg:(g + 1) * cg], w[g * fg:(g + 1) * fg]
        for i in range(kh):
            for j in range(kw):
                patch = xs[:, :, i * dilate[0]:i * dilate[0] + stride[0] * (oh - 1) + 1:stride[0],
                           j * dilate[1]:j * dilate[1] + stride[1] * (ow - 1) + 1:stride[1]]
                out[:, g * fg:(g + 1) * fg] += onp.einsum("nchw,fc->nfhw", patch, ws[:, :, i, j])
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out[:, :, 0] if one_d else out


def conv_transpose_ref(x, w, b, stride, pad, adj, dilate, groups):
    """Each input element scatters its kernel (in_channels, channels/groups, ...) into the
    output at i * stride + k * dilate - pad (MXNet's Deconvolution)."""
    one_d = x.ndim == 3
    if one_d:
        x, w = x[:, :, None], w[:, :, None]
        stride, pad, adj, dilate = (1,) + stride, (0,) + pad, (0,) + adj, (1,) + dilate
    n, c, h, wd = x.shape
    _, fg, kh, kw = w.shape
    cg = c // groups
    oh = (h - 1) * stride[0] - 2 * pad[0] + dilate[0] * (kh - 1) + 1 + adj[0]
    ow = (wd - 1) * stride[1] - 2 * pad[1] + dilate[1] * (kw - 1) + 1 + adj[1]
    canvas = onp.zeros((n, fg * groups, max((h - 1) * stride[0] + dilate[0] * (kh - 1) + 1,
                                            oh + pad[0]),
                        max((wd - 1) * stride[1] + dilate[1] * (kw - 1) + 1, ow + pad[1])))
    for g in range(groups):
        xs, ws = x[:, g * cg:(g + 1) * cg], w[g * cg:(g + 1) * cg]
        for i in range(kh):
            for j in range(kw):
                canvas[:, g * fg:(g + 1) * fg,
                       i * dilate[0]:i * dilate[0] + stride[0] * (h - 1) + 1:stride[0],
                       j * dilate[1]:j * dilate[1] + stride[1] * (wd - 1) + 1:stride[1]] += \
                    onp.einsum("nchw,cf->nfhw", xs, ws[:, :, i, j])
    out = canvas[:, :, pad[0]:pad[0] + oh, pad[1]:pad[1] + ow]
    if b is not None:
        out = out + b.reshape(1, -1, 1, 1)
    return out[:, :, 0] if one_d else out


def pool_ref(x, kernel, stride, pad, kind, ceil=False, include_pad=True):
    """MXNet's pooling: 'full' (ceil) windows may run past the padding; an average divides
    by the window clipped to the padded input, or by its real elements."""
    one_d = x.ndim == 3
    if one_d:
        x = x[:, :, None]
        kernel, stride, pad = (1,) + kernel, (1,) + stride, (0,) + pad
    n, c, h, w = x.shape
    rnd = (lambda a, b: -(-a // b)) if ceil else (lambda a, b: a // b)
    oh = rnd(h + 2 * pad[0] - kernel[0], stride[0]) + 1
    ow = rnd(w + 2 * pad[1] - kernel[1], stride[1]) + 1
    out = onp.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            hs, ws = i * stride[0] - pad[0], j * stride[1] - pad[1]
            he, we = min(hs + kernel[0], h + pad[0]), min(ws + kernel[1], w + pad[1])
            window = x[:, :, max(hs, 0):min(he, h), max(ws, 0):min(we, w)]
            if kind == "max":
                out[:, :, i, j] = window.max(axis=(2, 3))
            else:
                count = (he - hs) * (we - ws) if include_pad else window.shape[2] * window.shape[3]
                out[:, :, i, j] = window.sum(axis=(2, 3)) / count
    return out[:, :, 0] if one_d else out


def _weights(net):
    w = net.weight.data().asnumpy()
    return w, net.bias.data().asnumpy() if net.bias is not None else None


def _geometry(kwargs, nsp, name, default):
    """A layer argument (int or tuple) as a tuple of ``nsp`` ints."""
    v = kwargs.get(name, default)
    return (v,) * nsp if isinstance(v, int) else tuple(v)


# --- convolution -----------------------------------------------------------------------------
CONVS = {
    "1d_plain": (nn.Conv1D, {"channels": 4, "kernel_size": 3}, (2, 3, 9)),
    "1d_stride_pad_dilate_groups": (
        nn.Conv1D, {"channels": 4, "kernel_size": 2, "strides": 2, "padding": 1, "dilation": 2,
                    "groups": 2}, (2, 4, 9)),
    "2d_plain": (nn.Conv2D, {"channels": 3, "kernel_size": 3}, (2, 2, 6, 5)),
    "2d_stride_pad_dilate_groups": (
        nn.Conv2D, {"channels": 4, "kernel_size": (2, 3), "strides": (2, 1), "padding": (1, 2),
                    "dilation": (1, 2), "groups": 2}, (2, 4, 5, 6)),
    "2d_no_bias_relu": (
        nn.Conv2D, {"channels": 2, "kernel_size": 2, "use_bias": False, "activation": "relu"},
        (1, 3, 4, 4)),
}


@pytest.mark.parametrize("case", list(CONVS))
def test_conv_forward_matches_reference(case):
    cls, kwargs, shape = CONVS[case]
    net = cls(**kwargs)
    net.initialize()
    x = rand(shape, 1)
    net(np.array(x))                  # infers in_channels
    set_params(net, 2)
    out = net(np.array(x)).asnumpy()
    w, b = _weights(net)
    nsp = len(shape) - 2
    groups = kwargs.get("groups", 1)
    assert w.shape == (kwargs["channels"], shape[1] // groups) + \
        _geometry(kwargs, nsp, "kernel_size", None)
    ref = conv_ref(x.astype("float64"), w, b, _geometry(kwargs, nsp, "strides", 1),
                   _geometry(kwargs, nsp, "padding", 0), _geometry(kwargs, nsp, "dilation", 1),
                   groups)
    if kwargs.get("activation") == "relu":
        ref = onp.maximum(ref, 0)
    onp.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case", ["1d_stride_pad_dilate_groups", "2d_stride_pad_dilate_groups"])
def test_conv_gradients_float64(case):
    cls, kwargs, shape = CONVS[case]
    net = cls(in_channels=shape[1], **kwargs)
    net.cast("float64")
    net.initialize()
    check_block_grads(net, rand(shape, 3, dtype="float64"))


TRANSPOSED = {
    "1d": (nn.Conv1DTranspose, {"channels": 3, "kernel_size": 3, "strides": 2, "padding": 1,
                                "output_padding": 1}, (2, 2, 4)),
    "2d_plain": (nn.Conv2DTranspose, {"channels": 3, "kernel_size": (2, 3)}, (1, 2, 3, 4)),
    "2d_all": (
        nn.Conv2DTranspose, {"channels": 4, "kernel_size": 3, "strides": (2, 3),
                             "padding": (1, 2), "output_padding": (1, 2), "dilation": (2, 1),
                             "groups": 2}, (2, 4, 3, 3)),
    "2d_pad_exceeds_kernel": (
        nn.Conv2DTranspose, {"channels": 2, "kernel_size": 2, "strides": 3, "padding": 2,
                             "output_padding": 2}, (1, 1, 3, 3)),
}


@pytest.mark.parametrize("case", list(TRANSPOSED))
def test_conv_transpose_forward_matches_reference(case):
    cls, kwargs, shape = TRANSPOSED[case]
    net = cls(**kwargs)
    net.initialize()
    x = rand(shape, 4)
    net(np.array(x))
    nsp = len(shape) - 2
    groups = kwargs.get("groups", 1)
    assert net.weight.shape == (shape[1], kwargs["channels"] // groups) + \
        _geometry(kwargs, nsp, "kernel_size", None)
    set_params(net, 5)
    out = net(np.array(x)).asnumpy()
    w, b = _weights(net)
    ref = conv_transpose_ref(x.astype("float64"), w, b, _geometry(kwargs, nsp, "strides", 1),
                             _geometry(kwargs, nsp, "padding", 0),
                             _geometry(kwargs, nsp, "output_padding", 0),
                             _geometry(kwargs, nsp, "dilation", 1), groups)
    onp.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case", ["1d", "2d_all"])
def test_conv_transpose_gradients_float64(case):
    cls, kwargs, shape = TRANSPOSED[case]
    net = cls(in_channels=shape[1], **kwargs)
    net.cast("float64")
    net.initialize()
    check_block_grads(net, rand(shape, 6, dtype="float64"))


def test_conv_transpose_is_the_adjoint_of_conv():
    conv = nn.Conv2D(4, 3, strides=2, padding=1, groups=2, use_bias=False, in_channels=6)
    convt = nn.Conv2DTranspose(6, 3, strides=2, padding=1, output_padding=1, groups=2,
                               use_bias=False, in_channels=4)
    for net in (conv, convt):
        net.cast("float64")
        net.initialize()
    convt.weight.set_data(conv.weight.data())       # the same (4, 3, 3, 3) array
    x, y = rand((2, 6, 8, 8), 7, dtype="float64"), rand((2, 4, 4, 4), 8, dtype="float64")
    lhs = (conv(np.array(x)).asnumpy() * y).sum()
    rhs = (x * convt(np.array(y)).asnumpy()).sum()
    assert abs(lhs - rhs) < 1e-10 * max(1.0, abs(lhs))


def test_conv_deferred_channels_and_mismatch():
    net = nn.Conv2D(6, kernel_size=3, groups=2)
    assert net.weight.shape == (6, -1, 3, 3)
    net.initialize()
    assert net(np.array(rand((1, 4, 5, 5)))).shape == (1, 6, 3, 3)
    assert net.weight.shape == (6, 2, 3, 3) and net.bias.shape == (6,)
    with pytest.raises(MXNetError) as e:
        net(np.array(rand((1, 6, 5, 5))))
    assert isinstance(e.value, ValueError) and "Conv2D(" in str(e.value) and \
        "'weight'" in str(e.value)
    up = nn.Conv2DTranspose(5, 3)
    assert up.weight.shape == (-1, 5, 3, 3)
    up.initialize()
    assert up(np.array(rand((1, 4, 2, 2)))).shape == (1, 5, 4, 4)
    assert up.weight.shape == (4, 5, 3, 3)
    with pytest.raises(MXNetError, match=r"Conv2DTranspose\(.*'weight'"):
        up(np.array(rand((1, 3, 2, 2))))


def test_conv_reprs():
    assert repr(nn.Conv2D(6, 5)) == "Conv2D(None -> 6, kernel_size=(5, 5), stride=(1, 1))"
    assert repr(nn.Conv1D(4, 3, strides=2, padding=1, dilation=2, in_channels=2,
                          use_bias=False, activation="relu")) == \
        ("Conv1D(2 -> 4, kernel_size=(3,), stride=(2,), padding=(1,), dilation=(2,), "
         "bias=False, Activation(relu))")
    assert repr(nn.Conv2DTranspose(3, 2, strides=2, output_padding=1, in_channels=8)) == \
        ("Conv2DTranspose(8 -> 3, kernel_size=(2, 2), stride=(2, 2), "
         "output_padding=(1, 1))")


def test_conv_bad_input_and_arguments():
    net = nn.Conv2D(2, 3)
    net.initialize()
    with pytest.raises(MXNetError, match=r"Conv2D\(None -> 2.*4-D input.*\(3, 8, 8\)") as e:
        net(np.array(rand((3, 8, 8))))
    assert isinstance(e.value, ValueError)
    with pytest.raises(AssertionError, match="Conv2D.*'NHWC'"):
        nn.Conv2D(2, 3, layout="NHWC")
    with pytest.raises(MXNetError, match="Conv1D.*kernel_size"):
        nn.Conv1D(2, (3, 3))
    with pytest.raises(MXNetError, match="groups"):
        nn.Conv2D(3, 3, groups=2)
    with pytest.raises(MXNetError, match="output_padding"):
        nn.Conv2DTranspose(3, 3, strides=1, output_padding=1)
    with pytest.raises(MXNetError, match="MaxPool2D.*4-D input"):
        nn.MaxPool2D()(np.array(rand((2, 4, 4))))
    with pytest.raises(AssertionError, match="AvgPool1D.*'NWC'"):
        nn.AvgPool1D(layout="NWC")


# --- pooling ---------------------------------------------------------------------------------
POOLS = {
    "max1d": (nn.MaxPool1D(3, strides=2, padding=1), (3,), (2,), (1,), "max", False, True),
    "max2d_default": (nn.MaxPool2D(), (2, 2), (2, 2), (0, 0), "max", False, True),
    "max2d_ceil": (nn.MaxPool2D((3, 2), strides=(2, 1), padding=1, ceil_mode=True),
                   (3, 2), (2, 1), (1, 1), "max", True, True),
    "avg1d": (nn.AvgPool1D(2), (2,), (2,), (0,), "avg", False, True),
    "avg2d_pad": (nn.AvgPool2D(3, strides=2, padding=1), (3, 3), (2, 2), (1, 1), "avg", False,
                  True),
    "avg2d_exclude_pad_ceil": (nn.AvgPool2D(3, strides=2, padding=1, ceil_mode=True,
                                            count_include_pad=False),
                               (3, 3), (2, 2), (1, 1), "avg", True, False),
}


@pytest.mark.parametrize("case", list(POOLS))
def test_pool_forward_matches_reference(case):
    net, k, s, p, kind, ceil, include = POOLS[case]
    shape = (2, 3, 7) if len(k) == 1 else (2, 3, 7, 6)
    x = rand(shape, 9)
    onp.testing.assert_allclose(net(np.array(x)).asnumpy(),
                                pool_ref(x.astype("float64"), k, s, p, kind, ceil, include),
                                rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("case", ["max1d", "max2d_ceil", "avg2d_pad", "avg2d_exclude_pad_ceil"])
def test_pool_gradients_float64(case):
    net = POOLS[case][0]
    shape = (1, 2, 7) if len(POOLS[case][1]) == 1 else (1, 2, 5, 4)
    check_block_grads(net, rand(shape, 10, dtype="float64"))


def test_global_pools():
    x2, x1 = rand((2, 3, 4, 5), 11), rand((2, 3, 6), 12)
    onp.testing.assert_allclose(nn.GlobalAvgPool2D()(np.array(x2)).asnumpy(),
                                x2.mean(axis=(2, 3), keepdims=True), rtol=1e-5)
    onp.testing.assert_array_equal(nn.GlobalMaxPool2D()(np.array(x2)).asnumpy(),
                                   x2.max(axis=(2, 3), keepdims=True))
    onp.testing.assert_allclose(nn.GlobalAvgPool1D()(np.array(x1)).asnumpy(),
                                x1.mean(axis=2, keepdims=True), rtol=1e-5)
    onp.testing.assert_array_equal(nn.GlobalMaxPool1D()(np.array(x1)).asnumpy(),
                                   x1.max(axis=2, keepdims=True))
    check_block_grads(nn.GlobalAvgPool2D(), rand((1, 2, 3, 3), 13, dtype="float64"))
    check_block_grads(nn.GlobalMaxPool1D(), rand((1, 2, 5), 14, dtype="float64"))


def test_pool_reprs():
    assert repr(nn.MaxPool2D()) == ("MaxPool2D(size=(2, 2), stride=(2, 2), padding=(0, 0), "
                                    "ceil_mode=False, global_pool=False, pool_type=max, "
                                    "layout=NCHW)")
    assert repr(nn.GlobalAvgPool1D()) == ("GlobalAvgPool1D(size=(1,), stride=(1,), "
                                          "padding=(0,), ceil_mode=True, global_pool=True, "
                                          "pool_type=avg, layout=NCW)")
