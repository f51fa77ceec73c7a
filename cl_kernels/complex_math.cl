/* Complex elementary functions on (re, im) two-lane vectors, after FreeBSD msun (s_cexp.c,
 * s_csqrt.c, s_ccosh.c, s_csinh.c, s_ctanh.c, catrig.c; catrig follows Hull, Fairgrieve and Tang,
 * ACM TOMS 23(3), 1997) and C99 Annex G, with the special values of the Array API standard.
 *
 * Instantiated by defining CM_C (float2 or double2) and CM_R (float or double) before this text,
 * after complex.cl's CLGRAD_DEFINE_COMPLEX(CM_C, CM_R): it defines cexp_float2, clog_double2, ...
 * Per-type constants are macros named CM_<NAME>_<R>, so the float instantiation never names a
 * double. Contraction into fma is off: the error-free transformations below rely on it. */
#pragma OPENCL FP_CONTRACT OFF

#define CM_CAT2(a, b) a##_##b
#define CM_CAT(a, b) CM_CAT2(a, b)
#define CM_(name) CM_CAT(name, CM_C)            /* cexp -> cexp_float2 */
#define CM_K(name) CM_CAT(CM_##name, CM_R)      /* EPS -> CM_EPS_float */
#define CM_L(v) CM_CAT(CM_LIT, CM_R)(v)          /* a literal of type R: 0.5f or 0.5 */
#define CM_LIT_float(v) v##f
#define CM_LIT_double(v) v
#define CM_INF ((CM_R)INFINITY)
#define CM_NAN ((CM_R)NAN)

#define CM_EPS_float 0x1p-23f
#define CM_EPS_double 0x1p-52
#define CM_RECIP_EPS_float 0x1p23f
#define CM_RECIP_EPS_double 0x1p52
#define CM_MAX_float 0x1.fffffep127f
#define CM_MAX_double 0x1.fffffffffffffp1023
#define CM_MIN_float 0x1p-126f                  /* the smallest normal number */
#define CM_MIN_double 0x1p-1022
#define CM_MAXLOG_float 88.0f                   /* exp(x) is finite up to here */
#define CM_MAXLOG_double 709.0
#define CM_BIG_float 9.0f                       /* cosh(x) == sinh(x) == exp(x)/2 beyond */
#define CM_BIG_double 22.0
#define CM_UP_float 0x1p24f                     /* scales subnormal arguments up ... */
#define CM_UP_double 0x1p54
#define CM_LOG_UP_float 16.635532333438686f     /* ... log(UP) */
#define CM_LOG_UP_double 37.42994775023705
#define CM_SQRT_UP_float 0x1p12f                /* ... sqrt(UP) */
#define CM_SQRT_UP_double 0x1p27
#define CM_LN2_float 0.6931471805599453f
#define CM_LN2_double 0.6931471805599453
#define CM_LOG2E_float 1.4426950408889634f
#define CM_LOG2E_double 1.4426950408889634
#define CM_LOG10E_float 0.43429448190325176f
#define CM_LOG10E_double 0.43429448190325176
#define CM_PI_2_float 1.5707963267948966f
#define CM_PI_2_double 1.5707963267948966
#define CM_PIO2_HI_float 1.5707962513e0f        /* pi/2 = PIO2_HI + PIO2_LO */
#define CM_PIO2_HI_double 1.5707963267948966
#define CM_PIO2_LO_float 7.5497894159e-8f
#define CM_PIO2_LO_double 6.1232339957367659e-17
/* catrig.c's thresholds: 4 sqrt(MIN), sqrt(MAX) / 4, sqrt(MIN), sqrt(3 EPS), sqrt(6 EPS) */
#define CM_FOUR_SQRT_MIN_float 0x1p-61f
#define CM_FOUR_SQRT_MIN_double 0x1p-509
#define CM_QUARTER_SQRT_MAX_float 0x1p61f
#define CM_QUARTER_SQRT_MAX_double 0x1p509
#define CM_SQRT_MIN_float 0x1p-63f
#define CM_SQRT_MIN_double 0x1p-511
#define CM_SQRT_3_EPS_float 5.9801995673e-4f
#define CM_SQRT_3_EPS_double 2.5809568279517849e-8
#define CM_SQRT_6_EPS_float 8.4572793338e-4f
#define CM_SQRT_6_EPS_double 3.6500241499888571e-8

/* --- real helpers ---------------------------------------------------------------------------- */

/* exp(x) * m, also where exp(x) alone overflows but the product does not */
static CM_R CM_(cm_expmul)(CM_R x, CM_R m)
{
    if (x <= CM_K(MAXLOG))
        return exp(x) * m;
    const CM_R h = exp(x * CM_L(0.5));
    return h * m * h;
}

/* c + a*a + b*b with the products and sums kept exact (fma, two-sum) until the last rounding:
 * |z|^2 - 1 near the unit circle, where the plain sum cancels */
static CM_R CM_(cm_sum_sq)(CM_R c, CM_R a, CM_R b)
{
    const CM_R p = a * a, pe = fma(a, a, -p);
    const CM_R q = b * b, qe = fma(b, b, -q);
    const CM_R s1 = c + p, v1 = s1 - c, e1 = (c - (s1 - v1)) + (p - v1);
    const CM_R s2 = s1 + q, v2 = s2 - s1, e2 = (s1 - (s2 - v2)) + (q - v2);
    return s2 + (e1 + e2 + pe + qe);
}

/* log|x + iy| (x, y not NaN): no overflow or underflow in |z|, log1p near |z| = 1 */
static CM_R CM_(cm_logabs)(CM_R x, CM_R y)
{
    CM_R ax = fabs(x), ay = fabs(y);
    if (ax < ay) { const CM_R t = ax; ax = ay; ay = t; }
    if (ax > CM_K(MAX) * CM_L(0.5))
        return log(hypot(ax * CM_L(0.25), ay * CM_L(0.25))) + 2 * CM_K(LN2);
    if (ax < CM_K(MIN))     /* subnormal: hypot would lose bits */
        return log(hypot(ax * CM_K(UP), ay * CM_K(UP))) - CM_K(LOG_UP);
    const CM_R h = hypot(ax, ay);
    if (h > CM_L(0.7) && h < CM_L(1.4))
        return CM_L(0.5) * log1p(CM_(cm_sum_sq)((CM_R)-1, ax, ay));
    return log(h);
}

/* --- exp, log, sqrt and friends ------------------------------------------------------------- */

static CM_C CM_(cexp)(CM_C z)
{
    const CM_R x = z.x, y = z.y;
    if (y == 0)                     /* exp(x + 0i) = exp(x) + 0i, also for x = inf, NaN */
        return (CM_C)(exp(x), y);
    if (!isfinite(y)) {             /* y = inf or NaN */
        if (isinf(x) && x < 0)
            return (CM_C)(0, 0);
        return (CM_C)(isinf(x) ? x : CM_NAN, CM_NAN);
    }
    CM_R c;
    const CM_R s = sincos(y, &c);
    return (CM_C)(CM_(cm_expmul)(x, c), CM_(cm_expmul)(x, s));
}

/* exp(z) - 1 = (expm1(x) cos(y) - 2 sin^2(y/2)) + i exp(x) sin(y): accurate for small |z| */
static CM_C CM_(cexpm1)(CM_C z)
{
    const CM_R x = z.x, y = z.y;
    if (y == 0)                     /* the standard: +-0 + 0i gives +0 + 0i */
        return (CM_C)(x == 0 ? (CM_R)0 : expm1(x), y);
    if (isinf(x) && !isfinite(y))
        return x > 0 ? (CM_C)(x, CM_NAN) : (CM_C)(-1, copysign((CM_R)0, y));
    CM_R c;
    const CM_R s = sincos(y, &c);
    if (x < -1) {                   /* |exp(z)| < 1/e: nothing cancels (and -inf gives -1) */
        const CM_R e = exp(x);
        return (CM_C)(e * c - 1, e * s);
    }
    const CM_R h = sin(y * CM_L(0.5));
    const CM_R re = x > CM_K(MAXLOG) ? CM_(cm_expmul)(x, c) : expm1(x) * c - 2 * h * h;
    return (CM_C)(re, CM_(cm_expmul)(x, s));
}

static CM_C CM_(clog)(CM_C z)
{
    const CM_R x = z.x, y = z.y;
    if (isinf(x) || isinf(y))
        return (CM_C)(CM_INF, atan2(y, x));
    if (isnan(x) || isnan(y))
        return (CM_C)(CM_NAN, CM_NAN);
    return (CM_C)(CM_(cm_logabs)(x, y), atan2(y, x));
}

static CM_C CM_(clog2)(CM_C z) { return CM_(clog)(z) * CM_K(LOG2E); }
static CM_C CM_(clog10)(CM_C z) { return CM_(clog)(z) * CM_K(LOG10E); }

/* log(1 + z); near 0, log|1 + z| = log1p(2x + x^2 + y^2) / 2 keeps the digits 1 + x drops */
static CM_C CM_(clog1p)(CM_C z)
{
    const CM_R x = z.x, y = z.y;
    if (!isfinite(x) || !isfinite(y))
        return CM_(clog)((CM_C)(x + 1, y));
    const CM_R u = 1 + x;           /* exact where it matters: -3 <= x <= -0.5 (Sterbenz) */
    if (fabs(x) < 1 && fabs(y) < 1) {
        const CM_R t = CM_(cm_sum_sq)(2 * x, x, y);
        if (t > -CM_L(0.5))        /* not near z = -1, where t would cancel */
            return (CM_C)(CM_L(0.5) * log1p(t), atan2(y, u));
    }
    return (CM_C)(CM_(cm_logabs)(u, y), atan2(y, u));
}

/* Algorithm 312 (CACM 10, 1967), scaled against overflow of a + |z| and subnormal |z| */
static CM_C CM_(csqrt)(CM_C z)
{
    CM_R a = z.x, b = z.y;
    if (a == 0 && b == 0)
        return (CM_C)(0, b);
    if (isinf(b))
        return (CM_C)(CM_INF, b);
    if (isnan(a))
        return (CM_C)(CM_NAN, CM_NAN);
    if (isinf(a)) {                 /* sqrt(-inf + iy) = 0 + i inf, sqrt(inf + iy) = inf + 0i */
        const CM_R zero_or_nan = isnan(b) ? b : 0;
        return a < 0 ? (CM_C)(zero_or_nan, copysign(a, b)) : (CM_C)(a, copysign(zero_or_nan, b));
    }
    if (isnan(b))
        return (CM_C)(CM_NAN, CM_NAN);
    const CM_R m = fmax(fabs(a), fabs(b));
    CM_R scale = 1;
    if (m > CM_K(MAX) * CM_L(0.25)) {
        a *= CM_L(0.25); b *= CM_L(0.25); scale = 2;
    } else if (m < 4 * CM_K(MIN)) {
        a *= CM_K(UP); b *= CM_K(UP); scale = 1 / CM_K(SQRT_UP);
    }
    const CM_R t = sqrt((fabs(a) + hypot(a, b)) * CM_L(0.5));
    const CM_R u = fabs(b) / (2 * t);
    /* the larger root part is t; the other follows from 2 Re Im = b without cancellation */
    return a >= 0 ? (CM_C)(t, copysign(u, b)) * scale : (CM_C)(u, copysign(t, b)) * scale;
}

/* as NumPy's reciprocal: Smith's division of 1 by z */
static CM_C CM_(crecip)(CM_C z)
{
    if (fabs(z.y) <= fabs(z.x)) {
        const CM_R r = z.y / z.x, d = z.x + z.y * r;
        return (CM_C)(1 / d, -r / d);
    }
    const CM_R r = z.x / z.y, d = z.x * r + z.y;
    return (CM_C)(r / d, -1 / d);
}

/* z / |z| (0 for 0, NaN for a NaN part); |z| scaled where it over- or underflows */
static CM_C CM_(csign)(CM_C z)
{
    CM_R x = z.x, y = z.y;
    if (isnan(x) || isnan(y))
        return (CM_C)(CM_NAN, CM_NAN);
    if (x == 0 && y == 0)
        return (CM_C)(0, 0);
    if (isinf(x) || isinf(y)) {     /* as NumPy: the direction of the infinite part */
        if (isinf(x) && isinf(y))
            return (CM_C)(CM_NAN, CM_NAN);
        return isinf(x) ? (CM_C)(copysign((CM_R)1, x), 0) : (CM_C)(0, copysign((CM_R)1, y));
    }
    CM_R h = hypot(x, y);
    if (isinf(h) || h < CM_K(MIN)) {
        const CM_R s = ldexp((CM_R)1, -ilogb(fmax(fabs(x), fabs(y))));
        x *= s; y *= s;
        h = hypot(x, y);
    }
    return (CM_C)(x / h, y / h);
}

/* z * z with the real part as (x - y)(x + y): no cancellation, no spurious overflow of x^2 - y^2
 * (the + 0 keeps x * x's +0 where the product is -0) */
static CM_C CM_(csquare)(CM_C z)
{
    return (CM_C)((z.x - z.y) * (z.x + z.y) + 0, 2 * (z.x * z.y));
}

/* as NumPy: 1 for a zero exponent, 0 (Re b > 0) or NaN for a zero base, small integer powers by
 * repeated multiplication (exact for Gaussian integers), else exp(b log(a)) */
static CM_C CM_(cpow)(CM_C a, CM_C b)
{
    if (b.x == 0 && b.y == 0)
        return (CM_C)(1, 0);
    if (a.x == 0 && a.y == 0)
        return b.x > 0 ? (CM_C)(0, 0) : (CM_C)(CM_NAN, CM_NAN);
    if (b.y == 0 && fabs(b.x) < 100 && b.x == trunc(b.x)) {
        const int n = (int)b.x;
        if (n == 1)
            return a;
        if (n == 2)
            return CM_(cmul)(a, a);
        if (n == 3)
            return CM_(cmul)(a, CM_(cmul)(a, a));
        int k = abs(n);
        CM_C r = (CM_C)(1, 0), p = a;
        while (1) {                 /* binary powering, in NumPy's order */
            if (k & 1)
                r = CM_(cmul)(r, p);
            k >>= 1;
            if (k == 0)
                break;
            p = CM_(cmul)(p, p);
        }
        return n < 0 ? CM_(cdiv)((CM_C)(1, 0), r) : r;
    }
    return CM_(cexp)(CM_(cmul)(b, CM_(clog)(a)));
}

/* --- hyperbolic and trigonometric functions ------------------------------------------------- */

static CM_C CM_(csinh)(CM_C z)
{
    const CM_R x = z.x, y = z.y, ax = fabs(x);
    if (isfinite(x) && isfinite(y)) {
        if (y == 0)
            return (CM_C)(sinh(x), y);
        CM_R c;
        const CM_R s = sincos(y, &c);
        if (ax < CM_K(BIG))
            return (CM_C)(sinh(x) * c, cosh(x) * s);
        /* sinh(x) = sign(x) cosh(x) = sign(x) exp(|x|) / 2, scaled against overflow */
        return (CM_C)(copysign((CM_R)1, x) * CM_(cm_expmul)(ax, CM_L(0.5) * c),
                      CM_(cm_expmul)(ax, CM_L(0.5) * s));
    }
    if (x == 0)                     /* y = inf or NaN */
        return (CM_C)(x, CM_NAN);
    if (y == 0)                     /* x = inf or NaN */
        return (CM_C)(x, y);
    if (isfinite(x) || isnan(x))
        return (CM_C)(CM_NAN, CM_NAN);
    /* x = +-inf */
    return isfinite(y) ? (CM_C)(x * cos(y), CM_INF * sin(y)) : (CM_C)(x, CM_NAN);
}

static CM_C CM_(ccosh)(CM_C z)
{
    const CM_R x = z.x, y = z.y, ax = fabs(x);
    if (isfinite(x) && isfinite(y)) {
        if (y == 0)
            return (CM_C)(cosh(x), x * y);
        CM_R c;
        const CM_R s = sincos(y, &c);
        if (ax < CM_K(BIG))
            return (CM_C)(cosh(x) * c, sinh(x) * s);
        return (CM_C)(CM_(cm_expmul)(ax, CM_L(0.5) * c),
                      copysign((CM_R)1, x) * CM_(cm_expmul)(ax, CM_L(0.5) * s));
    }
    if (x == 0)                     /* y = inf or NaN: the zero's sign is the signs' product */
        return (CM_C)(CM_NAN, x * copysign((CM_R)0, y));
    if (y == 0)                     /* x = inf or NaN */
        return (CM_C)(x * x, copysign((CM_R)0, x) * y);
    if (isfinite(x) || isnan(x))
        return (CM_C)(CM_NAN, CM_NAN);
    /* x = +-inf */
    return isfinite(y) ? (CM_C)(CM_INF * cos(y), x * sin(y)) : (CM_C)(CM_INF, CM_NAN);
}

static CM_C CM_(ctanh)(CM_C z)
{
    const CM_R x = z.x, y = z.y, ax = fabs(x);
    if (isnan(x))
        return (CM_C)(x, y == 0 ? y : CM_NAN);
    if (isinf(x))                   /* the standard: +-1 + 0i with the sign of y */
        return (CM_C)(copysign((CM_R)1, x), copysign((CM_R)0, y));
    if (!isfinite(y))
        return (CM_C)(x == 0 ? x : CM_NAN, CM_NAN);
    if (ax >= CM_K(BIG)) {          /* tanh = +-1 + i 4 sin(y) cos(y) exp(-2|x|), no overflow */
        const CM_R e = exp(-ax);
        return (CM_C)(copysign((CM_R)1, x), 4 * sin(y) * cos(y) * e * e);
    }
    /* Kahan: t = tan(y), beta = 1/cos^2(y), s = sinh(x), rho = cosh(x) */
    const CM_R t = tan(y), beta = 1 + t * t, s = sinh(x), rho = sqrt(1 + s * s);
    const CM_R d = 1 + beta * s * s;
    return (CM_C)((beta * rho * s) / d, t / d);
}

/* sin(z) = -i sinh(iz), cos(z) = cosh(iz), tan(z) = -i tanh(iz), as the standard defines them */
static CM_C CM_(csin)(CM_C z)
{
    const CM_C w = CM_(csinh)((CM_C)(-z.y, z.x));
    return (CM_C)(w.y, -w.x);
}

static CM_C CM_(ccos)(CM_C z) { return CM_(ccosh)((CM_C)(-z.y, z.x)); }

static CM_C CM_(ctan)(CM_C z)
{
    const CM_C w = CM_(ctanh)((CM_C)(-z.y, z.x));
    return (CM_C)(w.y, -w.x);
}

/* --- inverse functions (catrig.c) ----------------------------------------------------------- */

/* (hypot(a, b) - b) / 2 without cancellation; h = hypot(a, b) */
static CM_R CM_(cm_f)(CM_R a, CM_R b, CM_R h)
{
    if (b < 0)
        return (h - b) / 2;
    if (b == 0)
        return a / 2;
    return a * a / (h + b) / 2;
}

/* Hull et al. for x, y >= 0 below 1/EPS: returns Re(casinh(x + iy)); *B_ok says whether
 * Im = asin(*B), else Im = atan2(*new_y, *sqrt_A2my2) (rescaled against underflow).
 * A = (|z + i| + |z - i|) / 2, B = y / A. */
static CM_R CM_(cm_hard)(CM_R x, CM_R y, int *B_ok, CM_R *B, CM_R *sqrt_A2my2, CM_R *new_y)
{
    const CM_R eps = CM_K(EPS);
    const CM_R R = hypot(x, y + 1), S = hypot(x, y - 1);
    const CM_R A = fmax((R + S) / 2, (CM_R)1);     /* A >= 1, also after rounding */
    CM_R rx;
    if (A < 10) {                   /* log(A + sqrt(A^2 - 1)) = log1p(Am1 + sqrt(Am1 (A + 1))) */
        if (y == 1 && x < eps * eps / 128)
            rx = sqrt(x);
        else if (x >= eps * fabs(y - 1)) {
            const CM_R Am1 = CM_(cm_f)(x, 1 + y, R) + CM_(cm_f)(x, 1 - y, S);
            rx = log1p(Am1 + sqrt(Am1 * (A + 1)));
        } else if (y < 1)
            rx = x / sqrt((1 - y) * (1 + y));
        else
            rx = log1p((y - 1) + sqrt((y - 1) * (y + 1)));
    } else
        rx = log(A + sqrt(A * A - 1));

    *new_y = y;
    if (y < CM_K(FOUR_SQRT_MIN)) {  /* y / A could underflow */
        *B_ok = 0;
        *sqrt_A2my2 = A * (2 / eps);
        *new_y = y * (2 / eps);
        return rx;
    }
    *B = y / A;
    *B_ok = 1;
    if (*B > CM_L(0.6417)) {        /* asin(B) near pi/2: atan2(y, sqrt(A^2 - y^2)) instead */
        *B_ok = 0;
        if (y == 1 && x < eps / 128)
            *sqrt_A2my2 = sqrt(x) * sqrt((A + y) / 2);
        else if (x >= eps * fabs(y - 1)) {
            const CM_R Amy = CM_(cm_f)(x, y + 1, R) + CM_(cm_f)(x, y - 1, S);
            *sqrt_A2my2 = sqrt(Amy * (A + y));
        } else if (y > 1) {
            *sqrt_A2my2 = x * (4 / eps / eps) * y / sqrt((y + 1) * (y - 1));
            *new_y = y * (4 / eps / eps);
        } else
            *sqrt_A2my2 = sqrt((1 - y) * (1 + y));
    }
    return rx;
}

static CM_C CM_(casinh)(CM_C z)
{
    const CM_R x = z.x, y = z.y, ax = fabs(x), ay = fabs(y);
    if (isnan(x) || isnan(y)) {
        if (isinf(x))
            return (CM_C)(x, CM_NAN);
        if (isinf(y))
            return (CM_C)(y, CM_NAN);
        return (CM_C)(CM_NAN, y == 0 ? y : CM_NAN);
    }
    if (ax > CM_K(RECIP_EPS) || ay > CM_K(RECIP_EPS)) {  /* asinh(z) = log(2|z|) for large z */
        const CM_R re = CM_(cm_logabs)(ax, ay) + CM_K(LN2);
        return (CM_C)(copysign(re, x), copysign(atan2(ay, ax), y));
    }
    if (ax < CM_K(SQRT_6_EPS) / 4 && ay < CM_K(SQRT_6_EPS) / 4)
        return z;                   /* asinh(z) = z + O(z^3) */
    int B_ok;
    CM_R B, sqrt_A2my2, new_y;
    const CM_R rx = CM_(cm_hard)(ax, ay, &B_ok, &B, &sqrt_A2my2, &new_y);
    const CM_R ry = B_ok ? asin(B) : atan2(new_y, sqrt_A2my2);
    return (CM_C)(copysign(rx, x), copysign(ry, y));
}

static CM_C CM_(casin)(CM_C z)      /* -i asinh(iz) */
{
    const CM_C w = CM_(casinh)((CM_C)(-z.y, z.x));
    return (CM_C)(w.y, -w.x);
}

/* acos(z) = pi/2 - asin(z), computed directly so that it stays accurate near z = 1 */
static CM_C CM_(cacos)(CM_C z)
{
    const CM_R x = z.x, y = z.y, ax = fabs(x), ay = fabs(y);
    const int sx = signbit(x), sy = signbit(y);
    if (isnan(x) || isnan(y)) {
        if (isinf(x))
            return (CM_C)(CM_NAN, -CM_INF);
        if (isinf(y))
            return (CM_C)(CM_NAN, -y);
        if (x == 0)
            return (CM_C)(CM_K(PI_2), CM_NAN);
        return (CM_C)(CM_NAN, CM_NAN);
    }
    if (ax > CM_K(RECIP_EPS) || ay > CM_K(RECIP_EPS)) {  /* acos(z) = -+i log(2z) for large z */
        const CM_R re = CM_(cm_logabs)(ax, ay) + CM_K(LN2);
        return (CM_C)(fabs(atan2(y, x)), sy ? re : -re);
    }
    if (x == 1 && y == 0)
        return (CM_C)(0, -y);
    if (ax < CM_K(SQRT_6_EPS) / 4 && ay < CM_K(SQRT_6_EPS) / 4)
        return (CM_C)(CM_K(PIO2_HI) - (x - CM_K(PIO2_LO)), -y);
    int B_ok;
    CM_R B, sqrt_A2mx2, new_x;
    const CM_R ry = CM_(cm_hard)(ay, ax, &B_ok, &B, &sqrt_A2mx2, &new_x);
    CM_R rx;
    if (B_ok)
        rx = acos(sx ? -B : B);
    else
        rx = atan2(sqrt_A2mx2, sx ? -new_x : new_x);
    return (CM_C)(rx, sy ? ry : -ry);
}

/* acosh(z) = +-i acos(z), the sign making Re >= 0 */
static CM_C CM_(cacosh)(CM_C z)
{
    const CM_C w = CM_(cacos)(z);
    if (isnan(w.x) && isnan(w.y))
        return w;
    if (isnan(w.x))                 /* +-inf + NaN i, NaN +- inf i: inf + NaN i */
        return (CM_C)(fabs(w.y), w.x);
    if (isnan(w.y))                 /* +-0 + NaN i: the standard's NaN + i pi/2 */
        return (CM_C)(w.y, w.x);
    return (CM_C)(fabs(w.y), copysign(w.x, z.y));
}

/* x / (x^2 + y^2) for one of |x|, |y| above 1/EPS (either may be inf), scaled by a power of 2
 * against overflow and spurious underflow */
static CM_R CM_(cm_re_recip)(CM_R x, CM_R y)
{
    if (isinf(x) || isinf(y))
        return copysign((CM_R)0, x);
    const CM_R s = ldexp((CM_R)1, -ilogb(fmax(fabs(x), fabs(y))));
    const CM_R xs = x * s, ys = y * s;
    return xs / (xs * xs + ys * ys) * s;
}

/* atanh(z) = log1p(4x / |z - 1|^2) / 4 + i atan2(2y, (1 - x)(1 + x) - y^2) / 2 */
static CM_C CM_(catanh)(CM_C z)
{
    const CM_R x = z.x, y = z.y, ax = fabs(x), ay = fabs(y);
    const CM_R eps = CM_K(EPS);
    if (y == 0 && ax <= 1)
        return (CM_C)(atanh(x), y);
    if (x == 0)
        return (CM_C)(x, atan(y));
    if (isnan(x) || isnan(y)) {
        if (isinf(x))
            return (CM_C)(copysign((CM_R)0, x), CM_NAN);
        if (isinf(y))
            return (CM_C)(copysign((CM_R)0, x), copysign(CM_K(PI_2), y));
        return (CM_C)(CM_NAN, CM_NAN);
    }
    if (ax > CM_K(RECIP_EPS) || ay > CM_K(RECIP_EPS))   /* atanh(z) = 1/z +- i pi/2 */
        return (CM_C)(CM_(cm_re_recip)(x, y), copysign(CM_K(PI_2), y));
    if (ax < CM_K(SQRT_3_EPS) / 2 && ay < CM_K(SQRT_3_EPS) / 2)
        return z;                   /* atanh(z) = z + O(z^3) */
    CM_R rx, ry;
    if (ax == 1 && ay < eps)
        rx = (CM_K(LN2) - log(ay)) / 2;
    else {
        const CM_R d = ax - 1;      /* |z - 1|^2, its y^2 dropped where it would underflow */
        rx = log1p(4 * ax / (ay < CM_K(SQRT_MIN) ? d * d : d * d + ay * ay)) / 4;
    }
    if (ax == 1)
        ry = atan2((CM_R)2, -ay) / 2;
    else if (ay < eps)
        ry = atan2(2 * ay, (1 - ax) * (1 + ax)) / 2;
    else
        ry = atan2(2 * ay, (1 - ax) * (1 + ax) - ay * ay) / 2;
    return (CM_C)(copysign(rx, x), copysign(ry, y));
}

static CM_C CM_(catan)(CM_C z)      /* -i atanh(iz) */
{
    const CM_C w = CM_(catanh)((CM_C)(-z.y, z.x));
    return (CM_C)(w.y, -w.x);
}

#undef CM_CAT2
#undef CM_CAT
#undef CM_
#undef CM_K
#undef CM_L
#undef CM_INF
#undef CM_NAN
#undef CM_C
#undef CM_R
