/* Complex arithmetic on (re, im) two-lane vectors: float2 holds complex64, double2 complex128.
 * CLGRAD_DEFINE_COMPLEX(C, R) defines the helpers for the vector type C with parts of type R;
 * the formulas are NumPy's, so special values (inf, NaN, signed zeros) come out as NumPy's do.
 * Contraction into fma is off so that products round as NumPy's do. */
#pragma OPENCL FP_CONTRACT OFF

#define CLGRAD_DEFINE_COMPLEX(C, R)                                                          \
inline C cmul_##C(const C a, const C b)                                                     \
{                                                                                           \
    return (C)(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);                               \
}                                                                                           \
/* Smith's algorithm: scale by the larger part of b, so |b|^2 never overflows */            \
inline C cdiv_##C(const C a, const C b)                                                     \
{                                                                                           \
    const R br = fabs(b.x), bi = fabs(b.y);                                                 \
    if (br >= bi) {                                                                         \
        if (br == (R)0 && bi == (R)0)                                                       \
            return (C)(a.x / br, a.y / br);     /* complex inf or NaN, as NumPy */          \
        const R rat = b.y / b.x;                                                            \
        const R scl = (R)1 / (b.x + b.y * rat);                                             \
        return (C)((a.x + a.y * rat) * scl, (a.y - a.x * rat) * scl);                       \
    }                                                                                       \
    const R rat = b.x / b.y;                                                                \
    const R scl = (R)1 / (b.y + b.x * rat);                                                 \
    return (C)((a.x * rat + a.y) * scl, (a.y * rat - a.x) * scl);                           \
}                                                                                           \
/* hypot: no overflow for large parts, inf when either part is inf (even with a NaN) */     \
inline R cabs_##C(const C a) { return hypot(a.x, a.y); }                                    \
inline C conj_##C(const C a) { return (C)(a.x, -a.y); }                                     \
inline int ceq_##C(const C a, const C b) { return a.x == b.x && a.y == b.y; }
