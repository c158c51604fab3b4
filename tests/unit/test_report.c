/* test_report.c - the experiment report: summary.csv against means, t
 * intervals, relative changes and p-values computed here by hand (textbook t
 * quantiles, closed-form t distributions for 2 and 4 degrees of freedom, the
 * exact Wilcoxon distribution counted by hand); REPORT.md's sections and
 * wording; the SVGs' well-formedness; malformed input naming its line and
 * leaving no partial output. */
#include "sr_test.h"

#include <ctype.h>

#include "sr_report.h"

/* ---- writing results.csv ----------------------------------------------------- */

enum { HR1, HR5, HR10, HR20, NDCG10, MRR10, SKIP10, N_M };

typedef struct row {
    const char *config, *base, *model;
    int seed;
    const char *protocol;
    double hr10, ndcg10, skip10; /* NaN: empty field */
} row;

/* The seven reported metrics of a row: HR@10, NDCG@10 and Skip-MRR@10 as
 * given, the others derived from them (any values would do). */
static void row_metrics(const row *r, double m[N_M])
{
    m[HR1] = r->ndcg10 * 0.5;
    m[HR5] = r->hr10 * 0.75;
    m[HR10] = r->hr10;
    m[HR20] = r->hr10 * 1.25;
    m[NDCG10] = r->ndcg10;
    m[MRR10] = r->ndcg10 * 0.8;
    m[SKIP10] = r->skip10;
}

static void put_num(FILE *fp, double v)
{
    if (!isnan(v))
        fprintf(fp, "%.17g", v);
}

/* results.csv with the runner's 53 columns; the 42 metric keys are spelled
 * out here (not taken from sr_metrics) so a change of order is caught. */
static void write_results(const char *dir, const row *rows, size_t n)
{
    char path[SR_TEST_PATH_MAX];
    snprintf(path, sizeof path, "%s/results.csv", dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    static const char *const prefix[3] = { "", "listened_", "skip_" };
    static const char *const name[3] = { "hr", "ndcg", "mrr" };
    static const int ks[4] = { 1, 5, 10, 20 };
    fputs("config,base,model,seed,protocol,steps,best_step,train_seconds", fp);
    for (int g = 0; g < 3; g++)
        for (int v = 0; v < 3; v++)
            for (int k = 0; k < 4; k++)
                fprintf(fp, ",%s%s@%d", prefix[g], name[v], ks[k]);
    fputs(",n_queries,n_listened_queries,n_skipped_queries,n_unseen_queries,"
          "n_listened_unseen_queries,n_skipped_unseen_queries,coverage@10,mean_pop@10,n_no_input\n",
          fp);
    for (size_t i = 0; i < n; i++) {
        const row *r = &rows[i];
        double m[N_M];
        row_metrics(r, m);
        bool neural = strcmp(r->model, "pop") != 0;
        fprintf(fp, "%s,%s,%s,%d,%s,%s,%s,%s", r->config, r->base, r->model, r->seed, r->protocol,
                neural ? "1000" : "", neural ? "800" : "", neural ? "12.5" : "0.25");
        for (int g = 0; g < 3; g++) {
            for (int v = 0; v < 3; v++) {
                for (int k = 0; k < 4; k++) {
                    fputc(',', fp);
                    double val = 0.25; /* columns the report does not use */
                    if (g == 0 && v == 0)
                        val = m[k]; /* HR1, HR5, HR10, HR20 */
                    else if (g == 0 && ks[k] == 10)
                        val = v == 1 ? m[NDCG10] : m[MRR10];
                    else if (g == 2 && v == 2 && ks[k] == 10)
                        val = m[SKIP10];
                    put_num(fp, val);
                }
            }
        }
        fprintf(fp, ",1000,800,200,3,2,1,%s,15.5,0\n",
                strcmp(r->protocol, "full") == 0 ? "0.3" : "");
    }
    assert_int_equal(fclose(fp), 0);
}

/* The main data set: 2 pairs (SASRec x 5 seeds, BERT4Rec x 3 seeds) under
 * both protocols, a pop baseline without base (one seed, no skipped query),
 * and a one-seed configuration with a base. Sampled values are twice the
 * full ones (exact in binary), so relative changes and p-values agree. */
#define N_SAS 5
#define N_BERT 3
static const double sas_hr[N_SAS] = { 0.200, 0.210, 0.190, 0.205, 0.195 };
static const double sas_nd[N_SAS] = { 0.100, 0.104, 0.098, 0.102, 0.096 };
static const double sas_sk[N_SAS] = { 0.050, 0.052, 0.048, 0.051, 0.049 };
/* NDCG@10 differences +1, +3, +2, +5, +4 (x1e-3): all positive, no tied |d|;
 * HR@10 +4, -2, +6, +1, +3 (x1e-3); Skip-MRR@10 all negative. */
static const double sk_hr[N_SAS] = { 0.204, 0.208, 0.196, 0.206, 0.198 };
static const double sk_nd[N_SAS] = { 0.101, 0.107, 0.100, 0.107, 0.100 };
static const double sk_sk[N_SAS] = { 0.048, 0.048, 0.047, 0.048, 0.044 };
static const double bert_hr[N_BERT] = { 0.150, 0.160, 0.155 };
static const double bert_nd[N_BERT] = { 0.070, 0.074, 0.072 };
static const double bert_sk[N_BERT] = { 0.060, 0.061, 0.059 };
/* NDCG@10 differences +10, -4, +2 (x1e-3); HR@10 +20, +10, -5; Skip +3, +1, -2 */
static const double bsk_hr[N_BERT] = { 0.170, 0.170, 0.150 };
static const double bsk_nd[N_BERT] = { 0.080, 0.070, 0.074 };
static const double bsk_sk[N_BERT] = { 0.063, 0.062, 0.057 };

static row mkrow(const char *config, const char *base, const char *model, int seed,
                 const char *protocol, double hr10, double ndcg10, double skip10)
{
    row r = { config, base, model, seed, protocol, hr10, ndcg10, skip10 };
    return r;
}

static size_t main_rows(row *out)
{
    size_t n = 0;
    for (int p = 0; p < 2; p++) {
        const char *pr = p == 0 ? "full" : "sampled";
        const double f = p == 0 ? 1.0 : 2.0;
        for (int s = 0; s < N_SAS; s++) {
            out[n++] = mkrow("sasrec", "", "sasrec", s + 1, pr, f * sas_hr[s], f * sas_nd[s],
                             f * sas_sk[s]);
            out[n++] = mkrow("sasrec+skip", "sasrec", "sasrec", s + 1, pr, f * sk_hr[s],
                             f * sk_nd[s], f * sk_sk[s]);
        }
        for (int s = 0; s < N_BERT; s++) {
            out[n++] = mkrow("bert4rec", "", "bert4rec", s + 1, pr, f * bert_hr[s],
                             f * bert_nd[s], f * bert_sk[s]);
            out[n++] = mkrow("bert4rec+skip", "bert4rec", "bert4rec", s + 1, pr, f * bsk_hr[s],
                             f * bsk_nd[s], f * bsk_sk[s]);
        }
        out[n++] = mkrow("pop", "", "pop", 0, pr, f * 0.05, f * 0.02, NAN);
        out[n++] = mkrow("sasrec+skip-1s", "sasrec", "sasrec", 1, pr, f * 0.212, f * 0.105,
                         f * 0.045);
    }
    /* rows may come in any order: reverse them */
    for (size_t i = 0; i < n / 2; i++) {
        row t = out[i];
        out[i] = out[n - 1 - i];
        out[n - 1 - i] = t;
    }
    return n;
}

static void write_history(const char *dir, const char *config, int seed, const char *body)
{
    char path[SR_TEST_PATH_MAX];
    snprintf(path, sizeof path, "%s/runs", dir);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/runs/%s.s%d.history.csv", dir, config, seed);
    sr_test_write_text(path, body);
}

static void write_main_dataset(const char *dir)
{
    row rows[64];
    size_t n = main_rows(rows);
    write_results(dir, rows, n);
    write_history(
        dir, "sasrec", 1,
        "step,epoch,loss,rec,nf,metric\n100,0,5.1,5.0,0.1,0.05\n200,1,4.2,4.1,0.1,0.07\n");
    write_history(dir, "sasrec", 2,
                  "step,epoch,loss,rec,nf,metric\n100,0,5.0,4.9,0.1,0.06\n200,1,4.1,4.0,0.1,\n");
    write_history(dir, "sasrec+skip", 1,
                  "step,epoch,loss,rec,nf,metric\n100,0,5.2,5.0,0.2,0.055\n");
}

/* ---- reading the outputs ----------------------------------------------------- */

static const sr_report_info default_info = { "Skip term on MSSD", "Data: synthetic test rows.",
                                             0.95 };

static char *read_out(const char *name)
{
    return sr_test_read_file(sr_test_path(name), NULL);
}

/* The 13 fields of the summary.csv row (config, protocol, metric); fails the test when absent. */
typedef struct summary_row {
    char f[13][64];
} summary_row;

static summary_row summary_find(const char *csv, const char *config, const char *protocol,
                                const char *metric)
{
    summary_row out;
    char key[256];
    snprintf(key, sizeof key, "\n%s,%s,%s,", config, protocol, metric);
    const char *p = strstr(csv, key);
    if (!p)
        fail_msg("summary.csv has no row %s,%s,%s", config, protocol, metric);
    p++;
    const char *end = strchr(p, '\n');
    assert_non_null(end);
    int i = 0;
    const char *s = p;
    for (const char *q = p; q <= end; q++) {
        if (*q == ',' || q == end) {
            assert_true(i < 13);
            size_t len = (size_t)(q - s);
            assert_true(len < sizeof out.f[0]);
            memcpy(out.f[i], s, len);
            out.f[i][len] = '\0';
            i++;
            s = q + 1;
        }
    }
    assert_int_equal(i, 13);
    return out;
}

enum {
    S_CONFIG,
    S_PROTOCOL,
    S_METRIC,
    S_N,
    S_MEAN,
    S_SD,
    S_LO,
    S_HI,
    S_BASE,
    S_REL,
    S_PT,
    S_PW,
    S_PAIRS
};

static double num(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (s[0] == '\0' || *end != '\0')
        fail_msg("\"%s\" is not a number", s);
    return v;
}

/* mean, sample sd and the t interval with quantile tq, by hand */
static void hand_summary(const double *x, int n, double tq, double *mean, double *sd, double *lo,
                         double *hi)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += x[i];
    *mean = s / n;
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += (x[i] - *mean) * (x[i] - *mean);
    *sd = sqrt(ss / (n - 1));
    *lo = *mean - tq * *sd / sqrt(n);
    *hi = *mean + tq * *sd / sqrt(n);
}

static double hand_mean(const double *x, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += x[i];
    return s / n;
}

/* paired t statistic of a - b */
static double hand_t(const double *a, const double *b, int n)
{
    double d[16], m, sd, lo, hi;
    for (int i = 0; i < n; i++)
        d[i] = a[i] - b[i];
    hand_summary(d, n, 0.0, &m, &sd, &lo, &hi);
    return m / (sd / sqrt(n));
}

/* Two-sided p of Student t, closed forms: 2 df: 1 - |t| / sqrt(t^2 + 2);
 * 4 df: F(t) = 1/2 + 3/8 u (1 - t^2 / (12 (1 + t^2/4))), u = t / sqrt(1 + t^2/4). */
static double p_t_df2(double t)
{
    return 1.0 - fabs(t) / sqrt(t * t + 2.0);
}

static double p_t_df4(double t)
{
    t = fabs(t);
    double a = 1.0 + t * t / 4.0;
    double cdf = 0.5 + 0.375 * (t / sqrt(a)) * (1.0 - t * t / (12.0 * a));
    return 2.0 * (1.0 - cdf);
}

/* ---- a tiny SVG checker -------------------------------------------------------- */

/* Starts with "<svg", every tag is closed in order, attribute values are
 * quoted, every '&' starts a known entity, and </svg> ends the file. */
static void assert_svg_well_formed(const char *name)
{
    char *text = read_out(name);
    if (strncmp(text, "<svg", 4) != 0)
        fail_msg("%s does not start with <svg", name);
    char stack[64][32];
    int depth = 0, elements = 0;
    const char *p = text;
    bool closed_root = false;
    while (*p) {
        if (*p == '&') {
            static const char *const ent[] = { "&amp;", "&lt;", "&gt;", "&quot;", "&apos;" };
            bool ok = false;
            for (size_t i = 0; i < 5; i++)
                ok = ok || strncmp(p, ent[i], strlen(ent[i])) == 0;
            if (!ok)
                fail_msg("%s: bare '&' at offset %td", name, p - text);
            p++;
            continue;
        }
        if (*p == '>')
            fail_msg("%s: stray '>' at offset %td", name, p - text);
        if (*p != '<') {
            if (closed_root && !isspace((unsigned char)*p))
                fail_msg("%s: text after </svg>", name);
            p++;
            continue;
        }
        if (closed_root)
            fail_msg("%s: markup after </svg>", name);
        bool closing = p[1] == '/';
        const char *s = p + (closing ? 2 : 1);
        size_t n = strcspn(s, " \t\n/>");
        if (n == 0 || n >= 32)
            fail_msg("%s: bad tag name at offset %td", name, p - text);
        /* to the end of the tag, skipping quoted attribute values */
        const char *q = s + n;
        char quote = 0;
        while (*q && (quote || *q != '>')) {
            if (quote && *q == quote)
                quote = 0;
            else if (!quote && (*q == '"' || *q == '\''))
                quote = *q;
            else if (!quote && *q == '=' && q[1] != '"' && q[1] != '\'')
                fail_msg("%s: unquoted attribute at offset %td", name, q - text);
            else if (quote && *q == '<')
                fail_msg("%s: '<' in an attribute at offset %td", name, q - text);
            q++;
        }
        if (!*q)
            fail_msg("%s: unterminated tag at offset %td", name, p - text);
        if (closing) {
            if (depth == 0 || strncmp(stack[depth - 1], s, n) != 0 || stack[depth - 1][n] != '\0')
                fail_msg("%s: </%.*s> does not close <%s>", name, (int)n, s,
                         depth ? stack[depth - 1] : "(nothing)");
            depth--;
            if (depth == 0)
                closed_root = true;
        } else {
            elements++;
            if (q[-1] != '/') {
                if (depth == 64)
                    fail_msg("%s: nesting too deep", name);
                memcpy(stack[depth], s, n);
                stack[depth][n] = '\0';
                depth++;
            } else if (depth == 0) {
                fail_msg("%s: root element is self-closing", name);
            }
        }
        p = q + 1;
    }
    if (depth != 0 || !closed_root)
        fail_msg("%s: %d unclosed elements", name, depth);
    assert_true(elements > 5);
    free(text);
}

/* No "<name>.tmp" anywhere in the output directory or figures/. */
static void assert_no_tmp_files(void)
{
    const char *dirs[2] = { sr_test_dir(), sr_test_path("figures") };
    for (int i = 0; i < 2; i++) {
        DIR *d = opendir(dirs[i]);
        if (!d)
            continue;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            size_t n = strlen(e->d_name);
            if (n >= 4 && strcmp(e->d_name + n - 4, ".tmp") == 0)
                fail_msg("temporary file %s/%s left behind", dirs[i], e->d_name);
        }
        closedir(d);
    }
}

/* ---- summary.csv ------------------------------------------------------------------- */

static void test_report_summary_means_and_intervals_match_hand_computation(void **state)
{
    (void)state;
    write_main_dataset(sr_test_dir());
    assert_int_equal(sr_report_write(sr_test_dir(), &default_info), SR_OK);
    char *csv = read_out("summary.csv");
    static const char header[] =
        "config,protocol,metric,n,mean,sd,ci_low,ci_high,base,rel_change,p_t,p_wilcoxon,n_pairs\n";
    assert_int_equal(strncmp(csv, header, strlen(header)), 0);

    const double t4 = 2.776445105, t2 = 4.302652730; /* t_{0.975,4}, t_{0.975,2} */
    double m, sd, lo, hi;
    summary_row r = summary_find(csv, "sasrec", "full", "ndcg@10");
    hand_summary(sas_nd, N_SAS, t4, &m, &sd, &lo, &hi);
    assert_string_equal(r.f[S_N], "5");
    SR_ASSERT_NEAR(num(r.f[S_MEAN]), m, 1e-9);
    SR_ASSERT_NEAR(num(r.f[S_SD]), sd, 1e-9);
    SR_ASSERT_NEAR(num(r.f[S_LO]), lo, 1e-8);
    SR_ASSERT_NEAR(num(r.f[S_HI]), hi, 1e-8);
    assert_string_equal(r.f[S_BASE], "");
    assert_string_equal(r.f[S_REL], "");
    assert_string_equal(r.f[S_PT], "");
    assert_string_equal(r.f[S_PAIRS], "");

    r = summary_find(csv, "bert4rec+skip", "full", "hr@10");
    hand_summary(bsk_hr, N_BERT, t2, &m, &sd, &lo, &hi);
    assert_string_equal(r.f[S_N], "3");
    SR_ASSERT_NEAR(num(r.f[S_MEAN]), m, 1e-9);
    SR_ASSERT_NEAR(num(r.f[S_LO]), lo, 1e-8);
    SR_ASSERT_NEAR(num(r.f[S_HI]), hi, 1e-8);
    assert_string_equal(r.f[S_BASE], "bert4rec");

    /* a derived metric: HR@20 = 1.25 HR@10 under the sampled protocol (x2) */
    double x[N_SAS];
    for (int i = 0; i < N_SAS; i++)
        x[i] = 2.0 * sk_hr[i] * 1.25;
    hand_summary(x, N_SAS, t4, &m, &sd, &lo, &hi);
    r = summary_find(csv, "sasrec+skip", "sampled", "hr@20");
    SR_ASSERT_NEAR(num(r.f[S_MEAN]), m, 1e-9);
    SR_ASSERT_NEAR(num(r.f[S_HI]), hi, 1e-8);

    /* one seed: a mean, no interval */
    r = summary_find(csv, "pop", "full", "hr@10");
    assert_string_equal(r.f[S_N], "1");
    SR_ASSERT_NEAR(num(r.f[S_MEAN]), 0.05, 1e-12);
    assert_string_equal(r.f[S_SD], "");
    assert_string_equal(r.f[S_LO], "");
    assert_string_equal(r.f[S_HI], "");
    /* no skipped query at all: n = 0 and no mean */
    r = summary_find(csv, "pop", "sampled", "skip_mrr@10");
    assert_string_equal(r.f[S_N], "0");
    assert_string_equal(r.f[S_MEAN], "");
    free(csv);
    assert_no_tmp_files();
}

static void test_report_summary_paired_tests_match_closed_forms(void **state)
{
    (void)state;
    write_main_dataset(sr_test_dir());
    assert_int_equal(sr_report_write(sr_test_dir(), &default_info), SR_OK);
    char *csv = read_out("summary.csv");

    /* SASRec: 5 pairs, NDCG@10 better in all five -> exact Wilcoxon 2/2^5 */
    summary_row r = summary_find(csv, "sasrec+skip", "full", "ndcg@10");
    assert_string_equal(r.f[S_BASE], "sasrec");
    assert_string_equal(r.f[S_PAIRS], "5");
    SR_ASSERT_NEAR(num(r.f[S_REL]), hand_mean(sk_nd, N_SAS) / hand_mean(sas_nd, N_SAS) - 1.0, 1e-9);
    SR_ASSERT_NEAR(num(r.f[S_PW]), 0.0625, 1e-9);
    SR_ASSERT_NEAR(num(r.f[S_PT]), p_t_df4(hand_t(sk_nd, sas_nd, N_SAS)), 1e-7);
    /* ... and the same under the sampled protocol (values doubled) */
    r = summary_find(csv, "sasrec+skip", "sampled", "ndcg@10");
    SR_ASSERT_NEAR(num(r.f[S_PW]), 0.0625, 1e-9);
    SR_ASSERT_NEAR(num(r.f[S_PT]), p_t_df4(hand_t(sk_nd, sas_nd, N_SAS)), 1e-7);

    /* HR@10 +4 -2 +6 +1 +3: W- = rank 2, P(W <= 2) = 3/32 one-sided -> 6/32 */
    r = summary_find(csv, "sasrec+skip", "full", "hr@10");
    SR_ASSERT_NEAR(num(r.f[S_PW]), 6.0 / 32.0, 1e-9);
    SR_ASSERT_NEAR(num(r.f[S_PT]), p_t_df4(hand_t(sk_hr, sas_hr, N_SAS)), 1e-7);
    /* Skip-MRR@10 lower in all five */
    r = summary_find(csv, "sasrec+skip", "full", "skip_mrr@10");
    SR_ASSERT_NEAR(num(r.f[S_PW]), 0.0625, 1e-9);
    assert_true(num(r.f[S_REL]) < 0.0);

    /* BERT4Rec: 3 pairs, NDCG@10 +10 -4 +2: W = min(4, 2) = 2, P(W+ <= 2) = 3/8 -> 0.75 */
    r = summary_find(csv, "bert4rec+skip", "full", "ndcg@10");
    assert_string_equal(r.f[S_PAIRS], "3");
    SR_ASSERT_NEAR(num(r.f[S_PW]), 0.75, 1e-9);
    SR_ASSERT_NEAR(num(r.f[S_PT]), p_t_df2(hand_t(bsk_nd, bert_nd, N_BERT)), 1e-7);
    SR_ASSERT_NEAR(num(r.f[S_REL]), hand_mean(bsk_nd, N_BERT) / hand_mean(bert_nd, N_BERT) - 1.0,
                   1e-9);
    /* HR@10 +20 +10 -5: W = 1, P(W+ <= 1) = 2/8 -> 0.5 */
    r = summary_find(csv, "bert4rec+skip", "full", "hr@10");
    SR_ASSERT_NEAR(num(r.f[S_PW]), 0.5, 1e-9);

    /* one seed with a base: the relative change of that pair, no test */
    r = summary_find(csv, "sasrec+skip-1s", "full", "ndcg@10");
    assert_string_equal(r.f[S_N], "1");
    assert_string_equal(r.f[S_PAIRS], "1");
    SR_ASSERT_NEAR(num(r.f[S_REL]), 0.105 / sas_nd[0] - 1.0, 1e-9);
    assert_string_equal(r.f[S_PT], "");
    assert_string_equal(r.f[S_PW], "");
    free(csv);
}

/* ---- REPORT.md --------------------------------------------------------------------- */

/* The line of `text` that starts with `prefix`, copied into buf (fails when absent). */
static void find_line(const char *text, const char *prefix, char *buf, size_t cap)
{
    size_t n = strlen(prefix);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, prefix, n) == 0) {
            size_t len = strcspn(p, "\n");
            assert_true(len < cap);
            memcpy(buf, p, len);
            buf[len] = '\0';
            return;
        }
    }
    fail_msg("no line starts with \"%s\"", prefix);
}

static void test_report_markdown_sections_cells_and_reading(void **state)
{
    (void)state;
    write_main_dataset(sr_test_dir());
    assert_int_equal(sr_report_write(sr_test_dir(), &default_info), SR_OK);
    char *md = read_out("REPORT.md");
    static const char head[] = "# Skip term on MSSD\n\nData: synthetic test rows.\n";
    assert_int_equal(strncmp(md, head, strlen(head)), 0);
    const char *full = strstr(md, "\n## Full-catalogue ranking\n");
    const char *sampled =
        strstr(md, "\n## Sampled protocol (the authors' - for comparison only, not a result)\n");
    const char *reading = strstr(md, "\n## Reading\n");
    assert_non_null(full);
    assert_non_null(sampled);
    assert_non_null(reading);
    assert_true(full < sampled && sampled < reading);
    assert_non_null(strstr(sampled, "for comparison"));
    assert_non_null(strstr(md, "Skip-MRR@10 (lower is better)"));
    /* the figures are embedded in the full-ranking section */
    static const char *const figs[] = { "(figures/metrics.svg)", "(figures/gain_vs_k.svg)",
                                        "(figures/skip_mrr.svg)", "(figures/valid_curves.svg)" };
    for (size_t i = 0; i < 4; i++) {
        const char *at = strstr(md, figs[i]);
        if (!at || at < full || at > sampled)
            fail_msg("%s is not linked in the full-ranking section", figs[i]);
        assert_memory_equal(at - 1, "]", 1);
    }

    /* the cell of SASRec's NDCG@10: mean [CI] with 4 decimals */
    double m, sd, lo, hi;
    hand_summary(sas_nd, N_SAS, 2.776445105, &m, &sd, &lo, &hi);
    char cell[128], line[4096];
    snprintf(cell, sizeof cell, "| %.4f [%.4f, %.4f] |", m, lo, hi);
    find_line(full + 1, "| `sasrec` | 5 |", line, sizeof line);
    assert_non_null(strstr(line, cell));
    /* one seed: no interval; no value: "-" */
    find_line(full + 1, "| `pop` | 1 |", line, sizeof line);
    assert_non_null(strstr(line, "| 0.0500 [-] |"));
    assert_non_null(strstr(line, "| - |"));

    /* relative change row: NDCG@10 0.1030 / 0.1000 - 1 = +3.00% */
    find_line(full + 1, "| `sasrec+skip` | `sasrec` | 5 |", line, sizeof line);
    assert_non_null(strstr(line, "| +3.00% |"));
    assert_non_null(strstr(line, "| 0.0625 |"));

    /* the reading: nothing passes both tests, so nothing is called significant */
    assert_null(strstr(reading, "significantly"));
    find_line(reading + 1, "- `bert4rec+skip` against `bert4rec` (3 paired seeds):", line,
              sizeof line);
    assert_non_null(strstr(line, "NDCG@10 +3.70%: no significant difference (p = "));
    /* SASRec: the t-test alone is below 0.05; the Wilcoxon floor is explained */
    find_line(reading + 1, "- `sasrec+skip` against `sasrec` (5 paired seeds):", line, sizeof line);
    assert_non_null(strstr(line, "NDCG@10 +3.00%: no significant difference"));
    assert_non_null(strstr(line, "under the t-test only"));
    assert_non_null(strstr(line, "cannot go below 2/2^5 = 0.0625"));
    assert_non_null(strstr(line, "Skip-MRR@10 -"));
    assert_non_null(strstr(line, "skipped tracks ranked lower on average"));
    find_line(reading + 1, "- `sasrec+skip-1s` against `sasrec` (1 paired seed):", line,
              sizeof line);
    assert_non_null(strstr(line, "no significant difference can be claimed"));
    find_line(reading + 1, "- `pop` has no base", line, sizeof line);
    free(md);
}

static void test_report_six_seeds_all_better_is_significant_under_both_tests(void **state)
{
    (void)state;
    /* 6 pairs, every difference positive: exact Wilcoxon 2/2^6 = 0.03125 */
    row rows[12];
    static const double base_nd[6] = { 0.100, 0.104, 0.098, 0.102, 0.096, 0.101 };
    static const double diff[6] = { 0.004, 0.006, 0.005, 0.007, 0.0045, 0.0055 };
    for (int s = 0; s < 6; s++) {
        rows[2 * s] = mkrow("a", "", "sasrec", s, "full", 0.2 + base_nd[s], base_nd[s], 0.05);
        rows[2 * s + 1] = mkrow("a+skip", "a", "sasrec", s, "full", 0.2 + base_nd[s] + diff[s],
                                base_nd[s] + diff[s], 0.05 - diff[s]);
    }
    write_results(sr_test_dir(), rows, 12);
    assert_int_equal(sr_report_write(sr_test_dir(), &default_info), SR_OK);
    char *csv = read_out("summary.csv");
    summary_row r = summary_find(csv, "a+skip", "full", "ndcg@10");
    SR_ASSERT_NEAR(num(r.f[S_PW]), 0.03125, 1e-9);
    assert_true(num(r.f[S_PT]) < 0.001);
    free(csv);
    char *md = read_out("REPORT.md");
    char line[4096];
    const char *reading = strstr(md, "\n## Reading\n");
    assert_non_null(reading);
    find_line(reading + 1, "- `a+skip` against `a` (6 paired seeds):", line, sizeof line);
    assert_non_null(strstr(line, "NDCG@10 is significantly higher (+"));
    assert_non_null(strstr(line, "Skip-MRR@10 is significantly lower ("));
    assert_null(strstr(line, "cannot go below"));
    /* no sampled rows: no sampled section; no histories: no validation figure */
    assert_null(strstr(md, "## Sampled protocol"));
    assert_null(strstr(md, "valid_curves.svg"));
    assert_false(sr_test_exists(sr_test_path("figures/valid_curves.svg")));
    free(md);
    assert_svg_well_formed("figures/gain_vs_k.svg");
}

/* ---- figures ------------------------------------------------------------------------- */

static void test_report_figures_are_well_formed_svg(void **state)
{
    (void)state;
    write_main_dataset(sr_test_dir());
    assert_int_equal(sr_report_write(sr_test_dir(), &default_info), SR_OK);
    assert_svg_well_formed("figures/metrics.svg");
    assert_svg_well_formed("figures/gain_vs_k.svg");
    assert_svg_well_formed("figures/skip_mrr.svg");
    assert_svg_well_formed("figures/valid_curves.svg");
    /* validation curves: one line per configuration with a history, named with its seeds */
    char *svg = read_out("figures/valid_curves.svg");
    assert_non_null(strstr(svg, ">sasrec (2 seeds)</text>"));
    assert_non_null(strstr(svg, ">sasrec+skip (1 seed)</text>"));
    assert_null(strstr(svg, "bert4rec"));
    free(svg);
    svg = read_out("figures/skip_mrr.svg");
    assert_non_null(strstr(svg, ">sasrec+skip vs sasrec</text>"));
    assert_non_null(strstr(svg, ">bert4rec+skip vs bert4rec</text>"));
    assert_null(strstr(svg, ">pop</text>"));
    free(svg);
    assert_no_tmp_files();
}

static void test_report_svg_escapes_configuration_names(void **state)
{
    (void)state;
    row rows[4] = {
        { "a<b", "", "sasrec", 1, "full", 0.20, 0.10, 0.05 },
        { "a<b", "", "sasrec", 2, "full", 0.21, 0.11, 0.06 },
        { "a<b&'skip'", "a<b", "sasrec", 1, "full", 0.22, 0.12, 0.04 },
        { "a<b&'skip'", "a<b", "sasrec", 2, "full", 0.23, 0.13, 0.05 },
    };
    write_results(sr_test_dir(), rows, 4);
    assert_int_equal(sr_report_write(sr_test_dir(), &default_info), SR_OK);
    assert_svg_well_formed("figures/metrics.svg");
    assert_svg_well_formed("figures/skip_mrr.svg");
    assert_svg_well_formed("figures/gain_vs_k.svg");
    char *svg = read_out("figures/skip_mrr.svg");
    assert_non_null(strstr(svg, ">a&lt;b&amp;&apos;skip&apos; vs a&lt;b</text>"));
    free(svg);
}

static void test_report_rerun_without_histories_removes_stale_curve_figure(void **state)
{
    (void)state;
    write_main_dataset(sr_test_dir());
    assert_int_equal(sr_report_write(sr_test_dir(), &default_info), SR_OK);
    assert_true(sr_test_exists(sr_test_path("figures/valid_curves.svg")));
    assert_int_equal(sr_test_remove_tree(sr_test_path("runs")), 0);
    assert_int_equal(sr_report_write(sr_test_dir(), &default_info), SR_OK);
    assert_false(sr_test_exists(sr_test_path("figures/valid_curves.svg")));
    char *md = read_out("REPORT.md");
    assert_null(strstr(md, "valid_curves"));
    free(md);
    assert_no_tmp_files();
}

/* ---- malformed input ----------------------------------------------------------------- */

/* The directory holds only the inputs: no report file, no figures, no .tmp. */
static void assert_no_outputs(int n_inputs)
{
    assert_int_equal(sr_test_count_entries(sr_test_dir(), NULL, 0), n_inputs);
    assert_false(sr_test_exists(sr_test_path("summary.csv")));
    assert_false(sr_test_exists(sr_test_path("REPORT.md")));
    assert_false(sr_test_exists(sr_test_path("figures")));
}

/* Replace line `lineno` (1-based) of results.csv with `text`. */
static void replace_results_line(int lineno, const char *text)
{
    char *old = read_out("results.csv");
    size_t cap = strlen(old) + strlen(text) + 2;
    char *neu = malloc(cap);
    assert_non_null(neu);
    size_t o = 0;
    int line = 1;
    for (const char *p = old; *p;) {
        size_t len = strcspn(p, "\n");
        if (line == lineno)
            o += (size_t)snprintf(neu + o, cap - o, "%s\n", text);
        else
            o += (size_t)snprintf(neu + o, cap - o, "%.*s\n", (int)len, p);
        p += len + (p[len] == '\n');
        line++;
    }
    sr_test_write_text(sr_test_path("results.csv"), neu);
    free(old);
    free(neu);
}

/* Line `lineno` of results.csv with field `field` (0-based) replaced by `value`. */
static void replace_results_field(int lineno, int field, const char *value)
{
    char *old = read_out("results.csv");
    const char *p = old;
    for (int l = 1; l < lineno; l++)
        p = strchr(p, '\n') + 1;
    size_t len = strcspn(p, "\n");
    char buf[4096];
    assert_true(len < sizeof buf);
    size_t o = 0;
    int f = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || p[i] == ',') {
            if (f == field)
                o += (size_t)snprintf(buf + o, sizeof buf - o, "%s", value);
            if (i < len)
                buf[o++] = ',';
            f++;
        } else if (f != field) {
            buf[o++] = p[i];
        }
    }
    buf[o] = '\0';
    free(old);
    replace_results_line(lineno, buf);
}

static void write_small_results(void)
{
    row rows[4] = {
        { "a", "", "sasrec", 1, "full", 0.20, 0.10, 0.05 },
        { "a", "", "sasrec", 2, "full", 0.21, 0.11, 0.06 },
        { "b", "a", "sasrec", 1, "full", 0.22, 0.12, 0.04 },
        { "b", "a", "sasrec", 2, "full", 0.23, 0.13, 0.05 },
    };
    write_results(sr_test_dir(), rows, 4);
}

static void test_report_wrong_column_count_names_the_line(void **state)
{
    (void)state;
    write_small_results();
    replace_results_line(3, "a,,sasrec,3,full,1000");
    assert_int_equal(sr_report_write(sr_test_dir(), &default_info), SR_ERR_FORMAT);
    assert_non_null(strstr(sr_errmsg(), "results.csv:3:"));
    assert_non_null(strstr(sr_errmsg(), "6 fields"));
    assert_no_outputs(1);
}

static void test_report_bad_number_names_the_line_and_column(void **state)
{
    (void)state;
    write_small_results();
    replace_results_field(4, 8 + 2, "0.2x"); /* hr@10 */
    assert_int_equal(sr_report_write(sr_test_dir(), &default_info), SR_ERR_FORMAT);
    assert_non_null(strstr(sr_errmsg(), "results.csv:4:"));
    assert_non_null(strstr(sr_errmsg(), "\"hr@10\""));
    assert_non_null(strstr(sr_errmsg(), "0.2x"));
    assert_no_outputs(1);
}

static void test_report_bad_number_in_unused_metric_column_is_rejected(void **state)
{
    (void)state;
    write_small_results();
    replace_results_field(2, 13, "inf"); /* ndcg@5 */
    assert_int_equal(sr_report_write(sr_test_dir(), &default_info), SR_ERR_FORMAT);
    assert_non_null(strstr(sr_errmsg(), "results.csv:2:"));
    assert_non_null(strstr(sr_errmsg(), "\"ndcg@5\""));
    assert_no_outputs(1);
}

static void test_report_unknown_protocol_and_bad_seed_name_the_line(void **state)
{
    (void)state;
    write_small_results();
    replace_results_field(5, 4, "sampeld");
    assert_int_equal(sr_report_write(sr_test_dir(), &default_info), SR_ERR_FORMAT);
    assert_non_null(strstr(sr_errmsg(), "results.csv:5:"));
    assert_non_null(strstr(sr_errmsg(), "sampeld"));
    write_small_results();
    replace_results_field(2, 3, "-1");
    assert_int_equal(sr_report_write(sr_test_dir(), &default_info), SR_ERR_FORMAT);
    assert_non_null(strstr(sr_errmsg(), "results.csv:2:"));
    assert_no_outputs(1);
}

static void test_report_duplicate_run_names_both_lines(void **state)
{
    (void)state;
    write_small_results();
    replace_results_field(3, 3, "1"); /* a seed 2 -> seed 1 again */
    assert_int_equal(sr_report_write(sr_test_dir(), &default_info), SR_ERR_FORMAT);
    assert_non_null(strstr(sr_errmsg(), "results.csv:3:"));
    assert_non_null(strstr(sr_errmsg(), "line 2"));
    assert_no_outputs(1);
}

static void test_report_path_like_configuration_name_is_rejected(void **state)
{
    (void)state;
    write_small_results();
    replace_results_field(2, 0, "../x");
    assert_int_equal(sr_report_write(sr_test_dir(), &default_info), SR_ERR_FORMAT);
    assert_non_null(strstr(sr_errmsg(), "results.csv:2:"));
    assert_no_outputs(1);
}

static void test_report_missing_results_is_notfound(void **state)
{
    (void)state;
    assert_int_equal(sr_report_write(sr_test_dir(), &default_info), SR_ERR_NOTFOUND);
    assert_non_null(strstr(sr_errmsg(), "results.csv"));
    assert_no_outputs(0);
}

static void test_report_missing_metric_column_is_column_error(void **state)
{
    (void)state;
    sr_test_write_text(sr_test_path("results.csv"),
                       "config,base,model,seed,protocol\na,,sasrec,1,full\n");
    assert_int_equal(sr_report_write(sr_test_dir(), &default_info), SR_ERR_COLUMN);
    assert_no_outputs(1);
}

static void test_report_malformed_history_names_file_and_line(void **state)
{
    (void)state;
    write_small_results();
    write_history(sr_test_dir(), "b", 2,
                  "step,epoch,loss,rec,nf,metric\n100,0,1,1,0,0.1\n200,1,1,1,0,abc\n");
    assert_int_equal(sr_report_write(sr_test_dir(), &default_info), SR_ERR_FORMAT);
    assert_non_null(strstr(sr_errmsg(), "runs/b.s2.history.csv:3:"));
    assert_no_outputs(2);
    assert_no_tmp_files();
}

static void test_report_configurations_table_lists_seeds_of_both_protocols(void **state)
{
    (void)state;
    row rows[6] = {
        { "a", "", "sasrec", 1, "full", 0.20, 0.10, 0.05 },
        { "a", "", "sasrec", 3, "full", 0.21, 0.11, 0.06 },
        { "a", "", "sasrec", 2, "full", 0.21, 0.11, 0.06 },
        { "a", "", "sasrec", 3, "sampled", 0.22, 0.12, 0.04 },
        { "a", "", "sasrec", 6, "sampled", 0.23, 0.13, 0.05 },
        { "a", "", "sasrec", 5, "sampled", 0.23, 0.13, 0.05 },
    };
    write_results(sr_test_dir(), rows, 6);
    assert_int_equal(sr_report_write(sr_test_dir(), &default_info), SR_OK);
    char *md = read_out("REPORT.md");
    char line[1024];
    find_line(md, "| `a` | sasrec | - |", line, sizeof line);
    assert_non_null(strstr(line, "| - | 1-3, 5, 6 | 800 | 12 s |"));
    /* no base anywhere: nothing to compare, no comparison figures */
    assert_non_null(strstr(md, "No configuration names a base"));
    assert_null(strstr(md, "gain_vs_k"));
    assert_false(sr_test_exists(sr_test_path("figures/skip_mrr.svg")));
    free(md);
}

static void test_report_bad_level_is_arg_error(void **state)
{
    (void)state;
    write_small_results();
    sr_report_info info = { "t", "", 1.0 };
    assert_int_equal(sr_report_write(sr_test_dir(), &info), SR_ERR_ARG);
    assert_no_outputs(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        SR_TEST_IN_DIR(test_report_summary_means_and_intervals_match_hand_computation),
        SR_TEST_IN_DIR(test_report_summary_paired_tests_match_closed_forms),
        SR_TEST_IN_DIR(test_report_markdown_sections_cells_and_reading),
        SR_TEST_IN_DIR(test_report_six_seeds_all_better_is_significant_under_both_tests),
        SR_TEST_IN_DIR(test_report_figures_are_well_formed_svg),
        SR_TEST_IN_DIR(test_report_svg_escapes_configuration_names),
        SR_TEST_IN_DIR(test_report_rerun_without_histories_removes_stale_curve_figure),
        SR_TEST_IN_DIR(test_report_wrong_column_count_names_the_line),
        SR_TEST_IN_DIR(test_report_bad_number_names_the_line_and_column),
        SR_TEST_IN_DIR(test_report_bad_number_in_unused_metric_column_is_rejected),
        SR_TEST_IN_DIR(test_report_unknown_protocol_and_bad_seed_name_the_line),
        SR_TEST_IN_DIR(test_report_duplicate_run_names_both_lines),
        SR_TEST_IN_DIR(test_report_path_like_configuration_name_is_rejected),
        SR_TEST_IN_DIR(test_report_missing_results_is_notfound),
        SR_TEST_IN_DIR(test_report_missing_metric_column_is_column_error),
        SR_TEST_IN_DIR(test_report_malformed_history_names_file_and_line),
        SR_TEST_IN_DIR(test_report_configurations_table_lists_seeds_of_both_protocols),
        SR_TEST_IN_DIR(test_report_bad_level_is_arg_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
