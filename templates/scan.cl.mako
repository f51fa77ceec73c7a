## Inclusive scan (cumulative sum / product) along one axis, deterministic (fixed order).
## Each "line" m is one position in the other (collapsed) dimensions; k runs along the axis.
##   mode "serial": one work-item per line, a running accumulator (many short lines).
##   mode "group":  one work-group per (line, part); the part's range of k is walked in tiles of
##                  ${wg} elements, each tile scanned in local memory (Hillis-Steele) and offset
##                  by the running carry. With ``use_carry`` the carry starts from the inclusive
##                  scan of the preceding parts' totals (``carry[m * parts + part - 1]``), which a
##                  reduction and a serial scan of the totals computed beforehand.
${prelude}

typedef ${acc} ACC;
#define S ${s_type}
#define COMBINE(a, b) (${combine})
#define MAP(v) (${map_})

__kernel void ${name}(
    __global const ${src.ctype} *src, const long src_off,
    __global ${dst.ctype} *dst, const long dst_off,
    __global const ACC *carry, const long use_carry,
    const long M, const long K, const long chunk, const long parts
% for d in range(outer_nd):
    , const long on${d}, const long os${d}, const long od${d}
% endfor
    , const long ks, const long kd)
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
    long sbase = src_off, dbase = dst_off;
    {
        long rem = m;
% for d in range(outer_nd - 1, -1, -1):
        { const long c = rem % on${d}; rem /= on${d}; sbase += c * os${d}; dbase += c * od${d}; }
% endfor
    }
% if mode == "serial":
    ACC acc = (ACC)(${init});
    for (long k = 0; k < K; ++k) {
        acc = COMBINE(acc, MAP(${load(src, "src", "sbase + k * ks")}));
        ${store(dst, "dst", "dbase + k * kd", "acc")};
    }
% else:
    ACC run = (ACC)(${init});
    if (use_carry && part > 0) run = carry[m * parts + part - 1];
    const long k0 = part * chunk;
    const long k1 = min(K, k0 + chunk);
    // k0 and k1 are the same for every lane of the group: the loop and its barriers are uniform
    for (long t = k0; t < k1; t += ${wg}) {
        const long k = t + lid;
        scratch[lid] = (k < k1) ? MAP(${load(src, "src", "sbase + k * ks")}) : (ACC)(${init});
        barrier(CLK_LOCAL_MEM_FENCE);
% for s in steps:
        {
            const ACC prev = (lid >= ${s}) ? scratch[lid - ${s}] : (ACC)(${init});
            barrier(CLK_LOCAL_MEM_FENCE);
            scratch[lid] = COMBINE(prev, scratch[lid]);
            barrier(CLK_LOCAL_MEM_FENCE);
        }
% endfor
        if (k < k1) {
            const ACC r = COMBINE(run, scratch[lid]);
            ${store(dst, "dst", "dbase + k * kd", "r")};
        }
        run = COMBINE(run, scratch[${wg - 1}]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
% endif
}
