"""Gluon's evaluation metrics (MXNet 2.x ``gluon.metric``).

Metrics are host bookkeeping: each ``update(labels, preds)`` copies the batch to NumPy and adds
to ``sum_metric`` and ``num_inst``; ``get()`` gives ``(name, sum_metric / num_inst)``, or NaN
before any update. ``labels`` and ``preds`` are one array each or equally long lists of arrays
(clgrad or NumPy). ``create`` builds a metric from a registered name ('acc', 'f1', 'rmse', ...),
a list of them, a config dict, or a plain function.
"""
import math
import warnings
from collections import OrderedDict

import numpy as _np

from ..base import MXNetError

__all__ = ["EvalMetric", "CompositeEvalMetric", "Accuracy", "TopKAccuracy", "F1", "Fbeta",
           "BinaryAccuracy", "MCC", "MAE", "MSE", "RMSE", "CrossEntropy", "Perplexity", "Loss",
           "CustomMetric", "MetricError", "create", "register", "alias", "np"]


class MetricError(MXNetError, ValueError, AssertionError):
    """A metric given inputs it cannot use (label/prediction counts or shapes that disagree,
    labels out of range) or an unknown name; an AssertionError too, as MXNet asserts these."""


def _host(x):
    """A NumPy copy of a clgrad array (NumPy arrays and lists pass through np.asarray)."""
    return x.asnumpy() if hasattr(x, "asnumpy") else _np.asarray(x)


def _as_list(x):
    return list(x) if isinstance(x, (list, tuple)) else [x]


class EvalMetric:
    """Base class of the metrics: ``name`` for display; ``output_names`` / ``label_names``
    select what ``update_dict`` passes on."""

    def __init__(self, name, output_names=None, label_names=None, **kwargs):
        self.name = str(name)
        self.output_names = output_names
        self.label_names = label_names
        self._kwargs = kwargs
        self.reset()

    def __str__(self):
        return f"EvalMetric: {dict(self.get_name_value())}"

    def get_config(self):
        """The arguments that rebuild this metric with ``create(**config)``."""
        config = dict(self._kwargs, metric=type(self).__name__, name=self.name,
                      output_names=self.output_names, label_names=self.label_names)
        return config

    def update_dict(self, label, pred):
        """``update`` with the arrays of two name -> array mappings."""
        pred = [pred[n] for n in self.output_names] if self.output_names is not None \
            else list(pred.values())
        label = [label[n] for n in self.label_names] if self.label_names is not None \
            else list(label.values())
        self.update(label, pred)

    def update(self, labels, preds):
        raise NotImplementedError

    def reset(self):
        self.num_inst = 0
        self.sum_metric = 0.0

    def get(self):
        if self.num_inst == 0:
            return (self.name, float("nan"))
        return (self.name, self.sum_metric / self.num_inst)

    def get_name_value(self):
        name, value = self.get()
        names = name if isinstance(name, list) else [name]
        values = value if isinstance(value, list) else [value]
        return list(zip(names, values))

    def _pairs(self, labels, preds):
        """(label, pred) NumPy pairs of a batch; the two lists must be equally long."""
        labels, preds = _as_list(labels), _as_list(preds)
        if len(labels) != len(preds):
            raise MetricError(f"{self.name}: {len(labels)} label arrays but {len(preds)} "
                              f"prediction arrays")
        return [(_host(l), _host(p)) for l, p in zip(labels, preds)]

    def _check_size(self, label, pred, what="predictions"):
        if label.size != pred.size:
            raise MetricError(f"{self.name}: labels of shape {label.shape} do not match "
                              f"{what} of shape {pred.shape}")


# --- registry: lower-case class names and aliases -> classes ---------------------------------
_REGISTRY = {}


def register(klass):
    """Make an EvalMetric subclass creatable by its lower-cased class name."""
    if not (isinstance(klass, type) and issubclass(klass, EvalMetric)):
        raise MetricError(f"register: {klass!r} is not an EvalMetric subclass")
    _add_name(klass.__name__.lower(), klass)
    return klass


def alias(*names):
    """Decorator: make a registered metric creatable by further names too."""
    def decorate(klass):
        for name in names:
            _add_name(name.lower(), klass)
        return klass
    return decorate


def _add_name(name, klass):
    old = _REGISTRY.get(name)
    if old is not None and old is not klass:
        warnings.warn(f"metric {klass.__module__}.{klass.__name__} registered as {name!r} "
                      f"replaces {old.__module__}.{old.__name__}", UserWarning, stacklevel=3)
    _REGISTRY[name] = klass


def create(metric, *args, **kwargs):
    """A metric from a registered name, an EvalMetric (returned as is), a list of either (a
    CompositeEvalMetric), a ``get_config()`` dict, or a function ``feval(label, pred)``."""
    if isinstance(metric, EvalMetric):
        if args or kwargs:
            raise MetricError(f"create: {metric.name} is already a metric; extra arguments "
                              f"are not accepted")
        return metric
    if isinstance(metric, list):
        return CompositeEvalMetric([create(m, *args, **kwargs) for m in metric])
    if isinstance(metric, dict):
        config = dict(metric)
        return create(config.pop("metric"), *args, **config, **kwargs)
    if callable(metric):
        return CustomMetric(metric, *args, **kwargs)
    if not isinstance(metric, str):
        raise MetricError(f"create: cannot make a metric from {metric!r}")
    klass = _REGISTRY.get(metric.lower())
    if klass is None:
        raise MetricError(f"create: no metric is registered as {metric!r}; known names: "
                          f"{', '.join(sorted(_REGISTRY))}")
    return klass(*args, **kwargs)


@register
@alias("composite")
class CompositeEvalMetric(EvalMetric):
    """Several metrics updated together; ``get()`` gives (list of names, list of values)."""

    def __init__(self, metrics=None, name="composite", output_names=None, label_names=None):
        super().__init__(name, output_names=output_names, label_names=label_names)
        self.metrics = [create(m) for m in (metrics or [])]

    def add(self, metric):
        self.metrics.append(create(metric))

    def get_metric(self, index):
        try:
            return self.metrics[index]
        except IndexError:
            raise MetricError(f"{self.name}: metric index {index} is out of range for "
                              f"{len(self.metrics)} metrics") from None

    def update_dict(self, labels, preds):
        if self.label_names is not None:
            labels = OrderedDict(i for i in labels.items() if i[0] in self.label_names)
        if self.output_names is not None:
            preds = OrderedDict(i for i in preds.items() if i[0] in self.output_names)
        for metric in self.metrics:
            metric.update_dict(labels, preds)

    def update(self, labels, preds):
        for metric in self.metrics:
            metric.update(labels, preds)

    def reset(self):
        for metric in getattr(self, "metrics", ()):    # reset() runs before metrics exist
            metric.reset()

    def get(self):
        names, values = [], []
        for metric in self.metrics:
            name, value = metric.get()
            names.extend(name if isinstance(name, list) else [name])
            values.extend(value if isinstance(value, list) else [value])
        return (names, values)

    def get_config(self):
        config = super().get_config()
        config["metrics"] = [m.get_config() for m in self.metrics]
        return config


# --- classification ------------------------------------------------------------------------
@register
@alias("acc")
class Accuracy(EvalMetric):
    """Fraction of predicted classes equal to the labels. Predictions with a shape other than
    the labels' are scores: their argmax along ``axis`` is the predicted class."""

    def __init__(self, axis=1, name="accuracy", output_names=None, label_names=None):
        super().__init__(name, axis=axis, output_names=output_names, label_names=label_names)
        self.axis = axis

    def update(self, labels, preds):
        for label, pred in self._pairs(labels, preds):
            if pred.shape != label.shape:
                pred = pred.argmax(axis=self.axis)
            label, pred = label.astype(_np.int64).ravel(), pred.astype(_np.int64).ravel()
            self._check_size(label, pred, "predicted classes")
            self.sum_metric += float((pred == label).sum())
            self.num_inst += len(pred)


@register
@alias("top_k_accuracy", "top_k_acc")
class TopKAccuracy(EvalMetric):
    """Fraction of samples whose label is among the ``top_k`` highest-scoring classes of a
    (batch, classes) prediction. The name gets ``_<top_k>`` appended, as in MXNet."""

    def __init__(self, top_k=1, name="top_k_accuracy", output_names=None, label_names=None):
        super().__init__(name, top_k=top_k, output_names=output_names, label_names=label_names)
        if top_k <= 1:
            raise MetricError(f"{name}: top_k must be above 1 (got {top_k}); use Accuracy "
                              f"for top_k=1")
        self.top_k = top_k
        self.name += f"_{top_k}"

    def update(self, labels, preds):
        for label, pred in self._pairs(labels, preds):
            if pred.ndim != 2:
                raise MetricError(f"{self.name}: predictions must be (batch, classes) scores, "
                                  f"got shape {pred.shape}")
            label = label.astype(_np.int64).ravel()
            if len(label) != len(pred):
                raise MetricError(f"{self.name}: {len(label)} labels for {len(pred)} "
                                  f"predictions")
            k = min(self.top_k, pred.shape[1])
            top = _np.argsort(-pred.astype(_np.float64), axis=1, kind="stable")[:, :k]
            self.sum_metric += float((top == label[:, None]).any(axis=1).sum())
            self.num_inst += len(label)


class _Counts:
    """Per-class true/false positive/negative counts, accumulated over batches.

    ``class_type``: 'binary' (one class: label 1 is positive, a prediction is positive above
    ``threshold``; (batch, 2) scores use column 1), 'multiclass' (argmax against the label, one
    count per class) or 'multilabel' (a (batch, classes) 0/1 label, scores thresholded)."""

    def __init__(self, owner, class_type, threshold):
        if class_type not in ("binary", "multiclass", "multilabel"):
            raise MetricError(f"{owner}: class_type must be 'binary', 'multiclass' or "
                              f"'multilabel', got {class_type!r}")
        self.owner, self.class_type, self.threshold = owner, class_type, threshold
        self.reset()

    def reset(self):
        self.tp = self.fp = self.fn = self.tn = None

    def add(self, label, pred):
        label = label.astype(_np.int64)
        if self.class_type == "binary":
            if label.size and (label.max() > 1 or label.min() < 0):
                raise MetricError(f"{self.owner}: binary labels must be 0 or 1")
            if pred.shape != label.shape and pred.ndim and pred.shape[-1] > 2:
                raise MetricError(f"{self.owner}: predictions of shape {pred.shape} do not fit "
                                  f"binary classification")
            if pred.shape != label.shape and pred.ndim and pred.shape[-1] == 2:
                pred = pred.reshape(-1, 2)[:, 1]
            guess, truth = (pred > self.threshold).reshape(-1, 1), label.reshape(-1, 1)
        elif self.class_type == "multiclass":
            classes = pred.shape[-1]
            if label.size and label.max() >= classes:
                raise MetricError(f"{self.owner}: label {label.max()} is out of range for "
                                  f"{classes} predicted classes")
            eye = _np.eye(classes, dtype=bool)
            guess, truth = eye[pred.argmax(axis=-1).ravel()], eye[label.ravel()]
        else:
            if pred.shape != label.shape:
                raise MetricError(f"{self.owner}: multilabel labels of shape {label.shape} "
                                  f"must match predictions of shape {pred.shape}")
            classes = pred.shape[-1]
            guess, truth = (pred > self.threshold).reshape(-1, classes), \
                label.reshape(-1, classes) == 1
        if guess.shape != truth.shape:
            raise MetricError(f"{self.owner}: labels of shape {label.shape} do not match "
                              f"predictions of shape {pred.shape}")
        counts = [(guess & truth).sum(0), (guess & ~truth).sum(0),
                  (~guess & truth).sum(0), (~guess & ~truth).sum(0)]
        if self.tp is None:
            self.tp, self.fp, self.fn, self.tn = (c.astype(_np.float64) for c in counts)
        elif len(counts[0]) != len(self.tp):
            raise MetricError(f"{self.owner}: the number of classes changed from "
                              f"{len(self.tp)} to {len(counts[0])}")
        else:
            self.tp, self.fp, self.fn, self.tn = (a + c for a, c in
                                                  zip((self.tp, self.fp, self.fn, self.tn),
                                                      counts))

    @property
    def total(self):
        return 0 if self.tp is None else int(self.tp[0] + self.fp[0] + self.fn[0] + self.tn[0])

    def fscore(self, beta, average):
        """F-beta per class ('macro' averages them, None keeps them) or over the pooled counts
        ('micro')."""
        tp, fp, fn = self.tp, self.fp, self.fn
        if average == "micro":
            tp, fp, fn = tp.sum(), fp.sum(), fn.sum()
        precision = tp / _np.maximum(tp + fp, 1e-12)
        recall = tp / _np.maximum(tp + fn, 1e-12)
        f = (1 + beta ** 2) * precision * recall / \
            _np.maximum(beta ** 2 * precision + recall, 1e-12)
        return float(f.mean()) if average in ("micro", "macro") else f


@register
class F1(EvalMetric):
    """F1 score: harmonic mean of precision and recall. ``average``: 'micro' (pooled counts,
    the default), 'macro' (mean over classes) or None (one score per class)."""

    def __init__(self, name="f1", output_names=None, label_names=None, class_type="binary",
                 threshold=0.5, average="micro"):
        if average not in ("micro", "macro", None):
            raise MetricError(f"{name}: average must be 'micro', 'macro' or None, got "
                              f"{average!r}")
        self.average, self.beta = average, 1
        self.metrics = _Counts(name, class_type, threshold)
        super().__init__(name, output_names=output_names, label_names=label_names,
                         class_type=class_type, threshold=threshold, average=average)

    def update(self, labels, preds):
        for label, pred in self._pairs(labels, preds):
            self.metrics.add(label, pred)
        self.num_inst = self.metrics.total
        if self.num_inst:
            self.sum_metric = self.metrics.fscore(self.beta, self.average) * self.num_inst

    def reset(self):
        super().reset()
        self.metrics.reset()


@register
class Fbeta(F1):
    """F-beta score: (1 + beta^2) P R / (beta^2 P + R)."""

    def __init__(self, name="fbeta", output_names=None, label_names=None, class_type="binary",
                 beta=1, threshold=0.5, average="micro"):
        super().__init__(name, output_names, label_names, class_type, threshold, average)
        self.beta = beta
        self._kwargs["beta"] = beta


@register
class BinaryAccuracy(EvalMetric):
    """Accuracy of thresholded scores (prediction > ``threshold``) against 0/1 labels."""

    def __init__(self, name="binary_accuracy", output_names=None, label_names=None,
                 threshold=0.5):
        self.threshold = threshold
        super().__init__(name, output_names=output_names, label_names=label_names,
                         threshold=threshold)

    def update(self, labels, preds):
        for label, pred in self._pairs(labels, preds):
            self._check_size(label, pred)
            guess = (pred > self.threshold).ravel()
            self.sum_metric += float((guess == label.astype(_np.int64).ravel()).sum())
            self.num_inst += guess.size


@register
class MCC(EvalMetric):
    """Matthews correlation coefficient of a binary problem (zero factors of the denominator
    count as 1)."""

    def __init__(self, name="mcc", output_names=None, label_names=None):
        self._counts = _Counts(name, "binary", 0.5)
        super().__init__(name, output_names=output_names, label_names=label_names)

    def update(self, labels, preds):
        for label, pred in self._pairs(labels, preds):
            self._counts.add(label, pred)
        c = self._counts
        tp, fp, fn, tn = float(c.tp[0]), float(c.fp[0]), float(c.fn[0]), float(c.tn[0])
        denom = 1.0
        for t in (tp + fp, tp + fn, tn + fp, tn + fn):
            denom *= t or 1.0
        self.num_inst = c.total
        self.sum_metric = (tp * tn - fp * fn) / math.sqrt(denom) * self.num_inst

    def reset(self):
        super().reset()
        self._counts.reset()


# --- regression ----------------------------------------------------------------------------
class _PerSample(EvalMetric):
    """Metrics that average a per-sample error; the first axis is the batch. Predictions are
    reshaped to the labels' shape (a (N, 1) prediction against (N,) labels compares row by row
    rather than broadcasting to (N, N))."""

    def _error(self, diff):
        raise NotImplementedError

    def update(self, labels, preds):
        for label, pred in self._pairs(labels, preds):
            self._check_size(label, pred)
            if label.ndim == 0:
                raise MetricError(f"{self.name}: labels need a batch axis, got a scalar")
            diff = (label.astype(_np.float64) - pred.reshape(label.shape)).reshape(len(label), -1)
            self.sum_metric += float(self._error(diff).mean(axis=1).sum())
            self.num_inst += len(label)


@register
class MAE(_PerSample):
    """Mean absolute error."""

    def __init__(self, name="mae", output_names=None, label_names=None):
        super().__init__(name, output_names=output_names, label_names=label_names)

    def _error(self, diff):
        return _np.abs(diff)


@register
class MSE(_PerSample):
    """Mean squared error."""

    def __init__(self, name="mse", output_names=None, label_names=None):
        super().__init__(name, output_names=output_names, label_names=label_names)

    def _error(self, diff):
        return diff ** 2


@register
class RMSE(MSE):
    """Square root of the mean squared error over everything seen since the last reset."""

    def __init__(self, name="rmse", output_names=None, label_names=None):
        super().__init__(name, output_names=output_names, label_names=label_names)

    def get(self):
        name, value = super().get()
        return (name, math.sqrt(value))


@register
@alias("ce")
class CrossEntropy(EvalMetric):
    """Mean of -log(p[label]) over the samples, ``p`` being probabilities along ``axis`` (or
    the softmax of ``pred`` when ``from_logits``), floored at ``eps``. Labels equal to
    ``ignore_label`` are left out."""

    def __init__(self, eps=1e-12, ignore_label=None, axis=-1, from_logits=False,
                 name="cross-entropy", output_names=None, label_names=None):
        super().__init__(name, output_names=output_names, label_names=label_names, eps=eps,
                         ignore_label=ignore_label, axis=axis, from_logits=from_logits)
        self.eps, self.ignore_label, self.axis, self.from_logits = \
            eps, ignore_label, axis, from_logits

    def update(self, labels, preds):
        for label, pred in self._pairs(labels, preds):
            pred = _np.moveaxis(pred.astype(_np.float64), self.axis, -1)
            classes = pred.shape[-1]
            if label.size * classes != pred.size:
                raise MetricError(f"{self.name}: labels of shape {label.shape} do not match "
                                  f"predictions of shape {pred.shape} over {classes} classes")
            if self.from_logits:
                pred = _np.exp(pred - pred.max(-1, keepdims=True))
                pred /= pred.sum(-1, keepdims=True)
            label = label.ravel().astype(_np.int64)
            keep = _np.ones(label.shape, bool) if self.ignore_label is None \
                else label != self.ignore_label
            prob = pred.reshape(-1, classes)[_np.arange(len(label)), _np.clip(label, 0,
                                                                              classes - 1)]
            self.sum_metric -= float(_np.log(_np.maximum(self.eps, prob[keep])).sum())
            self.num_inst += int(keep.sum())


@register
class Perplexity(CrossEntropy):
    """exp of the cross-entropy."""

    def __init__(self, eps=1e-12, ignore_label=None, axis=-1, from_logits=False,
                 name="perplexity", output_names=None, label_names=None):
        super().__init__(eps, ignore_label, axis, from_logits, name, output_names, label_names)

    def get(self):
        name, value = super().get()
        return (name, math.exp(value))


@register
class Loss(EvalMetric):
    """Mean of the loss values passed as ``preds`` (``labels`` are ignored)."""

    def __init__(self, name="loss", output_names=None, label_names=None):
        super().__init__(name, output_names=output_names, label_names=label_names)

    def update(self, _, preds):
        for pred in _as_list(preds):
            pred = _host(pred)
            self.sum_metric += float(pred.sum())
            self.num_inst += pred.size


@register
class CustomMetric(EvalMetric):
    """A metric from ``feval(label, pred)``, called on each pair of arrays as given; it returns
    a value (counted as one instance) or a ``(sum_metric, num_inst)`` tuple.
    ``allow_extra_outputs`` lets ``preds`` hold more arrays than ``labels``."""

    def __init__(self, feval, name=None, allow_extra_outputs=False, output_names=None,
                 label_names=None):
        if name is None:
            name = feval.__name__
            if "<" in name:
                name = f"custom({name})"
        super().__init__(name, feval=feval, allow_extra_outputs=allow_extra_outputs,
                         output_names=output_names, label_names=label_names)
        self._feval = feval
        self._allow_extra_outputs = allow_extra_outputs

    def update(self, labels, preds):
        labels, preds = _as_list(labels), _as_list(preds)
        if not self._allow_extra_outputs and len(labels) != len(preds):
            raise MetricError(f"{self.name}: {len(labels)} label arrays but {len(preds)} "
                              f"prediction arrays")
        for label, pred in zip(labels, preds):
            value = self._feval(label, pred)
            if isinstance(value, tuple):
                self.sum_metric += float(value[0])
                self.num_inst += int(value[1])
            else:
                self.sum_metric += float(value)
                self.num_inst += 1

    def get_config(self):
        raise NotImplementedError("CustomMetric cannot be serialized")


def np(numpy_feval, name=None, allow_extra_outputs=False):
    """A CustomMetric whose function receives NumPy arrays and returns a number."""
    def feval(label, pred):
        return numpy_feval(_host(label), _host(pred))
    feval.__name__ = numpy_feval.__name__
    return CustomMetric(feval, name, allow_extra_outputs)
