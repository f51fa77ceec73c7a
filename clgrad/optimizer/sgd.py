"""SGD with momentum, and Nesterov's accelerated gradient (MXNet 2.x ``SGD``, ``NAG``)."""
from .optimizer import Optimizer, OptimizerError, register

__all__ = ["SGD", "NAG"]


@register
class SGD(Optimizer):
    """Stochastic gradient descent with momentum and weight decay (MXNet 2.x ``SGD``).

    Per element, with ``grad = clip(rescale_grad * grad, clip_gradient) + wd * weight``::

        momentum == 0:  weight = weight - lr * grad
        otherwise:      mom = momentum * mom - lr * grad
                        weight = weight + mom

    The state is the momentum array (None without momentum). ``lazy_update`` only changes
    row-sparse updates in MXNet; clgrad's arrays are dense, so it has no effect here.
    With ``multi_precision`` a float16 weight is updated through a float32 master copy.
    """

    def __init__(self, learning_rate=0.1, momentum=0.0, lazy_update=False,
                 multi_precision=False, use_fused_step=True, aggregate_num=1, **kwargs):
        super().__init__(learning_rate=learning_rate, multi_precision=multi_precision,
                         aggregate_num=aggregate_num, use_fused_step=use_fused_step, **kwargs)
        if not self.use_fused_step and lazy_update:
            raise OptimizerError("When use_fused_step is set to False, lazy_update has to be "
                                 "turned off.")
        if lazy_update and multi_precision:
            raise OptimizerError("When lazy_update is set to True, multi_precision has be "
                                 "turned off.")
        self.momentum = momentum
        self.lazy_update = lazy_update

    def _rule(self):
        return "sgd_mom" if self.momentum != 0.0 else "sgd"

    def _hyperparams(self):
        return {"momentum": self.momentum} if self.momentum != 0.0 else {}

    def _state_dtypes(self, dtype):
        return (dtype,) if self.momentum != 0.0 else ()


@register
class NAG(Optimizer):
    """Nesterov accelerated gradient (MXNet 2.x ``NAG``).

    Per element, with ``grad = clip(rescale_grad * grad, clip_gradient) + wd * weight``::

        mom = momentum * mom - lr * grad
        weight = weight + momentum * mom - lr * grad

    Without momentum it is SGD's ``weight = weight - lr * grad`` (and has no state).
    """

    def __init__(self, learning_rate=0.1, momentum=0.9, multi_precision=False,
                 use_fused_step=True, **kwargs):
        super().__init__(learning_rate=learning_rate, multi_precision=multi_precision,
                         use_fused_step=use_fused_step, **kwargs)
        self.momentum = momentum

    def _rule(self):
        return "nag_mom" if self.momentum != 0.0 else "sgd"

    def _hyperparams(self):
        return {"momentum": self.momentum} if self.momentum != 0.0 else {}

    def _state_dtypes(self, dtype):
        return (dtype,) if self.momentum != 0.0 else ()
