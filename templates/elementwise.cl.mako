## Elementwise n-ary map: one output, any number of array or scalar inputs.
## ndim == 0 renders the contiguous fast path: a 1-D range, flat index plus per-operand offset.
## ndim >= 1 renders the strided/broadcast path over ``ndim`` already-collapsed dimensions as a
## 2-D range: dimension 0 walks the innermost dimension (no division), dimension 1 the flat index
## of the outer ones (divided out only when there are two or more of them); both dimensions are
## padded to whole work-groups, so both are bounds-checked. Shape and strides (in
## elements) are kernel arguments, so one binary serves every shape of that rank. ``idx`` is the
## index type: int when every offset fits in 31 bits (much cheaper division), else long.
## ``inner[i]`` is operand i's innermost stride class: "0" (broadcast), "1" (unit) or "s" (any),
## baked in so that compilers see unit-stride or uniform loads along dimension 0.
## The flat path takes stream parameters (the tuning database's, see clgrad.tune): each work-item
## handles ``ept`` elements, ``vw`` at a time, the runs of a work-item contiguous ("blocked") or
## strided by the global size ("interleaved"). ``vw`` > 1 evaluates the expression on vectors
## (vector reads/writes; only for expressions valid on vector types, every array operand and the output
## of one float type); a ragged end falls back to element by element.
## The strided path with ``vw`` > 1 (CPUs; every operand's inner stride class "0" or "1", the
## output's "1") gives each work-item ``ept`` elements of one row, ``vw`` at a time, its runs
## strided by the global size along dimension 0 (several streams side by side); broadcast
## operands are read once per row and splat. A ragged row end goes element by element.
## ``lets`` (fused chains, clgrad.hybrid) are (C type, expression) pairs evaluated in order before
## ``expr`` as u0, u1, ...: each may read the operands and the lets before it.
<%
    blocked = layout == "blocked"
    flat_runs = ndim == 0 and (ept > 1 or vw > 1)   # each work-item loops over its elements
    row_runs = ndim > 0 and vw > 1                  # each work-item loops over a run of a row
%>
<%def name="outer_offsets()">\
## adds the offsets of the outer dimensions (row ``rem``) to every array operand's index
%   for d in range(ndim - 2, -1, -1):
%     if d > 0:
    { const ${idx} c = rem % n${d}; rem /= n${d};
%     else:
    { const ${idx} c = rem;
%     endif
%     for i, op in enumerate(operands):
%       if op.is_array:
      i${i} += c * st${i}_${d};
%       endif
%     endfor
    }
%   endfor
</%def>\
<%def name="let_lines(w)">\
%   for k, (lt, le) in enumerate(lets):
            const ${lt}${w} u${k} = (${lt}${w})(${le});
%   endfor
</%def>\
${prelude}
${helpers}

__kernel void ${name}(
% for i, op in enumerate(operands):
%   if op.is_array:
    __global ${op.ctype} *p${i}, const ${idx} off${i},
%   else:
    const ${op.compute} s${i},
%   endif
% endfor
% for d in range(ndim):
    const ${idx} n${d},
%   for i, op in enumerate(operands):
%     if op.is_array:
    const ${idx} st${i}_${d},
%     endif
%   endfor
% endfor
    const ${idx} n)
{
% if flat_runs:
    const ${idx} g = (${idx})get_global_id(0);
%   if not blocked:
    const ${idx} gsize = (${idx})get_global_size(0);
%   endif
    for (int j = 0; j < ${ept // vw}; ++j) {
%   if blocked:
        const ${idx} e = (g * ${ept // vw} + j) * ${vw};
%   else:
        const ${idx} e = (g + (${idx})j * gsize) * ${vw};
%   endif
%   if vw > 1:
        if (e + ${vw} <= n) {
%     for i, op in enumerate(operands[1:], 1):
%       if op.is_array:
            const ${op.compute}${vw} v${i - 1} = ${vload(op.ctype, vw, "p%d + off%d + e" % (i, i))};
%       else:
            const ${op.compute}${vw} v${i - 1} = (${op.compute}${vw})(s${i});
%       endif
%     endfor
${let_lines("%d" % vw)}            const ${out.compute}${vw} r = (${out.compute}${vw})(${expr});
            ${vstore(out.ctype, vw, "r", "p0 + off0 + e")}
            continue;
        }
%   endif
        for (${idx} gid = e; gid < e + ${vw} && gid < n; ++gid) {
%   for i, op in enumerate(operands):
%     if op.is_array:
            const ${idx} i${i} = off${i} + gid;
%     endif
%   endfor
%   for i, op in enumerate(operands[1:], 1):
%     if op.is_array:
            const ${op.compute} v${i - 1} = ${load(op, "p%d" % i, "i%d" % i)};
%     else:
            const ${op.compute} v${i - 1} = s${i};
%     endif
%   endfor
${let_lines("")}            const ${out.compute} r = (${out.compute})(${expr});
            ${store(out, "p0", "i0", "r")};
        }
    }
% elif ndim == 0:
    const ${idx} gid = (${idx})get_global_id(0);
    if (gid >= n) return;
%   for i, op in enumerate(operands):
%     if op.is_array:
    const ${idx} i${i} = off${i} + gid;
%     endif
%   endfor
% elif row_runs:
    const ${idx} x = (${idx})get_global_id(0);
    const ${idx} gx = (${idx})get_global_size(0);
    if (x * ${vw} >= n${ndim - 1}) return;
    ${idx} rem = (${idx})get_global_id(1);
    if (rem * n${ndim - 1} >= n) return;   /* rows are padded to whole work-groups */
%   for i, op in enumerate(operands):
%     if op.is_array:
    ${idx} i${i} = off${i};
%     endif
%   endfor
${outer_offsets()}
%   for i, op in enumerate(operands[1:], 1):
%     if op.is_array and inner_cls[i] == "0":
    const ${op.compute}${vw} b${i - 1} = (${op.compute}${vw})(${load(op, "p%d" % i, "i%d" % i)});
%     elif not op.is_array:
    const ${op.compute}${vw} b${i - 1} = (${op.compute}${vw})(s${i});
%     endif
%   endfor
    for (int j = 0; j < ${ept // vw}; ++j) {
        const ${idx} e = (x + (${idx})j * gx) * ${vw};
        if (e + ${vw} <= n${ndim - 1}) {
%   for i, op in enumerate(operands[1:], 1):
%     if op.is_array and inner_cls[i] == "1":
            const ${op.compute}${vw} v${i - 1} = ${vload(op.ctype, vw, "p%d + i%d + e" % (i, i))};
%     else:
            const ${op.compute}${vw} v${i - 1} = b${i - 1};
%     endif
%   endfor
${let_lines("%d" % vw)}            const ${out.compute}${vw} r = (${out.compute}${vw})(${expr});
            ${vstore(out.ctype, vw, "r", "p0 + i0 + e")}
            continue;
        }
        for (${idx} c = e; c < e + ${vw} && c < n${ndim - 1}; ++c) {
%   for i, op in enumerate(operands[1:], 1):
%     if op.is_array and inner_cls[i] == "1":
            const ${op.compute} v${i - 1} = ${load(op, "p%d" % i, "i%d + c" % i)};
%     elif op.is_array:
            const ${op.compute} v${i - 1} = ${load(op, "p%d" % i, "i%d" % i)};
%     else:
            const ${op.compute} v${i - 1} = s${i};
%     endif
%   endfor
${let_lines("")}            const ${out.compute} r = (${out.compute})(${expr});
            ${store(out, "p0", "i0 + c", "r")};
        }
    }
% else:
    const ${idx} inner = (${idx})get_global_id(0);
    if (inner >= n${ndim - 1}) return;
    ${idx} rem = (${idx})get_global_id(1);
    const ${idx} gid = rem * n${ndim - 1} + inner;
    if (gid >= n) return;              /* rows are padded to whole work-groups */
%   for i, op in enumerate(operands):
%     if op.is_array:
%       if inner_cls[i] == "0":
    ${idx} i${i} = off${i};
%       elif inner_cls[i] == "1":
    ${idx} i${i} = off${i} + inner;
%       else:
    ${idx} i${i} = off${i} + inner * st${i}_${ndim - 1};
%       endif
%     endif
%   endfor
${outer_offsets()}
% endif
% if not (flat_runs or row_runs):
%   for i, op in enumerate(operands[1:], 1):
%     if op.is_array:
    const ${op.compute} v${i - 1} = ${load(op, "p%d" % i, "i%d" % i)};
%     else:
    const ${op.compute} v${i - 1} = s${i};
%     endif
%   endfor
${let_lines("")}    const ${out.compute} r = (${out.compute})(${expr});
    ${store(out, "p0", "i0", "r")};
% endif
}
