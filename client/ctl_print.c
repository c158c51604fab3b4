/* ctl_print.c - see ctl_print.h. */
#include "ctl_print.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CTL_MAX_COLUMNS 16

/* ---- JSON --------------------------------------------------------------------- */

/* A copy of s[len] where every byte that breaks UTF-8 validity is '?'.
 * Simple rule: keep ASCII, keep well-formed multi-byte sequences. */
static char *ctl_utf8_sanitize(const char *s, size_t len)
{
    char *o = malloc(len + 1);
    if (!o)
        return NULL;
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = n > 0 && i + n <= len && c != 0;
        for (size_t k = 1; ok && k < n; k++)
            ok = ((unsigned char)s[i + k] >> 6) == 2;
        if (ok) {
            memcpy(o + i, s + i, n);
            i += n;
        } else {
            o[i++] = '?';
        }
    }
    o[len] = '\0';
    return o;
}

static json_t *ctl_json_str(const char *s, size_t len)
{
    json_t *j = json_stringn(s, len);
    if (j)
        return j;
    char *c = ctl_utf8_sanitize(s, len);
    if (!c)
        return NULL;
    j = json_stringn(c, len);
    free(c);
    return j;
}

/* Text form of a scalar node into buf[cap]. */
static const char *ctl_scalar_text(const sr_mp_node *n, char *buf, size_t cap)
{
    switch (n->type) {
    case SR_MP_TYPE_NIL:
        snprintf(buf, cap, "-");
        break;
    case SR_MP_TYPE_BOOL:
        snprintf(buf, cap, "%s", n->v.b ? "true" : "false");
        break;
    case SR_MP_TYPE_UINT:
        snprintf(buf, cap, "%llu", (unsigned long long)n->v.u);
        break;
    case SR_MP_TYPE_INT:
        snprintf(buf, cap, "%lld", (long long)n->v.i);
        break;
    case SR_MP_TYPE_FLOAT:
        snprintf(buf, cap, "%.6g", n->v.f);
        break;
    case SR_MP_TYPE_STR: {
        size_t k = n->n < cap - 1 ? n->n : cap - 1;
        for (size_t i = 0; i < k; i++) {
            char c = n->v.s[i];
            buf[i] = (c >= 0 && c < 0x20) || c == 0x7f ? '?' : c;
        }
        buf[k] = '\0';
        break;
    }
    case SR_MP_TYPE_ARRAY:
        snprintf(buf, cap, "[%u items]", n->n);
        break;
    case SR_MP_TYPE_MAP:
        snprintf(buf, cap, "{%u entries}", n->n);
        break;
    default:
        snprintf(buf, cap, "<%u bytes>", n->n);
        break;
    }
    return buf;
}

json_t *ctl_print_json(const sr_mp_doc *doc, uint32_t idx)
{
    const sr_mp_node *n = &doc->nodes[idx];
    switch (n->type) {
    case SR_MP_TYPE_NIL:
        return json_null();
    case SR_MP_TYPE_BOOL:
        return json_boolean(n->v.b);
    case SR_MP_TYPE_UINT:
        if (n->v.u > (uint64_t)INT64_MAX)
            return json_real((double)n->v.u);
        return json_integer((json_int_t)n->v.u);
    case SR_MP_TYPE_INT:
        return json_integer((json_int_t)n->v.i);
    case SR_MP_TYPE_FLOAT:
        /* JSON has no NaN/Inf: write null for them. */
        if (n->v.f != n->v.f || n->v.f > 1.7976931348623157e308 || n->v.f < -1.7976931348623157e308)
            return json_null();
        return json_real(n->v.f);
    case SR_MP_TYPE_STR:
        return ctl_json_str(n->v.s, n->n);
    case SR_MP_TYPE_ARRAY: {
        json_t *a = json_array();
        uint32_t c = idx + 1;
        for (uint32_t i = 0; a && i < n->n; i++) {
            json_t *v = ctl_print_json(doc, c);
            if (!v || json_array_append_new(a, v) != 0) {
                json_decref(a);
                return NULL;
            }
            c += doc->nodes[c].span;
        }
        return a;
    }
    case SR_MP_TYPE_MAP: {
        json_t *o = json_object();
        uint32_t c = idx + 1;
        for (uint32_t i = 0; o && i < n->n; i++) {
            const sr_mp_node *k = &doc->nodes[c];
            uint32_t vi = c + k->span;
            char kb[128];
            char *key = NULL;
            if (k->type == SR_MP_TYPE_STR)
                key = ctl_utf8_sanitize(k->v.s, k->n);
            else
                key = strdup(ctl_scalar_text(k, kb, sizeof kb));
            json_t *v = key ? ctl_print_json(doc, vi) : NULL;
            if (!v || json_object_set_new(o, key, v) != 0) {
                free(key);
                json_decref(o);
                return NULL;
            }
            free(key);
            c = vi + doc->nodes[vi].span;
        }
        return o;
    }
    default: {
        char buf[64];
        return json_string(ctl_scalar_text(n, buf, sizeof buf));
    }
    }
}

/* ---- text --------------------------------------------------------------------- */

static bool ctl_is_table(const sr_mp_doc *doc, uint32_t idx)
{
    const sr_mp_node *n = &doc->nodes[idx];
    if (n->type != SR_MP_TYPE_ARRAY || n->n == 0)
        return false;
    uint32_t c = idx + 1;
    for (uint32_t i = 0; i < n->n; i++) {
        if (doc->nodes[c].type != SR_MP_TYPE_MAP)
            return false;
        c += doc->nodes[c].span;
    }
    return true;
}

/* Key of the pair starting at node c, as text. */
static const char *ctl_key(const sr_mp_doc *doc, uint32_t c, char *buf, size_t cap)
{
    return ctl_scalar_text(&doc->nodes[c], buf, cap);
}

static void ctl_print_table(FILE *f, const sr_mp_doc *doc, uint32_t idx, int indent)
{
    const sr_mp_node *arr = &doc->nodes[idx];
    char cols[CTL_MAX_COLUMNS][64];
    int width[CTL_MAX_COLUMNS];
    int n_cols = 0;
    char buf[256];

    /* Columns: keys in order of first appearance. */
    uint32_t c = idx + 1;
    for (uint32_t r = 0; r < arr->n; r++) {
        const sr_mp_node *m = &doc->nodes[c];
        uint32_t k = c + 1;
        for (uint32_t i = 0; i < m->n; i++) {
            ctl_key(doc, k, buf, sizeof buf);
            int j;
            for (j = 0; j < n_cols; j++)
                if (strcmp(cols[j], buf) == 0)
                    break;
            if (j == n_cols && n_cols < CTL_MAX_COLUMNS) {
                snprintf(cols[n_cols], sizeof cols[0], "%.63s", buf);
                width[n_cols] = (int)strlen(cols[n_cols]);
                n_cols++;
            }
            uint32_t v = k + doc->nodes[k].span;
            k = v + doc->nodes[v].span;
        }
        c += m->span;
    }
    /* Widths over all cells. */
    c = idx + 1;
    for (uint32_t r = 0; r < arr->n; r++) {
        for (int j = 0; j < n_cols; j++) {
            const sr_mp_node *v = sr_mp_map_get(doc, c, cols[j]);
            int w = v ? (int)strlen(ctl_scalar_text(v, buf, sizeof buf)) : 1;
            if (w > width[j])
                width[j] = w;
        }
        c += doc->nodes[c].span;
    }
    fprintf(f, "%*s", indent, "");
    for (int j = 0; j < n_cols; j++)
        fprintf(f, "%-*s%s", width[j], cols[j], j + 1 < n_cols ? "  " : "\n");
    c = idx + 1;
    for (uint32_t r = 0; r < arr->n; r++) {
        fprintf(f, "%*s", indent, "");
        for (int j = 0; j < n_cols; j++) {
            const sr_mp_node *v = sr_mp_map_get(doc, c, cols[j]);
            const char *t = v ? ctl_scalar_text(v, buf, sizeof buf) : "-";
            bool num = v && (v->type == SR_MP_TYPE_UINT || v->type == SR_MP_TYPE_INT ||
                             v->type == SR_MP_TYPE_FLOAT);
            /* numbers right-aligned, text left-aligned */
            if (num)
                fprintf(f, "%*s", width[j], t);
            else
                fprintf(f, "%-*s", width[j], t);
            fputs(j + 1 < n_cols ? "  " : "\n", f);
        }
        c += doc->nodes[c].span;
    }
}

static void ctl_print_map(FILE *f, const sr_mp_doc *doc, uint32_t idx, int indent)
{
    const sr_mp_node *m = &doc->nodes[idx];
    char kb[128], vb[512];
    int kw = 0, vw = 0;
    bool all_num = true; /* a table of numbers (stats): right-align the values */
    uint32_t c = idx + 1;
    for (uint32_t i = 0; i < m->n; i++) {
        int w = (int)strlen(ctl_key(doc, c, kb, sizeof kb));
        if (w > kw)
            kw = w;
        uint32_t v = c + doc->nodes[c].span;
        const sr_mp_node *vn = &doc->nodes[v];
        if (vn->type == SR_MP_TYPE_UINT || vn->type == SR_MP_TYPE_INT ||
            vn->type == SR_MP_TYPE_FLOAT) {
            w = (int)strlen(ctl_scalar_text(vn, vb, sizeof vb));
            if (w > vw)
                vw = w;
        } else if (vn->type != SR_MP_TYPE_MAP && vn->type != SR_MP_TYPE_ARRAY) {
            all_num = false;
        }
        c = v + vn->span;
    }
    if (m->n == 0)
        fprintf(f, "%*s(none)\n", indent, "");
    c = idx + 1;
    for (uint32_t i = 0; i < m->n; i++) {
        uint32_t v = c + doc->nodes[c].span;
        const sr_mp_node *vn = &doc->nodes[v];
        ctl_key(doc, c, kb, sizeof kb);
        if (vn->type == SR_MP_TYPE_MAP) {
            fprintf(f, "%*s%s:\n", indent, "", kb);
            ctl_print_map(f, doc, v, indent + 2);
        } else if (ctl_is_table(doc, v)) {
            fprintf(f, "%*s%s:\n", indent, "", kb);
            ctl_print_table(f, doc, v, indent + 2);
        } else if (vn->type == SR_MP_TYPE_ARRAY) {
            fprintf(f, "%*s%-*s  ", indent, "", kw, kb);
            uint32_t e = v + 1;
            for (uint32_t k = 0; k < vn->n; k++) {
                fprintf(f, "%s%s", k ? ", " : "", ctl_scalar_text(&doc->nodes[e], vb, sizeof vb));
                e += doc->nodes[e].span;
            }
            fputs(vn->n ? "\n" : "(none)\n", f);
        } else {
            ctl_scalar_text(vn, vb, sizeof vb);
            fprintf(f, "%*s%-*s  %*s\n", indent, "", kw, kb, all_num ? vw : 0, vb);
        }
        c = v + vn->span;
    }
}

void ctl_print_text(FILE *f, const sr_mp_doc *doc, uint32_t idx)
{
    ctl_print_map(f, doc, idx, 0);
}

/* ---- reading members ------------------------------------------------------------ */

bool ctl_get_str(const sr_mp_doc *doc, uint32_t map, const char *key, sr_pstr *out)
{
    const sr_mp_node *n = sr_mp_map_get(doc, map, key);
    if (!n || n->type != SR_MP_TYPE_STR)
        return false;
    out->ptr = n->v.s;
    out->len = n->n;
    return true;
}

bool ctl_get_u64(const sr_mp_doc *doc, uint32_t map, const char *key, uint64_t *out)
{
    const sr_mp_node *n = sr_mp_map_get(doc, map, key);
    if (!n || n->type != SR_MP_TYPE_UINT)
        return false;
    *out = n->v.u;
    return true;
}

static bool ctl_num(const sr_mp_node *n, double *out)
{
    if (!n)
        return false;
    if (n->type == SR_MP_TYPE_FLOAT && n->v.f == n->v.f)
        *out = n->v.f;
    else if (n->type == SR_MP_TYPE_UINT)
        *out = (double)n->v.u;
    else if (n->type == SR_MP_TYPE_INT)
        *out = (double)n->v.i;
    else
        return false;
    return true;
}

bool ctl_get_f64(const sr_mp_doc *doc, uint32_t map, const char *key, double *out)
{
    return ctl_num(sr_mp_map_get(doc, map, key), out);
}

void ctl_put_safe(FILE *f, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        fputc((c >= 0 && c < 0x20) || c == 0x7f ? '?' : c, f);
    }
}

/* The pstr as a NUL-terminated, control-free string in buf[cap] (cut). */
static const char *ctl_pstr_text(sr_pstr s, char *buf, size_t cap)
{
    sr_mp_node n;
    memset(&n, 0, sizeof n);
    n.type = SR_MP_TYPE_STR;
    n.n = s.len;
    n.v.s = s.ptr;
    return ctl_scalar_text(&n, buf, cap);
}

/* Seconds as "45s", "4m10s", "2h03m". */
static void ctl_duration(double s, char *buf, size_t cap)
{
    if (!(s >= 0) || s > 1e9) {
        snprintf(buf, cap, "?");
        return;
    }
    unsigned long long t = (unsigned long long)(s + 0.5);
    if (t < 60)
        snprintf(buf, cap, "%llus", t);
    else if (t < 3600)
        snprintf(buf, cap, "%llum%02llus", t / 60, t % 60);
    else
        snprintf(buf, cap, "%lluh%02llum", t / 3600, (t % 3600) / 60);
}

/* ---- evaluate ------------------------------------------------------------------- */

#define CTL_EVAL_ROWS 48
#define CTL_EVAL_COLS 8

/* A metric value for a table cell: counts as integers, rates with 4
 * decimals, larger values (mean popularity) with one. */
static const char *ctl_metric_text(const sr_mp_node *v, char *buf, size_t cap)
{
    double x;
    if (!v || v->type == SR_MP_TYPE_NIL)
        return "-";
    if (v->type == SR_MP_TYPE_UINT)
        snprintf(buf, cap, "%llu", (unsigned long long)v->v.u);
    else if (ctl_num(v, &x))
        snprintf(buf, cap, x > -10 && x < 10 ? "%.4f" : "%.1f", x);
    else
        return ctl_scalar_text(v, buf, cap);
    return buf;
}

/* "name@K" with K all digits: the name's length and K. */
static bool ctl_metric_key(const char *key, size_t *name_len, unsigned *k)
{
    const char *at = strrchr(key, '@');
    if (!at || at == key || !at[1] || strlen(at + 1) > 6)
        return false;
    for (const char *p = at + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    *name_len = (size_t)(at - key);
    *k = (unsigned)atoi(at + 1);
    return true;
}

void ctl_print_evaluate(FILE *f, const sr_mp_doc *doc, uint32_t idx)
{
    const sr_mp_node *m = &doc->nodes[idx];
    char kb[128], vb[128];
    uint32_t metrics = UINT32_MAX;
    bool sampled = false;
    sr_pstr s;

    /* the scalar members first (model, dataset, split, ...) */
    int kw = 0;
    uint32_t c = idx + 1;
    for (uint32_t i = 0; i < m->n; i++) {
        uint32_t v = c + doc->nodes[c].span;
        int w = (int)strlen(ctl_key(doc, c, kb, sizeof kb));
        if (doc->nodes[v].type != SR_MP_TYPE_MAP && w > kw)
            kw = w;
        c = v + doc->nodes[v].span;
    }
    c = idx + 1;
    for (uint32_t i = 0; i < m->n; i++) {
        uint32_t v = c + doc->nodes[c].span;
        const sr_mp_node *vn = &doc->nodes[v];
        ctl_key(doc, c, kb, sizeof kb);
        if (vn->type == SR_MP_TYPE_MAP) {
            if (strcmp(kb, "metrics") == 0)
                metrics = v;
        } else if (vn->type != SR_MP_TYPE_ARRAY) {
            fprintf(f, "%-*s  %s\n", kw, kb, ctl_scalar_text(vn, vb, sizeof vb));
        }
        c = v + vn->span;
    }
    if (ctl_get_str(doc, idx, "protocol", &s) && sr_pstr_eq(s, "sampled"))
        sampled = true;
    if (metrics == UINT32_MAX) {
        fprintf(f, "(no metrics)\n");
        return;
    }

    /* rows (metric names, in the daemon's order) x columns (cut-offs) */
    char rows[CTL_EVAL_ROWS][48];
    unsigned cols[CTL_EVAL_COLS];
    uint32_t cell[CTL_EVAL_ROWS][CTL_EVAL_COLS];
    int n_rows = 0, n_cols = 0;
    const sr_mp_node *mm = &doc->nodes[metrics];
    c = metrics + 1;
    for (uint32_t i = 0; i < mm->n; i++) {
        uint32_t v = c + doc->nodes[c].span;
        size_t nl;
        unsigned k;
        ctl_key(doc, c, kb, sizeof kb);
        if (strncmp(kb, "sampled_", 8) == 0)
            sampled = true;
        if (ctl_metric_key(kb, &nl, &k) && nl < sizeof rows[0]) {
            int j;
            for (j = 0; j < n_cols && cols[j] != k; j++)
                ;
            if (j == n_cols && n_cols < CTL_EVAL_COLS) {
                /* keep the cut-offs sorted */
                int at = n_cols++;
                while (at > 0 && cols[at - 1] > k) {
                    cols[at] = cols[at - 1];
                    for (int r = 0; r < n_rows; r++)
                        cell[r][at] = cell[r][at - 1];
                    at--;
                }
                cols[at] = k;
                for (int r = 0; r < n_rows; r++)
                    cell[r][at] = UINT32_MAX;
            }
            int r;
            for (r = 0; r < n_rows && !(strlen(rows[r]) == nl && strncmp(rows[r], kb, nl) == 0);
                 r++)
                ;
            if (r == n_rows && n_rows < CTL_EVAL_ROWS) {
                memcpy(rows[r], kb, nl);
                rows[r][nl] = '\0';
                for (int q = 0; q < CTL_EVAL_COLS; q++)
                    cell[r][q] = UINT32_MAX;
                n_rows++;
            }
            for (j = 0; j < n_cols && cols[j] != k; j++)
                ;
            if (r < n_rows && j < n_cols)
                cell[r][j] = v;
        }
        c = v + doc->nodes[v].span;
    }

    fputc('\n', f);
    if (sampled)
        fprintf(f, "*** SAMPLED PROTOCOL (authors' comparison only): ranks among sampled\n"
                   "*** negatives, not comparable with full-ranking numbers ***\n\n");
    int rw = 6; /* "metric" */
    int cw[CTL_EVAL_COLS];
    for (int r = 0; r < n_rows; r++)
        if ((int)strlen(rows[r]) > rw)
            rw = (int)strlen(rows[r]);
    for (int j = 0; j < n_cols; j++) {
        cw[j] = snprintf(vb, sizeof vb, "@%u", cols[j]);
        for (int r = 0; r < n_rows; r++) {
            int w = (int)strlen(cell[r][j] == UINT32_MAX
                                    ? "-"
                                    : ctl_metric_text(&doc->nodes[cell[r][j]], vb, sizeof vb));
            if (w > cw[j])
                cw[j] = w;
        }
    }
    if (n_rows > 0) {
        fprintf(f, "%-*s", rw, "metric");
        for (int j = 0; j < n_cols; j++) {
            snprintf(vb, sizeof vb, "@%u", cols[j]);
            fprintf(f, "  %*s", cw[j], vb);
        }
        fputc('\n', f);
        for (int r = 0; r < n_rows; r++) {
            fprintf(f, "%-*s", rw, rows[r]);
            for (int j = 0; j < n_cols; j++)
                fprintf(f, "  %*s", cw[j],
                        cell[r][j] == UINT32_MAX
                            ? "-"
                            : ctl_metric_text(&doc->nodes[cell[r][j]], vb, sizeof vb));
            fputc('\n', f);
        }
    }

    /* the rest of the metrics map: counts and anything without a cut-off */
    bool first = true;
    kw = 0;
    c = metrics + 1;
    for (uint32_t i = 0; i < mm->n; i++) {
        uint32_t v = c + doc->nodes[c].span;
        size_t nl;
        unsigned k;
        ctl_key(doc, c, kb, sizeof kb);
        if (!ctl_metric_key(kb, &nl, &k) && (int)strlen(kb) > kw)
            kw = (int)strlen(kb);
        c = v + doc->nodes[v].span;
    }
    c = metrics + 1;
    for (uint32_t i = 0; i < mm->n; i++) {
        uint32_t v = c + doc->nodes[c].span;
        size_t nl;
        unsigned k;
        ctl_key(doc, c, kb, sizeof kb);
        if (!ctl_metric_key(kb, &nl, &k)) {
            if (first)
                fputc('\n', f);
            first = false;
            fprintf(f, "%-*s  %s\n", kw, kb, ctl_metric_text(&doc->nodes[v], vb, sizeof vb));
        }
        c = v + doc->nodes[v].span;
    }
}

/* ---- recommend ------------------------------------------------------------------ */

/* One session's result map at idx: warnings on err ("warning: session 2:
 * ..." when `session` > 0, i.e. in a batch), the fallback note and the
 * table on out. */
static void ctl_print_recommend_one(FILE *out, FILE *err, const sr_mp_doc *doc, uint32_t idx,
                                    uint32_t session)
{
    const sr_mp_node *n = sr_mp_map_get(doc, idx, "warnings");
    char buf[512];
    if (n && n->type == SR_MP_TYPE_ARRAY) {
        uint32_t e = sr_mp_index(doc, n) + 1;
        fflush(out); /* keep a terminal's lines in reply order */
        for (uint32_t i = 0; i < n->n; i++) {
            if (session > 0)
                fprintf(err, "warning: session %u: %s\n", session,
                        ctl_scalar_text(&doc->nodes[e], buf, sizeof buf));
            else
                fprintf(err, "warning: %s\n", ctl_scalar_text(&doc->nodes[e], buf, sizeof buf));
            e += doc->nodes[e].span;
        }
        fflush(err);
    }
    n = sr_mp_map_get(doc, idx, "fallback");
    if (n && n->type == SR_MP_TYPE_BOOL && n->v.b)
        fprintf(out, "(popularity fallback: no known track in the session)\n");
    n = sr_mp_map_get(doc, idx, "items");
    if (!n || n->type != SR_MP_TYPE_ARRAY || n->n == 0) {
        fprintf(out, "(no recommendations)\n");
        return;
    }
    uint32_t first = sr_mp_index(doc, n) + 1, e;
    int tw = 5; /* "track" */
    e = first;
    for (uint32_t i = 0; i < n->n; i++) {
        sr_pstr t;
        if (ctl_get_str(doc, e, "track", &t) && (int)strlen(ctl_pstr_text(t, buf, sizeof buf)) > tw)
            tw = (int)strlen(buf);
        e += doc->nodes[e].span;
    }
    int nw = snprintf(buf, sizeof buf, "%u", n->n);
    if (nw < 4)
        nw = 4;
    fprintf(out, "%*s  %-*s  %10s\n", nw, "rank", tw, "track", "score");
    e = first;
    for (uint32_t i = 0; i < n->n; i++) {
        sr_pstr t = { "-", 1 };
        char sb[64];
        double sc;
        ctl_get_str(doc, e, "track", &t);
        if (ctl_get_f64(doc, e, "score", &sc))
            snprintf(sb, sizeof sb, "%.4f", sc);
        else
            snprintf(sb, sizeof sb, "-");
        fprintf(out, "%*u  %-*s  %10s\n", nw, i + 1, tw, ctl_pstr_text(t, buf, sizeof buf), sb);
        e += doc->nodes[e].span;
    }
}

void ctl_print_recommend(FILE *out, FILE *err, const sr_mp_doc *doc, uint32_t idx)
{
    /* the batch form's reply: {"model", "results": [one result map per session]} */
    const sr_mp_node *res = sr_mp_map_get(doc, idx, "results");
    if (!res) {
        ctl_print_recommend_one(out, err, doc, idx, 0);
        return;
    }
    if (res->type != SR_MP_TYPE_ARRAY) {
        ctl_print_text(out, doc, idx); /* not the expected shape: show what came */
        return;
    }
    uint32_t e = sr_mp_index(doc, res) + 1;
    for (uint32_t i = 0; i < res->n; i++) {
        fprintf(out, "%ssession %u:\n", i > 0 ? "\n" : "", i + 1);
        if (doc->nodes[e].type == SR_MP_TYPE_MAP)
            ctl_print_recommend_one(out, err, doc, e, i + 1);
        else
            fprintf(out, "(not a result map)\n");
        e += doc->nodes[e].span;
    }
    if (res->n == 0)
        fprintf(out, "(no results)\n");
}

/* ---- jobs ----------------------------------------------------------------------- */

/* The single map element of the array `key`, or UINT32_MAX. */
static uint32_t ctl_only_element(const sr_mp_doc *doc, uint32_t idx, const char *key,
                                 uint32_t *count)
{
    const sr_mp_node *n = sr_mp_map_get(doc, idx, key);
    *count = 0;
    if (!n || n->type != SR_MP_TYPE_ARRAY)
        return UINT32_MAX;
    *count = n->n;
    uint32_t e = sr_mp_index(doc, n) + 1;
    return n->n == 1 && doc->nodes[e].type == SR_MP_TYPE_MAP ? e : UINT32_MAX;
}

typedef struct ctl_col {
    const char *head;
    bool right;
    int width;
} ctl_col;

/* Print rows[n_rows][n_cols] of cells (each cap bytes) under cols. */
static void ctl_table(FILE *f, ctl_col *cols, int n_cols, const char *cells, int n_rows,
                      size_t cap)
{
    for (int j = 0; j < n_cols; j++) {
        cols[j].width = (int)strlen(cols[j].head);
        for (int r = 0; r < n_rows; r++) {
            int w = (int)strlen(cells + ((size_t)r * n_cols + j) * cap);
            if (w > cols[j].width)
                cols[j].width = w;
        }
    }
    for (int r = -1; r < n_rows; r++) {
        for (int j = 0; j < n_cols; j++) {
            const char *t = r < 0 ? cols[j].head : cells + ((size_t)r * n_cols + j) * cap;
            bool last = j + 1 == n_cols;
            if (cols[j].right)
                fprintf(f, "%*s", cols[j].width, t);
            else
                fprintf(f, "%-*s", last ? 0 : cols[j].width, t);
            fputs(last ? "\n" : "  ", f);
        }
    }
}

#define CTL_CELL 96

static void ctl_cell_str(const sr_mp_doc *doc, uint32_t map, const char *key, char *cell)
{
    const sr_mp_node *v = sr_mp_map_get(doc, map, key);
    if (!v || v->type == SR_MP_TYPE_NIL)
        snprintf(cell, CTL_CELL, "-");
    else
        ctl_scalar_text(v, cell, CTL_CELL);
}

/* A number with 4 decimals (also from a str holding a number), else the
 * member as text, or "-". */
static void ctl_cell_num(const sr_mp_doc *doc, uint32_t map, const char *key, char *cell)
{
    double x;
    sr_pstr s;
    char buf[64], *end = NULL;
    if (ctl_get_f64(doc, map, key, &x)) {
        snprintf(cell, CTL_CELL, "%.4f", x);
    } else if (ctl_get_str(doc, map, key, &s) && sr_pstr_copy(s, buf, sizeof buf) && buf[0] &&
               (x = strtod(buf, &end), *end == '\0') && x == x) {
        snprintf(cell, CTL_CELL, "%.4f", x);
    } else {
        ctl_cell_str(doc, map, key, cell);
    }
}

/* An experiment job's runs (it has "run" and "runs" members): *run is the
 * run in progress, counted from 1, while the job is running one (state
 * "running" and a non-empty "current"), else the runs finished; *runs the
 * total. False for other jobs. */
static bool ctl_job_runs(const sr_mp_doc *doc, uint32_t job, uint64_t *run, uint64_t *runs)
{
    sr_pstr st, cur;
    if (!ctl_get_u64(doc, job, "run", run) || !ctl_get_u64(doc, job, "runs", runs))
        return false;
    if (*run < *runs && ctl_get_str(doc, job, "state", &st) && sr_pstr_eq(st, "running") &&
        ctl_get_str(doc, job, "current", &cur) && cur.len > 0)
        ++*run;
    return true;
}

void ctl_print_jobs(FILE *f, const sr_mp_doc *doc, uint32_t idx, bool detail)
{
    uint32_t count;
    uint32_t one = ctl_only_element(doc, idx, "jobs", &count);
    if (detail && one != UINT32_MAX) {
        ctl_print_text(f, doc, one);
        return;
    }
    if (count == 0) {
        if (sr_mp_map_get(doc, idx, "jobs") == NULL)
            ctl_print_text(f, doc, idx); /* not the expected shape: show what came */
        else
            fprintf(f, "(no jobs)\n");
        return;
    }
    ctl_col cols[] = { { "job", true, 0 },      { "state", false, 0 }, { "kind", false, 0 },
                       { "model", false, 0 },   { "dataset", false, 0 }, { "step", true, 0 },
                       { "epoch", true, 0 },    { "loss", true, 0 },   { "eta", true, 0 },
                       { "message", false, 0 } };
    enum { NC = sizeof cols / sizeof cols[0] };
    char *cells = calloc((size_t)count * NC, CTL_CELL);
    if (!cells) {
        ctl_print_text(f, doc, idx);
        return;
    }
    const sr_mp_node *arr = sr_mp_map_get(doc, idx, "jobs");
    uint32_t e = sr_mp_index(doc, arr) + 1;
    for (uint32_t r = 0; r < count; r++) {
        char *row = cells + (size_t)r * NC * CTL_CELL;
        uint64_t step, total, run, runs;
        double eta;
        ctl_cell_str(doc, e, "job", row + 0 * CTL_CELL);
        ctl_cell_str(doc, e, "state", row + 1 * CTL_CELL);
        ctl_cell_str(doc, e, "kind", row + 2 * CTL_CELL);
        /* an experiment job may carry its name where a training job has its model */
        bool named = !sr_mp_map_get(doc, e, "model") && sr_mp_map_get(doc, e, "name");
        ctl_cell_str(doc, e, named ? "name" : "model", row + 3 * CTL_CELL);
        ctl_cell_str(doc, e, "dataset", row + 4 * CTL_CELL);
        bool has_step = ctl_get_u64(doc, e, "step", &step);
        /* experiments: which run of how many, not the current run's step */
        if (ctl_job_runs(doc, e, &run, &runs))
            snprintf(row + 5 * CTL_CELL, CTL_CELL, "run %llu/%llu", (unsigned long long)run,
                     (unsigned long long)runs);
        else if (has_step && ctl_get_u64(doc, e, "total_steps", &total) && total > 0)
            snprintf(row + 5 * CTL_CELL, CTL_CELL, "%llu/%llu", (unsigned long long)step,
                     (unsigned long long)total);
        else if (has_step)
            snprintf(row + 5 * CTL_CELL, CTL_CELL, "%llu", (unsigned long long)step);
        else
            snprintf(row + 5 * CTL_CELL, CTL_CELL, "-");
        ctl_cell_str(doc, e, "epoch", row + 6 * CTL_CELL);
        ctl_cell_num(doc, e, "loss", row + 7 * CTL_CELL);
        if (ctl_get_f64(doc, e, "eta_s", &eta))
            ctl_duration(eta, row + 8 * CTL_CELL, CTL_CELL);
        else
            snprintf(row + 8 * CTL_CELL, CTL_CELL, "-");
        ctl_cell_str(doc, e, "message", row + 9 * CTL_CELL);
        e += doc->nodes[e].span;
    }
    ctl_table(f, cols, NC, cells, (int)count, CTL_CELL);
    free(cells);
}

size_t ctl_format_progress(char *buf, size_t cap, const sr_mp_doc *doc, uint32_t job)
{
    size_t o = 0;
    char t[128];
    sr_pstr s;
    uint64_t u, total, run, runs;
    double x;
    if (cap == 0)
        return 0;
    buf[0] = '\0';
#define CTL_ADD(...)                                                             \
    do {                                                                         \
        if (o < cap) {                                                           \
            int w_ = snprintf(buf + o, cap - o, __VA_ARGS__);                    \
            o = w_ < 0 ? o : (size_t)w_ >= cap - o ? cap - 1 : o + (size_t)w_; \
        }                                                                        \
    } while (0)
    if (ctl_get_u64(doc, job, "job", &u))
        CTL_ADD("job %llu", (unsigned long long)u);
    if (ctl_get_str(doc, job, "state", &s))
        CTL_ADD(" %s", ctl_pstr_text(s, t, sizeof t));
    if (ctl_get_str(doc, job, "phase", &s) && s.len > 0)
        CTL_ADD(" %s", ctl_pstr_text(s, t, sizeof t));
    /* An experiment: "run 3/20 (sasrec+skip seed 3)", then the ETA, then the
     * current run's step and loss. */
    bool exp = ctl_job_runs(doc, job, &run, &runs);
    if (exp) {
        CTL_ADD(" run %llu/%llu", (unsigned long long)run, (unsigned long long)runs);
        if (ctl_get_str(doc, job, "current", &s) && s.len > 0)
            CTL_ADD(" (%s)", ctl_pstr_text(s, t, sizeof t));
    }
#define CTL_ADD_STEP()                                                                   \
    do {                                                                                 \
        if (ctl_get_u64(doc, job, "step", &u)) {                                         \
            if (ctl_get_u64(doc, job, "total_steps", &total) && total > 0)               \
                CTL_ADD(" step %llu/%llu (%.1f%%)", (unsigned long long)u,               \
                        (unsigned long long)total, 100.0 * (double)u / (double)total);  \
            else                                                                         \
                CTL_ADD(" step %llu", (unsigned long long)u);                            \
        }                                                                                \
    } while (0)
    if (!exp)
        CTL_ADD_STEP();
    /* ETA before the details: a terminal line cut to its width keeps it */
    if (ctl_get_f64(doc, job, "eta_s", &x)) {
        ctl_duration(x, t, sizeof t);
        CTL_ADD(" ETA %s", t);
    }
    if (exp)
        CTL_ADD_STEP();
#undef CTL_ADD_STEP
    if (ctl_get_u64(doc, job, "epoch", &u))
        CTL_ADD(" epoch %llu", (unsigned long long)u);
    if (ctl_get_f64(doc, job, "loss", &x)) {
        double rec = 0.0, nf = 0.0;
        bool has_rec = ctl_get_f64(doc, job, "rec", &rec), has_nf = ctl_get_f64(doc, job, "nf", &nf);
        CTL_ADD(" loss %.4f", x);
        if (has_rec && has_nf)
            CTL_ADD(" (rec %.4f nf %.4f)", rec, nf);
        else if (has_rec)
            CTL_ADD(" (rec %.4f)", rec);
    }
    if (ctl_get_f64(doc, job, "seq_per_s", &x))
        CTL_ADD(" %.0f seq/s", x);
#undef CTL_ADD
    /* the line may carry daemon text: no control bytes */
    for (size_t i = 0; i < o; i++)
        if ((buf[i] >= 0 && buf[i] < 0x20) || buf[i] == 0x7f)
            buf[i] = '?';
    return o;
}

/* ---- models --------------------------------------------------------------------- */

/* A uint of unix seconds as "2023-11-14 22:13 UTC"; false for anything else. */
static bool ctl_unix_time(const sr_mp_node *n, char *buf, size_t cap)
{
    struct tm tm;
    if (!n || n->type != SR_MP_TYPE_UINT || n->v.u >= 253402300800ull) /* year 10000 */
        return false;
    time_t t = (time_t)n->v.u;
    return gmtime_r(&t, &tm) != NULL && strftime(buf, cap, "%Y-%m-%d %H:%M UTC", &tm) > 0;
}

/* Is the model map at `model` the one the result's "default" names? */
static bool ctl_is_default_model(const sr_mp_doc *doc, uint32_t idx, uint32_t model)
{
    sr_pstr d, name;
    return ctl_get_str(doc, idx, "default", &d) && ctl_get_str(doc, model, "name", &name) &&
           d.len == name.len && (d.len == 0 || memcmp(d.ptr, name.ptr, d.len) == 0);
}

void ctl_print_models(FILE *f, const sr_mp_doc *doc, uint32_t idx, bool detail)
{
    uint32_t count;
    uint32_t one = ctl_only_element(doc, idx, "models", &count);
    if (detail && one != UINT32_MAX) {
        /* every member but config as key/value lines, then the config text */
        const sr_mp_node *m = &doc->nodes[one];
        char kb[128], vb[512];
        bool dflt = ctl_is_default_model(doc, idx, one);
        int kw = dflt ? 7 : 0; /* "default" */
        uint32_t c = one + 1;
        for (uint32_t i = 0; i < m->n; i++) {
            uint32_t v = c + doc->nodes[c].span;
            int w = (int)strlen(ctl_key(doc, c, kb, sizeof kb));
            if (w > kw)
                kw = w;
            c = v + doc->nodes[v].span;
        }
        c = one + 1;
        for (uint32_t i = 0; i < m->n; i++) {
            uint32_t v = c + doc->nodes[c].span;
            ctl_key(doc, c, kb, sizeof kb);
            if (strcmp(kb, "config") == 0) {
                /* below */
            } else if (strcmp(kb, "created") == 0 && ctl_unix_time(&doc->nodes[v], vb, sizeof vb)) {
                fprintf(f, "%-*s  %s (%llu)\n", kw, kb, vb, (unsigned long long)doc->nodes[v].v.u);
            } else {
                fprintf(f, "%-*s  %s\n", kw, kb, ctl_scalar_text(&doc->nodes[v], vb, sizeof vb));
            }
            c = v + doc->nodes[v].span;
        }
        if (dflt)
            fprintf(f, "%-*s  yes (recommend uses it when given no model)\n", kw, "default");
        sr_pstr cfg;
        if (ctl_get_str(doc, one, "config", &cfg)) {
            fprintf(f, "config:\n");
            size_t i = 0;
            while (i < cfg.len) {
                const char *nl = memchr(cfg.ptr + i, '\n', cfg.len - i);
                size_t e = nl ? (size_t)(nl - cfg.ptr) : cfg.len;
                fputs("  ", f);
                ctl_put_safe(f, cfg.ptr + i, e - i);
                fputc('\n', f);
                i = e + 1;
            }
        }
        return;
    }
    if (count == 0) {
        if (sr_mp_map_get(doc, idx, "models") == NULL)
            ctl_print_text(f, doc, idx);
        else
            fprintf(f, "(no models)\n");
        return;
    }
    ctl_col cols[] = { { "name", false, 0 },  { "kind", false, 0 },        { "dataset", false, 0 },
                       { "created", false, 0 }, { "metric", false, 0 },   { "best_metric", true, 0 },
                       { "best_step", true, 0 } };
    enum { NC = sizeof cols / sizeof cols[0] };
    char *cells = calloc((size_t)count * NC, CTL_CELL);
    if (!cells) {
        ctl_print_text(f, doc, idx);
        return;
    }
    const sr_mp_node *arr = sr_mp_map_get(doc, idx, "models");
    uint32_t e = sr_mp_index(doc, arr) + 1;
    bool marked = false;
    for (uint32_t r = 0; r < count; r++) {
        char *row = cells + (size_t)r * NC * CTL_CELL;
        ctl_cell_str(doc, e, "name", row + 0 * CTL_CELL);
        if (ctl_is_default_model(doc, idx, e)) {
            size_t w = strlen(row);
            if (w + 2 < CTL_CELL)
                memcpy(row + w, " *", 3);
            marked = true;
        }
        ctl_cell_str(doc, e, "kind", row + 1 * CTL_CELL);
        ctl_cell_str(doc, e, "dataset", row + 2 * CTL_CELL);
        if (!ctl_unix_time(sr_mp_map_get(doc, e, "created"), row + 3 * CTL_CELL, CTL_CELL))
            ctl_cell_str(doc, e, "created", row + 3 * CTL_CELL);
        ctl_cell_str(doc, e, "metric", row + 4 * CTL_CELL);
        ctl_cell_num(doc, e, "best_metric", row + 5 * CTL_CELL);
        ctl_cell_str(doc, e, "best_step", row + 6 * CTL_CELL);
        e += doc->nodes[e].span;
    }
    ctl_table(f, cols, NC, cells, (int)count, CTL_CELL);
    free(cells);
    if (marked)
        fprintf(f, "* the default model (recommend uses it when given no model)\n");
}
