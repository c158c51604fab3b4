#!/usr/bin/env python3
"""Independent reference values for core/sr_stats.c (standard library only;
scipy is not available where the tests were written).

- Student's t CDF by composite Simpson integration of the t density from 0
  to t (CDF = 1/2 + integral; the density is smooth there, so 200000
  panels give ~1e-15), with the normalising constant from math.lgamma;
  for large df, upper tails integrated directly from t to 40 with the
  constant from its asymptotic series;
- t quantiles by bisection on that integral;
- the paired t-test on a fixed data set (t from the textbook formula, p from
  the integrated CDF);
- the exact Wilcoxon signed-rank p-value by enumerating all 2^n sign
  patterns (scipy's two-sided rule: 2 min(P(W+ <= w), P(W+ >= w)), capped at
  1), and the tie-corrected normal approximation written from the scipy
  documentation's formula.

Run it and paste the printed values into tests/unit/test_stats.c
(test_*_match_python_reference); it is not run by ctest (seconds of
Simpson integration would slow the suite for nothing: the values are fixed).
"""
import math

PANELS = 200000


def t_density(x, df):
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)
    return c * (1 + x * x / df) ** (-(df + 1) / 2)


def gamma_ratio(df):
    """Gamma((df + 1) / 2) / (Gamma(df / 2) sqrt(df / 2)): by lgamma for
    moderate df; for large df lgamma's two huge values would cancel, so the
    asymptotic series 1 - 1/(4v) + 1/(32v^2) + 5/(128v^3) - 21/(2048v^4)."""
    if df < 1e4:
        return math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df / 2)
    v = df
    return 1 - 1 / (4 * v) + 1 / (32 * v * v) + 5 / (128 * v ** 3) - 21 / (2048 * v ** 4)


def t_density_large(x, df):
    """The t density written for any df (log1p keeps (1 + x^2/df)^... exact)."""
    c = gamma_ratio(df) / math.sqrt(2 * math.pi)
    return c * math.exp(-(df + 1) / 2 * math.log1p(x * x / df))


def t_upper_tail(t, df, hi=40.0, panels=400000):
    """P(T >= t) = integral of the density from t to hi (the density beyond
    hi = 40 is below 1e-300 for the df used here): a direct tail integral,
    so small tails keep their relative precision (1/2 - integral would not)."""
    h = (hi - t) / panels
    terms = [t_density_large(t, df), t_density_large(hi, df)]
    terms += [(4 if i % 2 else 2) * t_density_large(t + i * h, df) for i in range(1, panels)]
    return math.fsum(terms) * h / 3


def t_cdf(t, df, panels=PANELS):
    if t == 0:
        return 0.5
    h = t / panels
    terms = [t_density(0.0, df), t_density(t, df)]
    terms += [(4 if i % 2 else 2) * t_density(i * h, df) for i in range(1, panels)]
    # fsum: a plain running sum of 2e5 terms would add ~1e-14 of rounding
    return 0.5 + math.fsum(terms) * h / 3


def t_quantile(p, df):
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df, 20000) < p:
        lo, hi = hi, hi * 2
    # coarse bisection with fewer panels, then refine with the full count
    for _ in range(30):
        mid = (lo + hi) / 2
        if t_cdf(mid, df, 20000) < p:
            lo = mid
        else:
            hi = mid
    # Newton polish on the accurate CDF (density is exact)
    x = (lo + hi) / 2
    for _ in range(3):
        x -= (t_cdf(x, df) - p) / t_density(x, df)
    return x


def paired_t(a, b):
    d = [x - y for x, y in zip(a, b)]
    n = len(d)
    m = sum(d) / n
    sd = math.sqrt(sum((x - m) ** 2 for x in d) / (n - 1))
    t = m / (sd / math.sqrt(n))
    p = 2 * t_cdf(-abs(t), n - 1)
    return t, p


def ranks_abs(d):
    """Average ranks of |d| (1-based), by counting: rank = #smaller + (#equal + 1) / 2."""
    a = [abs(x) for x in d]
    return [sum(1 for y in a if y < x) + (sum(1 for y in a if y == x) + 1) / 2 for x in a]


def wilcoxon_exact(d):
    d = [x for x in d if x != 0]
    n = len(d)
    r = ranks_abs(d)
    w_obs = sum(ri for ri, x in zip(r, d) if x > 0)
    le = ge = 0
    for mask in range(1 << n):
        w = sum(r[i] for i in range(n) if mask >> i & 1)
        le += w <= w_obs
        ge += w >= w_obs
    w_minus = sum(r) - w_obs
    return min(w_obs, w_minus), min(1.0, 2 * min(le, ge) / 2 ** n)


def wilcoxon_normal(d):
    d = [x for x in d if x != 0]
    n = len(d)
    r = ranks_abs(d)
    wp = sum(ri for ri, x in zip(r, d) if x > 0)
    wm = sum(r) - wp
    T = min(wp, wm)
    counts = {}
    for x in d:
        counts[abs(x)] = counts.get(abs(x), 0) + 1
    tie = sum(t * (t * t - 1) for t in counts.values())
    se = math.sqrt((n * (n + 1) * (2 * n + 1) - 0.5 * tie) / 24)
    z = (T - n * (n + 1) / 4) / se
    return T, z, math.erfc(abs(z) / math.sqrt(2))


def main():
    print("# t CDF by Simpson integration: (t, df, cdf)")
    for t, df in [(0.7, 3.0), (-2.5, 5.0), (1.3, 7.5), (2.1, 29.0), (-4.0, 0.5), (3.3, 120.0)]:
        print(f"{{ {t!r}, {df!r}, {t_cdf(t, df)!r} }},")
    print("# upper tails P(T >= t) for large df by direct tail integration: (t, df, tail)")
    for df in [1e4, 1e6, 1e9, 1e12]:
        for t in [2.0, 5.0]:
            print(f"{{ {t!r}, {df!r}, {t_upper_tail(t, df)!r} }},")
    print("# t quantiles by bisection + Newton on the integrated CDF: (p, df, q)")
    for p, df in [(0.975, 7.5), (0.995, 3.0), (0.9, 29.0), (0.975, 2.5)]:
        print(f"{{ {p!r}, {df!r}, {t_quantile(p, df)!r} }},")
    print("# paired t-test, n = 10")
    a = [0.412, 0.398, 0.431, 0.405, 0.420, 0.417, 0.409, 0.425, 0.401, 0.415]
    b = [0.405, 0.401, 0.420, 0.399, 0.418, 0.409, 0.410, 0.414, 0.398, 0.408]
    t, p = paired_t(a, b)
    print(f"t = {t!r}, p = {p!r}")
    print("# wilcoxon exact by enumeration, n = 16")
    d16 = [0.31, -1.7, 2.25, 0.05, -0.6, 1.1, 3.4, -2.9,
           0.8, 1.45, -0.15, 2.6, 0.95, -3.1, 1.9, 0.4]
    print("W, p =", wilcoxon_exact(d16))
    print("# wilcoxon normal with ties")
    dt = [0.5, -1.0, 1.0, 2.0, 2.0, 2.0, -3.0, 4.0]
    print("T, z, p =", wilcoxon_normal(dt))
    dz = [0.0, 1.0, 2.0, 3.0, -4.0, 5.0]
    print("T, z, p (with a zero) =", wilcoxon_normal(dz))
    d60 = [float(i + 1) for i in range(60)]
    print("T, z, p (n = 60 all positive) =", wilcoxon_normal(d60))


if __name__ == "__main__":
    main()
