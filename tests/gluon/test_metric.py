"""gluon.metric against values worked out by hand (several from MXNet's docstrings), over
several updates, after reset, made by name, and with inputs that do not fit."""
import math
from collections import OrderedDict

import numpy as onp
import pytest

from clgrad import MXNetError, np
from clgrad.gluon import metric as gmetric

PROBS = np.array([[0.3, 0.7], [0.0, 1.0], [0.4, 0.6]], dtype="float64")
LABELS = np.array([0, 1, 1])


def close(a, b):
    return a == pytest.approx(b, rel=1e-12, abs=1e-12)


def test_accuracy_accumulates_over_updates_and_lists():
    acc = gmetric.Accuracy()
    acc.update(LABELS, PROBS)       # argmax [1, 1, 1] against [0, 1, 1]
    assert acc.get() == ("accuracy", pytest.approx(2 / 3))
    # predicted classes (same shape as the labels) are used as they are; lists pair up
    acc.update([np.array([1, 0]), np.array([2.0])], [np.array([1, 0]), np.array([2])])
    assert acc.get() == ("accuracy", pytest.approx(5 / 6))
    assert (acc.sum_metric, acc.num_inst) == (5, 6)
    # classes along axis 0
    acc = gmetric.Accuracy(axis=0)
    acc.update([np.array([0, 1, 1])], [PROBS.T])
    assert close(acc.get()[1], 2 / 3)


def test_top_k_accuracy():
    top = gmetric.TopKAccuracy(top_k=2)
    assert top.name == "top_k_accuracy_2"
    preds = np.array([[0.1, 0.5, 0.4], [0.8, 0.15, 0.05], [0.2, 0.3, 0.5]])
    top.update([np.array([2, 1, 0])], [preds])      # in, in, out
    assert close(top.get()[1], 2 / 3)
    top.update(np.array([0]), np.array([[0.9, 0.05, 0.05]]))
    assert close(top.get()[1], 3 / 4)
    # top_k beyond the number of classes counts every sample
    wide = gmetric.TopKAccuracy(top_k=5)
    wide.update(np.array([2, 1, 0]), preds)
    assert wide.get()[1] == 1.0


def test_f1_binary_accumulates_counts():
    f1 = gmetric.F1()
    f1.update([LABELS], [PROBS])        # tp 2, fp 1, fn 0
    assert f1.get() == ("f1", pytest.approx(0.8))
    f1.update([np.array([1.0, 0.0])], [np.array([0.2, 0.9])])    # one fn, one fp more
    precision, recall = 2 / 4, 2 / 3
    assert close(f1.get()[1], 2 * precision * recall / (precision + recall))
    assert f1.num_inst == 5
    macro = gmetric.F1(average="macro")
    macro.update([LABELS], [PROBS])
    assert close(macro.get()[1], 0.8)   # one class: macro and micro agree


def test_f1_multiclass_averages():
    labels, preds = np.array([0, 1, 2, 2]), np.array(onp.eye(3)[[0, 1, 1, 2]])
    per_class = [1.0, 2 / 3, 2 / 3]     # class 1 has a false positive, class 2 a miss
    macro = gmetric.F1(class_type="multiclass", average="macro")
    macro.update(labels, preds)
    assert close(macro.get()[1], sum(per_class) / 3)
    micro = gmetric.F1(class_type="multiclass")
    micro.update(labels, preds)
    assert close(micro.get()[1], 0.75)
    each = gmetric.F1(class_type="multiclass", average=None)
    each.update(labels, preds)
    onp.testing.assert_allclose(each.get()[1], per_class, rtol=1e-12)


def test_fbeta_binary_accuracy_and_mcc():
    fbeta = gmetric.Fbeta(beta=2)
    fbeta.update([LABELS], [PROBS])
    assert fbeta.get() == ("fbeta", pytest.approx(10 / 11))
    bacc = gmetric.BinaryAccuracy(threshold=0.6)
    bacc.update([np.array([0.0, 1.0, 0.0])], [np.array([0.7, 1.0, 0.55])])
    assert bacc.get() == ("binary_accuracy", pytest.approx(2 / 3))
    # MXNet's docstring case: a network that nearly always says positive
    fp, tn, fn, tp = 1000, 1, 1, 10000
    preds = np.array([[.3, .7]] * fp + [[.7, .3]] * (tn + fn) + [[.3, .7]] * tp)
    labels = np.array([0.0] * (fp + tn) + [1.0] * (fn + tp))
    mcc = gmetric.MCC()
    mcc.update([labels], [preds])
    assert mcc.get()[1] == pytest.approx(0.01917751877733392, rel=1e-9)


def test_regression_metrics():
    pred, label = np.array([3, -0.5, 2, 7]), np.array([2.5, 0.0, 2, 8])
    expect = {"mae": 0.5, "mse": 0.375, "rmse": math.sqrt(0.375)}
    for kind, value in expect.items():
        m = gmetric.create(kind)
        m.update([label], [pred])
        assert m.get() == (kind, pytest.approx(value))
    # a second batch: the means are over all five samples
    for kind, value in {"mae": (2 + 2) / 5, "mse": (1.5 + 4) / 5,
                        "rmse": math.sqrt(5.5 / 5)}.items():
        m = gmetric.create(kind)
        m.update(label, pred)
        m.update(np.array([3.0]), np.array([1.0]))
        assert close(m.get()[1], value)
    # an (N, 1) prediction against (N,) labels compares row by row
    m = gmetric.MAE()
    m.update(label, pred.reshape(4, 1))
    assert close(m.get()[1], 0.5)
    # per-sample means over the other axes, then the mean over samples
    m = gmetric.MSE()
    m.update(np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([[1.0, 3.0], [1.0, 1.0]]))
    assert close(m.get()[1], ((1 + 9) / 2 + 0) / 2)


def test_cross_entropy_and_perplexity():
    ce = gmetric.CrossEntropy()
    ce.update([LABELS], [PROBS])
    want = -(math.log(0.3) + math.log(1e-12 + 1 - 1e-12) + math.log(0.6)) / 3
    assert ce.get() == ("cross-entropy", pytest.approx(want))
    perp = gmetric.Perplexity()
    perp.update([LABELS], [PROBS])
    assert perp.get() == ("perplexity", pytest.approx(1.7710976285155853))
    ignoring = gmetric.CrossEntropy(ignore_label=1)
    ignoring.update(LABELS, PROBS)
    assert close(ignoring.get()[1], -math.log(0.3)) and ignoring.num_inst == 1
    logits = onp.log(PROBS.asnumpy() + 1e-300) + 2.0     # softmax recovers PROBS
    from_logits = gmetric.CrossEntropy(from_logits=True)
    from_logits.update(LABELS, np.array(logits))
    assert from_logits.get()[1] == pytest.approx(want)
    # classes along axis 1 of a (batch, classes, time) prediction
    seq = gmetric.CrossEntropy(axis=1)
    seq.update(np.array([[0, 1, 1]]), np.array(PROBS.asnumpy().T[None]))
    assert seq.get()[1] == pytest.approx(want)


def test_loss_metric_averages_every_value():
    m = gmetric.Loss()
    m.update(None, [np.array([1.0, 2.0, 3.0]), np.array([[4.0]])])
    assert m.get() == ("loss", 2.5)
    m.update(None, np.array([0.0]))
    assert m.get() == ("loss", 2.0)


def test_composite_and_name_value_pairs():
    comp = gmetric.CompositeEvalMetric()
    comp.add(gmetric.Accuracy())
    comp.add("f1")
    comp.update(labels=[LABELS], preds=[PROBS])
    names, values = comp.get()
    assert names == ["accuracy", "f1"] and values == [pytest.approx(2 / 3), pytest.approx(0.8)]
    assert [n for n, _ in comp.get_name_value()] == ["accuracy", "f1"]
    assert isinstance(comp.get_metric(1), gmetric.F1)
    comp.reset()
    assert all(math.isnan(v) for v in comp.get()[1])
    assert "accuracy" in str(gmetric.Accuracy())


def test_empty_and_reset_give_nan():
    for m in [gmetric.Accuracy(), gmetric.TopKAccuracy(3), gmetric.F1(), gmetric.MAE(),
              gmetric.MSE(), gmetric.RMSE(), gmetric.CrossEntropy(), gmetric.Perplexity(),
              gmetric.Loss(), gmetric.MCC()]:
        name, value = m.get()
        assert name == m.name and math.isnan(value)
    acc = gmetric.Accuracy()
    acc.update(LABELS, PROBS)
    acc.reset()
    assert math.isnan(acc.get()[1]) and acc.num_inst == 0 and acc.sum_metric == 0
    f1 = gmetric.F1()
    f1.update(LABELS, PROBS)
    f1.reset()
    f1.update(np.array([1]), np.array([0.9]))
    assert f1.get()[1] == 1.0


def test_create_by_name_list_dict_and_function():
    kinds = {"accuracy": gmetric.Accuracy, "acc": gmetric.Accuracy, "ACC": gmetric.Accuracy,
             "f1": gmetric.F1, "fbeta": gmetric.Fbeta, "mae": gmetric.MAE, "mse": gmetric.MSE,
             "rmse": gmetric.RMSE, "ce": gmetric.CrossEntropy,
             "crossentropy": gmetric.CrossEntropy, "perplexity": gmetric.Perplexity,
             "loss": gmetric.Loss, "mcc": gmetric.MCC, "composite": gmetric.CompositeEvalMetric,
             "binaryaccuracy": gmetric.BinaryAccuracy}
    for name, klass in kinds.items():
        assert type(gmetric.create(name)) is klass
    top = gmetric.create("top_k_accuracy", top_k=3)
    assert isinstance(top, gmetric.TopKAccuracy) and top.name == "top_k_accuracy_3"
    assert type(gmetric.create("top_k_acc", 2)) is gmetric.TopKAccuracy
    acc = gmetric.Accuracy()
    assert gmetric.create(acc) is acc
    comp = gmetric.create(["acc", "f1"])
    assert isinstance(comp, gmetric.CompositeEvalMetric) and len(comp.metrics) == 2
    # a config rebuilds the metric
    again = gmetric.create(gmetric.F1(name="f", average="macro").get_config())
    assert type(again) is gmetric.F1 and again.name == "f" and again.average == "macro"
    again = gmetric.create(gmetric.create(["acc", "mse"]).get_config())
    assert [type(m) for m in again.metrics] == [gmetric.Accuracy, gmetric.MSE]
    # a function becomes a CustomMetric; it may return (sum, count)
    custom = gmetric.create(lambda label, pred: np.abs(label - pred).mean())
    assert custom.name == "custom(<lambda>)"
    custom.update([np.array([1.0, 2.0])], [np.array([0.0, 0.0])])
    assert custom.get()[1] == 1.5

    def hits(label, pred):
        return float((label == pred).sum()), label.size
    custom = gmetric.CustomMetric(hits)
    custom.update([np.array([1, 2]), np.array([3])], [np.array([1, 0]), np.array([3])])
    assert custom.get() == ("hits", pytest.approx(2 / 3))
    numpy_metric = gmetric.np(lambda label, pred: onp.abs(label - pred).max(), name="maxerr")
    numpy_metric.update(np.array([1.0, 5.0]), np.array([1.5, 3.0]))
    assert numpy_metric.get() == ("maxerr", 2.0)


def test_register_and_alias():
    @gmetric.register
    @gmetric.alias("always_one")
    class AlwaysOne(gmetric.EvalMetric):
        def __init__(self, name="always_one"):
            super().__init__(name)

        def update(self, labels, preds):
            self.sum_metric += 1
            self.num_inst += 1
    m = gmetric.create("alwaysone")
    assert isinstance(m, AlwaysOne) and isinstance(gmetric.create("Always_One"), AlwaysOne)
    with pytest.raises(gmetric.MetricError, match="not an EvalMetric"):
        gmetric.register(dict)


def test_update_dict_selects_by_name():
    acc = gmetric.Accuracy(output_names=["out"], label_names=["y"])
    acc.update_dict(OrderedDict(y=LABELS, other=np.array([9])),
                    OrderedDict(out=PROBS, aux=np.array([[1.0, 0.0]])))
    assert close(acc.get()[1], 2 / 3)


def test_numpy_inputs_are_accepted():
    acc = gmetric.Accuracy()
    acc.update([onp.array([0, 1, 1])], [PROBS.asnumpy()])
    assert close(acc.get()[1], 2 / 3)


# --- errors ----------------------------------------------------------------------------------
def _raises(fn, *words):
    with pytest.raises(gmetric.MetricError) as info:
        fn()
    assert isinstance(info.value, (MXNetError, ValueError))
    for w in words:
        assert w in str(info.value)


def test_label_and_prediction_counts_must_agree():
    for kind in ["acc", "f1", "mae", "ce", "mcc"]:
        m = gmetric.create(kind)
        _raises(lambda m=m: m.update([LABELS, LABELS], [PROBS]), m.name, "2 label arrays",
                "1 prediction")
    _raises(lambda: gmetric.create(lambda l, p: 0.0).update([LABELS], []), "custom")


def test_mismatched_shapes_name_the_metric():
    _raises(lambda: gmetric.Accuracy().update(np.array([0, 1]), PROBS), "accuracy", "(2,)")
    _raises(lambda: gmetric.MAE().update(np.array([1.0, 2.0]), np.array([1.0])), "mae")
    _raises(lambda: gmetric.CrossEntropy().update(np.array([0, 1]), PROBS), "cross-entropy")
    _raises(lambda: gmetric.TopKAccuracy(2).update(LABELS, np.array([1.0, 2.0, 3.0])),
            "top_k_accuracy_2", "(batch, classes)")
    _raises(lambda: gmetric.TopKAccuracy(2).update(np.array([0, 1]), PROBS), "2 labels")
    _raises(lambda: gmetric.F1().update(np.array([0, 2]), np.array([0.1, 0.9])), "f1", "0 or 1")
    _raises(lambda: gmetric.F1().update(LABELS, np.ones((3, 3))), "f1", "(3, 3)")
    _raises(lambda: gmetric.F1(class_type="multiclass").update(np.array([3]), np.ones((1, 3))),
            "out of range")


def test_bad_options_and_names():
    _raises(lambda: gmetric.TopKAccuracy(top_k=1), "top_k")
    _raises(lambda: gmetric.F1(average="weighted"), "average")
    _raises(lambda: gmetric.F1(class_type="ordinal"), "class_type")
    _raises(lambda: gmetric.create("no_such_metric"), "no_such_metric", "accuracy")
    _raises(lambda: gmetric.create(gmetric.Accuracy(), axis=0), "already")
    _raises(lambda: gmetric.CompositeEvalMetric().get_metric(0), "out of range")
    with pytest.raises(AssertionError):     # MXNet asserts on unknown names
        gmetric.create("no_such_metric")


def test_mxnet_1x_names_reach_the_same_metrics():
    import clgrad
    assert clgrad.metric.Accuracy is clgrad.gluon.metric.Accuracy
    assert isinstance(clgrad.metric.create("acc"), clgrad.gluon.metric.Accuracy)
    assert clgrad.initializer.Xavier is clgrad.init.Xavier
