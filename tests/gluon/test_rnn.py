"""gluon.rnn: cells against NumPy step references, layers against unrolled cells and a NumPy
reference of MXNet's fused parameter layout, gradients against central differences (float64),
states, layouts, deferred input sizes, sequence lengths, a small training run, errors."""
import numpy as onp
import pytest
from gradcheck import numeric_grad

from clgrad import autograd, init, np
from clgrad.base import MXNetError
from clgrad.gluon import HybridBlock, nn, rnn

F64 = onp.float64
GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}


def rand(shape, seed=0, low=-1.0, high=1.0, dtype="float64"):
    return onp.random.default_rng(seed).uniform(low, high, size=shape).astype(dtype)


def set_params(block, seed=0, scale=0.5):
    for i, p in enumerate(block.collect_params().values()):
        p.set_data(np.array(rand(p.shape, seed + i, -scale, scale, p.dtype)))


def sigmoid(x):
    return 1 / (1 + onp.exp(-x))


# --- NumPy references ----------------------------------------------------------------------
def ref_step(mode, x, states, wi, wh, bi, bh):
    """One step of MXNet's cells: returns the new states (the output is the first)."""
    i2h, h2h = x @ wi.T + bi, states[0] @ wh.T + bh
    if mode in ("rnn_tanh", "rnn_relu"):
        s = i2h + h2h
        return [onp.tanh(s) if mode == "rnn_tanh" else onp.maximum(s, 0)]
    if mode == "lstm":
        i, f, g, o = onp.split(i2h + h2h, 4, axis=-1)
        c = sigmoid(f) * states[1] + sigmoid(i) * onp.tanh(g)
        return [sigmoid(o) * onp.tanh(c), c]
    xr, xz, xn = onp.split(i2h, 3, axis=-1)
    hr, hz, hn = onp.split(h2h, 3, axis=-1)
    r, z = sigmoid(xr + hr), sigmoid(xz + hz)
    n = onp.tanh(xn + r * hn)
    return [(1 - z) * n + z * states[0]]


def unpack(flat, mode, hidden, inputs, layers, dirs):
    """MXNet's fused layout, written from src/operator/rnn_impl.h: all weights (per layer, per
    direction: i2h then h2h), then all biases in the same order."""
    rows, out, pos = GATES[mode] * hidden, {}, 0
    for kind in ("weight", "bias"):
        for layer in range(layers):
            for d in range(dirs):
                for conn in ("i2h", "h2h"):
                    cols = hidden if conn == "h2h" else (inputs if layer == 0 else dirs * hidden)
                    n = rows * cols if kind == "weight" else rows
                    arr = flat[pos:pos + n]
                    out[(layer, d, conn, kind)] = arr.reshape(rows, cols) if kind == "weight" \
                        else arr
                    pos += n
    assert pos == flat.size
    return out


def ref_layer(mode, x, flat, states, hidden, layers, dirs):
    """Stacked (bi)directional recurrence over x (T, N, C): output and final states."""
    w = unpack(flat, mode, hidden, x.shape[2], layers, dirs)
    finals = [onp.zeros_like(s) for s in states]
    for layer in range(layers):
        outs = []
        for d in range(dirs):
            idx = layer * dirs + d
            st = [s[idx] for s in states]
            seq = [None] * x.shape[0]
            for t in (reversed(range(x.shape[0])) if d else range(x.shape[0])):
                st = ref_step(mode, x[t], st, w[(layer, d, "i2h", "weight")],
                              w[(layer, d, "h2h", "weight")], w[(layer, d, "i2h", "bias")],
                              w[(layer, d, "h2h", "bias")])
                seq[t] = st[0]
            outs.append(onp.stack(seq))
            for f, s in zip(finals, st):
                f[idx] = s
        x = onp.concatenate(outs, axis=2)
    return x, finals


CELLS = {"rnn_tanh": lambda h, **k: rnn.RNNCell(h, **k),
         "rnn_relu": lambda h, **k: rnn.RNNCell(h, activation="relu", **k),
         "lstm": lambda h, **k: rnn.LSTMCell(h, **k), "gru": lambda h, **k: rnn.GRUCell(h, **k)}
LAYERS = {"rnn_relu": lambda h, **k: rnn.RNN(h, **k),
          "rnn_tanh": lambda h, **k: rnn.RNN(h, activation="tanh", **k),
          "lstm": lambda h, **k: rnn.LSTM(h, **k), "gru": lambda h, **k: rnn.GRU(h, **k)}


def cell_weights(cell):
    return [cell.collect_params()[n].data().asnumpy()
            for n in ("i2h_weight", "h2h_weight", "i2h_bias", "h2h_bias")]


# --- cells ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mode", list(CELLS))
def test_cell_step_matches_numpy(mode, dtype):
    cell = CELLS[mode](4)
    cell.cast(dtype)
    cell.initialize()
    x = rand((3, 5), 1, dtype=dtype)
    states = cell.begin_state(3, func=np.ones, dtype=dtype)
    cell(np.array(x), states)                               # shapes the parameters
    set_params(cell, 2)
    host = [s.asnumpy() * rand(s.shape, 3 + i, dtype=dtype) for i, s in enumerate(states)]
    out, new = cell(np.array(x), [np.array(h) for h in host])
    expect = ref_step(mode, x.astype(F64), host, *cell_weights(cell))
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == "float32" else {"rtol": 1e-12, "atol": 1e-13}
    assert out.dtype == onp.dtype(dtype) and len(new) == len(expect)
    onp.testing.assert_allclose(out.asnumpy(), expect[0], **tol)
    for got, want in zip(new, expect):
        onp.testing.assert_allclose(got.asnumpy(), want, **tol)


@pytest.mark.parametrize("mode", ["rnn_tanh", "lstm", "gru"])
def test_cell_gradients_float64(mode):
    cell = CELLS[mode](3, input_size=2)
    cell.cast("float64")
    cell.initialize()
    set_params(cell, 4)
    params = list(cell.collect_params().values())
    nstates = len(cell.state_info())
    x, hs = rand((2, 2), 5), [rand((2, 3), 6 + i) for i in range(nstates)]
    wout = rand((2, 3), 9, 0.5, 1.5)

    def scalar(*arrays):
        xs, rest = arrays[0], arrays[1:]
        sts, ps = rest[:nstates], rest[nstates:]
        for p, v in zip(params, ps):
            p.set_data(np.array(v))
        out, new = cell(np.array(xs), [np.array(s) for s in sts])
        return float((out.asnumpy() * wout).sum() + sum(s.asnumpy().sum() for s in new))

    host = [x] + hs + [p.data().asnumpy() for p in params]
    dev = [np.array(h) for h in host[:1 + nstates]]
    for d in dev:
        d.attach_grad()
    with autograd.record():
        out, new = cell(dev[0], dev[1:])
        loss = (out * np.array(wout)).sum()
        for s in new:
            loss = loss + s.sum()
    loss.backward()
    analytic = [d.grad.asnumpy() for d in dev] + [p.grad().asnumpy() for p in params]
    names = ["x"] + [f"state{i}" for i in range(nstates)] + [p.name for p in params]
    for i, (g, name) in enumerate(zip(analytic, names)):
        onp.testing.assert_allclose(g, numeric_grad(scalar, host, i), rtol=1e-6, atol=1e-8,
                                    err_msg=f"{mode}: gradient of {name}")


def test_cell_parameters_deferred_input_size_and_repr():
    cell = rnn.LSTMCell(5)
    shapes = {n: p.shape for n, p in cell.collect_params().items()}
    assert shapes == {"i2h_weight": (20, -1), "h2h_weight": (20, 5), "i2h_bias": (20,),
                      "h2h_bias": (20,)}
    assert repr(cell) == "LSTMCell(None -> 20)"
    cell.initialize()
    cell(np.array(rand((2, 7))), cell.begin_state(2))
    assert cell.i2h_weight.shape == (20, 7) and repr(cell) == "LSTMCell(7 -> 20)"
    given = rnn.GRUCell(4, input_size=3)
    given.initialize()
    assert given.i2h_weight.data().shape == (12, 3)
    assert repr(rnn.RNNCell(2, input_size=3)) == "RNNCell(3 -> 2, tanh)"
    # the default bias initializer is zero, the weights are drawn
    assert not given.i2h_bias.data().asnumpy().any() and given.h2h_weight.data().asnumpy().any()


def test_cell_activation_may_be_a_block_or_any_npx_name():
    leaky = rnn.RNNCell(2, activation=nn.LeakyReLU(0.1), input_size=3)
    leaky.cast("float64")
    leaky.initialize()
    set_params(leaky)
    x, h = rand((2, 3), 1), rand((2, 2), 2)
    wi, wh, bi, bh = cell_weights(leaky)
    pre = x @ wi.T + bi + h @ wh.T + bh
    out, _ = leaky(np.array(x), [np.array(h)])
    assert repr(leaky) == "RNNCell(3 -> 2, LeakyReLU(0.1))"
    onp.testing.assert_allclose(out.asnumpy(), onp.where(pre > 0, pre, 0.1 * pre), rtol=1e-12)
    soft = rnn.GRUCell(2, activation="softsign", recurrent_activation="softrelu", input_size=3)
    soft.initialize()
    out, _ = soft(np.array(rand((2, 3), dtype="float32")), soft.begin_state(2))
    assert out.shape == (2, 2) and onp.isfinite(out.asnumpy()).all()


def test_begin_state_shapes_and_func():
    assert [s.shape for s in rnn.LSTMCell(4).begin_state(3)] == [(3, 4), (3, 4)]
    gru = rnn.GRUCell(6)
    (state,) = gru.begin_state(2, func=np.ones, dtype="float64")
    assert state.shape == (2, 6) and state.dtype == F64 and (state.asnumpy() == 1).all()
    seq = rnn.SequentialRNNCell()
    seq.add(rnn.LSTMCell(4))
    seq.add(rnn.RNNCell(3))
    assert [s.shape for s in seq.begin_state(5)] == [(5, 4), (5, 4), (5, 3)]
    bi = rnn.BidirectionalCell(rnn.GRUCell(2), rnn.LSTMCell(3))
    assert [s.shape for s in bi.begin_state(1)] == [(1, 2), (1, 3), (1, 3)]
    assert rnn.DropoutCell(0.5).begin_state(4) == []


def test_unroll_layouts_lists_and_merge():
    cell = rnn.GRUCell(3)
    cell.initialize()
    x = rand((2, 4, 5))                                              # N, T, C
    out_ntc, st_ntc = cell.unroll(4, np.array(x), layout="NTC", merge_outputs=True)
    out_tnc, st_tnc = cell.unroll(4, np.array(x.transpose(1, 0, 2)), layout="TNC",
                                  merge_outputs=True)
    # merge_outputs None gives a list of steps, as MXNet's
    steps, st_list = cell.unroll(4, [np.array(x[:, t]) for t in range(4)])
    assert out_ntc.shape == (2, 4, 3) and out_tnc.shape == (4, 2, 3)
    assert isinstance(steps, list) and len(steps) == 4
    onp.testing.assert_allclose(out_tnc.asnumpy().transpose(1, 0, 2), out_ntc.asnumpy(),
                                rtol=1e-12)
    onp.testing.assert_allclose(onp.stack([s.asnumpy() for s in steps], 1), out_ntc.asnumpy(),
                                rtol=1e-12)
    for a, b in ((st_ntc, st_tnc), (st_ntc, st_list)):
        onp.testing.assert_allclose(a[0].asnumpy(), b[0].asnumpy(), rtol=1e-12)
    onp.testing.assert_allclose(st_ntc[0].asnumpy(), out_ntc.asnumpy()[:, -1], rtol=1e-12)


def test_unroll_valid_length_matches_truncated_sequences():
    cell = rnn.LSTMCell(3)
    cell.initialize()
    x, lengths = rand((2, 4, 2), 1), [2, 4]
    out, states = cell.unroll(4, np.array(x), valid_length=np.array(onp.array(lengths, F64)),
                              merge_outputs=True)
    out = out.asnumpy()
    for n, length in enumerate(lengths):
        alone, alone_states = cell.unroll(length, np.array(x[n:n + 1, :length]),
                                          merge_outputs=True)
        onp.testing.assert_allclose(out[n, :length], alone.asnumpy()[0], rtol=1e-12)
        assert not out[n, length:].any()
        for s, a in zip(states, alone_states):
            onp.testing.assert_allclose(s.asnumpy()[n], a.asnumpy()[0], rtol=1e-12)


def test_sequential_and_residual_cells():
    first, second = rnn.LSTMCell(3), rnn.ResidualCell(rnn.GRUCell(3))
    seq = rnn.SequentialRNNCell()
    seq.add(first)
    seq.add(second)
    seq.initialize()
    assert list(seq.collect_params())[4:6] == ["1.base_cell.i2h_weight",
                                                "1.base_cell.h2h_weight"]
    x = rand((2, 3, 4))
    out, states = seq.unroll(3, np.array(x), merge_outputs=True)
    assert len(seq) == 2 and seq[1] is second and len(states) == 3
    # the same by stepping the cells by hand
    st1, st2 = first.begin_state(2), second.begin_state(2)
    for t in range(3):
        h, st1 = first(np.array(x[:, t]), st1)
        h2, st2 = second.base_cell(h, st2)
        onp.testing.assert_allclose(out.asnumpy()[:, t], (h2 + h).asnumpy(), rtol=1e-12)
    onp.testing.assert_allclose(states[2].asnumpy(), st2[0].asnumpy(), rtol=1e-12)
    # stepping the container gives the same as its unroll
    step_out, _ = seq(np.array(x[:, 0]), seq.begin_state(2))
    onp.testing.assert_allclose(step_out.asnumpy(), out.asnumpy()[:, 0], rtol=1e-12)


def test_bidirectional_cell_with_and_without_valid_length():
    left, right = rnn.RNNCell(2), rnn.RNNCell(2)
    bi = rnn.BidirectionalCell(left, right)
    bi.initialize()
    x = rand((3, 2, 4), 2)                                        # T, N, C
    out, states = bi.unroll(3, np.array(x), layout="TNC", merge_outputs=True)
    l_out, _ = left.unroll(3, np.array(x), layout="TNC", merge_outputs=True)
    r_out, _ = right.unroll(3, np.array(x[::-1].copy()), layout="TNC", merge_outputs=True)
    expect = onp.concatenate([l_out.asnumpy(), r_out.asnumpy()[::-1]], axis=2)
    assert out.shape == (3, 2, 4) and len(states) == 2
    onp.testing.assert_allclose(out.asnumpy(), expect, rtol=1e-12)
    lengths = [3, 1]
    out, states = bi.unroll(3, np.array(x), layout="TNC", merge_outputs=True,
                            valid_length=np.array(onp.array(lengths, "int32")))
    for n, length in enumerate(lengths):
        alone, alone_states = bi.unroll(length, np.array(x[:length, n:n + 1]), layout="TNC",
                                        merge_outputs=True)
        onp.testing.assert_allclose(out.asnumpy()[:length, n], alone.asnumpy()[:, 0],
                                    rtol=1e-12)
        assert not out.asnumpy()[length:, n].any()
        onp.testing.assert_allclose(states[1].asnumpy()[n], alone_states[1].asnumpy()[0],
                                    rtol=1e-12)


def test_dropout_and_zoneout_cells_training_vs_predict():
    drop = rnn.DropoutCell(0.5)
    x = onp.ones((2, 50, 40))
    out, states = drop.unroll(50, np.array(x), merge_outputs=True)
    assert states == [] and (out.asnumpy() == 1).all()
    with autograd.train_mode():
        out, _ = drop.unroll(50, np.array(x), merge_outputs=True)
    assert set(onp.unique(out.asnumpy())) <= {0.0, 2.0} and 0.3 < (out.asnumpy() == 0).mean()
    base, plain = rnn.RNNCell(3, input_size=2), rnn.RNNCell(3, input_size=2)
    zone = rnn.ZoneoutCell(base, zoneout_outputs=0.5, zoneout_states=0.5)
    zone.initialize()
    plain.initialize()
    for name, p in plain.collect_params().items():
        p.set_data(zone.collect_params()["base_cell." + name].data())
    xs = np.array(rand((2, 4, 2)))
    predicted, _ = zone.unroll(4, xs, merge_outputs=True)       # predict mode: no zoneout
    plain, _ = plain.unroll(4, xs, merge_outputs=True)
    onp.testing.assert_allclose(predicted.asnumpy(), plain.asnumpy(), rtol=1e-12)
    frozen = rnn.ZoneoutCell(rnn.RNNCell(3), zoneout_outputs=1.0, zoneout_states=1.0)
    frozen.initialize()
    with autograd.train_mode():                 # every element keeps its previous value
        trained, states = frozen.unroll(4, xs, frozen.begin_state(2, func=np.ones),
                                        merge_outputs=True)
    assert not trained.asnumpy().any() and (states[0].asnumpy() == 1).all()
    with pytest.raises(MXNetError, match="modifier"):
        base.begin_state(2)


# --- layers --------------------------------------------------------------------------------
def _fill_layer(layer, x, seed=0):
    layer.initialize()
    layer(np.array(x))
    flat = rand(layer.rnn_param.shape, seed, -0.6, 0.6)
    layer.rnn_param.set_data(np.array(flat))
    return flat


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn_relu", "rnn_tanh"])
def test_layer_two_layers_bidirectional_matches_numpy_and_cells(mode):
    hidden, layers, dirs = 3, 2, 2
    layer = LAYERS[mode](hidden, num_layers=layers, bidirectional=True, dtype="float64")
    x = rand((4, 2, 5), 1)
    flat = _fill_layer(layer, x)
    nstates = 2 if mode == "lstm" else 1
    h0 = [rand((layers * dirs, 2, hidden), 7 + i) for i in range(nstates)]
    out, states = layer(np.array(x), [np.array(h) for h in h0])
    expect, expect_states = ref_layer(mode, x, flat, h0, hidden, layers, dirs)
    assert out.shape == (4, 2, 6) and len(states) == nstates
    onp.testing.assert_allclose(out.asnumpy(), expect, rtol=1e-10, atol=1e-12)
    for s, e in zip(states, expect_states):
        onp.testing.assert_allclose(s.asnumpy(), e, rtol=1e-10, atol=1e-12)
    # the same weights copied into cells, unrolled by SequentialRNNCell of BidirectionalCells
    w = unpack(flat, mode, hidden, 5, layers, dirs)
    seq = rnn.SequentialRNNCell()
    for layer_i in range(layers):
        inputs = w[(layer_i, 0, "i2h", "weight")].shape[1]
        cells = [CELLS[mode](hidden, input_size=inputs) for _ in range(dirs)]
        for d, cell in enumerate(cells):
            cell.cast("float64")
            cell.initialize()
            for conn in ("i2h", "h2h"):
                for kind in ("weight", "bias"):
                    getattr(cell, f"{conn}_{kind}").set_data(np.array(w[(layer_i, d, conn,
                                                                         kind)]))
        seq.add(rnn.BidirectionalCell(*cells))
    cell_states = [np.array(h0[k][i]) for i in range(layers * dirs) for k in range(nstates)]
    cell_out, cell_final = seq.unroll(4, np.array(x), cell_states, layout="TNC",
                                      merge_outputs=True)
    onp.testing.assert_allclose(cell_out.asnumpy(), expect, rtol=1e-10, atol=1e-12)
    for i in range(layers * dirs):
        for k in range(nstates):
            onp.testing.assert_allclose(cell_final[i * nstates + k].asnumpy(),
                                        expect_states[k][i], rtol=1e-10, atol=1e-12)


def test_layer_float32_matches_single_cell_unroll():
    layer = rnn.LSTM(4, input_size=3)
    layer.initialize()
    cell = rnn.LSTMCell(4, input_size=3)
    cell.initialize()
    flat = layer.rnn_param.data().asnumpy()
    assert flat.dtype == onp.float32 and flat.shape == (4 * 4 * (3 + 4 + 2),)
    w = unpack(flat, "lstm", 4, 3, 1, 1)
    for conn in ("i2h", "h2h"):
        for kind in ("weight", "bias"):
            getattr(cell, f"{conn}_{kind}").set_data(np.array(w[(0, 0, conn, kind)]))
    x = rand((5, 2, 3), 3, dtype="float32")
    cell_out, _ = cell.unroll(5, np.array(x), layout="TNC", merge_outputs=True)
    onp.testing.assert_allclose(layer(np.array(x)).asnumpy(), cell_out.asnumpy(), rtol=1e-5,
                                atol=1e-6)


def test_layer_gradients_float64():
    layer = rnn.LSTM(2, bidirectional=True, dtype="float64")
    x = rand((3, 2, 2), 4)
    _fill_layer(layer, x, 5)
    h0 = [rand((2, 2, 2), 6), rand((2, 2, 2), 7)]
    wout = rand((3, 2, 4), 8, 0.5, 1.5)

    def scalar(xs, flat):
        layer.rnn_param.set_data(np.array(flat))
        out, states = layer(np.array(xs), [np.array(h) for h in h0])
        return float((out.asnumpy() * wout).sum() + states[1].asnumpy().sum())

    host = [x, layer.rnn_param.data().asnumpy()]
    xd = np.array(x)
    xd.attach_grad()
    with autograd.record():
        out, states = layer(xd, [np.array(h) for h in h0])
        loss = (out * np.array(wout)).sum() + states[1].sum()
    loss.backward()
    for i, g in enumerate([xd.grad.asnumpy(), layer.rnn_param.grad().asnumpy()]):
        onp.testing.assert_allclose(g, numeric_grad(scalar, host, i), rtol=1e-6, atol=1e-8,
                                    err_msg=["input", "rnn_param"][i])


def test_layer_layouts_and_state_passing():
    tnc = rnn.GRU(3, num_layers=2, dtype="float64")
    ntc = rnn.GRU(3, num_layers=2, layout="NTC", dtype="float64")
    x = rand((6, 2, 4), 1)
    flat = _fill_layer(tnc, x)
    ntc.initialize()
    ntc(np.array(x.transpose(1, 0, 2)))
    ntc.rnn_param.set_data(np.array(flat))
    whole = tnc(np.array(x))
    assert isinstance(whole, np.ndarray) and whole.shape == (6, 2, 3)
    onp.testing.assert_allclose(ntc(np.array(x.transpose(1, 0, 2))).asnumpy(),
                                whole.asnumpy().transpose(1, 0, 2), rtol=1e-12)
    # the states after the first half continue into the second half
    first, states = tnc(np.array(x[:3]), tnc.begin_state(2, dtype="float64"))
    assert isinstance(states, list) and states[0].shape == (2, 2, 3)
    second, _ = tnc(np.array(x[3:]), states[0])                  # a bare array is accepted
    onp.testing.assert_allclose(onp.concatenate([first.asnumpy(), second.asnumpy()]),
                                whole.asnumpy(), rtol=1e-12)


def test_layer_begin_state_deferred_and_given_input_size():
    lstm = rnn.LSTM(5, num_layers=3, bidirectional=True)
    assert [s.shape for s in lstm.begin_state(4)] == [(6, 4, 5), (6, 4, 5)]
    assert lstm.begin_state(2)[0].dtype == onp.float32
    assert repr(lstm) == "LSTM(None -> 5, TNC, num_layers=3, bidirectional)"
    assert list(lstm.collect_params()) == ["rnn_param"] and lstm.rnn_param.shape == (-1,)
    lstm.initialize()
    assert lstm(np.array(rand((2, 4, 7), dtype="float32"))).shape == (2, 4, 10)
    size = 4 * 5 * 2 * ((7 + 5 + 2) + 2 * (10 + 5 + 2))
    assert lstm.rnn_param.shape == (size,)
    assert repr(lstm) == "LSTM(7 -> 5, TNC, num_layers=3, bidirectional)"
    given = rnn.RNN(4, input_size=3, layout="NTC", dropout=0.5)
    given.initialize()                                             # no call needed
    assert given.rnn_param.data().shape == (4 * (3 + 4 + 2),)
    assert repr(given) == "RNN(3 -> 4, NTC, dropout=0.5)"
    with pytest.raises(MXNetError, match=r"RNN\(3 -> 4.*7 features.*rnn_param"):
        given(np.array(rand((2, 5, 7), dtype="float32")))


def test_layer_initializers():
    layer = rnn.GRU(3, input_size=2, bidirectional=True, i2h_weight_initializer="ones",
                    h2h_bias_initializer=init.Constant(0.5))
    layer.initialize(init.Xavier())
    w = unpack(layer.rnn_param.data().asnumpy(), "gru", 3, 2, 1, 2)
    for d in range(2):
        assert (w[(0, d, "i2h", "weight")] == 1).all()
        assert (w[(0, d, "h2h", "bias")] == 0.5).all() and not w[(0, d, "i2h", "bias")].any()
        h2h = w[(0, d, "h2h", "weight")]
        bound = onp.sqrt(3.0 * 2 / (3 + 9))                 # Xavier on the (9, 3) matrix
        assert h2h.any() and onp.abs(h2h).max() <= bound


def test_layer_sequence_length_and_dropout():
    layer = rnn.LSTM(3, bidirectional=True, dtype="float64")
    x = rand((4, 2, 2), 3)
    _fill_layer(layer, x)
    lengths = [4, 2]
    out, states = layer(np.array(x), layer.begin_state(2, dtype="float64"),
                        sequence_length=np.array(onp.array(lengths, "int32")))
    for n, length in enumerate(lengths):
        alone, alone_states = layer(np.array(x[:length, n:n + 1]),
                                    layer.begin_state(1, dtype="float64"))
        onp.testing.assert_allclose(out.asnumpy()[:length, n], alone.asnumpy()[:, 0],
                                    rtol=1e-12)
        assert not out.asnumpy()[length:, n].any()
        for s, a in zip(states, alone_states):
            onp.testing.assert_allclose(s.asnumpy()[:, n], a.asnumpy()[:, 0], rtol=1e-12)
    deep = rnn.RNN(8, num_layers=2, dropout=0.5, dtype="float64")
    plain = rnn.RNN(8, num_layers=2, dtype="float64")
    flat = _fill_layer(deep, x)
    _fill_layer(plain, x)
    plain.rnn_param.set_data(np.array(flat))
    onp.testing.assert_allclose(deep(np.array(x)).asnumpy(), plain(np.array(x)).asnumpy())
    with autograd.train_mode():
        assert not onp.allclose(deep(np.array(x)).asnumpy(), plain(np.array(x)).asnumpy())


def test_lstm_state_clip_bounds_the_cell_state():
    layer = rnn.LSTM(3, state_clip_min=-0.2, state_clip_max=0.2, dtype="float64")
    _fill_layer(layer, rand((5, 2, 2)))
    layer.rnn_param.set_data(layer.rnn_param.data() * 8)
    _, (_, c) = layer(np.array(rand((5, 2, 2))), layer.begin_state(2, dtype="float64"))
    assert onp.abs(c.asnumpy()).max() <= 0.2 + 1e-15


def test_save_and_load_parameters(tmp_path):
    src, dst = rnn.GRU(3, num_layers=2), rnn.GRU(3, num_layers=2)
    x = np.array(rand((3, 2, 4), dtype="float32"))
    src.initialize()
    src(x)
    src.save_parameters(str(tmp_path / "gru.params"))
    dst.load_parameters(str(tmp_path / "gru.params"))
    onp.testing.assert_array_equal(dst(x).asnumpy(), src(x).asnumpy())


class _RunningSum(HybridBlock):
    def __init__(self):
        super().__init__()
        self.lstm = rnn.LSTM(12, input_size=1)
        self.head = nn.Dense(1, flatten=False, in_units=12)

    def forward(self, x):
        return self.head(self.lstm(x))


def test_lstm_learns_running_sum():
    np.random.seed(0)
    net = _RunningSum()
    net.initialize(init.Xavier())
    x = rand((5, 32, 1), 1, dtype="float32")
    sums = onp.cumsum(x, axis=0)
    # predicting each step's mean over the batch is as far as ignoring the sequence gets
    baseline = ((sums - sums.mean(axis=1, keepdims=True)) ** 2).mean()
    x, target = np.array(x), np.array(sums)
    params = list(net.collect_params().values())
    losses = []
    for _ in range(50):
        with autograd.record():
            loss = ((net(x) - target) ** 2).mean()
        loss.backward()
        for p in params:
            p.data()[:] -= 0.2 * p.grad()
        losses.append(float(loss.asnumpy()))
    assert losses[-1] < losses[0] / 10 and losses[-1] < baseline / 10, losses


# --- errors --------------------------------------------------------------------------------
def test_errors_name_the_block():
    with pytest.raises(AssertionError, match="LSTM.*layout 'CTN'"):
        rnn.LSTM(3, layout="CTN")
    with pytest.raises(NotImplementedError, match="LSTM.*projection_size"):
        rnn.LSTM(3, projection_size=2)
    with pytest.raises(MXNetError, match="LSTM.*together"):
        rnn.LSTM(3, state_clip_min=-1)
    with pytest.raises(MXNetError, match="RNN.*'sigmoid'"):
        rnn.RNN(3, activation="sigmoid")
    with pytest.raises(MXNetError, match="GRUCell.*'swish'"):
        rnn.GRUCell(3, activation="swish")
    with pytest.raises(MXNetError, match="DropoutCell.*rate"):
        rnn.DropoutCell("half")
    layer = rnn.GRU(3, input_size=2)
    layer.initialize()
    with pytest.raises(ValueError, match=r"GRU\(2 -> 3.*rank-3"):
        layer(np.array(rand((4, 2), dtype="float32")))
    with pytest.raises(ValueError, match=r"GRU\(2 -> 3.*states.*\(1, 2, 3\)"):
        layer(np.array(rand((4, 2, 2), dtype="float32")), np.zeros((1, 5, 3)))
    needs_lengths = rnn.GRU(3, input_size=2, use_sequence_length=True)
    needs_lengths.initialize()
    with pytest.raises(MXNetError, match=r"GRU\(2 -> 3.*sequence_length"):
        needs_lengths(np.array(rand((4, 2, 2), dtype="float32")))
    cell = rnn.LSTMCell(3, input_size=2)
    cell.initialize()
    with pytest.raises(ValueError, match=r"LSTMCell\(2 -> 12.*'i2h_weight'"):
        cell(np.array(rand((1, 5), dtype="float32")), cell.begin_state(1))
    with pytest.raises(ValueError, match=r"LSTMCell\(2 -> 12.*state"):
        cell(np.array(rand((1, 2), dtype="float32")), cell.begin_state(4))
    with pytest.raises(ValueError, match="LSTMCell.*length 3.*4"):
        cell.unroll(3, np.array(rand((1, 4, 2), dtype="float32")))
    bi = rnn.BidirectionalCell(rnn.RNNCell(2), rnn.RNNCell(2))
    with pytest.raises(NotImplementedError, match="BidirectionalCell.*unroll"):
        bi(np.zeros((1, 2)), bi.begin_state(1))
    with pytest.raises(MXNetError, match="already modified"):
        rnn.ResidualCell(rnn.ZoneoutCell(bi.l_cell).base_cell)
