## Tiled, register-blocked, batched matrix product C[b] = A[b] @ B[b] (see clgrad/ops/linalg.py).
##
## Grid: group dimension 0 walks M in tiles of MWG rows, group dimension 1 walks N in tiles of NWG
## columns, dimension 2 is the flattened batch. The work-group is NDIMC x MDIMC work-items
## (local id 0 runs along N so neighbouring work-items touch neighbouring columns); each
## work-item keeps an MWI x NWI block of C in registers (MWI = MWG/MDIMC, NWI = NWG/NDIMC).
## Consecutive groups walk down M and so share the same panel of B, which stays in cache.
##
##   form "nvec": accumulators are VW-wide vectors along N and A values are broadcast scalars.
##                SA / SB stage KWG-deep tiles of A / B in local memory, zero padded at the edges
##                (any layout: the staging loads transpose); otherwise the operand is read
##                straight from global memory with indices clamped in range, so edge tiles
##                need no second code path.
##   form "kvec": both A and B are contiguous along K (A @ B.T); accumulators are VW-wide vectors
##                along K, summed lane by lane at the end in a fixed order. A work-item holds
##                MWI x NVEC of them (NVEC = NWI / VW, as in "nvec"), so the register budget
##                of a parameter set is the same in both forms; a group covers MWG x NWG/VW of C.
## K may be split into chunks run one after another (the host loop over KC): ``beta`` set means
## "add to C" for every chunk after the first, which keeps each chunk's panel of B in cache.
## Which strides are 1 is a compile-time flag (a_layout "k"/"m"/"g", b_layout "n"/"k"/"g",
## c_n1) so unit strides become vector loads; bmode says how B reaches the registers ("local":
## staged tile, "vector": vector loads along N, "gather": lane by lane, "panel": vector loads from
## a copy of B packed in zero-padded panels of NWG columns, panel p at b_off + p * sBn, rows
## sBk = NWG apart - contiguous whatever B's leading dimension, which keeps a power-of-two
## one from mapping every row of the panel to the same cache sets). All strides are kernel
## arguments, so transposed and other strided views are read in place. Every output is summed
## in one fixed order: results are deterministic for a given configuration.
## ``epi`` (clgrad.hybrid's fusion; None otherwise): an elementwise op applied to each value of
## C before it is stored, C's value being ``v_``, its other operands ``w0, w1, ...`` (arrays read
## at (m, n) through their own offsets and strides, or scalars), its named subexpressions
## ``u0, u1, ...``; C is then the elementwise op's output (its type and strides). Only for one
## K pass (``beta`` never set); a whole vector of C goes through it as a vector when the
## expression is valid on vectors (``epi.vector``), else lane by lane.
## ``rows`` (clgrad.hybrid's fusion; None otherwise; form "nvec" without local staging, one K
## pass): the row sums of A are also written, RS[rs_off + m * sRS] = sum over k of A[m, k] (a
## reduction of A over K folded into the product, such as a bias gradient beside its weight
## gradient): the work-item holding columns 0.. of its rows adds each value of A it reads.
## ``c2`` (clgrad.hybrid's fusion; None otherwise; one K pass): every final value of C (after
## the epilogue) is also stored to C2 at (m, n) through C2's own offset and strides (a copy of
## C in another layout, such as the transposed copy the next product reads, written here).
${prelude}
% if epi is not None:
${epi.helpers}
% endif
<%
    MWI = MWG // MDIMC
    NWI = NWG // NDIMC
    NVEC = NWI // VW
    WG = MDIMC * NDIMC
    VT = T if VW == 1 else "%s%d" % (T, VW)

    def lane(v, l):
        return v if VW == 1 else "%s.s%x" % (v, l)

    def ld(op, ptr, idx):
        return load(op, ptr, idx)

    def ldv(op, ptr, idx):
        # VW consecutive elements from ptr[idx] (half: converted by vload_halfN, OpenCL 1.2 core)
        if VW == 1:
            return load(op, ptr, idx)
        if op.dtype.name == "float16":
            return "vload_half%d(0, %s + (%s))" % (VW, ptr, idx)
        return vload(T, VW, "%s + (%s)" % (ptr, idx))

    def stv(op, ptr, idx, v):
        if VW == 1:
            return store(op, ptr, idx, v) + ";"
        if op.dtype.name == "float16":
            return "vstore_half%d_rte(%s, 0, %s + (%s));" % (VW, v, ptr, idx)
        return vstore(T, VW, v, "%s + (%s)" % (ptr, idx))

    def put2(m, n, v):
        # the same value to the second output, where there is one
        if c2 is None:
            return ""
        return " %s;" % store(c2, "C2", "c2_off + (%s) * sC2m + (%s) * sC2n" % (m, n), v)

    def put(idx, v, m=None, n=None):
        # store one value of C; with beta set (a later K chunk), add to what is there
        if epi is None:
            return "{ %s v_ = %s; if (beta) v_ += %s; %s;%s }" % (
                T, v, load(c, "C", idx), store(c, "C", idx, "v_"), put2(m, n, "v_"))
        # an epilogue (a fused elementwise op, clgrad.hybrid) on the one K pass there is: its
        # operands read at (m, n), its result stored in the epilogue's output type
        out = ["{", "const %s v_ = %s;" % (T, v)]
        for k, op in enumerate(epi.operands):
            if op.is_array:
                out.append("const %s w%d = %s;" % (op.compute, k, load(
                    op, "E%d" % k, "eo%d + (%s) * se%dm + (%s) * se%dn" % (k, m, k, n, k))))
            else:
                out.append("const %s w%d = es%d;" % (op.compute, k, k))
        for k, (lt, le) in enumerate(epi.lets):
            out.append("const %s u%d = (%s)(%s);" % (lt, k, lt, le))
        out.append("const %s r_ = (%s)(%s);" % (c.compute, c.compute, epi.expr))
        out.append(store(c, "C", idx, "r_") + ";" + put2(m, n, "r_") + " }")
        return " ".join(out)

    def put_epi_vector(i, j):
        # the epilogue on the VW lanes of acc_i_j at row m_i, columns c0 .. c0 + VW - 1: each
        # array operand read as a vector (unit stride along n), one value (stride 0) or lane by
        # lane; C stored as a vector when its stride along n is 1
        m = "m_%d" % i
        out = ["{", "const %s v_ = acc_%d_%d;" % (VT, i, j)]
        for k, op in enumerate(epi.operands):
            if not op.is_array:
                out.append("const %s w%d = (%s)(es%d);" % (VT, k, VT, k))
                continue
            row = "eo%d + %s * se%dm" % (k, m, k)
            cls = epi.nclass[k]
            if cls == "unit":
                v = vload(T, VW, "E%d + %s + c0" % (k, row))
            elif cls == "zero":
                v = "(%s)(E%d[%s])" % (VT, k, row)
            else:
                v = "(%s)(%s)" % (VT, ", ".join("E%d[%s + (c0 + %d) * se%dn]" % (k, row, l, k)
                                               for l in range(VW)))
            out.append("const %s w%d = %s;" % (VT, k, v))
        for k, (lt, le) in enumerate(epi.lets):
            out.append("const %s%d u%d = (%s%d)(%s);" % (lt, VW, k, lt, VW, le))
        out.append("const %s r_ = (%s)(%s);" % (VT, VT, epi.expr))
        if c_n1:
            out.append(vstore(T, VW, "r_", "C + cr + c0"))
        else:
            out += ["C[cr + (c0 + %d) * sCn] = %s;" % (l, lane("r_", l)) for l in range(VW)]
        if c2 is not None:
            out += [put2(m, "(c0 + %d)" % l, lane("r_", l)) for l in range(VW)]
        out.append("}")
        return " ".join(out)

    def putv(idx, v):
        return "{ %s v_ = %s; if (beta) v_ += %s; %s }" % (VT, v, ldv(c, "C", idx),
                                                       stv(c, "C", idx, "v_"))

    whole = "l0 == 0" if bmode == "vector" else "l1 == %d" % VW   # a whole vector of C is ours

    sak = "" if a_layout == "k" else " * sAk"
    sam = "" if a_layout == "m" else " * sAm"
    sbn = "" if b_layout == "n" else " * sBn"
    sbk = "" if b_layout == "k" else " * sBk"

    def step(kidx, sums=False):
        # one k of the register block: MWI values of A, NVEC vectors of B, MWI x NVEC updates
        # (``sums``: each value of A also added to its row's sum)
        out = ["{"]
        for i in range(MWI):
            if SA:
                v = "alm[kk * %d + %d + tm]" % (MWG, i * MDIMC)
            else:
                v = ld(a, "A", "ar_%d + (%s)%s" % (i, kidx, sak))
            out.append("const %s a_%d = %s;" % (T, i, v))
            if sums:
                out.append("rs_%d += a_%d;" % (i, i))
        for j in range(NVEC):
            if bmode == "local":
                if VW == 1:
                    v = "blm[kk * %d + %d + tn]" % (NWG, j * NDIMC)
                else:
                    v = vload(T, VW, "blm + kk * %d + %d + tn * %d" % (NWG, j * NDIMC * VW, VW))
            elif bmode in ("vector", "panel"):
                v = ldv(b, "B", "bo + (%s)%s + bn_%d" % (kidx, sbk, j))
            else:
                v = "(%s)(%s)" % (VT, ", ".join(
                    ld(b, "B", "bo + (%s)%s + min(n_%d + %d, N - 1)%s" % (kidx, sbk, j, l, sbn))
                    for l in range(VW)))
            out.append("const %s b_%d = %s;" % (VT, j, v))
        for i in range(MWI):
            for j in range(NVEC):
                out.append("acc_%d_%d += a_%d * b_%d;" % (i, j, i, j))
        out.append("}")
        return "\n            ".join(out)
%>

__kernel __attribute__((reqd_work_group_size(${NDIMC}, ${MDIMC}, 1)))
void ${name}(
    __global const ${a.ctype} *A, const long a_off, const long sAm, const long sAk,
    __global const ${b.ctype} *B, const long b_off, const long sBk, const long sBn,
    __global ${c.ctype} *C, const long c_off, const long sCm, const long sCn,
    const long M, const long N, const long K, const int beta
% for d in range(bnd):
    , const long bn${d}, const long sAb${d}, const long sBb${d}, const long sCb${d}
% endfor
% if epi is not None:
%   for k, op in enumerate(epi.operands):
%     if op.is_array:
    , __global const ${op.ctype} *E${k}, const long eo${k}, const long se${k}m, const long se${k}n
%     else:
    , const ${op.compute} es${k}
%     endif
%   endfor
% endif
% if rows is not None:
    , __global ${rows.ctype} *RS, const long rs_off, const long sRS
% endif
% if c2 is not None:
    , __global ${c2.ctype} *C2, const long c2_off, const long sC2m, const long sC2n
% endif
    )
{
    const int tn = (int)get_local_id(0);
    const int tm = (int)get_local_id(1);
    const long m0 = (long)get_group_id(0) * ${MWG};
    const long n0 = (long)get_group_id(1) * ${NWG if form == "nvec" else NVEC * NDIMC};
% if bmode == "panel":
    ## sBn is the distance between panels; sBk (= NWG) between rows of a panel
    long ao = a_off, bo = b_off + (long)get_group_id(1) * sBn, co = c_off;
% else:
    long ao = a_off, bo = b_off, co = c_off;
% endif
% if bnd:
    {
        long bi = (long)get_group_id(2);
%   for d in range(bnd - 1, -1, -1):
        { const long q = bi % bn${d}; bi /= bn${d};
          ao += q * sAb${d}; bo += q * sBb${d}; co += q * sCb${d}; }
%   endfor
    }
% endif
% for i in range(MWI):
    const long m_${i} = m0 + ${i * MDIMC} + tm;
% endfor
% if form == "kvec":
## ---------------------------------------------------------------------------- form kvec
%   for i in range(MWI):
    const long ar_${i} = ao + min(m_${i}, M - 1) * sAm;
%   endfor
%   for j in range(NVEC):
    const long n_${j} = n0 + ${j * NDIMC} + tn;
    const long bc_${j} = bo + min(n_${j}, N - 1) * sBn;
%   endfor
%   for i in range(MWI):
%     for j in range(NVEC):
    ${VT} acc_${i}_${j} = (${VT})0;
%     endfor
%   endfor
    long k = 0;
    for (; k + ${KWG} <= K; k += ${KWG}) {
        for (int kk = 0; kk < ${KWG}; kk += ${VW}) {
%   for i in range(MWI):
            const ${VT} a_${i} = ${ldv(a, "A", "ar_%d + k + kk" % i)};
%   endfor
%   for j in range(NVEC):
            const ${VT} b_${j} = ${ldv(b, "B", "bc_%d + k + kk" % j)};
%   endfor
%   for i in range(MWI):
%     for j in range(NVEC):
            acc_${i}_${j} += a_${i} * b_${j};
%     endfor
%   endfor
        }
    }
    for (; k + ${VW} <= K; k += ${VW}) {
%   for i in range(MWI):
        const ${VT} a_${i} = ${ldv(a, "A", "ar_%d + k" % i)};
%   endfor
%   for j in range(NVEC):
        const ${VT} b_${j} = ${ldv(b, "B", "bc_%d + k" % j)};
%   endfor
%   for i in range(MWI):
%     for j in range(NVEC):
        acc_${i}_${j} += a_${i} * b_${j};
%     endfor
%   endfor
    }
%   for i in range(MWI):
%     for j in range(NVEC):
    ${T} s_${i}_${j};
    {
        ${VT} h${VW} = acc_${i}_${j};
<%    w = VW %>
%       while w > 1:
        ${T if w == 2 else "%s%d" % (T, w // 2)} h${w // 2} = h${w}.lo + h${w}.hi;
<%      w //= 2 %>
%       endwhile
        s_${i}_${j} = h1;
    }
%     endfor
%   endfor
    for (; k < K; ++k) {
%   for i in range(MWI):
        const ${T} a_${i} = ${ld(a, "A", "ar_%d + k" % i)};
%   endfor
%   for j in range(NVEC):
        const ${T} b_${j} = ${ld(b, "B", "bc_%d + k" % j)};
%   endfor
%   for i in range(MWI):
%     for j in range(NVEC):
        s_${i}_${j} += a_${i} * b_${j};
%     endfor
%   endfor
    }
%   for i in range(MWI):
    if (m_${i} < M) {
%     for j in range(NVEC):
        if (n_${j} < N) ${put("co + m_%d * sCm + n_%d * sCn" % (i, j), "s_%d_%d" % (i, j),
                              "m_%d" % i, "n_%d" % j)}
%     endfor
    }
%   endfor
% else:
## ---------------------------------------------------------------------------- form nvec
%   if not SA:
%     for i in range(MWI):
    const long ar_${i} = ao + min(m_${i}, M - 1)${sam};
%     endfor
%   endif
%   for j in range(NVEC):
    const long n_${j} = n0 + ${j * NDIMC * VW} + tn * ${VW};
%     if bmode == "vector":
    ## a vector that straddles N is read from N - VW on (N >= VW here): lanes that belong to
    ## columns before n_j are computed but not stored
    const long bn_${j} = min(n_${j}, N - ${VW});
%     elif bmode == "panel":
    ## B packed in panels of NWG columns (zero padded): its column within this group's panel
    const long bn_${j} = ${j * NDIMC * VW} + tn * ${VW};
%     endif
%   endfor
%   for i in range(MWI):
%     for j in range(NVEC):
    ${VT} acc_${i}_${j} = (${VT})0;
%     endfor
%   endfor
%   if SA or SB:
%     if SA:
    __local ${T} alm[${KWG * MWG}];
%     endif
%     if SB:
    __local ${T} blm[${KWG * NWG}];
%     endif
    const int lid = tm * ${NDIMC} + tn;
    for (long k0 = 0; k0 < K; k0 += ${KWG}) {
        const int kt = (int)min((long)${KWG}, K - k0);
        barrier(CLK_LOCAL_MEM_FENCE);
%     if SA:
        for (int idx = lid; idx < ${MWG * KWG}; idx += ${WG}) {
%       if a_layout == "k":
            const int kk = idx % ${KWG}, mm = idx / ${KWG};
%       else:
            const int mm = idx % ${MWG}, kk = idx / ${MWG};
%       endif
            const long gm = m0 + mm;
            alm[kk * ${MWG} + mm] = (gm < M && kk < kt) ?
                ${ld(a, "A", "ao + gm%s + (k0 + kk)%s" % (sam, sak))} : (${T})0;
        }
%     endif
%     if SB:
        for (int idx = lid; idx < ${NWG * KWG}; idx += ${WG}) {
%       if b_layout == "k":
            const int kk = idx % ${KWG}, nn = idx / ${KWG};
%       else:
            const int nn = idx % ${NWG}, kk = idx / ${NWG};
%       endif
            const long gn = n0 + nn;
            blm[kk * ${NWG} + nn] = (gn < N && kk < kt) ?
                ${ld(b, "B", "bo + (k0 + kk)%s + gn%s" % (sbk, sbn))} : (${T})0;
        }
%     endif
        barrier(CLK_LOCAL_MEM_FENCE);
        if (kt == ${KWG}) {
            for (int kk = 0; kk < ${KWG}; ++kk) ${step("k0 + kk")}
        } else {
            for (int kk = 0; kk < kt; ++kk) ${step("k0 + kk")}
        }
    }
%   elif rows is not None:
%     for i in range(MWI):
    ${T} rs_${i} = (${T})0;
%     endfor
    const int sums = get_group_id(1) == 0 && tn == 0;
    if (sums) {
        long k = 0;
        for (; k + ${KWG} <= K; k += ${KWG})
            for (int kk = 0; kk < ${KWG}; ++kk) ${step("k + kk", True)}
        for (; k < K; ++k) ${step("k", True)}
    } else {
        long k = 0;
        for (; k + ${KWG} <= K; k += ${KWG})
            for (int kk = 0; kk < ${KWG}; ++kk) ${step("k + kk")}
        for (; k < K; ++k) ${step("k")}
    }
%   else:
    long k = 0;
    for (; k + ${KWG} <= K; k += ${KWG})
        for (int kk = 0; kk < ${KWG}; ++kk) ${step("k + kk")}
    for (; k < K; ++k) ${step("k")}
%   endif
%   for i in range(MWI):
    if (m_${i} < M) {
        const long cr = co + m_${i} * sCm;
%     for j in range(NVEC):
        {
%       if bmode == "vector":
            ## lanes l0.. hold columns n_j.. (the lanes before belong to other vectors)
            const long c0 = bn_${j};
            const int l0 = (int)(n_${j} - bn_${j}), l1 = ${VW};
%       else:
            const long c0 = n_${j};
            const int l0 = 0, l1 = (int)min((long)${VW}, N - n_${j});
%       endif
%       if c_n1 and epi is None and c2 is None:
            if (${whole}) ${putv("cr + c0", "acc_%d_%d" % (i, j))}
            else
%       elif epi is not None and VW > 1 and epi.vector:
            ## a whole vector through the epilogue on vectors (an expression valid on them)
            if (${whole}) ${put_epi_vector(i, j)}
            else
%       elif epi is not None and VW > 1:
            ## a whole vector: its lanes unrolled, each through the epilogue
            if (${whole}) {
%         for l in range(VW):
                ${put("cr + (c0 + %d) * sCn" % l, lane("acc_%d_%d" % (i, j), l), "m_%d" % i, "(c0 + %d)" % l)}
%         endfor
            } else
%       endif
            {
%       if VW == 1:
                if (l0 < l1) ${put("cr + c0 * sCn", "acc_%d_%d" % (i, j), "m_%d" % i, "c0")}
%       else:
                ## a partial vector goes out lane by lane through a private copy (one loop,
                ## not VW unrolled stores: keeps the source small for every storage type); the
                ## copy is plain assignments, not vstoreN: a builtin called on a wide vector is
                ## what some CPU runtimes get wrong (see runtime/selfcheck.py)
                ${T} part[${VW}];
                ${" ".join("part[%d] = %s;" % (l, lane("acc_%d_%d" % (i, j), l)) for l in range(VW))}
                for (int l = l0; l < l1; ++l) ${put("cr + (c0 + l) * sCn", "part[l]",
                                                    "m_%d" % i, "(c0 + l)")}
%       endif
            }
        }
%     endfor
    }
%   endfor
%   if rows is not None:
    if (sums) {
%     for i in range(MWI):
        if (m_${i} < M) ${store(rows, "RS", "rs_off + m_%d * sRS" % i, "rs_%d" % i)};
%     endfor
    }
%   endif
% endif
}
