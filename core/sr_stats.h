/* sr_stats.h - the statistics of experiment reports: mean and confidence
 * interval over seeds, and paired tests between two configurations run
 * with the same seeds (paired t-test, Wilcoxon signed-rank).
 *
 * Everything is in double; nothing allocates more than O(n) (the exact
 * Wilcoxon distribution is O(n^3) time, O(n^2) memory, for n <= 50).
 * Conventions follow scipy.stats (1.11): ttest_rel, and wilcoxon with
 * zero_method="wilcox" (zero differences are dropped) and
 * alternative="two-sided"; the exact distribution is used when no
 * difference is zero or tied and n <= 50, else the normal approximation
 * with the tie correction and without continuity correction. Each function
 * documents what it returns in degenerate cases (no variance, n too small).
 */
#ifndef SR_STATS_H
#define SR_STATS_H

#include "sr_common.h"

/* Regularised incomplete beta I_x(a, b), a, b > 0, x in [0, 1]
 * (continued fraction, Numerical Recipes 6.4, in the form of TOMS 708's
 * bfrac so that it does not cancel for large a or b; modified Lentz); NaN
 * outside the domain (infinite a or b included). */
double sr_stats_betainc(double a, double b, double x);

/* Student's t distribution with df > 0 degrees of freedom: the CDF at t, and
 * the quantile q with CDF(q) = p for p in (0, 1) (NaN outside). df may be
 * +inf (the normal distribution). The quantile is -+inf when it lies beyond
 * DBL_MAX (tiny p with df well below 1). */
double sr_stats_t_cdf(double t, double df);
double sr_stats_t_quantile(double p, double df);

/* Standard normal CDF. */
double sr_stats_norm_cdf(double z);

typedef struct sr_stats_summary {
    int n;
    double mean;
    double sd;              /* sample standard deviation (n - 1); NaN when n < 2 */
    double ci_low, ci_high; /* mean -+ t_{(1+level)/2, n-1} sd / sqrt(n); NaN when n < 2 */
} sr_stats_summary;

/* Summary of x[0..n) (NaN entries are an error: SR_ERR_ARG), level in (0, 1),
 * e.g. 0.95. n >= 1 (SR_ERR_ARG otherwise). An infinite entry gives a mean
 * of +-inf (NaN for both signs) and NaN sd and interval. Equal values give
 * exactly that mean and sd = 0 (a zero-width interval). On error *out is
 * left alone (also for the tests below). */
sr_err sr_stats_summarise(const double *x, int n, double level, sr_stats_summary *out);

typedef struct sr_stats_test {
    int n;          /* pairs used (Wilcoxon: non-zero differences) */
    double stat;    /* t statistic; Wilcoxon: W = min(W+, W-) */
    double p;       /* two-sided p-value; see the degenerate cases */
    bool exact;     /* Wilcoxon: exact distribution used */
} sr_stats_test;

/* Paired t-test of a[i] vs b[i] (d = a - b), n >= 2 (SR_ERR_ARG otherwise;
 * NaN input too, as for the Wilcoxon test). exact is false.
 * All differences equal: t = +-inf and p = 0 when they are non-zero, t = NaN
 * and p = NaN when they are all zero (scipy gives NaN there too). */
sr_err sr_stats_paired_t(const double *a, const double *b, int n, sr_stats_test *out);

/* Wilcoxon signed-rank test of a[i] vs b[i]. Zero differences are dropped;
 * when none is left, stat = 0 and p = NaN (no evidence either way).
 * Ranks of tied |d| are averaged. SR_ERR_ARG for n < 1 or NaN input. */
sr_err sr_stats_wilcoxon(const double *a, const double *b, int n, sr_stats_test *out);

#endif /* SR_STATS_H */
