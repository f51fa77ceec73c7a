## Reduction over the "inner" (reduced) dimensions for each "outer" index, deterministic
## (fixed combination order, no atomics). The accumulator ``ACC`` is a scalar or a small struct
## (argmax's (value, index), logsumexp's (max, scaled sum), var's (count, mean, M2)); each kind
## supplies acc_init / acc_map / acc_combine / acc_final, so one skeleton serves every kind.
## Two layouts of the same family:
##   mode "group":  one work-group per (output, part); lanes stride over the part's range of k and
##                  combine through a local-memory tree. ``parts`` > 1 splits k for a second stage.
##   mode "serial": one work-item per output, looping over all k (small k, many outputs).
## ``stage2`` kernels read partial accumulators (ACC structs) written by a non-final stage 1.
## Shapes and strides of both dimension groups are kernel arguments (``outer_nd``/``inner_nd``).
${prelude}

${acc_decl}
#define S ${s_type}
#define OUT ${out_type}

${functions}

__kernel void ${name}(
% if stage2:
    __global const ACC *src, const long src_off,
% else:
    __global const ${src.ctype} *src, const long src_off,
% endif
% if final:
    __global ${dst.ctype} *dst,
% else:
    __global ACC *dst,
% endif
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
    ACC acc = acc_init();
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
% if stage2:
        acc = acc_combine(acc, src[off]);
% else:
        acc = acc_combine(acc, acc_map(${load(src, "src", "off")}, k));
% endif
    }
% if mode == "group":
    scratch[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
% for s in strides:
    if (lid < ${s}) scratch[lid] = acc_combine(scratch[lid], scratch[lid + ${s}]);
    barrier(CLK_LOCAL_MEM_FENCE);
% endfor
    if (lid == 0) {
% if final:
        const OUT r = acc_final(scratch[0], K_total);
        ${store(dst, "dst", "g", "r")};
% else:
        dst[g] = scratch[0];
% endif
    }
% else:
% if final:
    {
        const OUT r = acc_final(acc, K_total);
        ${store(dst, "dst", "m", "r")};
    }
% else:
    dst[m] = acc;
% endif
% endif
}
