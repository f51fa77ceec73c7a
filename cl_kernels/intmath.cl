/* Integer helpers with NumPy's semantics, defined per type by macro (OpenCL C has no overloads).
 * Division by zero gives 0 as NumPy does (NumPy also warns); floor division and modulo round
 * towards negative infinity, so the remainder takes the divisor's sign. */
#define CLGRAD_DEFINE_INTMATH(T) \
static T floordiv_##T(T a, T b) { \
    if (b == 0) return (T)0; \
    T q = a / b; \
    if ((a % b != 0) && ((a < 0) != (b < 0))) q -= 1; \
    return q; \
} \
static T mod_##T(T a, T b) { \
    if (b == 0) return (T)0; \
    T r = a % b; \
    if (r != 0 && ((r < 0) != (b < 0))) r += b; \
    return r; \
} \
static T ipow_##T(T a, T b) { \
    if (b < 0) return (a == 1) ? (T)1 : ((a == (T)-1) ? ((b & 1) ? (T)-1 : (T)1) : (T)0); \
    T r = 1; \
    while (b) { if (b & 1) r *= a; a *= a; b >>= 1; } \
    return r; \
}

/* Float modulo with the divisor's sign, as numpy.mod. */
#define CLGRAD_DEFINE_FMOD(T) \
static T pymod_##T(T a, T b) { \
    T r = fmod(a, b); \
    if (r != (T)0) { if ((r < (T)0) != (b < (T)0)) r += b; } \
    else r = copysign((T)0, b); \
    return r; \
} \
static T pyfloordiv_##T(T a, T b) { \
    if (b == (T)0) return a / b; \
    T m = fmod(a, b); \
    T d = (a - m) / b; \
    if (m != (T)0 && ((b < (T)0) != (m < (T)0))) d -= (T)1; \
    T f = floor(d); \
    if (d - f > (T)0.5) f += (T)1; \
    return (d != (T)0) ? f : copysign((T)0, a / b); \
}
