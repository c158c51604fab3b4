/* ctl_print.c - see ctl_print.h. */
#include "ctl_print.h"

#include <stdlib.h>
#include <string.h>

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
