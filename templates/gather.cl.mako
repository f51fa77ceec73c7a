## Index family: move elements between two strided arrays, one side addressed through an index
## array (int64, already normalised to [0, n)) along one axis.
##   mode "gather":  dst[c] = src[src_off + sum_d c_d*ss_d + idx[c] * ax]
##   mode "scatter": dst[dst_off + sum_d c_d*ds_d + idx[c] * ax] = src[c]   (indices distinct)
##   mode "offsets": dst[c] = src_off + sum_d c_d*ss_d + idx[c] * ax        (positions only)
## ``c`` runs over the ``ndim`` (collapsed) dimensions of the iteration shape; each operand has
## its own strides (zero where it does not vary). Elements travel as raw words of their size, so
## one binary serves every dtype of that size (half and bool included).
${prelude}

__kernel void ${name}(__global ${dst_t} *dst, const long dst_off,
                      __global const ${src_t} *src, const long src_off,
                      __global const long *idx, const long idx_off, const long ax,
% for d in range(ndim):
                      const long n${d}, const long ds${d}, const long ss${d}, const long is${d},
% endfor
                      const long n)
{
    const long gid = (long)get_global_id(0);
    if (gid >= n) return;
    long di = dst_off, si = src_off, ii = idx_off;
    long rem = gid;
% for d in range(ndim - 1, -1, -1):
%   if d > 0:
    { const long c = rem % n${d}; rem /= n${d};
%   else:
    { const long c = rem;
%   endif
      di += c * ds${d}; si += c * ss${d}; ii += c * is${d}; }
% endfor
% if mode == "gather":
    dst[di] = src[si + idx[ii] * ax];
% elif mode == "scatter":
    dst[di + idx[ii] * ax] = src[si];
% else:
    dst[di] = (${dst_t})(si + idx[ii] * ax);
% endif
}
