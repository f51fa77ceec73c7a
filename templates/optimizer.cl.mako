## Optimizer updates (MXNet 2.x rules): one kernel family for every optimizer clgrad ships.
## A work-group updates one chunk of CHUNK elements of one parameter: ``chunks`` maps group c to
## (parameter p, chunk j of p); the parameter's element offset, length and scalars (lr, wd and
## the bias-correction terms c1, c2, four per parameter) come from small tables. So one launch
## updates every parameter packed in the same buffers (CUDA's multi_tensor_apply); an array that
## is not packed is a table of one parameter. Every operand X is read at ``oX + p_off[p] + e``:
## ``oX`` shifts a whole buffer, so operands packed at the same relative layout share the table.
## The gradient is rescaled then clipped (``clip`` < 0: no clipping) inside the kernel. With a
## master copy (``master``: float32 weights of float16 parameters) the rule runs on the master
## and the float16 weight is written from it in the same pass.
## Rules: sgd, sgd_mom, nag_mom, adam, adamw, rmsprop, rmspropalex, adagrad, and lamb in three
## kernels: phase1 updates the moments and sums w*w and u*u per chunk (``partials``), norms sums
## each parameter's chunks, phase2 recomputes u from the stored moments and applies the trust
## ratio. ``wg`` lanes stride over a chunk (``wg`` 1: one work-item walks it in order).
## The operands never overlap (``fused`` checks): ``restrict`` lets CPU compilers vectorise.
## FP_CONTRACT OFF: no contraction into fused multiply-adds, so every device (and the packed and
## the one-parameter launches) rounds the same expressions the same way.
<%
    C = ctype
    def ld(i):
        return load(states[i], "s%d" % i, "os%d + e" % i)
    def st(i, v):
        return store(states[i], "s%d" % i, "os%d + e" % i, v)
%>\
${prelude}
#pragma OPENCL FP_CONTRACT OFF
#define CHUNK ${chunk}
#define WG ${wg}

<%def name="operands()">\
    __global ${w.ctype} * restrict w, const long ow,
    __global const ${g.ctype} * restrict gr, const long og,
% if master:
    __global float * restrict wm, const long om,
% endif
% for i, s in enumerate(states):
    __global ${s.ctype} * restrict s${i}, const long os${i},
% endfor
    __global const long *p_off, __global const long *p_len,
    __global const ${C} *p_scal, __global const int *chunks,
</%def>\
<%def name="scalars()">\
    const ${C} rescale, const ${C} clip\
% for h in hypers:
, const ${C} ${h}\
% endfor
</%def>\
<%def name="locate()">\
    const int c = (int)get_group_id(0);
    const int lid = (int)get_local_id(0);
    const int p = chunks[2 * c];
    const long start = (long)chunks[2 * c + 1] * CHUNK;
    const long end = min(p_len[p], start + CHUNK);
    const long base = p_off[p];
    const ${C} lr = p_scal[4 * p], wd = p_scal[4 * p + 1];
    const ${C} c1 = p_scal[4 * p + 2], c2 = p_scal[4 * p + 3];
</%def>\
<%def name="grad_and_weight()">\
% if master:
        const ${C} wv = (${C})wm[om + e];
% else:
        const ${C} wv = ${load(w, "w", "ow + e")};
% endif
        ${C} gv = ${load(g, "gr", "og + e")} * rescale;
        if (clip >= (${C})0)
            gv = gv > clip ? clip : (gv < -clip ? -clip : gv);
</%def>\
<%def name="write_weight(value)">\
% if master:
        wm[om + e] = (float)(${value});
% endif
        ${store(w, "w", "ow + e", value)};
</%def>\
<%def name="reduce_pair(a, b)">\
    /* a tree over the group's lanes in red_a, red_b: every lane reaches every barrier */
    red_a[lid] = ${a};
    red_b[lid] = ${b};
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = WG / 2; s > 0; s >>= 1) {
        if (lid < s) {
            red_a[lid] += red_a[lid + s];
            red_b[lid] += red_b[lid + s];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
</%def>\
% if rule != "lamb":
__kernel void ${name}(
${operands()}\
${scalars()})
{
${locate()}\
    for (long e = base + start + lid; e < base + end; e += WG) {
${grad_and_weight()}\
%   if rule == "sgd":
        gv += wd * wv;
        const ${C} wn = wv - lr * gv;
%   elif rule == "sgd_mom":
        gv += wd * wv;
        const ${C} m = momentum * ${ld(0)} - lr * gv;
        ${st(0, "m")};
        const ${C} wn = wv + m;
%   elif rule == "nag_mom":
        gv += wd * wv;
        const ${C} m = momentum * ${ld(0)} - lr * gv;
        ${st(0, "m")};
        const ${C} wn = wv + momentum * m - lr * gv;
%   elif rule == "adam":
        gv += wd * wv;
        const ${C} m = beta1 * ${ld(0)} + ((${C})1 - beta1) * gv;
        const ${C} v = beta2 * ${ld(1)} + ((${C})1 - beta2) * gv * gv;
        ${st(0, "m")};
        ${st(1, "v")};
        const ${C} wn = wv - lr * m / (sqrt(v) + epsilon);
%   elif rule == "adamw":
        const ${C} m = beta1 * ${ld(0)} + ((${C})1 - beta1) * gv;
        const ${C} v = beta2 * ${ld(1)} + ((${C})1 - beta2) * gv * gv;
        ${st(0, "m")};
        ${st(1, "v")};
        const ${C} wn = wv - lr * (m / (sqrt(v) + epsilon) + wd * wv);
%   elif rule == "rmsprop":
        gv += wd * wv;
        const ${C} n = ((${C})1 - rho) * gv * gv + rho * ${ld(0)};
        ${st(0, "n")};
        ${C} wn = wv - lr * gv / (sqrt(n) + epsilon);
        if (clip_weights >= (${C})0)
            wn = wn > clip_weights ? clip_weights : (wn < -clip_weights ? -clip_weights : wn);
%   elif rule == "rmspropalex":
        gv += wd * wv;
        const ${C} n = ((${C})1 - rho) * gv * gv + rho * ${ld(0)};
        const ${C} gm = ((${C})1 - rho) * gv + rho * ${ld(1)};
        const ${C} d = momentum * ${ld(2)} - lr * gv / sqrt(n - gm * gm + epsilon);
        ${st(0, "n")};
        ${st(1, "gm")};
        ${st(2, "d")};
        ${C} wn = wv + d;
        if (clip_weights >= (${C})0)
            wn = wn > clip_weights ? clip_weights : (wn < -clip_weights ? -clip_weights : wn);
%   elif rule == "adagrad":
        gv += wd * wv;
        const ${C} h = ${ld(0)} + gv * gv;
        ${st(0, "h")};
        const ${C} wn = wv - lr * gv / (sqrt(h) + epsilon);
%   endif
${write_weight("wn")}\
    }
}
% else:
__kernel void ${name}_phase1(
${operands()}\
    __global ${C} *partials,
${scalars()})
{
    __local ${C} red_a[WG], red_b[WG];
${locate()}\
    ${C} sw = (${C})0, su = (${C})0;
    for (long e = base + start + lid; e < base + end; e += WG) {
${grad_and_weight()}\
        const ${C} m = beta1 * ${ld(0)} + ((${C})1 - beta1) * gv;
        const ${C} v = beta2 * ${ld(1)} + ((${C})1 - beta2) * gv * gv;
        ${st(0, "m")};
        ${st(1, "v")};
        const ${C} u = (m / c1) / (sqrt(v / c2) + epsilon) + wd * wv;
        sw += wv * wv;
        su += u * u;
    }
${reduce_pair("sw", "su")}\
    if (lid == 0) {
        partials[2 * c] = red_a[0];
        partials[2 * c + 1] = red_b[0];
    }
}

/* group p: the sums of squares of parameter p's weight and update over its chunks */
__kernel void ${name}_norms(__global const ${C} *partials, __global const int *p_chunk,
                            __global ${C} *norms)
{
    __local ${C} red_a[WG], red_b[WG];
    const int p = (int)get_group_id(0);
    const int lid = (int)get_local_id(0);
    ${C} sw = (${C})0, su = (${C})0;
    for (int c = p_chunk[p] + lid; c < p_chunk[p + 1]; c += WG) {
        sw += partials[2 * c];
        su += partials[2 * c + 1];
    }
${reduce_pair("sw", "su")}\
    if (lid == 0) {
        norms[2 * p] = red_a[0];
        norms[2 * p + 1] = red_b[0];
    }
}

__kernel void ${name}_phase2(
${operands()}\
    __global const ${C} *norms,
${scalars()})
{
${locate()}\
    ${C} r1 = sqrt(norms[2 * p]);
    const ${C} r2 = sqrt(norms[2 * p + 1]);
    if (lower_bound >= (${C})0)
        r1 = r1 < lower_bound ? lower_bound : r1;
    if (upper_bound >= (${C})0)
        r1 = r1 > upper_bound ? upper_bound : r1;
    const ${C} lr_t = lr * ((r1 == (${C})0 || r2 == (${C})0) ? (${C})1 : r1 / r2);
    for (long e = base + start + lid; e < base + end; e += WG) {
% if master:
        const ${C} wv = (${C})wm[om + e];
% else:
        const ${C} wv = ${load(w, "w", "ow + e")};
% endif
        const ${C} u = (${ld(0)} / c1) / (sqrt(${ld(1)} / c2) + epsilon) + wd * wv;
        const ${C} wn = wv - lr_t * u;
${write_weight("wn")}\
    }
}
% endif
