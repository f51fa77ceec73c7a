"""clgrad: MXNet's NumPy-style arrays and autograd on any OpenCL device."""
from . import array_api, autograd, ops  # noqa: F401  (array_api: the arrays' namespace hooks)
from . import numpy as np  # noqa: F401
from . import npx  # noqa: F401
from . import random  # noqa: F401  (mx.random: seed and the 1.x samplers)
from . import context, image  # noqa: F401
from . import init, lr_scheduler, optimizer, gluon  # noqa: F401  (mx.init, mx.gluon, ...)
from . import init as initializer  # noqa: F401  (MXNet's other name for mx.init)
from . import metric  # noqa: F401  (MXNet 1.x's mx.metric: gluon.metric)
from .context import Context, cpu, current_context, gpu, num_gpus  # noqa: F401  (MXNet 1.x)
from .base import (AutogradError, DeviceCapabilityError, DeviceMismatchError, DTypeError,  # noqa: F401
                   GradReqError, KernelBuildError, KernelFallbackWarning, MXNetError,
                   OutOfMemoryError, ShapeError)
from .base import (ArgumentError, ArgumentTypeError, ArrayConversionError,  # noqa: F401
                   DeviceNotFoundError, UnsupportedError, ZeroStepError)
from .ndarray import ndarray  # noqa: F401
from .runtime import Device  # noqa: F401

__version__ = "0.1.0"
