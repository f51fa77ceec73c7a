"""Adam and AdamW (MXNet 2.x ``Adam``, ``AdamW``)."""
import math
import os

from .optimizer import Optimizer, OptimizerError, register

__all__ = ["Adam", "AdamW"]


@register
class Adam(Optimizer):
    """Adam (Kingma and Ba, 2014), MXNet 2.x ``Adam``.

    At a parameter's update count t, per element::

        grad = clip(rescale_grad * grad, clip_gradient) + wd * weight
        mean = beta1 * mean + (1 - beta1) * grad
        var = beta2 * var + (1 - beta2) * grad**2
        lr_t = lr * sqrt(1 - beta2**t) / (1 - beta1**t)
        weight = weight - lr_t * mean / (sqrt(var) + epsilon)

    The state is ``(mean, var)``. ``lazy_update`` only changes row-sparse updates in MXNet;
    clgrad's arrays are dense, so it has no effect here.
    """

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-8,
                 lazy_update=False, use_fused_step=True, **kwargs):
        super().__init__(use_fused_step=use_fused_step, learning_rate=learning_rate, **kwargs)
        if not self.use_fused_step and lazy_update:
            raise OptimizerError("When use_fused_step is set to False, lazy_update has to be "
                                 "turned off.")
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.lazy_update = lazy_update

    def _rule(self):
        return "adam"

    def _hyperparams(self):
        return {"beta1": self.beta1, "beta2": self.beta2, "epsilon": self.epsilon}

    def _state_dtypes(self, dtype):
        return (dtype, dtype)

    def _bias_terms(self, t):
        return math.sqrt(1. - self.beta2 ** t) / (1. - self.beta1 ** t), 1.0, 1.0


@register
class AdamW(Optimizer):
    """Adam with decoupled weight decay (Loshchilov and Hutter, 2017), MXNet 2.x ``AdamW``.

    At a parameter's update count t, per element (weight decay is not part of the gradient)::

        grad = clip(rescale_grad * grad, clip_gradient)
        mean = beta1 * mean + (1 - beta1) * grad
        var = beta2 * var + (1 - beta2) * grad**2
        lr_t = lr * sqrt(1 - beta2**t) / (1 - beta1**t)     (lr_t = lr without correct_bias)
        weight = weight - lr_t * (mean / (sqrt(var) + epsilon) + wd * weight)

    This is MXNet's fused ``adamw_update`` (its default path): the decay uses the weight before
    this step. As there, a non-finite ``rescale_grad`` skips the update (the step still counts).
    The state is ``(mean, var)``.
    """

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, epsilon=1e-6,
                 correct_bias=True, use_fused_step=True, **kwargs):
        super().__init__(use_fused_step=use_fused_step, learning_rate=learning_rate, **kwargs)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.correct_bias = correct_bias
        self.aggregate_num = max(1, min(50, int(os.getenv("MXNET_OPTIMIZER_AGGREGATION_SIZE",
                                                          "4"))))

    def _rule(self):
        return "adamw"

    def _hyperparams(self):
        return {"beta1": self.beta1, "beta2": self.beta2, "epsilon": self.epsilon}

    def _state_dtypes(self, dtype):
        return (dtype, dtype)

    def _bias_terms(self, t):
        if not self.correct_bias:
            return 1.0, 1.0, 1.0
        return math.sqrt(1. - self.beta2 ** t) / (1. - self.beta1 ** t), 1.0, 1.0

    def _skip_update(self):
        return not math.isfinite(float(self.rescale_grad))
