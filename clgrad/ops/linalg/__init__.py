"""Linear algebra: the matmul kernel family and the products built on it.

``matmul`` runs one of two kernel families (templates/matmul.cl.mako, matmul_simple.cl.mako):

* the tiled, register-blocked kernel for floating-point problems of some size, with tile sizes,
  work-group shape, vector width and local-memory staging as parameters (``DEFAULT_PARAMS`` per
  device type, overridden by the tuning database through ``runtime.tuning.params_for``);
* a simple kernel for tiny, skinny (matrix-vector, dot product) and integer problems.

Both read every operand through its strides, so transposed and other strided views are consumed
in place, never copied. dot, vdot, inner, outer, tensordot and einsum are compositions of
matmul, views, sums and elementwise ops, so their gradients (and gradients of those) come from
the ops they are built of.
"""
from .einsum import EinsumError, einsum  # noqa: F401
from .norms import as_float_input, matrix_norm_over, norm, vector_norm_over  # noqa: F401
from .params import (CONSTRAINTS, DEFAULT_PARAMS, DEFAULT_PARAMS_NT,  # noqa: F401
                     FALLBACK_PARAMS, OPTIONAL_PARAMS, PARAM_NAMES, default_params, full_params,
                     local_mem_bytes, param_problem, size_key, vector_width, work_group_size)
from .plans import (LAST_PLAN, TUNABLE, TUNABLES, Epilogue, matmul_with_params,  # noqa: F401
                    plan_count)
from .products import batch_dot, dot, inner, matmul, outer, tensordot, vdot  # noqa: F401

__all__ = ["dot", "einsum", "inner", "matmul", "outer", "tensordot", "vdot"]
