/* sr_stats.c - incomplete beta, Student's t and normal distributions, and
 * the summaries and paired tests of experiment reports. Contracts, scipy
 * conventions and degenerate cases: sr_stats.h.
 *
 * Everything is double. lgamma() is not used: POSIX lets it write the global
 * `signgam`, a data race when two daemon threads write reports at once; the
 * log-gamma and log-beta below are our own (tgamma for small arguments, the
 * Stirling series with its remainder for large ones, as R's nmath lbeta and
 * TOMS 708 do, which keeps I_x(a, b) accurate when a or b is large - the t
 * distribution with many degrees of freedom). */
#include "sr_stats.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

#define SR_STATS_LN_SQRT_2PI 0.918938533204672741780329736406 /* log(sqrt(2 pi)) */
#define SR_STATS_PI 3.14159265358979323846264338328

/* The exact Wilcoxon distribution is used up to this many pairs (scipy >= 1.9). */
#define SR_STATS_WILCOXON_EXACT_MAX 50

/* ---- log-gamma, log-beta ----------------------------------------------------- */

/* Remainder of Stirling's series, lgamma(x) - ((x - 0.5) log x - x + log sqrt(2 pi)),
 * for x >= 10: sum B_2k / (2k (2k - 1) x^(2k - 1)). At x = 10 the first
 * omitted term is below 1e-18. */
static double stats_lgamma_corr(double x)
{
    static const double c[] = {
        1.0 / 12.0,      -1.0 / 360.0,      1.0 / 1260.0,   -1.0 / 1680.0,
        1.0 / 1188.0,    -691.0 / 360360.0, 1.0 / 156.0,    -3617.0 / 122400.0,
    };
    const double r = 1.0 / x, r2 = r * r;
    double s = 0.0;
    for (int k = (int)SR_COUNTOF(c) - 1; k >= 0; k--)
        s = s * r2 + c[k];
    return s * r;
}

/* log Gamma(x) for x > 0: Stirling with its remainder for x >= 10; below,
 * log(tgamma(x)) (tgamma is accurate to a few ulps and, unlike lgamma,
 * touches no global), or -log(x) where tgamma overflows (x < ~1e-308,
 * where Gamma(x) = 1/x to double precision). */
static double stats_lgamma(double x)
{
    if (x >= 10.0)
        return (x - 0.5) * log(x) - x + SR_STATS_LN_SQRT_2PI + stats_lgamma_corr(x);
    const double g = tgamma(x);
    return isfinite(g) ? log(g) : -log(x);
}

/* log B(a, b) for a, b > 0. When an argument is large the leading terms of
 * lgamma(a) + lgamma(b) - lgamma(a + b) cancel; writing them out (R's lbeta)
 * leaves only the small Stirling remainders to subtract. */
static double stats_lbeta(double a, double b)
{
    const double p = SR_MIN(a, b), q = SR_MAX(a, b);
    if (p >= 10.0) {
        const double corr = stats_lgamma_corr(p) + stats_lgamma_corr(q) - stats_lgamma_corr(p + q);
        return -0.5 * log(q) + SR_STATS_LN_SQRT_2PI + corr + (p - 0.5) * log(p / (p + q)) +
               q * log1p(-p / (p + q));
    }
    if (q >= 10.0) {
        const double corr = stats_lgamma_corr(q) - stats_lgamma_corr(p + q);
        return stats_lgamma(p) + corr + p - p * log(p + q) + (q - 0.5) * log1p(-p / (p + q));
    }
    return stats_lgamma(p) + stats_lgamma(q) - stats_lgamma(p + q);
}

/* e - log(1 + e), e > -1, without the cancellation of the direct formula
 * for small |e| (series e^2/2 - e^3/3 + ...). */
static double stats_rlog1(double e)
{
    if (fabs(e) > 0.1)
        return e - log1p(e);
    double term = -e, s = 0.0;
    for (int k = 2; k < 40; k++) {
        term *= -e; /* (-1)^k e^k */
        const double add = term / k;
        s += add;
        if (fabs(add) <= DBL_EPSILON * fabs(s) * 0.25)
            break;
    }
    return s;
}

/* x^a y^b / B(a, b) with y = 1 - x, the prefactor of the continued fraction.
 * For a, b >= 8 the form of TOMS 708's brcomp (Didonato & Morris 1992):
 * with x0 = a / (a + b) it is (x/x0)^a (y/y0)^b sqrt(a b / (a + b)) /
 * sqrt(2 pi) times the Stirling remainders, and the big powers are taken as
 * exp(-(a rlog1(e1) + b rlog1(e2))) around their maximum, so the error does
 * not grow with a and b as exp(a log x + b log y - lbeta) would. */
static double stats_beta_front(double a, double b, double x, double y)
{
    if (a >= 8.0 && b >= 8.0) {
        double x0, y0, lambda;
        if (a > b) {
            const double h = b / a;
            x0 = 1.0 / (1.0 + h);
            y0 = h / (1.0 + h);
            lambda = (a + b) * y - b;
        } else {
            const double h = a / b;
            x0 = h / (1.0 + h);
            y0 = 1.0 / (1.0 + h);
            lambda = a - (a + b) * x;
        }
        const double e1 = -lambda / a, e2 = lambda / b;
        const double u = fabs(e1) > 0.6 ? e1 - log(x / x0) : stats_rlog1(e1);
        const double v = fabs(e2) > 0.6 ? e2 - log(y / y0) : stats_rlog1(e2);
        const double corr = stats_lgamma_corr(a) + stats_lgamma_corr(b) - stats_lgamma_corr(a + b);
        return sqrt(b * x0) / sqrt(2.0 * SR_STATS_PI) * exp(-(a * u + b * v) - corr);
    }
    /* log x from whichever of x, y was given exactly: x = 1 - y near 1 is
     * rounded, log1p(-y) is not */
    const double lx = x > 0.5 ? log1p(-y) : log(x);
    const double ly = y > 0.5 ? log1p(-x) : log(y);
    return exp(a * lx + b * ly - stats_lbeta(a, b));
}

/* ---- incomplete beta ------------------------------------------------------------ */

/* The continued fraction of I_x(a, b) (Numerical Recipes 6.4, eq. 6.4.5)
 * in the form of TOMS 708's bfrac (Didonato & Morris 1992): the same
 * expansion, with its coefficients written in lambda = a - (a + b) x
 * instead of x. NR's coefficients make every step compute 1 - x (a + ...) /
 * (a + ...), which cancels when x is near 1 and a is large - exactly the t
 * distribution with many degrees of freedom (x = df / (df + t^2)): at
 * df = 1e7 NR's form lost 8e-12 of the CDF. lambda comes in precise from y.
 * I_x(a, b) = x^a y^b / B(a, b) / g with
 * g = beta_0 + alpha_1 / (beta_1 + alpha_2 / (beta_2 + ...)), evaluated by
 * the modified Lentz method. For lambda >= 0 (x <= a / (a + b)) it needs
 * O(sqrt(max(a, b))) terms; the cap only matters for absurd parameters (the
 * last estimate is returned then). */
static double stats_betacf(double a, double b, double x, double y, double lambda)
{
    const double tiny = DBL_MIN / DBL_EPSILON;
    const double c = lambda + 1.0, c0 = b / a, c1 = 1.0 / a + 1.0, yp1 = y + 1.0;
    double f = c / c1; /* beta_0 */
    if (fabs(f) < tiny)
        f = tiny;
    double lc = f, ld = 0.0; /* Lentz's C and D */
    double p = 1.0, s = a + 1.0;
    for (int n = 1; n <= 200000; n++) {
        const double t = n / a, w = n * (b - n) * x;
        double e = a / s;
        const double alpha = p * (p + c0) * e * e * (w * x);
        e = (t + 1.0) / (c1 + t + t);
        const double beta = n + w / s + e * (c + n * yp1);
        p = t + 1.0;
        s += 2.0;
        ld = beta + alpha * ld;
        if (fabs(ld) < tiny)
            ld = tiny;
        lc = beta + alpha / lc;
        if (fabs(lc) < tiny)
            lc = tiny;
        ld = 1.0 / ld;
        const double delta = lc * ld;
        f *= delta;
        if (fabs(delta - 1.0) <= 2.0 * DBL_EPSILON)
            break;
    }
    return 1.0 / f;
}

/* I_x(a, b) with y = 1 - x passed in: callers that know 1 - x more precisely
 * than 1.0 - x (the t distribution, for small t^2 / df) pass it so that
 * neither log(x) nor lambda loses digits. Arguments already validated. */
static double stats_betainc_xy(double a, double b, double x, double y)
{
    if (x <= 0.0)
        return 0.0;
    if (y <= 0.0)
        return 1.0;
    const double front = stats_beta_front(a, b, x, y);
    /* a - (a + b) x, from y when x is the one near 1 (TOMS 708's choice) */
    const double lambda = a > b ? (a + b) * y - b : a - (a + b) * x;
    if (lambda >= 0.0)
        return front * stats_betacf(a, b, x, y, lambda);
    /* I_x(a, b) = 1 - I_y(b, a): the fraction converges on the other side */
    return 1.0 - front * stats_betacf(b, a, y, x, -lambda);
}

double sr_stats_betainc(double a, double b, double x)
{
    if (!(a > 0.0) || !(b > 0.0) || !(x >= 0.0 && x <= 1.0) || isinf(a) || isinf(b))
        return NAN;
    return stats_betainc_xy(a, b, x, 1.0 - x);
}

/* ---- Student's t ------------------------------------------------------------------ */

/* P(T <= -|t|) = P(T >= |t|) = I_x(df/2, 1/2) / 2 with x = df / (df + t^2);
 * x and 1 - x are formed from whichever of df / t^2 and t^2 / df is <= 1,
 * so neither overflows nor cancels. df = inf is the normal distribution. */
static double stats_t_lower_tail(double t, double df)
{
    if (isinf(df)) /* the normal limit */
        return 0.5 * erfc(fabs(t) / sqrt(2.0));
    const double tt = t * t;
    double x, y;
    if (tt > df) {
        const double r = df / fabs(t) / fabs(t); /* t^2 may overflow, df / t^2 not */
        if (r * (df + 1.0) < 1e-20) {
            /* far tail: I_x(a, 1/2) = x^a / (a B(a, 1/2)) (1 + O(a r)), taken
             * in logs, because x ~ df / t^2 underflows long before the tail
             * does (df = 1: tail ~ 1 / (pi |t|), but x ~ 1 / t^2) */
            const double a = 0.5 * df;
            return 0.5 * exp(a * (log(df) - 2.0 * log(fabs(t))) - log(a) - stats_lbeta(a, 0.5));
        }
        x = r / (1.0 + r);
        y = 1.0 / (1.0 + r);
    } else {
        const double r = tt / df;
        x = 1.0 / (1.0 + r);
        y = r / (1.0 + r);
    }
    return 0.5 * stats_betainc_xy(0.5 * df, 0.5, x, y);
}

double sr_stats_t_cdf(double t, double df)
{
    if (isnan(t) || !(df > 0.0))
        return NAN;
    const double tail = stats_t_lower_tail(t, df);
    return t < 0.0 ? tail : 1.0 - tail;
}

/* Bisection on s >= 0 for P(T >= s) = alpha, alpha in (0, 0.5): the tail is
 * monotone, so a bracket [lo, 2 lo] (or [hi / 2, hi]) found by doubling
 * (halving) shrinks to one ulp in about 53 steps, whatever the tail's shape -
 * Newton is slow in the power-law tails of small df, bisection never is.
 * Works on the tail probability, never on 1 - p, so p = 1e-300 is as
 * accurate as p = 0.3. */
static double stats_t_tail_quantile(double alpha, double df)
{
    double lo, hi;
    if (stats_t_lower_tail(1.0, df) > alpha) {
        lo = 1.0;
        hi = 2.0;
        while (stats_t_lower_tail(hi, df) > alpha) {
            lo = hi;
            hi *= 2.0;
            if (isinf(hi))
                return INFINITY; /* beyond DBL_MAX (df well below 1, tiny alpha) */
        }
    } else {
        hi = 1.0;
        lo = 0.5;
        while (!(stats_t_lower_tail(lo, df) > alpha)) {
            hi = lo;
            lo *= 0.5;
            if (lo == 0.0)
                return 0.0; /* alpha within rounding of 0.5 */
        }
    }
    /* invariant: tail(lo) > alpha >= tail(hi) */
    for (int it = 0; it < 200; it++) {
        const double mid = lo + 0.5 * (hi - lo);
        if (mid <= lo || mid >= hi)
            break;
        if (stats_t_lower_tail(mid, df) > alpha)
            lo = mid;
        else
            hi = mid;
    }
    return lo + 0.5 * (hi - lo);
}

double sr_stats_t_quantile(double p, double df)
{
    if (!(p > 0.0 && p < 1.0) || !(df > 0.0))
        return NAN;
    if (p == 0.5)
        return 0.0;
    /* 1 - p is exact for p >= 0.5 (Sterbenz), so the upper half loses nothing */
    const double alpha = p < 0.5 ? p : 1.0 - p;
    const double s = stats_t_tail_quantile(alpha, df);
    return p < 0.5 ? -s : s;
}

/* ---- normal ---------------------------------------------------------------------- */

double sr_stats_norm_cdf(double z)
{
    /* erfc keeps the lower tail's relative accuracy (0.5 + 0.5 erf would not) */
    return 0.5 * erfc(-z / sqrt(2.0));
}

/* ---- summary ---------------------------------------------------------------------- */

/* Two-pass mean and sum of squared deviations; the second pass also corrects
 * the mean by the mean residual (the rounding of the first sum). Equal
 * values give exactly that value and 0: their rounded mean need not be. */
static void stats_mean_ss(const double *x, int n, double *mean, double *ss)
{
    bool all_equal = true;
    for (int i = 1; i < n && all_equal; i++)
        all_equal = x[i] == x[0];
    if (all_equal) {
        *mean = x[0];
        *ss = isfinite(x[0]) ? 0.0 : NAN;
        return;
    }
    double s = 0.0;
    for (int i = 0; i < n; i++)
        s += x[i];
    double m = s / n;
    if (!isfinite(m)) { /* an infinite value: mean +-inf (or NaN for both signs), no spread */
        *mean = m;
        *ss = NAN;
        return;
    }
    double r = 0.0;
    for (int i = 0; i < n; i++)
        r += x[i] - m;
    m += r / n;
    double q = 0.0;
    for (int i = 0; i < n; i++)
        q += (x[i] - m) * (x[i] - m);
    *mean = m;
    *ss = q;
}

sr_err sr_stats_summarise(const double *x, int n, double level, sr_stats_summary *out)
{
    if (!out)
        return sr_errorf(SR_ERR_ARG, "stats summary: no output");
    if (!x || n < 1)
        return sr_errorf(SR_ERR_ARG, "stats summary: n=%d values (need >= 1)", n);
    if (!(level > 0.0 && level < 1.0))
        return sr_errorf(SR_ERR_ARG, "stats summary: level=%g must be in (0, 1)", level);
    for (int i = 0; i < n; i++)
        if (isnan(x[i]))
            return sr_errorf(SR_ERR_ARG, "stats summary: value %d of %d is NaN", i, n);

    sr_stats_summary s = { .n = n, .mean = NAN, .sd = NAN, .ci_low = NAN, .ci_high = NAN };
    double ss;
    stats_mean_ss(x, n, &s.mean, &ss);
    if (n > 1) {
        s.sd = sqrt(ss / (n - 1));
        const double half = sr_stats_t_quantile(0.5 * (1.0 + level), n - 1) * s.sd / sqrt(n);
        s.ci_low = s.mean - half;
        s.ci_high = s.mean + half;
    }
    *out = s;
    return SR_OK;
}

/* ---- paired t-test ------------------------------------------------------------------ */

/* NaN in a or b: SR_ERR_ARG naming the pair. */
static sr_err stats_check_pairs(const char *what, const double *a, const double *b, int n)
{
    for (int i = 0; i < n; i++) {
        if (isnan(a[i]) || isnan(b[i]))
            return sr_errorf(SR_ERR_ARG, "%s: pair %d of %d is NaN (a=%g, b=%g)", what, i, n,
                             a[i], b[i]);
    }
    return SR_OK;
}

sr_err sr_stats_paired_t(const double *a, const double *b, int n, sr_stats_test *out)
{
    if (!out)
        return sr_errorf(SR_ERR_ARG, "paired t-test: no output");
    if (!a || !b || n < 2)
        return sr_errorf(SR_ERR_ARG, "paired t-test: n=%d pairs (need >= 2)", n);
    sr_err e = stats_check_pairs("paired t-test", a, b, n);
    if (e != SR_OK)
        return e;

    double *d = malloc((size_t)n * sizeof *d); /* [n] differences a - b */
    if (!d)
        return sr_errorf(SR_ERR_NOMEM, "paired t-test: %d differences", n);
    bool all_equal = true;
    for (int i = 0; i < n; i++) {
        d[i] = a[i] - b[i];
        all_equal = all_equal && d[i] == d[0];
    }

    sr_stats_test r = { .n = n, .stat = NAN, .p = NAN, .exact = false };
    /* Tested by equality, not by sd == 0: the mean of n equal values need
     * not round back to that value, which would leave a tiny spurious sd. */
    if (all_equal) {
        if (d[0] != 0.0) {
            r.stat = d[0] > 0.0 ? INFINITY : -INFINITY;
            r.p = 0.0;
        }
    } else {
        double mean, ss;
        stats_mean_ss(d, n, &mean, &ss);
        const double se = sqrt(ss / (n - 1)) / sqrt(n);
        r.stat = mean / se;
        /* 2 P(T <= -|t|): the lower tail keeps small p-values accurate */
        r.p = SR_MIN(1.0, 2.0 * sr_stats_t_cdf(-fabs(r.stat), n - 1));
    }
    free(d);
    *out = r;
    return SR_OK;
}

/* ---- Wilcoxon signed-rank --------------------------------------------------------------- */

typedef struct stats_signed {
    double abs; /* |d| */
    bool pos;   /* d > 0 */
} stats_signed;

static int stats_signed_cmp(const void *pa, const void *pb)
{
    const double a = ((const stats_signed *)pa)->abs, b = ((const stats_signed *)pb)->abs;
    return (a > b) - (a < b);
}

/* P(W+ <= w) under H0 for m untied ranks 1..m, each signed +- with
 * probability 1/2: cnt[s] = number of the 2^m sign patterns with W+ = s,
 * built one rank at a time (cnt_k[s] = cnt_{k-1}[s] + cnt_{k-1}[s - k]).
 * The counts stay below 2^50 for m <= 50, exact in a double. */
static sr_err stats_wilcoxon_exact_cdf(int m, int w, double *p)
{
    const int total = m * (m + 1) / 2;
    double *cnt = calloc((size_t)total + 1, sizeof *cnt); /* [total + 1] */
    if (!cnt)
        return sr_errorf(SR_ERR_NOMEM, "wilcoxon: exact distribution for n=%d", m);
    cnt[0] = 1.0;
    int top = 0;
    for (int k = 1; k <= m; k++) {
        top += k;
        for (int s = top; s >= k; s--)
            cnt[s] += cnt[s - k];
    }
    double below = 0.0;
    for (int s = 0; s <= w && s <= total; s++)
        below += cnt[s];
    *p = ldexp(below, -m);
    free(cnt);
    return SR_OK;
}

sr_err sr_stats_wilcoxon(const double *a, const double *b, int n, sr_stats_test *out)
{
    if (!out)
        return sr_errorf(SR_ERR_ARG, "wilcoxon: no output");
    if (!a || !b || n < 1)
        return sr_errorf(SR_ERR_ARG, "wilcoxon: n=%d pairs (need >= 1)", n);
    sr_err e = stats_check_pairs("wilcoxon", a, b, n);
    if (e != SR_OK)
        return e;

    stats_signed *v = malloc((size_t)n * sizeof *v); /* [m] non-zero differences */
    if (!v)
        return sr_errorf(SR_ERR_NOMEM, "wilcoxon: %d differences", n);
    int m = 0;
    for (int i = 0; i < n; i++) {
        const double d = a[i] - b[i];
        if (d == 0.0) /* zero_method="wilcox": dropped */
            continue;
        v[m].abs = fabs(d);
        v[m].pos = d > 0.0;
        m++;
    }
    const bool had_zero = m < n;

    sr_stats_test r = { .n = m, .stat = 0.0, .p = NAN, .exact = false };
    if (m == 0)
        goto done;

    qsort(v, (size_t)m, sizeof *v, stats_signed_cmp);
    /* Average ranks over runs of equal |d|; the tie term sum (t^3 - t) is
     * accumulated for the normal approximation. */
    double w_plus = 0.0, w_minus = 0.0, tie_term = 0.0;
    bool tied = false;
    for (int i = 0; i < m;) {
        int j = i + 1;
        while (j < m && v[j].abs == v[i].abs)
            j++;
        const double rank = 0.5 * ((double)(i + 1) + (double)j); /* mean of i+1 .. j */
        const double t = (double)(j - i);
        if (j - i > 1) {
            tied = true;
            tie_term += t * (t * t - 1.0);
        }
        for (int k = i; k < j; k++) {
            if (v[k].pos)
                w_plus += rank;
            else
                w_minus += rank;
        }
        i = j;
    }
    r.stat = SR_MIN(w_plus, w_minus);

    if (!had_zero && !tied && m <= SR_STATS_WILCOXON_EXACT_MAX) {
        /* untied ranks: W is an integer. p = 2 P(W+ <= min(W+, W-)), capped
         * at 1 when W sits at the centre (scipy's two-sided exact p). */
        double cdf = NAN;
        e = stats_wilcoxon_exact_cdf(m, (int)r.stat, &cdf);
        if (e != SR_OK)
            goto done;
        r.p = SR_MIN(1.0, 2.0 * cdf);
        r.exact = true;
    } else {
        /* scipy: z = (T - n(n+1)/4) / sqrt((n(n+1)(2n+1) - sum(t^3 - t)/2) / 24),
         * no continuity correction; p = 2 Phi(-|z|). The variance stays
         * positive: even all m tied leaves m(m+1)(3m+3)/2 > 0. */
        const double dm = (double)m;
        const double mean = dm * (dm + 1.0) * 0.25;
        const double var = (dm * (dm + 1.0) * (2.0 * dm + 1.0) - 0.5 * tie_term) / 24.0;
        const double z = (r.stat - mean) / sqrt(var);
        r.p = SR_MIN(1.0, 2.0 * sr_stats_norm_cdf(-fabs(z)));
    }

done:
    free(v);
    if (e == SR_OK)
        *out = r;
    return e;
}
