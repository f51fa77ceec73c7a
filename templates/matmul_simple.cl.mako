## The simple matrix-product path: tiny, skinny (matrix-vector, dot products) and integer problems.
##   mode "serial": one work-item per output element, looping over K.
##   mode "group":  one work-group per output element; lanes stride over K and combine through a
##                  local-memory tree (few outputs, long K). Fixed order: deterministic.
## Outputs are numbered (batch, m, n) with n fastest; all strides are kernel arguments.
${prelude}

#define ACC ${acc}

__kernel void ${name}(
    __global const ${a.ctype} *A, const long a_off, const long sAm, const long sAk,
    __global const ${b.ctype} *B, const long b_off, const long sBk, const long sBn,
    __global ${c.ctype} *C, const long c_off, const long sCm, const long sCn,
    const long M, const long N, const long K
% for d in range(bnd):
    , const long bn${d}, const long sAb${d}, const long sBb${d}, const long sCb${d}
% endfor
    , const long total)
{
% if mode == "group":
    __local ACC scratch[${wg}];
    const long o = (long)get_group_id(0);
    const int lid = (int)get_local_id(0);
% else:
    const long o = (long)get_global_id(0);
    if (o >= total) return;
% endif
    const long n = o % N;
    long r = o / N;
    const long m = r % M;
    long bi = r / M;
    long ao = a_off + m * sAm, bo = b_off + n * sBn, co = c_off + m * sCm + n * sCn;
% for d in range(bnd - 1, -1, -1):
    { const long q = bi % bn${d}; bi /= bn${d};
      ao += q * sAb${d}; bo += q * sBb${d}; co += q * sCb${d}; }
% endfor
    ACC acc = (ACC)0;
% if mode == "group":
    for (long k = lid; k < K; k += ${wg})
% else:
    for (long k = 0; k < K; ++k)
% endif
        acc += (ACC)${load(a, "A", "ao + k * sAk")} * (ACC)${load(b, "B", "bo + k * sBk")};
% if mode == "group":
    scratch[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
%   for s in strides:
    if (lid < ${s}) scratch[lid] += scratch[lid + ${s}];
    barrier(CLK_LOCAL_MEM_FENCE);
%   endfor
    if (lid == 0) { ${store(c, "C", "co", "scratch[0]")}; }
% else:
    ${store(c, "C", "co", "acc")};
% endif
}
