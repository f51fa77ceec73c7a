## Deterministic scatter through sorted keys (no atomics). ``skey`` holds the J target positions
## along the axis in ascending order and ``perm`` where each came from (a stable sort, so equal
## keys keep their source order). Work-item (p, k, q) handles key k for the pre-axis coordinate p
## and post-axis coordinate q:
##   mode "sum":  the first of each run of equal keys adds up the run's sources in order and
##                writes the total (the destination starts zeroed): the vjp of a gather.
##   mode "last": the last of each run writes its source (NumPy's last-write-wins assignment).
##   mode "mark": dst[perm[k]] = 1 if k is the last of its run, else 0 (which source wins).
${prelude}

__kernel void ${name}(__global ${dst_t} *dst, const long dst_off, const long dst_ax,
                      __global const ${src_t} *src, const long src_off, const long src_ax,
                      __global const long *skey, __global const long *perm, const long J,
% for d in range(pre_nd):
                      const long pn${d}, const long pds${d}, const long pss${d},
% endfor
% for d in range(post_nd):
                      const long qn${d}, const long qds${d}, const long qss${d},
% endfor
                      const long Q, const long total)
{
    const long gid = (long)get_global_id(0);
    if (gid >= total) return;
    const long q = gid % Q;
    const long t = gid / Q;
    const long k = t % J;
    const long key = skey[k];
% if mode == "mark":
    dst[perm[k]] = (uchar)(k + 1 == J || skey[k + 1] != key);
% else:
%   if mode == "sum":
    if (k > 0 && skey[k - 1] == key) return;
%   else:
    if (k + 1 < J && skey[k + 1] == key) return;
%   endif
    long di = dst_off, si = src_off;
    {
        long rem = t / J;
%   for d in range(pre_nd - 1, -1, -1):
        { const long c = rem % pn${d}; rem /= pn${d}; di += c * pds${d}; si += c * pss${d}; }
%   endfor
        rem = q;
%   for d in range(post_nd - 1, -1, -1):
        { const long c = rem % qn${d}; rem /= qn${d}; di += c * qds${d}; si += c * qss${d}; }
%   endfor
    }
%   if mode == "sum":
    ${acc_t} acc = (${acc_t})0;
    for (long k2 = k; k2 < J && skey[k2] == key; ++k2)
        acc += ${load(src_op, "src", "si + perm[k2] * src_ax")};
    ${store(dst_op, "dst", "di + key * dst_ax", "acc")};
%   else:
    dst[di + key * dst_ax] = src[si + perm[k] * src_ax];
%   endif
% endif
}
