/* test_stats.c - sr_stats against independently known values: incomplete-beta
 * identities and the binomial tail, closed forms of the t distribution
 * (df = 1, 2, 3, 4), textbook t-table quantiles, normal-table values, hand
 * computed t-tests and Wilcoxon tests, a brute-force enumeration of the
 * Wilcoxon sign patterns written here, and values from
 * tests/scripts/stats_reference.py (Simpson integration of the t density,
 * enumeration of 2^16 sign patterns; scipy is not available). */
#include "sr_test.h"

#include "sr_stats.h"

/* ---- helpers ------------------------------------------------------------- */

static const double test_pi = 3.14159265358979323846;

/* |a - b| <= rel * |b|, failing on NaN or infinity (purely relative, so a
 * tail of 1e-301 computed as 0 fails). */
#define ASSERT_REL(a, b, rel) SR_ASSERT_NEAR((a), (b), (rel) * fabs((double)(b)))

/* splitmix64: a fixed, seedable stream independent of the library. */
static uint64_t test_rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* uniform in [0, 1) */
static double test_rng_unit(uint64_t *s)
{
    return (double)(test_rng_next(s) >> 11) * 0x1.0p-53;
}

/* P(Binomial(n, p) >= k), summed term by term from the pmf built by the
 * recurrence pmf(j + 1) = pmf(j) (n - j) / (j + 1) p / (1 - p). */
static double binomial_upper_tail(int n, int k, double p)
{
    double pmf = pow(1.0 - p, n), tail = 0.0;
    for (int j = 0; j <= n; j++) {
        if (j >= k)
            tail += pmf;
        pmf *= (double)(n - j) / (double)(j + 1) * p / (1.0 - p);
    }
    return tail;
}

/* ---- incomplete beta ------------------------------------------------------ */

static const double beta_xs[] = { 0.001, 0.1, 0.3, 0.5, 0.7, 0.9, 0.999 };
static const double beta_ab[] = { 0.3, 1.0, 2.5, 7.0, 40.0 };

static void test_betainc_closed_forms_when_a_or_b_is_one(void **state)
{
    (void)state;
    for (size_t i = 0; i < SR_COUNTOF(beta_xs); i++) {
        const double x = beta_xs[i];
        ASSERT_REL(sr_stats_betainc(1.0, 1.0, x), x, 1e-14); /* uniform */
        for (size_t j = 0; j < SR_COUNTOF(beta_ab); j++) {
            const double c = beta_ab[j];
            /* I_x(a, 1) = x^a ; I_x(1, b) = 1 - (1 - x)^b */
            ASSERT_REL(sr_stats_betainc(c, 1.0, x), pow(x, c), 1e-13);
            ASSERT_REL(sr_stats_betainc(1.0, c, x), -expm1(c * log1p(-x)), 1e-13);
        }
    }
}

static void test_betainc_symmetry_and_half_point(void **state)
{
    (void)state;
    for (size_t i = 0; i < SR_COUNTOF(beta_xs); i++) {
        for (size_t j = 0; j < SR_COUNTOF(beta_ab); j++) {
            for (size_t k = 0; k < SR_COUNTOF(beta_ab); k++) {
                const double x = beta_xs[i], a = beta_ab[j], b = beta_ab[k];
                /* I_x(a, b) = 1 - I_{1-x}(b, a); the two calls take opposite
                 * branches of the continued fraction for most (a, b, x) */
                SR_ASSERT_NEAR(sr_stats_betainc(a, b, x) + sr_stats_betainc(b, a, 1.0 - x), 1.0,
                               1e-14);
            }
        }
    }
    /* I_{1/2}(a, a) = 1/2 exactly by symmetry; x = 1/2 is on the "1 - I"
     * branch, so this checks the continued fraction's value itself. */
    const double as[] = { 0.5, 1.0, 3.5, 8.0, 50.0, 1000.0, 1e4, 1e7 };
    for (size_t j = 0; j < SR_COUNTOF(as); j++)
        SR_ASSERT_NEAR(sr_stats_betainc(as[j], as[j], 0.5), 0.5, 1e-14);
}

static void test_betainc_matches_binomial_tail(void **state)
{
    (void)state;
    /* I_p(k, n - k + 1) = P(Binomial(n, p) >= k) for integer 1 <= k <= n */
    const int ns[] = { 1, 5, 20, 200 };
    const double ps[] = { 0.02, 0.3, 0.5, 0.77, 0.95 };
    for (size_t i = 0; i < SR_COUNTOF(ns); i++) {
        for (size_t j = 0; j < SR_COUNTOF(ps); j++) {
            const int n = ns[i];
            for (int k = 1; k <= n; k += (n > 20 ? 13 : 1)) {
                const double want = binomial_upper_tail(n, k, ps[j]);
                const double got = sr_stats_betainc(k, n - k + 1, ps[j]);
                /* the tail sum is accurate to a few ulps of its largest term */
                SR_ASSERT_NEAR(got, want, 1e-12 * want + 1e-15);
            }
        }
    }
}

static void test_betainc_domain_and_endpoints(void **state)
{
    (void)state;
    assert_true(sr_stats_betainc(2.0, 3.0, 0.0) == 0.0);
    assert_true(sr_stats_betainc(2.0, 3.0, 1.0) == 1.0);
    assert_true(sr_stats_betainc(0.1, 0.1, 0.0) == 0.0);
    assert_true(sr_stats_betainc(0.1, 0.1, 1.0) == 1.0);
    assert_true(isnan(sr_stats_betainc(0.0, 1.0, 0.5)));
    assert_true(isnan(sr_stats_betainc(-1.0, 1.0, 0.5)));
    assert_true(isnan(sr_stats_betainc(1.0, 0.0, 0.5)));
    assert_true(isnan(sr_stats_betainc(1.0, 1.0, -0.01)));
    assert_true(isnan(sr_stats_betainc(1.0, 1.0, 1.01)));
    assert_true(isnan(sr_stats_betainc(NAN, 1.0, 0.5)));
    assert_true(isnan(sr_stats_betainc(1.0, NAN, 0.5)));
    assert_true(isnan(sr_stats_betainc(1.0, 1.0, NAN)));
    assert_true(isnan(sr_stats_betainc(INFINITY, 1.0, 0.5)));
}

/* ---- Student's t CDF ------------------------------------------------------ */

static const double t_grid[] = { -1e100, -1e6, -30.0, -3.7, -1.0, -0.2, -1e-8, 0.0,
                                 1e-8,   0.2,  1.0,   3.7,  30.0, 1e6,  1e100 };

static void test_t_cdf_df1_is_cauchy(void **state)
{
    (void)state;
    for (size_t i = 0; i < SR_COUNTOF(t_grid); i++) {
        const double t = t_grid[i];
        /* F(t) = 1/2 + atan(t) / pi; for t < 0 written atan(-1/t) / pi so
         * that the small lower tail keeps its relative precision */
        const double want = t < 0.0 ? atan(-1.0 / t) / test_pi : 0.5 + atan(t) / test_pi;
        ASSERT_REL(sr_stats_t_cdf(t, 1.0), want, 1e-13);
    }
    /* t^2 overflows a double, the tail 1 / (pi |t|) does not */
    ASSERT_REL(sr_stats_t_cdf(-1e300, 1.0), 1.0 / (test_pi * 1e300), 1e-12);
}

static void test_t_cdf_df2_closed_form(void **state)
{
    (void)state;
    for (size_t i = 0; i < SR_COUNTOF(t_grid); i++) {
        const double t = t_grid[i];
        const double s = sqrt(2.0 + t * t);
        /* F(t) = 1/2 + t / (2 sqrt(2 + t^2)); for t < 0,
         * 1/2 - |t| / (2s) = (s - |t|) / (2s) = 1 / (s (s + |t|)) */
        const double want = t < 0.0 ? 1.0 / (s * (s - t)) : 0.5 + t / (2.0 * s);
        ASSERT_REL(sr_stats_t_cdf(t, 2.0), want, 1e-13);
    }
}

static void test_t_cdf_df3_df4_closed_forms(void **state)
{
    (void)state;
    /* df = 3: F = 1/2 + (t / (sqrt3 (1 + t^2/3)) + atan(t / sqrt3)) / pi;
     * df = 4: F = 1/2 + 3/8 t / sqrt(u) (1 - t^2 / (12 u)), u = 1 + t^2/4
     * (both checked against Simpson integration of the density) */
    const double ts[] = { -6.0, -1.5, -0.3, 0.0, 0.3, 1.0, 2.5, 7.0 };
    for (size_t i = 0; i < SR_COUNTOF(ts); i++) {
        const double t = ts[i], u = 1.0 + t * t / 4.0;
        const double r3 = sqrt(3.0);
        const double f3 = 0.5 + (t / (r3 * (1.0 + t * t / 3.0)) + atan(t / r3)) / test_pi;
        const double f4 = 0.5 + 0.375 * t / sqrt(u) * (1.0 - t * t / (12.0 * u));
        SR_ASSERT_NEAR(sr_stats_t_cdf(t, 3.0), f3, 1e-14);
        SR_ASSERT_NEAR(sr_stats_t_cdf(t, 4.0), f4, 1e-14);
    }
}

static void test_t_cdf_match_python_reference(void **state)
{
    (void)state;
    /* tests/scripts/stats_reference.py: Simpson integration of the t
     * density over 200000 panels (fractional df included) */
    static const double ref[][3] = {
        { 0.7, 3.0, 0.7328365008476182 },    { -2.5, 5.0, 0.027245049671188515 },
        { 1.3, 7.5, 0.8839366105921955 },    { 2.1, 29.0, 0.9777290209818534 },
        { -4.0, 0.5, 0.15961004149433577 },  { 3.3, 120.0, 0.999363350006174 },
    };
    for (size_t i = 0; i < SR_COUNTOF(ref); i++)
        ASSERT_REL(sr_stats_t_cdf(ref[i][0], ref[i][1]), ref[i][2], 1e-13);
}

static void test_t_cdf_large_df_match_python_tail_integrals(void **state)
{
    (void)state;
    /* tests/scripts/stats_reference.py: P(T >= t) integrated directly over
     * [t, 40]. Large df is where the continued fraction must not cancel
     * (x = df / (df + t^2) near 1); Numerical Recipes' form of it was off
     * by 3e-10 at df = 1e9. */
    static const double ref[][3] = {
        { 2.0, 1e4, 0.022763630330717724 },  { 5.0, 1e4, 2.915163306831325e-07 },
        { 2.0, 1e6, 0.022750266925659606 },  { 5.0, 1e6, 2.8669989354453713e-07 },
        { 2.0, 1e9, 0.022750132083156627 },  { 5.0, 1e9, 2.866516201975815e-07 },
        { 2.0, 1e12, 0.022750131948314184 }, { 5.0, 1e12, 2.866515719275124e-07 },
    };
    for (size_t i = 0; i < SR_COUNTOF(ref); i++)
        ASSERT_REL(sr_stats_t_cdf(-ref[i][0], ref[i][1]), ref[i][2], 1e-13);
}

static void test_t_cdf_special_values(void **state)
{
    (void)state;
    assert_true(sr_stats_t_cdf(0.0, 7.0) == 0.5);
    assert_true(sr_stats_t_cdf(INFINITY, 3.0) == 1.0);
    assert_true(sr_stats_t_cdf(-INFINITY, 3.0) == 0.0);
    assert_true(isnan(sr_stats_t_cdf(NAN, 3.0)));
    assert_true(isnan(sr_stats_t_cdf(1.0, 0.0)));
    assert_true(isnan(sr_stats_t_cdf(1.0, -2.0)));
    assert_true(isnan(sr_stats_t_cdf(1.0, NAN)));
    /* df -> inf is the normal distribution; at df = 1e7 the two differ by
     * about phi(z) z (z^2 + 1) / (4 df) < 1e-7 */
    SR_ASSERT_NEAR(sr_stats_t_cdf(1.96, INFINITY), 0.9750021048517795, 1e-15);
    SR_ASSERT_NEAR(sr_stats_t_cdf(1.96, 1e7), 0.9750021048517795, 1e-7);
    assert_true(sr_stats_t_cdf(1.96, 1e7) != sr_stats_t_cdf(1.96, INFINITY));
    /* symmetry F(-t) = 1 - F(t) */
    for (double t = 0.25; t < 10.0; t *= 1.7)
        SR_ASSERT_NEAR(sr_stats_t_cdf(-t, 6.5) + sr_stats_t_cdf(t, 6.5), 1.0, 1e-15);
}

/* ---- Student's t quantile ------------------------------------------------ */

static void test_t_quantile_textbook_table(void **state)
{
    (void)state;
    /* two-sided 95 % and one-sided 95 % critical values of t tables */
    SR_ASSERT_NEAR(sr_stats_t_quantile(0.975, 1.0), 12.706204736, 1e-9);
    SR_ASSERT_NEAR(sr_stats_t_quantile(0.975, 4.0), 2.776445105, 1e-9);
    SR_ASSERT_NEAR(sr_stats_t_quantile(0.975, 9.0), 2.262157163, 1e-9);
    SR_ASSERT_NEAR(sr_stats_t_quantile(0.975, 29.0), 2.045229642, 1e-9);
    SR_ASSERT_NEAR(sr_stats_t_quantile(0.95, 10.0), 1.812461123, 1e-9);
    SR_ASSERT_NEAR(sr_stats_t_quantile(0.025, 9.0), -2.262157163, 1e-9);
    /* the normal 97.5 % point, z = 1.959963984540054 */
    SR_ASSERT_NEAR(sr_stats_t_quantile(0.975, INFINITY), 1.959963984540054, 1e-13);
}

static const double quantile_ps[] = { 1e-300, 1e-12, 1e-6, 0.01, 0.2,   0.49,
                                      0.5,    0.51,  0.9,  0.999, 1.0 - 1e-9 };

static void test_t_quantile_closed_forms_df1_df2(void **state)
{
    (void)state;
    for (size_t i = 0; i < SR_COUNTOF(quantile_ps); i++) {
        const double p = quantile_ps[i];
        /* df = 1: tan(pi (p - 1/2)) = -1 / tan(pi p) (precise for small p) */
        const double q1 = p < 0.5 ? -1.0 / tan(test_pi * p) : tan(test_pi * (p - 0.5));
        /* df = 2: solve p = 1/2 + t / (2 sqrt(2 + t^2)): t = (2p - 1) / sqrt(2 p (1 - p)) */
        const double q2 = (2.0 * p - 1.0) / sqrt(2.0 * p * (1.0 - p));
        /* tan near pi/2 magnifies the rounding of p - 1/2 (1e-9 from 1:
         * about 1e-8 relative in the reference), hence the looser bound */
        ASSERT_REL(sr_stats_t_quantile(p, 1.0), q1, p > 0.99 ? 1e-7 : 1e-12);
        ASSERT_REL(sr_stats_t_quantile(p, 2.0), q2, 1e-12);
    }
}

static void test_t_quantile_inverts_cdf(void **state)
{
    (void)state;
    const double dfs[] = { 0.7, 1.5, 3.0, 10.0, 57.0, 1e4 };
    for (size_t j = 0; j < SR_COUNTOF(dfs); j++) {
        for (size_t i = 0; i < SR_COUNTOF(quantile_ps); i++) {
            const double p = quantile_ps[i], df = dfs[j];
            const double q = sr_stats_t_quantile(p, df);
            if (p == 1e-300 && df < 1.0) {
                /* tail ~ |t|^-0.7: the quantile is about -1e428 */
                assert_true(isinf(q) && q < 0.0);
                continue;
            }
            assert_true(isfinite(q));
            if (p == 0.5) {
                assert_true(q == 0.0);
                continue;
            }
            /* compare tails, so that the check is relative in the upper tail too */
            const double tail = p < 0.5 ? sr_stats_t_cdf(q, df) : sr_stats_t_cdf(-q, df);
            const double want = p < 0.5 ? p : 1.0 - p;
            ASSERT_REL(tail, want, 1e-12);
            assert_true(p < 0.5 ? q < 0.0 : q > 0.0);
        }
    }
}

static void test_t_quantile_match_python_reference(void **state)
{
    (void)state;
    /* tests/scripts/stats_reference.py: bisection and Newton on the
     * Simpson-integrated CDF */
    static const double ref[][3] = {
        { 0.975, 7.5, 2.3330396268649802 }, { 0.995, 3.0, 5.840909309733362 },
        { 0.9, 29.0, 1.3114336473015584 },  { 0.975, 2.5, 3.5746548420036914 },
    };
    for (size_t i = 0; i < SR_COUNTOF(ref); i++)
        ASSERT_REL(sr_stats_t_quantile(ref[i][0], ref[i][1]), ref[i][2], 1e-12);
}

static void test_t_quantile_outside_domain_is_nan(void **state)
{
    (void)state;
    assert_true(isnan(sr_stats_t_quantile(0.0, 5.0)));
    assert_true(isnan(sr_stats_t_quantile(1.0, 5.0)));
    assert_true(isnan(sr_stats_t_quantile(-0.1, 5.0)));
    assert_true(isnan(sr_stats_t_quantile(1.1, 5.0)));
    assert_true(isnan(sr_stats_t_quantile(NAN, 5.0)));
    assert_true(isnan(sr_stats_t_quantile(0.9, 0.0)));
    assert_true(isnan(sr_stats_t_quantile(0.9, -1.0)));
    assert_true(isnan(sr_stats_t_quantile(0.9, NAN)));
    assert_true(sr_stats_t_quantile(0.5, 5.0) == 0.0);
    /* in the domain but beyond DBL_MAX: df = 0.05 has a tail ~ |t|^-0.05 */
    const double q = sr_stats_t_quantile(1e-300, 0.05);
    assert_true(isinf(q) && q < 0.0);
}

/* ---- normal CDF ------------------------------------------------------------ */

static void test_norm_cdf_table_values(void **state)
{
    (void)state;
    assert_true(sr_stats_norm_cdf(0.0) == 0.5);
    ASSERT_REL(sr_stats_norm_cdf(1.96), 0.9750021048517795, 1e-15);
    ASSERT_REL(sr_stats_norm_cdf(-1.96), 0.024997895148220435, 1e-13);
    ASSERT_REL(sr_stats_norm_cdf(1.0), 0.8413447460685429, 1e-15);
    /* deep lower tail: 7.6198530241605261e-24 (tables), kept to full
     * relative precision by erfc */
    ASSERT_REL(sr_stats_norm_cdf(-10.0), 7.6198530241605261e-24, 1e-13);
    assert_true(sr_stats_norm_cdf(INFINITY) == 1.0);
    assert_true(sr_stats_norm_cdf(-INFINITY) == 0.0);
    assert_true(isnan(sr_stats_norm_cdf(NAN)));
}

/* ---- summary ----------------------------------------------------------------- */

static void test_summarise_one_to_five(void **state)
{
    (void)state;
    /* mean 3; squared deviations 4+1+0+1+4 = 10, sd = sqrt(10/4);
     * CI = 3 -+ t_{0.975,4} sqrt(2.5) / sqrt(5) = 3 -+ 2.776445105 sqrt(0.5) */
    const double x[] = { 1.0, 2.0, 3.0, 4.0, 5.0 };
    sr_stats_summary s;
    assert_int_equal(sr_stats_summarise(x, 5, 0.95, &s), SR_OK);
    assert_int_equal(s.n, 5);
    SR_ASSERT_NEAR(s.mean, 3.0, 1e-15);
    SR_ASSERT_NEAR(s.sd, sqrt(2.5), 1e-15);
    SR_ASSERT_NEAR(s.ci_low, 3.0 - 2.776445105 * sqrt(0.5), 1e-9);
    SR_ASSERT_NEAR(s.ci_high, 3.0 + 2.776445105 * sqrt(0.5), 1e-9);
    /* 90 %: t_{0.95,4} = 2.131846786 (tables) */
    assert_int_equal(sr_stats_summarise(x, 5, 0.90, &s), SR_OK);
    SR_ASSERT_NEAR(s.ci_high, 3.0 + 2.131846786 * sqrt(0.5), 1e-9);
}

static void test_summarise_two_values_ci_is_cauchy_quantile(void **state)
{
    (void)state;
    /* {0, 2}: mean 1, sd sqrt(2), half width t_{0.975,1} sqrt2 / sqrt2 =
     * tan(0.475 pi) (df = 1 is Cauchy) */
    const double x[] = { 0.0, 2.0 };
    sr_stats_summary s;
    assert_int_equal(sr_stats_summarise(x, 2, 0.95, &s), SR_OK);
    SR_ASSERT_NEAR(s.mean, 1.0, 1e-15);
    SR_ASSERT_NEAR(s.sd, sqrt(2.0), 1e-15);
    ASSERT_REL(s.ci_high - s.mean, tan(0.475 * test_pi), 1e-12);
    ASSERT_REL(s.mean - s.ci_low, tan(0.475 * test_pi), 1e-12);
}

static void test_summarise_single_value_has_nan_spread(void **state)
{
    (void)state;
    const double x[] = { 0.375 };
    sr_stats_summary s;
    assert_int_equal(sr_stats_summarise(x, 1, 0.95, &s), SR_OK);
    assert_int_equal(s.n, 1);
    assert_true(s.mean == 0.375);
    assert_true(isnan(s.sd));
    assert_true(isnan(s.ci_low));
    assert_true(isnan(s.ci_high));
}

static void test_summarise_constant_values_zero_width_ci(void **state)
{
    (void)state;
    /* 0.1 is not a binary fraction: the mean of its copies must still come
     * back as 0.1 with sd exactly 0 (the residual-corrected mean) */
    const double x[] = { 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1 };
    sr_stats_summary s;
    assert_int_equal(sr_stats_summarise(x, 7, 0.95, &s), SR_OK);
    assert_true(s.mean == 0.1);
    assert_true(s.sd == 0.0);
    assert_true(s.ci_low == 0.1 && s.ci_high == 0.1);
    /* an infinite value: infinite mean, no spread */
    const double inf[] = { 0.5, INFINITY, 0.25 };
    assert_int_equal(sr_stats_summarise(inf, 3, 0.95, &s), SR_OK);
    assert_true(isinf(s.mean) && s.mean > 0.0);
    assert_true(isnan(s.sd) && isnan(s.ci_low) && isnan(s.ci_high));
}

static void test_summarise_rejects_bad_input(void **state)
{
    (void)state;
    const double x[] = { 1.0, NAN, 3.0 };
    sr_stats_summary s = { .n = -7 };
    assert_int_equal(sr_stats_summarise(x, 3, 0.95, &s), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "value 1"));
    assert_int_equal(s.n, -7); /* left alone on error */
    assert_int_equal(sr_stats_summarise(x, 0, 0.95, &s), SR_ERR_ARG);
    assert_int_equal(sr_stats_summarise(x, -1, 0.95, &s), SR_ERR_ARG);
    assert_int_equal(sr_stats_summarise(NULL, 1, 0.95, &s), SR_ERR_ARG);
    assert_int_equal(sr_stats_summarise(x, 1, 0.0, &s), SR_ERR_ARG);
    assert_int_equal(sr_stats_summarise(x, 1, 1.0, &s), SR_ERR_ARG);
    assert_int_equal(sr_stats_summarise(x, 1, NAN, &s), SR_ERR_ARG);
    assert_int_equal(sr_stats_summarise(x, 1, 0.95, NULL), SR_ERR_ARG);
    assert_int_equal(s.n, -7);
}

/* ---- paired t-test ------------------------------------------------------------ */

static void test_paired_t_three_pairs_closed_form_df2(void **state)
{
    (void)state;
    /* d = a - b = {1, 2, 4}: mean 7/3; deviations -4/3, -1/3, 5/3, squares
     * sum 42/9 = 14/3, variance 7/3, se = sqrt(7/3) / sqrt3 = sqrt7 / 3,
     * t = (7/3) / (sqrt7 / 3) = sqrt7. df = 2: p = 2 (1/2 - t / (2 sqrt(2 + t^2)))
     * = 1 - sqrt7 / 3 = 0.11808289631180304. */
    const double a[] = { 5.0, 7.0, 9.0 }, b[] = { 4.0, 5.0, 5.0 };
    sr_stats_test r;
    assert_int_equal(sr_stats_paired_t(a, b, 3, &r), SR_OK);
    assert_int_equal(r.n, 3);
    ASSERT_REL(r.stat, sqrt(7.0), 1e-14);
    ASSERT_REL(r.p, 1.0 - sqrt(7.0) / 3.0, 1e-12);
    assert_false(r.exact);
    /* swapping a and b flips the sign of t, not p */
    assert_int_equal(sr_stats_paired_t(b, a, 3, &r), SR_OK);
    ASSERT_REL(r.stat, -sqrt(7.0), 1e-14);
    ASSERT_REL(r.p, 1.0 - sqrt(7.0) / 3.0, 1e-12);
}

static void test_paired_t_two_pairs_closed_form_df1(void **state)
{
    (void)state;
    /* d = {1, 3}: mean 2, sd sqrt2, se 1, t = 2; df = 1 (Cauchy):
     * p = 2 (1/2 - atan(2) / pi) = 1 - 2 atan(2) / pi = 0.2951672353008665 */
    const double a[] = { 1.5, 3.25 }, b[] = { 0.5, 0.25 };
    sr_stats_test r;
    assert_int_equal(sr_stats_paired_t(a, b, 2, &r), SR_OK);
    ASSERT_REL(r.stat, 2.0, 1e-15);
    ASSERT_REL(r.p, 1.0 - 2.0 * atan(2.0) / test_pi, 1e-13);
    SR_ASSERT_NEAR(r.p, 0.2951672353008665, 1e-14);
}

static void test_paired_t_match_python_reference(void **state)
{
    (void)state;
    /* tests/scripts/stats_reference.py: t by the textbook formula, p by
     * Simpson integration of the t density with df = 9 */
    const double a[] = { 0.412, 0.398, 0.431, 0.405, 0.420, 0.417, 0.409, 0.425, 0.401, 0.415 };
    const double b[] = { 0.405, 0.401, 0.420, 0.399, 0.418, 0.409, 0.410, 0.414, 0.398, 0.408 };
    sr_stats_test r;
    assert_int_equal(sr_stats_paired_t(a, b, 10, &r), SR_OK);
    assert_int_equal(r.n, 10);
    ASSERT_REL(r.stat, 3.3966469419851077, 1e-12);
    ASSERT_REL(r.p, 0.007915269770593203, 1e-12);
}

static void test_paired_t_equal_nonzero_differences_infinite_t(void **state)
{
    (void)state;
    const double b[] = { 1.0, 2.0, 3.0, 4.0 }, a[] = { 1.5, 2.5, 3.5, 4.5 };
    sr_stats_test r;
    assert_int_equal(sr_stats_paired_t(a, b, 4, &r), SR_OK);
    assert_true(isinf(r.stat) && r.stat > 0.0);
    assert_true(r.p == 0.0);
    assert_int_equal(sr_stats_paired_t(b, a, 4, &r), SR_OK);
    assert_true(isinf(r.stat) && r.stat < 0.0);
    assert_true(r.p == 0.0);
    /* 0.1 repeated: equal differences whose floating-point mean need not
     * round back to 0.1 - still the degenerate case, not a huge finite t */
    const double z[] = { 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0 };
    const double c[] = { 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1 };
    assert_int_equal(sr_stats_paired_t(c, z, 7, &r), SR_OK);
    assert_true(isinf(r.stat) && r.p == 0.0);
}

static void test_paired_t_all_zero_differences_nan(void **state)
{
    (void)state;
    const double a[] = { 0.3, 0.2, 0.9 };
    sr_stats_test r;
    assert_int_equal(sr_stats_paired_t(a, a, 3, &r), SR_OK);
    assert_int_equal(r.n, 3);
    assert_true(isnan(r.stat));
    assert_true(isnan(r.p));
}

static void test_paired_t_rejects_bad_input(void **state)
{
    (void)state;
    const double a[] = { 1.0, 2.0, 3.0 }, b[] = { 1.0, NAN, 2.0 };
    sr_stats_test r = { .n = -7 };
    assert_int_equal(sr_stats_paired_t(a, a, 1, &r), SR_ERR_ARG); /* n < 2 */
    assert_int_equal(sr_stats_paired_t(a, a, 0, &r), SR_ERR_ARG);
    assert_int_equal(sr_stats_paired_t(a, b, 3, &r), SR_ERR_ARG); /* NaN */
    assert_non_null(strstr(sr_errmsg(), "pair 1"));
    assert_int_equal(sr_stats_paired_t(b, a, 3, &r), SR_ERR_ARG);
    assert_int_equal(sr_stats_paired_t(NULL, a, 3, &r), SR_ERR_ARG);
    assert_int_equal(sr_stats_paired_t(a, NULL, 3, &r), SR_ERR_ARG);
    assert_int_equal(sr_stats_paired_t(a, a, 3, NULL), SR_ERR_ARG);
    assert_int_equal(r.n, -7);
}

/* ---- Wilcoxon: exact ------------------------------------------------------------ */

static void test_wilcoxon_exact_all_positive_n5_n6(void **state)
{
    (void)state;
    /* all differences positive: W- = 0; only the all-plus and all-minus
     * patterns are as extreme, so p = 2 / 2^n */
    const double a[] = { 1.0, 2.0, 3.0, 4.0, 5.0, 6.0 };
    const double b[] = { 0.5, 1.75, 2.0, 3.25, 4.125, 4.5 }; /* d distinct */
    sr_stats_test r;
    assert_int_equal(sr_stats_wilcoxon(a, b, 5, &r), SR_OK);
    assert_int_equal(r.n, 5);
    assert_true(r.stat == 0.0);
    assert_true(r.exact);
    SR_ASSERT_NEAR(r.p, 0.0625, 1e-15);
    assert_int_equal(sr_stats_wilcoxon(a, b, 6, &r), SR_OK);
    assert_true(r.stat == 0.0 && r.exact);
    SR_ASSERT_NEAR(r.p, 0.03125, 1e-15);
    /* all negative: the same */
    assert_int_equal(sr_stats_wilcoxon(b, a, 5, &r), SR_OK);
    assert_true(r.stat == 0.0 && r.exact);
    SR_ASSERT_NEAR(r.p, 0.0625, 1e-15);
}

static void test_wilcoxon_exact_centre_p_is_one(void **state)
{
    (void)state;
    /* d = {-1, -2, 3}: W+ = 3 = W-; P(W+ <= 3) = 5/8 (patterns {}, {1},
     * {2}, {3}, {1,2}), 2 * 5/8 > 1 -> p = 1 */
    const double a[] = { 0.0, 0.0, 3.0 }, b[] = { 1.0, 2.0, 0.0 };
    sr_stats_test r;
    assert_int_equal(sr_stats_wilcoxon(a, b, 3, &r), SR_OK);
    assert_true(r.stat == 3.0 && r.exact);
    assert_true(r.p == 1.0);
    /* d = {1, -2, 3}: W+ = 4, W- = 2; P(W+ <= 2) = 3/8 -> p = 3/4 */
    const double c[] = { 2.0, 0.0, 3.0 };
    assert_int_equal(sr_stats_wilcoxon(c, b, 3, &r), SR_OK);
    assert_true(r.stat == 2.0 && r.exact);
    SR_ASSERT_NEAR(r.p, 0.75, 1e-15);
    /* one pair: p = 1 */
    assert_int_equal(sr_stats_wilcoxon(c, b, 1, &r), SR_OK);
    assert_true(r.n == 1 && r.stat == 0.0 && r.exact && r.p == 1.0);
}

/* The two-sided exact p-value written independently: average ranks by
 * counting, W+ of every one of the 2^n sign patterns, and scipy's rule
 * 2 min(P(W+ <= w), P(W+ >= w)) capped at 1. d must hold no zero. */
static void brute_force_wilcoxon(const double *d, int n, double *stat, double *p)
{
    double rank[16];
    assert_true(n <= 16);
    double w_obs = 0.0, total = 0.0;
    for (int i = 0; i < n; i++) {
        int less = 0, equal = 0;
        for (int j = 0; j < n; j++) {
            less += fabs(d[j]) < fabs(d[i]);
            equal += fabs(d[j]) == fabs(d[i]);
        }
        rank[i] = less + (equal + 1) / 2.0;
        total += rank[i];
        if (d[i] > 0.0)
            w_obs += rank[i];
    }
    long le = 0, ge = 0;
    for (long mask = 0; mask < (1L << n); mask++) {
        double w = 0.0;
        for (int i = 0; i < n; i++)
            if (mask >> i & 1)
                w += rank[i];
        le += w <= w_obs;
        ge += w >= w_obs;
    }
    *stat = SR_MIN(w_obs, total - w_obs);
    *p = SR_MIN(1.0, 2.0 * (double)SR_MIN(le, ge) / (double)(1L << n));
}

static void test_wilcoxon_exact_matches_brute_force_enumeration(void **state)
{
    (void)state;
    uint64_t rng = 20240611;
    double a[12], b[12], d[12];
    int checked = 0, small_p = 0;
    for (int n = 1; n <= 12; n++) {
        for (int trial = 0; trial < 25; trial++) {
            /* a shift in the mean so that both small and large p occur */
            const double shift = 0.15 * (trial % 5);
            bool clean;
            do {
                clean = true;
                for (int i = 0; i < n; i++) {
                    b[i] = test_rng_unit(&rng);
                    a[i] = b[i] + (test_rng_unit(&rng) - 0.5 + shift);
                    d[i] = a[i] - b[i];
                    clean = clean && d[i] != 0.0;
                    for (int j = 0; j < i; j++)
                        clean = clean && fabs(d[j]) != fabs(d[i]);
                }
            } while (!clean);
            double want_stat, want_p;
            brute_force_wilcoxon(d, n, &want_stat, &want_p);
            sr_stats_test r;
            assert_int_equal(sr_stats_wilcoxon(a, b, n, &r), SR_OK);
            assert_int_equal(r.n, n);
            assert_true(r.exact);
            assert_true(r.stat == want_stat);
            SR_ASSERT_NEAR(r.p, want_p, 1e-15);
            checked++;
            small_p += want_p < 0.05;
        }
    }
    assert_int_equal(checked, 300);
    assert_true(small_p > 10); /* the tails were exercised, not only p ~ 1 */
}

static void test_wilcoxon_exact_n16_match_python_reference(void **state)
{
    (void)state;
    /* tests/scripts/stats_reference.py: all 2^16 sign patterns enumerated */
    const double d[] = { 0.31, -1.7, 2.25, 0.05, -0.6, 1.1, 3.4, -2.9,
                         0.8,  1.45, -0.15, 2.6, 0.95, -3.1, 1.9, 0.4 };
    double zero[16] = { 0 };
    sr_stats_test r;
    assert_int_equal(sr_stats_wilcoxon(d, zero, 16, &r), SR_OK);
    assert_true(r.exact);
    assert_true(r.stat == 46.0);
    SR_ASSERT_NEAR(r.p, 0.274444580078125, 1e-15);
}

static void test_wilcoxon_exact_up_to_50_pairs(void **state)
{
    (void)state;
    double a[51], b[51] = { 0 };
    for (int i = 0; i < 51; i++)
        a[i] = i + 1.0;
    sr_stats_test r;
    /* n = 50 all positive: exact, p = 2 / 2^50 */
    assert_int_equal(sr_stats_wilcoxon(a, b, 50, &r), SR_OK);
    assert_true(r.exact);
    assert_true(r.stat == 0.0);
    ASSERT_REL(r.p, ldexp(1.0, -49), 1e-15);
    /* n = 51: normal approximation. mean 51*52/4 = 663, variance
     * 51*52*103/24 = 11381.5, z = -663 / sqrt(11381.5) = -6.2145...,
     * p = 2 Phi(z) = erfc(|z| / sqrt2) */
    assert_int_equal(sr_stats_wilcoxon(a, b, 51, &r), SR_OK);
    assert_false(r.exact);
    assert_int_equal(r.n, 51);
    assert_true(r.stat == 0.0);
    ASSERT_REL(r.p, erfc(663.0 / sqrt(11381.5) / sqrt(2.0)), 1e-13);
}

/* ---- Wilcoxon: normal approximation -------------------------------------------- */

static void test_wilcoxon_ties_normal_approximation_hand_computed(void **state)
{
    (void)state;
    /* d = {0.5, -1, 1, 2, 2, 2, -3, 4}. |d| sorted: 0.5 -> rank 1; 1, 1 ->
     * ranks 2, 3 -> 2.5 each; 2, 2, 2 -> ranks 4..6 -> 5 each; 3 -> 7; 4 -> 8.
     * W+ = 1 + 2.5 + 3*5 + 8 = 26.5, W- = 2.5 + 7 = 9.5 (sum 36 = 8*9/2).
     * T = 9.5; mean = 8*9/4 = 18; tie term sum(t^3 - t) = (8-2) + (27-3) = 30;
     * variance = (8*9*17 - 30/2) / 24 = (1224 - 15) / 24 = 50.375;
     * z = (9.5 - 18) / sqrt(50.375) = -1.1975989212497897 (python);
     * p = 2 Phi(z) = 0.23107319627794864 (python, math.erfc). */
    const double d[] = { 0.5, -1.0, 1.0, 2.0, 2.0, 2.0, -3.0, 4.0 };
    const double zero[8] = { 0 };
    sr_stats_test r;
    assert_int_equal(sr_stats_wilcoxon(d, zero, 8, &r), SR_OK);
    assert_false(r.exact);
    assert_int_equal(r.n, 8);
    assert_true(r.stat == 9.5);
    ASSERT_REL(r.p, erfc(8.5 / sqrt(50.375) / sqrt(2.0)), 1e-14);
    ASSERT_REL(r.p, 0.23107319627794864, 1e-13);
}

static void test_wilcoxon_zero_dropped_forces_normal_approximation(void **state)
{
    (void)state;
    /* d = {0, 1, 2, 3, -4, 5}: the zero is dropped (n = 5), no ties, but a
     * zero was present, so the normal approximation is used (as scipy's
     * "auto"). W- = 4, W+ = 11, T = 4; mean 5*6/4 = 7.5; variance
     * 5*6*11/24 = 13.75; z = -3.5 / sqrt(13.75) = -0.9438798074485389;
     * p = 0.3452310717718401 (python). */
    const double a[] = { 2.0, 3.0, 4.0, 5.0, 0.0, 7.0 }, b[] = { 2.0, 2.0, 2.0, 2.0, 4.0, 2.0 };
    sr_stats_test r;
    assert_int_equal(sr_stats_wilcoxon(a, b, 6, &r), SR_OK);
    assert_false(r.exact);
    assert_int_equal(r.n, 5);
    assert_true(r.stat == 4.0);
    ASSERT_REL(r.p, erfc(3.5 / sqrt(13.75) / sqrt(2.0)), 1e-14);
    ASSERT_REL(r.p, 0.3452310717718401, 1e-13);
    /* the same five without the zero: exact. P(W+ <= 4) = 7/32 (patterns
     * {}, {1}, {2}, {3}, {4}, {1,2}, {1,3}), p = 14/32 */
    assert_int_equal(sr_stats_wilcoxon(a + 1, b + 1, 5, &r), SR_OK);
    assert_true(r.exact && r.stat == 4.0);
    SR_ASSERT_NEAR(r.p, 0.4375, 1e-15);
}

static void test_wilcoxon_n60_normal_approximation(void **state)
{
    (void)state;
    /* d = 1..60, all positive: T = 0, mean 915, variance 60*61*121/24 =
     * 18452.5, z = -6.735866746488256, p = 1.6295557943119322e-11 (python) */
    double a[60], b[60] = { 0 };
    for (int i = 0; i < 60; i++)
        a[i] = i + 1.0;
    sr_stats_test r;
    assert_int_equal(sr_stats_wilcoxon(a, b, 60, &r), SR_OK);
    assert_false(r.exact);
    assert_true(r.stat == 0.0);
    ASSERT_REL(r.p, 1.6295557943119322e-11, 1e-12);
}

/* ---- Wilcoxon: degenerate cases ---------------------------------------------------- */

static void test_wilcoxon_all_zero_differences(void **state)
{
    (void)state;
    const double a[] = { 0.3, -0.0, 7.0 }, b[] = { 0.3, 0.0, 7.0 };
    sr_stats_test r;
    assert_int_equal(sr_stats_wilcoxon(a, b, 3, &r), SR_OK);
    assert_int_equal(r.n, 0);
    assert_true(r.stat == 0.0);
    assert_true(isnan(r.p));
    assert_false(r.exact);
}

static void test_wilcoxon_rejects_bad_input(void **state)
{
    (void)state;
    const double a[] = { 1.0, 2.0, 3.0 }, b[] = { 1.0, 2.5, NAN };
    sr_stats_test r = { .n = -7 };
    assert_int_equal(sr_stats_wilcoxon(a, a, 0, &r), SR_ERR_ARG);
    assert_int_equal(sr_stats_wilcoxon(a, a, -3, &r), SR_ERR_ARG);
    assert_int_equal(sr_stats_wilcoxon(a, b, 3, &r), SR_ERR_ARG);
    assert_non_null(strstr(sr_errmsg(), "pair 2"));
    assert_int_equal(sr_stats_wilcoxon(b, a, 3, &r), SR_ERR_ARG);
    assert_int_equal(sr_stats_wilcoxon(NULL, a, 3, &r), SR_ERR_ARG);
    assert_int_equal(sr_stats_wilcoxon(a, NULL, 3, &r), SR_ERR_ARG);
    assert_int_equal(sr_stats_wilcoxon(a, a, 3, NULL), SR_ERR_ARG);
    assert_int_equal(r.n, -7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_betainc_closed_forms_when_a_or_b_is_one),
        cmocka_unit_test(test_betainc_symmetry_and_half_point),
        cmocka_unit_test(test_betainc_matches_binomial_tail),
        cmocka_unit_test(test_betainc_domain_and_endpoints),
        cmocka_unit_test(test_t_cdf_df1_is_cauchy),
        cmocka_unit_test(test_t_cdf_df2_closed_form),
        cmocka_unit_test(test_t_cdf_df3_df4_closed_forms),
        cmocka_unit_test(test_t_cdf_match_python_reference),
        cmocka_unit_test(test_t_cdf_large_df_match_python_tail_integrals),
        cmocka_unit_test(test_t_cdf_special_values),
        cmocka_unit_test(test_t_quantile_textbook_table),
        cmocka_unit_test(test_t_quantile_closed_forms_df1_df2),
        cmocka_unit_test(test_t_quantile_inverts_cdf),
        cmocka_unit_test(test_t_quantile_match_python_reference),
        cmocka_unit_test(test_t_quantile_outside_domain_is_nan),
        cmocka_unit_test(test_norm_cdf_table_values),
        cmocka_unit_test(test_summarise_one_to_five),
        cmocka_unit_test(test_summarise_two_values_ci_is_cauchy_quantile),
        cmocka_unit_test(test_summarise_single_value_has_nan_spread),
        cmocka_unit_test(test_summarise_constant_values_zero_width_ci),
        cmocka_unit_test(test_summarise_rejects_bad_input),
        cmocka_unit_test(test_paired_t_three_pairs_closed_form_df2),
        cmocka_unit_test(test_paired_t_two_pairs_closed_form_df1),
        cmocka_unit_test(test_paired_t_match_python_reference),
        cmocka_unit_test(test_paired_t_equal_nonzero_differences_infinite_t),
        cmocka_unit_test(test_paired_t_all_zero_differences_nan),
        cmocka_unit_test(test_paired_t_rejects_bad_input),
        cmocka_unit_test(test_wilcoxon_exact_all_positive_n5_n6),
        cmocka_unit_test(test_wilcoxon_exact_centre_p_is_one),
        cmocka_unit_test(test_wilcoxon_exact_matches_brute_force_enumeration),
        cmocka_unit_test(test_wilcoxon_exact_n16_match_python_reference),
        cmocka_unit_test(test_wilcoxon_exact_up_to_50_pairs),
        cmocka_unit_test(test_wilcoxon_ties_normal_approximation_hand_computed),
        cmocka_unit_test(test_wilcoxon_zero_dropped_forces_normal_approximation),
        cmocka_unit_test(test_wilcoxon_n60_normal_approximation),
        cmocka_unit_test(test_wilcoxon_all_zero_differences),
        cmocka_unit_test(test_wilcoxon_rejects_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
