## Reduction over the "inner" (reduced) dimensions for each "outer" index, deterministic
## (fixed combination order, no atomics). Two layouts of the same family:
##   mode "group":  one work-group per (output, part); lanes stride over the part's range of k and
##                  combine through a local-memory tree. ``parts`` > 1 splits k for a second stage.
##   mode "serial": one work-item per output, looping over all k (small k, many outputs).
## Shapes and strides of both dimension groups are kernel arguments (``outer_nd``/``inner_nd``).
${prelude}

#define ACC ${acc}
#define COMBINE(a, b) (${combine})
#define MAP(v) (${map_expr})

static ACC finalize(ACC a, long K) { return (ACC)(${finalize}); }

__kernel void ${name}(
    __global const ${src.ctype} *src, const long src_off,
    __global ${dst.ctype} *dst,
    const long M, const long K, const long chunk, const long parts
% for d in range(outer_nd):
    , const long on${d}, const long os${d}
% endfor
% for d in range(inner_nd):
    , const long in${d}, const long is${d}
% endfor
    , const long K_total)
{
% if mode == "group":
    __local ACC scratch[${wg}];
    const long g = (long)get_group_id(0);
    const int lid = (int)get_local_id(0);
    const long m = g / parts;
    const long part = g - m * parts;
% else:
    const long m = (long)get_global_id(0);
    if (m >= M) return;
% endif
    long base = src_off;
    {
        long rem = m;
% for d in range(outer_nd - 1, -1, -1):
        { const long c = rem % on${d}; rem /= on${d}; base += c * os${d}; }
% endfor
    }
    ACC acc = ${init};
% if mode == "group":
    const long k0 = part * chunk;
    const long k1 = min(K, k0 + chunk);
    for (long k = k0 + lid; k < k1; k += ${wg}) {
% else:
    for (long k = 0; k < K; ++k) {
% endif
        long off = base;
        long rem = k;
% for d in range(inner_nd - 1, -1, -1):
        { const long c = rem % in${d}; rem /= in${d}; off += c * is${d}; }
% endfor
        const ACC v = MAP((ACC)${load(src, "src", "off")});
        acc = COMBINE(acc, v);
    }
% if mode == "group":
    scratch[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
% for s in strides:
    if (lid < ${s}) scratch[lid] = COMBINE(scratch[lid], scratch[lid + ${s}]);
    barrier(CLK_LOCAL_MEM_FENCE);
% endfor
    if (lid == 0) {
        const ACC r = ${"finalize(scratch[0], K_total)" if final else "scratch[0]"};
        ${store(dst, "dst", "g", "r")};
    }
% else:
    {
        const ACC r = ${"finalize(acc, K_total)" if final else "acc"};
        ${store(dst, "dst", "m", "r")};
    }
% endif
}
