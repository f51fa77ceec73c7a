## Elementwise n-ary map: one output, any number of array or scalar inputs.
## ndim == 0 renders the contiguous fast path (flat index plus per-operand offset); ndim > 0
## renders the strided/broadcast path over ``ndim`` already-collapsed dimensions, with shape and
## strides (in elements) passed as kernel arguments so one binary serves every shape of that rank.
${prelude}
${helpers}

__kernel void ${name}(
% for i, op in enumerate(operands):
%   if op.is_array:
    __global ${op.ctype} *p${i}, const long off${i},
%   else:
    const ${op.compute} s${i},
%   endif
% endfor
% for d in range(ndim):
    const long n${d},
%   for i, op in enumerate(operands):
%     if op.is_array:
    const long st${i}_${d},
%     endif
%   endfor
% endfor
    const long n)
{
    const long gid = (long)get_global_id(0);
    if (gid >= n) return;
% if ndim == 0:
%   for i, op in enumerate(operands):
%     if op.is_array:
    const long i${i} = off${i} + gid;
%     endif
%   endfor
% else:
    long rem = gid;
%   for i, op in enumerate(operands):
%     if op.is_array:
    long i${i} = off${i};
%     endif
%   endfor
%   for d in range(ndim - 1, -1, -1):
%     if d > 0:
    { const long c = rem % n${d}; rem /= n${d};
%     else:
    { const long c = rem;
%     endif
%     for i, op in enumerate(operands):
%       if op.is_array:
      i${i} += c * st${i}_${d};
%       endif
%     endfor
    }
%   endfor
% endif
% for i, op in enumerate(operands[1:], 1):
%   if op.is_array:
    const ${op.compute} v${i - 1} = ${load(op, "p%d" % i, "i%d" % i)};
%   else:
    const ${op.compute} v${i - 1} = s${i};
%   endif
% endfor
    const ${out.compute} r = (${out.compute})(${expr});
    ${store(out, "p0", "i0", "r")};
}
