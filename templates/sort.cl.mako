## Sorting and searching. Rows of length L are padded to L2 (a power of two) and sorted as
## (key, index) pairs by a bitonic network; ties break by the original index, so the order is a
## strict total order and the result is the stable sort. Padding (index >= L) sorts last, and
## NaN sorts after every number (first when descending), as in NumPy.
##   sort_init:   keys/ids from the source rows (strided; ``pnd`` collapsed row dimensions)
##   sort_step:   one compare-exchange stage (k, j) over global memory (j >= 2 * local size)
##   sort_local:  every stage with j < 2 * local size, inside a work-group's block of local memory
##   sort_finish: sorted values and/or indices to contiguous outputs
##   searchsorted: binary search of each query in a sorted 1-D array
${prelude}

typedef ${key_t} K;

/* does a sort strictly before b? (NaN-aware for floating keys) */
static int lt_key(K a, K b)
{
% if is_float:
    return (a < b) || (isnan(b) && !isnan(a));
% else:
    return a < b;
% endif
}

% if kernels == "sort":
static int before(K ka, int ia, K kb, int ib, int L)
{
    if (ia >= L || ib >= L) return ia < ib;
%   if descending:
    if (lt_key(kb, ka)) return 1;
    if (lt_key(ka, kb)) return 0;
%   else:
    if (lt_key(ka, kb)) return 1;
    if (lt_key(kb, ka)) return 0;
%   endif
    return ia < ib;
}

__kernel void sort_init(__global K *keys, __global int *ids,
                        __global const ${src.ctype} *src, const long src_off, const long es,
%   for d in range(pnd):
                        const long pn${d}, const long ps${d},
%   endfor
                        const long L, const long L2, const long total)
{
    const long gid = (long)get_global_id(0);
    if (gid >= total) return;
    const long row = gid / L2;
    const long i = gid - row * L2;
    if (i < L) {
        long base = src_off;
        long rem = row;
%   for d in range(pnd - 1, -1, -1):
        { const long c = rem % pn${d}; rem /= pn${d}; base += c * ps${d}; }
%   endfor
        keys[gid] = ${load(src, "src", "base + i * es")};
    } else {
        keys[gid] = (K)0;
    }
    ids[gid] = (int)i;
}

__kernel void sort_step(__global K *keys, __global int *ids, const int L, const long L2,
                        const long k, const long j, const long total)
{
    const long gid = (long)get_global_id(0);
    if (gid >= total) return;
    const long hl = L2 >> 1;
    const long row = gid / hl;
    const long t = gid - row * hl;
    const long lo = (t / j) * 2 * j + (t % j);
    const long a = row * L2 + lo, b = a + j;
    const K ka = keys[a], kb = keys[b];
    const int ia = ids[a], ib = ids[b];
    const int swap = ((lo & k) == 0) ? before(kb, ib, ka, ia, L) : before(ka, ia, kb, ib, L);
    if (swap) {
        keys[a] = kb; keys[b] = ka;
        ids[a] = ib; ids[b] = ia;
    }
}

/* Launched with global = rows * L2 / 2 and a power-of-two local size lsz, 2 * lsz <= L2: each
 * work-group owns 2 * lsz consecutive elements (never straddling rows). Runs the stages
 * k = k_lo .. k_hi (doubling) with j from j_first (for k_lo; k / 2 after) down to 1. The loop
 * bounds are kernel arguments, so every work-item reaches every barrier. */
__kernel void sort_local(__global K *keys, __global int *ids, const int L, const long L2,
                         const long k_lo, const long k_hi, const long j_first)
{
    __local K lk[2 * ${wg}];
    __local int li[2 * ${wg}];
    const int lid = (int)get_local_id(0);
    const int lsz = (int)get_local_size(0);
    const long base = (long)get_group_id(0) * 2 * lsz;
    const long rpos = base % L2;
    lk[lid] = keys[base + lid];
    li[lid] = ids[base + lid];
    lk[lid + lsz] = keys[base + lid + lsz];
    li[lid + lsz] = ids[base + lid + lsz];
    barrier(CLK_LOCAL_MEM_FENCE);
    for (long k = k_lo; k <= k_hi; k <<= 1) {
        for (long j = (k == k_lo ? j_first : (k >> 1)); j > 0; j >>= 1) {
            const int lo = (int)((lid / j) * 2 * j + (lid % j));
            const int hi = lo + (int)j;
            const K ka = lk[lo], kb = lk[hi];
            const int ia = li[lo], ib = li[hi];
            const int swap = (((rpos + lo) & k) == 0) ? before(kb, ib, ka, ia, L)
                                                      : before(ka, ia, kb, ib, L);
            if (swap) {
                lk[lo] = kb; lk[hi] = ka;
                li[lo] = ib; li[hi] = ia;
            }
            barrier(CLK_LOCAL_MEM_FENCE);
        }
    }
    keys[base + lid] = lk[lid];
    ids[base + lid] = li[lid];
    keys[base + lid + lsz] = lk[lid + lsz];
    ids[base + lid + lsz] = li[lid + lsz];
}

__kernel void sort_finish(__global const K *keys, __global const int *ids,
                          __global ${src.ctype} *vals, __global long *idx,
                          const long L, const long L2, const long total)
{
    const long gid = (long)get_global_id(0);
    if (gid >= total) return;
    const long row = gid / L;
    const long w = row * L2 + (gid - row * L);
    if (vals) { ${store(src, "vals", "gid", "keys[w]")}; }
    if (idx) idx[gid] = (long)ids[w];
}
% else:
/* out[i] = the insertion point of v[i] in the sorted a (left: first a >= v; right: first a > v) */
__kernel void searchsorted(__global const ${src.ctype} *a, const long a_off, const long a_st,
                           const long n, __global const ${src.ctype} *v, const long v_off,
                           __global long *out, const long m, const int right)
{
    const long gid = (long)get_global_id(0);
    if (gid >= m) return;
    const K x = ${load(src, "v", "v_off + gid")};
    long lo = 0, hi = n;
    while (lo < hi) {
        const long mid = lo + ((hi - lo) >> 1);
        const K y = ${load(src, "a", "a_off + mid * a_st")};
        const int go_right = right ? !lt_key(x, y) : lt_key(y, x);
        if (go_right) lo = mid + 1; else hi = mid;
    }
    out[gid] = lo;
}
% endif
