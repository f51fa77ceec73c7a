"""Calls d2l's own library (``lib/d2l/mxnet.py``, unchanged) and prints what each call gave,
as JSON.

    python libcalls.py mxnet|clgrad

Under clgrad the library is imported with ``mxnet`` as another name for ``clgrad``
(``alias/``); under MXNet as it is. Each call gets the library module and returns a value; the
runner records the value (arrays as dtype, shape and elements), what the call printed, and the
error it raised, if any. Layers whose outputs are compared get ``Pattern`` weights, the same in
both frameworks. Figures draw on matplotlib's Agg backend; ``shim_fallback/`` stands in for
what may not be installed, and where matplotlib is not, the calls that draw with more than its
stand-in has (subplots, patches) are skipped. This file imports no test code: it runs in MXNet's
venv too.
"""
import contextlib
import io
import json
import math
import os
import sys
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
CALLS = {}
PLOTTING = set()     # calls that need matplotlib itself: the stand-in has no subplots, ...


def call(fn):
    CALLS[fn.__name__] = fn
    return fn


def plotting(fn):
    PLOTTING.add(fn.__name__)
    return call(fn)


def plain(value):
    """A JSON form of a call's result."""
    if hasattr(value, "asnumpy") and not isinstance(value, type):
        v = value.asnumpy().tolist()
        return {"array": str(value.dtype), "shape": list(value.shape), "value": _finite(v)}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (bool, int, str)) or value is None:
        return value
    if isinstance(value, float) or type(value).__module__ == "numpy":
        return _finite(value.tolist() if hasattr(value, "tolist") else float(value))
    return {"type": type(value).__name__}


def _finite(v):
    if isinstance(v, list):
        return [_finite(x) for x in v]
    return str(v) if isinstance(v, float) and not math.isfinite(v) else v


def pattern_initializer(fw):
    class Pattern(fw.init.Initializer):
        """Fixed small weights, the same in both frameworks."""

        def _init_weight(self, _, arr):
            n = math.prod(arr.shape)
            arr[:] = (fw.np.arange(n) % 7 * 0.02 - 0.06).reshape(arr.shape)
    return Pattern()


def setup(framework):
    global fw, np, npx, d2l, PATTERN
    sys.path[:0] = [str(HERE / "lib")] + ([str(HERE / "alias")] if framework == "clgrad" else [])
    sys.path.append(str(HERE / "shim_fallback"))
    os.environ.setdefault("MPLBACKEND", "Agg")
    fw = __import__(framework)
    from d2l import mxnet as d2l_module
    np, npx, d2l = fw.np, fw.npx, d2l_module
    npx.set_np()
    PATTERN = pattern_initializer(fw)


def scores():
    return np.arange(24).reshape(2, 3, 4) / 10


# --- the base classes of the book's later chapters --------------------------------------------
@call
def devices():
    return d2l.num_gpus(), len(d2l.try_all_gpus()), str(d2l.try_gpu()), str(d2l.cpu())


@call
def save_hyperparameters():
    class B(d2l.HyperParameters):
        def __init__(self, a, b, c, _d=4):
            self.save_hyperparameters(ignore=["c"])
    b = B(1, "two", 3)
    return b.hparams, b.a, b.b, hasattr(b, "c")


@call
def progress_board_points():
    board = d2l.ProgressBoard("x", display=False)
    for x in range(6):
        board.draw(x, x * x, "square", every_n=2)
    return {k: [list(p) for p in v] for k, v in board.data.items()}


@call
def progress_board_draws():
    board = d2l.ProgressBoard("x", ylim=[1, 30], yscale="log")
    for x in range(1, 5):
        board.draw(x, float(x * x), "square")
        board.draw(x, float(x), "line", every_n=2)
    return sorted(board.data)


@call
def synthetic_data_module():
    data = d2l.SyntheticRegressionData(w=d2l.tensor([2, -3.4]), b=4.2, batch_size=50)
    X, y = next(iter(data.train_dataloader()))
    return X, y, len(data.train_dataloader()), len(data.val_dataloader()), data.hparams["noise"]


def _fit(model, epochs=1, clip=0):
    data = d2l.SyntheticRegressionData(w=d2l.tensor([2, -3.4]), b=4.2)
    d2l.Trainer(max_epochs=epochs, gradient_clip_val=clip).fit(model, data)
    return data


@call
def linear_regression_scratch_fit():
    model = d2l.LinearRegressionScratch(2, lr=0.03)
    data = _fit(model, epochs=2)
    return model.w, model.b, float(abs(data.w - model.w.reshape(-1)).max())


@call
def linear_regression_fit_with_clipping():
    model = d2l.LinearRegression(lr=0.03)
    data = _fit(model, clip=1.0)
    w, b = model.get_w_b()
    return w, b, float(abs(data.w - w.reshape(-1)).max())


@call
def module_parameters():
    gluon_params = d2l.LinearRegression(0.1).parameters()
    scratch = d2l.LinearRegressionScratch(2, 0.1).parameters()
    return type(gluon_params).__name__, sorted(p.shape for p in gluon_params.values()), \
        [p.shape for p in scratch]


@call
def sgd_step():
    w = d2l.tensor([1.0, 2.0])
    w.attach_grad()
    with fw.autograd.record():
        loss = (w * w).sum()
    loss.backward()
    d2l.SGD([w], 0.1).step(None)
    return w


@call
def classifier_accuracy_and_loss():
    Y_hat = d2l.tensor([[0.1, 2.0, 0.3], [1.5, 0.2, 0.1], [0.0, 0.1, 0.9], [0.3, 0.2, 0.1]])
    Y = d2l.tensor([1, 0, 0, 2])
    m = d2l.Classifier()
    return m.accuracy(Y_hat, Y), m.loss(Y_hat, Y), m.loss(Y_hat, Y, averaged=False)


@call
def lenet_layer_summary():
    d2l.LeNet().layer_summary((1, 1, 28, 28))


@call
def lenet_forward():
    net = d2l.LeNet()
    net.initialize(PATTERN, force_reinit=True)
    return net(np.arange(2 * 28 * 28).reshape(2, 1, 28, 28) / 1568)


@call
def residual_blocks():
    out = []
    for blk, X in ((d2l.Residual(3), (2, 3, 6, 6)), (d2l.Residual(6, True, 2), (2, 3, 6, 6)),
                   (d2l.ResNeXtBlock(32, 16, 1), (1, 32, 4, 4))):
        blk.initialize(PATTERN)
        out.append(blk(np.arange(math.prod(X)).reshape(X) / 100))
    return out


@call
def resnet18_forward():
    net = d2l.resnet18(10)
    net.initialize(fw.init.Normal(sigma=0.01))
    return net(d2l.randn(2, 3, 8, 8))


@call
def corr2d():
    return d2l.corr2d(d2l.tensor([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0, 8.0]]),
                      d2l.tensor([[0.0, 1.0], [2.0, 3.0]]))


# --- sequences and attention -------------------------------------------------------------------
@call
def vocab_and_text():
    vocab = d2l.Vocab(d2l.tokenize(["the time machine", "by the time"]), min_freq=1,
                      reserved_tokens=["<pad>", "<bos>", "<eos>"])
    array, valid_len = d2l.build_array_nmt([["the", "time"], ["machine"]], vocab, 4)
    return (len(vocab), vocab["time"], vocab.to_tokens([4, 5]), d2l.truncate_pad([1, 2], 4, 0),
            array, valid_len, d2l.get_tokens_and_segments(["a", "b"], ["c"]),
            d2l.bleu("he is calm", "he is very calm", 2))


@call
def rnn_scratch_language_model():
    rnn = d2l.RNNScratch(num_inputs=8, num_hiddens=6)
    lm = d2l.RNNLMScratch(rnn, vocab_size=8)
    return lm(d2l.tensor([[1, 2, 3], [0, 1, 2]])), lm.predict("ab", 3, d2l.Vocab(list("abcdefg")))


@call
def rnn_and_gru():
    rnn = d2l.RNN(num_hiddens=6)
    rnn.initialize()
    gru = d2l.GRU(num_hiddens=6, num_layers=2)
    gru.initialize()
    lm = d2l.RNNLM(rnn, vocab_size=8)
    return rnn(d2l.ones((3, 2, 8))), gru(d2l.ones((3, 2, 8))), lm(d2l.tensor([[1, 2, 3]]))


@call
def seq2seq_encoder():
    enc = d2l.Seq2SeqEncoder(vocab_size=10, embed_size=8, num_hiddens=16, num_layers=2)
    return enc(d2l.zeros((4, 9)))


@call
def sequence_mask():
    X = np.arange(12).reshape(3, 4)
    return npx.sequence_mask(X, d2l.tensor([1, 4, 2]), True, value=-1, axis=1)


@call
def masked_softmax():
    return (d2l.masked_softmax(scores(), d2l.tensor([2, 3])),
            d2l.masked_softmax(scores(), d2l.tensor([[1, 3, 4], [2, 4, 0]])),
            d2l.masked_softmax(scores(), None))


@call
def masked_softmax_ce_loss():
    pred = np.arange(60).reshape(3, 4, 5) / 30
    return d2l.MaskedSoftmaxCELoss()(pred, d2l.tensor([[1, 2, 3, 4]] * 3), d2l.tensor([4, 2, 0]))


@call
def dot_product_and_additive_attention():
    q, k = np.arange(4).reshape(2, 1, 2) / 4, np.arange(40).reshape(2, 10, 2) / 40
    v = np.arange(80).reshape(2, 10, 4) / 80
    dot = d2l.DotProductAttention(dropout=0.5)
    dot.initialize()
    add = d2l.AdditiveAttention(num_hiddens=8, dropout=0.1)
    add.initialize(PATTERN)
    return dot(q, k, v, d2l.tensor([2, 6])), add(q, k, v, d2l.tensor([2, 6]))


@call
def multi_head_attention():
    mha = d2l.MultiHeadAttention(8, 2, 0.5)
    mha.initialize(PATTERN)
    X = np.arange(48).reshape(2, 3, 8) / 48
    Y = np.arange(64).reshape(2, 4, 8) / 64
    return mha(X, Y, Y, d2l.tensor([3, 2])), mha.attention.attention_weights


@call
def positional_encoding():
    pe = d2l.PositionalEncoding(8, 0, max_len=50)
    pe.initialize()
    return pe(np.zeros((1, 20, 8))), pe.P[0, :20]


@call
def transformer_encoder():
    ffn = d2l.PositionWiseFFN(4, 8)
    ffn.initialize(PATTERN)
    addnorm = d2l.AddNorm(0.5)
    addnorm.initialize()
    enc = d2l.TransformerEncoder(20, 8, 16, 2, 2, 0.5)
    enc.initialize(PATTERN, force_reinit=True)
    X = np.arange(24).reshape(2, 3, 4) / 24
    return (ffn(X), addnorm(X, X + 1), enc(d2l.tensor([[1, 2, 3, 4], [5, 6, 0, 0]]),
                                          d2l.tensor([4, 2])))


@call
def bert_model():
    # the positional embedding is MXNet 1.x's `self.params.get('pos_embedding', shape=...)`
    net = d2l.BERTModel(20, 8, 16, 2, 2, 0.2, max_len=16)
    net.initialize(PATTERN)
    tokens = d2l.tensor([[1, 2, 3, 4, 5, 0], [6, 7, 8, 9, 0, 0]])
    segments = d2l.tensor([[0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 1, 1]])
    encoded, mlm, nsp = net(tokens, segments, d2l.tensor([5, 4]), d2l.tensor([[1, 3], [2, 0]]))
    return encoded, mlm, nsp


# --- optimization, computer vision, training helpers -------------------------------------------
@call
def linreg_squared_loss_sgd():
    X, y = np.arange(20).reshape(10, 2) / 10, np.arange(10) / 5
    w, b = d2l.tensor([[0.5], [-0.5]]), d2l.zeros(1)
    w.attach_grad()
    b.attach_grad()
    with fw.autograd.record():
        loss = d2l.squared_loss(d2l.linreg(X, w, b), y)
    loss.backward()
    d2l.sgd([w, b], 0.03, 10)
    return loss, w, b


@call
def synthetic_data_and_load_array():
    X, y = d2l.synthetic_data(d2l.tensor([2, -3.4]), 4.2, 10)
    batches = list(d2l.load_array((X, y), 4, is_train=False))
    return X, y, [b[0].shape for b in batches]


@call
def grad_clipping():
    net = fw.gluon.nn.Dense(2)
    net.initialize(PATTERN)
    with fw.autograd.record():
        loss = (net(np.arange(12).reshape(3, 4)) ** 2).sum()
    loss.backward()
    d2l.grad_clipping(net, 1.0)
    return net.weight.grad(), net.bias.grad()


@call
def accuracy_and_evaluation():
    net = fw.gluon.nn.Dense(3)
    net.initialize(PATTERN)
    X, y = np.arange(24).reshape(8, 3) / 8 - 1, d2l.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    data = d2l.load_array((X, y), 4, is_train=False)
    acc = d2l.Accumulator(2)
    acc.add(3, np.array(2.0))
    loss = fw.gluon.loss.SoftmaxCrossEntropyLoss()
    return (d2l.accuracy(net(X), y), d2l.evaluate_accuracy(net, data),
            d2l.evaluate_accuracy_gpu(net, data), d2l.evaluate_accuracy_gpus(net, data),
            d2l.evaluate_loss(net, data, loss), acc[0], acc[1],
            d2l.split_batch(X, y, [d2l.try_gpu()]))


@call
def boxes_and_anchors():
    boxes = d2l.tensor([[0.1, 0.08, 0.52, 0.92], [0.55, 0.2, 0.9, 0.88]])
    anchors = d2l.multibox_prior(d2l.zeros((1, 3, 4, 4)), sizes=[0.75, 0.5, 0.25],
                                 ratios=[1, 2, 0.5])
    return (d2l.box_center_to_corner(d2l.box_corner_to_center(boxes)), d2l.box_iou(boxes, boxes),
            anchors)


@call
def multibox_target_and_detection():
    gt = d2l.tensor([[0, 0.1, 0.08, 0.52, 0.92], [1, 0.55, 0.2, 0.9, 0.88]])
    anc = d2l.tensor([[0, 0.1, 0.2, 0.3], [0.15, 0.2, 0.4, 0.4], [0.63, 0.05, 0.88, 0.98],
                      [0.66, 0.45, 0.8, 0.8], [0.57, 0.3, 0.92, 0.9]])
    target = d2l.multibox_target(np.expand_dims(anc, axis=0), np.expand_dims(gt, axis=0))
    anchors = d2l.tensor([[0.1, 0.08, 0.52, 0.92], [0.08, 0.2, 0.56, 0.95],
                          [0.15, 0.3, 0.62, 0.91], [0.55, 0.2, 0.9, 0.88]])
    cls_probs = d2l.tensor([[0] * 4, [0.9, 0.8, 0.7, 0.1], [0.1, 0.2, 0.3, 0.9]])
    detected = d2l.multibox_detection(np.expand_dims(cls_probs, axis=0),
                                      np.expand_dims(d2l.zeros(16), axis=0),
                                      np.expand_dims(anchors, axis=0), nms_threshold=0.5)
    return target, detected, d2l.nms(anchors, d2l.tensor([0.9, 0.8, 0.7, 0.1]), 0.5)


@plotting
def animator_and_timer():
    animator = d2l.Animator(xlabel="epoch", legend=["a", "b"], xlim=[0, 3])
    animator.add(1, (0.5, 0.25))
    animator.add(2, (0.4, None))
    timer = d2l.Timer()
    timer.stop()
    return animator.X, animator.Y, len(timer.cumsum())


@plotting
def plots():
    d2l.bbox_to_rect(d2l.numpy(d2l.tensor([0.1, 0.08, 0.52, 0.92])), "blue")
    d2l.plot(d2l.arange(4), [d2l.arange(4) ** 2, d2l.arange(4)], "x", "y", legend=["sq", "id"])
    d2l.show_images(d2l.zeros((2, 4, 4)), 1, 2, titles=["a", "b"])
    d2l.show_heatmaps(d2l.reshape(d2l.eye(4), (1, 1, 4, 4)), xlabel="Keys", ylabel="Queries")
    d2l.show_trace_2d(lambda x1, x2: x1 ** 2 + 2 * x2 ** 2,
                      d2l.train_2d(lambda x1, x2, s1, s2: (0.8 * x1, 0.8 * x2, 0, 0), steps=3))


@plotting
def training_loops():
    # the book's training loops print losses and speeds: only that they run is checked
    data = d2l.load_array((d2l.randn(50, 1, 4, 4), d2l.tensor([0, 1] * 25)), 5)
    net = fw.gluon.nn.Sequential()
    net.add(fw.gluon.nn.Dense(2))
    d2l.train_ch6(net, data, data, 1, 0.1, d2l.try_gpu())
    trainer = fw.gluon.Trainer(net.collect_params(), "sgd", {"learning_rate": 0.1})
    d2l.train_ch13(net, data, data, fw.gluon.loss.SoftmaxCrossEntropyLoss(), trainer, 1,
                   [d2l.try_gpu()])
    regression = d2l.load_array((d2l.randn(400, 5), d2l.randn(400)), 10)
    d2l.train_concise_ch11("sgd", {"learning_rate": 0.05}, regression, 1)
    d2l.train_ch11(lambda params, states, hp: [p.__isub__(hp["lr"] * p.grad) for p in params],
                   None, {"lr": 0.05}, regression, 5, 1)


def main():
    framework = sys.argv[1]
    setup(framework)
    import matplotlib
    stand_in = "shim_fallback" in str(getattr(matplotlib, "__file__", ""))
    report = {}
    for name, fn in CALLS.items():
        fw.random.seed(0)
        rec = {"value": None, "stdout": "", "error": None, "skipped": None}
        if stand_in and name in PLOTTING:
            rec["skipped"] = "matplotlib is not installed"
            report[name] = rec
            continue
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                rec["value"] = plain(fn())
        except Exception:   # noqa: BLE001  (recorded; the next calls still run)
            rec["error"] = traceback.format_exc(limit=-4)[-2000:]
        rec["stdout"] = out.getvalue()
        report[name] = rec
    json.dump(report, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
