## Several contiguous copies in one launch (ops.core.assign_many: the gradients backward writes
## into the variables' .grad). Copy k takes the work-items [c_k, c_{k+1}) (c_P = total); its
## work-item r copies the elements r, r + R_k, r + 2 R_k, ... (R_k its number of work-items), so
## that neighbouring work-items touch neighbouring elements on every device. Elements are copied
## as words of their size (${W}): a copy, never a conversion.
${prelude}

__kernel void ${name}(
% for k in range(P):
    __global ${W} *d${k}, const long do${k}, __global const ${W} *s${k}, const long so${k},
    const long n${k}, const long c${k},
% endfor
    const long total)
{
    const long w = (long)get_global_id(0);
    if (w >= total) return;
% for k in range(P - 1, -1, -1):
    if (w >= c${k}) {
        const long r = w - c${k};
% if chunk:
        const long e = min(n${k}, (r + 1) * ${chunk});
        for (long i = r * ${chunk}; i < e; ++i)
            d${k}[do${k} + i] = s${k}[so${k} + i];
% else:
        const long R = ${"total" if k == P - 1 else "c%d" % (k + 1)} - c${k};
        for (long i = r; i < n${k}; i += R)
            d${k}[do${k} + i] = s${k}[so${k} + i];
% endif
        return;
    }
% endfor
}
