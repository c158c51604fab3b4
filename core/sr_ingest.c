/* sr_ingest.c - listening logs -> session store (docs/data.md, "Ingestion").
 *
 * Three stages, memory bounded by the vocabulary:
 *  1. read: each input file is one "part" parsed on its own thread (MSSD) or
 *     all files form one part (events: sessions may span files). A part
 *     interns tracks into its own vocabulary and spools its kept sessions to
 *     "<store>.part<k>" with part-local track indices.
 *  2. merge: part vocabularies are merged in file order, so the global
 *     first-seen order - and the store - is the same as a sequential run on
 *     any number of threads.
 *  3. scan: the spools are read back (in file order) to apply the
 *     rare-track filter, choose the split and the vocabulary, and count the
 *     sessions and plays each part keeps (pass 1 already knows them when no
 *     scan is needed).
 *  4. write: prefix sums of those counts give each part its first session
 *     and play in the store, so the parts are read once more in parallel,
 *     each writing straight to its place through its own sr_store_cursor of
 *     a sized writer. Per-track counts are summed per thread and added up
 *     afterwards; integer sums do not depend on the order, so the store is
 *     byte-identical (but for its `created` time) on any number of threads.
 *
 * Spool record (native byte order, private to one run):
 *   u32 n, u32 reserved, i64 start,
 *   i32 track[n], u8 feedback[n], u16 position[n], i64 time[n], u32 context[n]
 */
#include "sr_ingest.h"

#include "sr_mssd.h"
#include "sr_rejects.h"
#include "sr_rng.h"
#include "sr_vocab.h"

#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifdef _OPENMP
#include <omp.h>
#endif

static double sr_ingest_clock(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define SR_INGEST_RESERVOIR (1u << 20) /* exact temporal cut-offs below ~1M sessions */
#define SR_INGEST_PROGRESS_EVERY 65536u

void sr_ingest_opts_default(sr_ingest_opts *o)
{
    memset(o, 0, sizeof *o);
    o->format = SR_SOURCE_FORMAT_MSSD;
    o->skip_rule = SR_SKIP_RULE_SKIP_2;
    o->min_session_len = 2;
    o->min_track_count = 1;
    o->max_reject_rate = 0.01;
    o->split = SR_SPLIT_KIND_LEAVE_LAST;
    o->valid_frac = 0.1;
    o->test_frac = 0.1;
    o->name = "dataset";
}

/* ---- input expansion ------------------------------------------------------- */

static bool sr_ingest_has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool sr_ingest_is_log_name(const char *name)
{
    return name[0] != '.' &&
           (sr_ingest_has_suffix(name, ".csv") || sr_ingest_has_suffix(name, ".csv.gz") ||
            sr_ingest_has_suffix(name, ".tsv") || sr_ingest_has_suffix(name, ".tsv.gz"));
}

static int sr_ingest_cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct sr_ingest_pathlist {
    char **v;
    size_t n, cap;
} sr_ingest_pathlist;

static sr_err sr_ingest_pathlist_push(sr_ingest_pathlist *l, const char *a, const char *b)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return sr_errorf(SR_ERR_NOMEM, "out of memory listing inputs");
        l->v = v;
        l->cap = cap;
    }
    size_t la = strlen(a), lb = b ? strlen(b) : 0;
    char *p = malloc(la + lb + 2);
    if (!p)
        return sr_errorf(SR_ERR_NOMEM, "out of memory listing inputs");
    memcpy(p, a, la);
    if (b) {
        p[la] = '/';
        memcpy(p + la + 1, b, lb + 1);
    } else {
        p[la] = '\0';
    }
    l->v[l->n++] = p;
    return SR_OK;
}

static sr_err sr_ingest_expand_dir(const char *dir, sr_ingest_pathlist *l)
{
    DIR *d = opendir(dir);
    if (!d)
        return sr_errorf(SR_ERR_IO, "%s: cannot list directory: %s", dir, strerror(errno));
    size_t first = l->n;
    sr_err err = SR_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!sr_ingest_is_log_name(e->d_name))
            continue;
        if ((err = sr_ingest_pathlist_push(l, dir, e->d_name)) != SR_OK)
            break;
    }
    closedir(d);
    if (err == SR_OK && l->n == first)
        err = sr_errorf(SR_ERR_EMPTY, "%s: no *.csv, *.csv.gz, *.tsv or *.tsv.gz files", dir);
    if (err == SR_OK)
        qsort(l->v + first, l->n - first, sizeof *l->v, sr_ingest_cmp_str);
    return err;
}

sr_err sr_ingest_expand(const char *const *inputs, size_t n_inputs, char ***paths_out,
                        size_t *n_out)
{
    sr_ingest_pathlist l = { 0 };
    sr_err err = SR_OK;
    if (n_inputs == 0) {
        err = sr_errorf(SR_ERR_ARG, "no input paths given");
        goto done;
    }
    for (size_t i = 0; i < n_inputs && err == SR_OK; i++) {
        struct stat st;
        if (stat(inputs[i], &st) != 0) {
            err = sr_errorf(SR_ERR_NOTFOUND, "%s: %s", inputs[i], strerror(errno));
        } else if (S_ISDIR(st.st_mode)) {
            err = sr_ingest_expand_dir(inputs[i], &l);
        } else {
            err = sr_ingest_pathlist_push(&l, inputs[i], NULL);
        }
    }
done:
    if (err != SR_OK) {
        sr_ingest_paths_free(l.v, l.n);
        return err;
    }
    *paths_out = l.v;
    *n_out = l.n;
    return SR_OK;
}

void sr_ingest_paths_free(char **paths, size_t n)
{
    if (!paths)
        return;
    for (size_t i = 0; i < n; i++)
        free(paths[i]);
    free(paths);
}

/* ---- a part: one reader's output ------------------------------------------- */

typedef struct sr_ingest_part {
    char *spool_path;
    FILE *spool;
    sr_vocab *vocab;          /* part-local ids, first-seen order */
    int32_t *to_global;       /* [vocab size] local -> global index */
    sr_read_counts counts;
    uint64_t sessions_read, plays_read, removed_short, removed_noskip;
    uint64_t spooled_sessions, spooled_plays; /* pass 1: what the spool holds */
    uint64_t kept_sessions, kept_plays;       /* what the store keeps of it */
    uint32_t max_n;           /* longest spooled session */
    /* write pass */
    uint64_t first_session, first_play; /* where the part's sessions go in the store */
    sr_store_cursor *cursor;
    sr_store_stats wstats;    /* the write pass's counts for this part */
    uint32_t *plays_out, *skips_out; /* [n_final] the writing thread's track counts */
    uint64_t reported;        /* plays reported to the progress callback */
    bool stopped;             /* gave up because another part failed */
    /* scratch for the sink: local track indices of one session */
    int32_t *track;
    uint8_t *fb;
    uint16_t *pos;
    int64_t *time;
    uint32_t *ctx;
    uint32_t scratch_cap;
    const sr_ingest_opts *opts;
    sr_err err;
    char errmsg[512];
} sr_ingest_part;

static sr_err sr_ingest_part_scratch(sr_ingest_part *p, uint32_t n)
{
    if (n <= p->scratch_cap)
        return SR_OK;
    uint32_t cap = n < 64 ? 64 : n;
    int32_t *t = realloc(p->track, cap * sizeof *t);
    if (t) p->track = t;
    uint8_t *f = realloc(p->fb, cap * sizeof *f);
    if (f) p->fb = f;
    uint16_t *q = realloc(p->pos, cap * sizeof *q);
    if (q) p->pos = q;
    int64_t *ti = realloc(p->time, cap * sizeof *ti);
    if (ti) p->time = ti;
    uint32_t *c = realloc(p->ctx, cap * sizeof *c);
    if (c) p->ctx = c;
    if (!t || !f || !q || !ti || !c)
        return sr_errorf(SR_ERR_NOMEM, "out of memory for a session of %u plays", n);
    p->scratch_cap = cap;
    return SR_OK;
}

static sr_err sr_ingest_spool_write(sr_ingest_part *p, uint32_t n, int64_t start)
{
    uint32_t head[2] = { n, 0 };
    FILE *f = p->spool;
    if (fwrite(head, sizeof head, 1, f) != 1 || fwrite(&start, sizeof start, 1, f) != 1 ||
        fwrite(p->track, sizeof *p->track, n, f) != n || fwrite(p->fb, 1, n, f) != n ||
        fwrite(p->pos, sizeof *p->pos, n, f) != n || fwrite(p->time, sizeof *p->time, n, f) != n ||
        fwrite(p->ctx, sizeof *p->ctx, n, f) != n)
        return sr_errorf(SR_ERR_IO, "%s: write failed: %s", p->spool_path, strerror(errno));
    return SR_OK;
}

/* Read one spooled session into p's scratch. *n = 0 at end of spool. */
static sr_err sr_ingest_spool_read(sr_ingest_part *p, uint32_t *n, int64_t *start)
{
    uint32_t head[2];
    FILE *f = p->spool;
    size_t got = fread(head, sizeof head, 1, f);
    if (got != 1) {
        if (feof(f)) {
            *n = 0;
            return SR_OK;
        }
        return sr_errorf(SR_ERR_IO, "%s: read failed: %s", p->spool_path, strerror(errno));
    }
    uint32_t m = head[0];
    /* The spool is our own file, but check anyway: a short disk can truncate it. */
    if (m == 0 || m > p->max_n)
        return sr_errorf(SR_ERR_CORRUPT, "%s: bad session length %u", p->spool_path, m);
    sr_err err = sr_ingest_part_scratch(p, m);
    if (err != SR_OK)
        return err;
    if (fread(start, sizeof *start, 1, f) != 1 ||
        fread(p->track, sizeof *p->track, m, f) != m || fread(p->fb, 1, m, f) != m ||
        fread(p->pos, sizeof *p->pos, m, f) != m || fread(p->time, sizeof *p->time, m, f) != m ||
        fread(p->ctx, sizeof *p->ctx, m, f) != m)
        return sr_errorf(SR_ERR_CORRUPT, "%s: truncated spool", p->spool_path);
    *n = m;
    return SR_OK;
}

/* Reader callback: filter one session and spool it with part-local indices. */
static sr_err sr_ingest_sink(void *ud, const sr_session *s)
{
    sr_ingest_part *p = ud;
    const sr_ingest_opts *o = p->opts;
    p->sessions_read++;
    p->plays_read += s->n;
    if (s->n < o->min_session_len) {
        p->removed_short++;
        return SR_OK;
    }
    if (o->only_with_skip) {
        bool any = false;
        for (uint32_t i = 0; i < s->n && !any; i++)
            any = (s->plays[i].feedback & SR_FB_SKIPPED) != 0;
        if (!any) {
            p->removed_noskip++;
            return SR_OK;
        }
    }
    sr_err err = sr_ingest_part_scratch(p, s->n);
    if (err != SR_OK)
        return err;
    for (uint32_t i = 0; i < s->n; i++) {
        const sr_play *pl = &s->plays[i];
        if ((err = sr_vocab_intern(p->vocab, pl->track, &p->track[i])) != SR_OK)
            return err;
        p->fb[i] = pl->feedback;
        p->pos[i] = pl->position;
        p->time[i] = pl->time;
        p->ctx[i] = pl->context;
    }
    if (s->n > p->max_n)
        p->max_n = s->n;
    if ((err = sr_ingest_spool_write(p, s->n, s->plays[0].time)) != SR_OK)
        return err;
    p->spooled_sessions++;
    p->spooled_plays += s->n;
    if (o->progress && p->sessions_read % SR_INGEST_PROGRESS_EVERY == 0 &&
        !o->progress(o->progress_ud, "read", p->plays_read, 0))
        return sr_errorf(SR_ERR_CANCELLED, "ingestion cancelled");
    return SR_OK;
}

static void sr_ingest_part_free(sr_ingest_part *p)
{
    sr_store_cursor_abort(&p->cursor);
    if (p->spool)
        fclose(p->spool);
    if (p->spool_path) {
        unlink(p->spool_path);
        free(p->spool_path);
    }
    sr_vocab_free(&p->vocab);
    free(p->to_global);
    free(p->track);
    free(p->fb);
    free(p->pos);
    free(p->time);
    free(p->ctx);
    memset(p, 0, sizeof *p);
}

static sr_err sr_ingest_part_init(sr_ingest_part *p, const char *store_path, size_t k,
                                  const sr_ingest_opts *o)
{
    memset(p, 0, sizeof *p);
    p->opts = o;
    size_t len = strlen(store_path) + 32;
    p->spool_path = malloc(len);
    if (!p->spool_path)
        return sr_errorf(SR_ERR_NOMEM, "out of memory");
    snprintf(p->spool_path, len, "%s.part%zu", store_path, k);
    p->spool = fopen(p->spool_path, "w+b");
    if (!p->spool)
        return sr_errorf(SR_ERR_IO, "%s: cannot create spool: %s", p->spool_path,
                         strerror(errno));
    setvbuf(p->spool, NULL, _IOFBF, 1u << 20);
    return sr_vocab_new(&p->vocab);
}

/* Run one part's reader; errors are kept in the part (threads can't return). */
static void sr_ingest_part_read(sr_ingest_part *p, const char *const *paths, size_t n_paths,
                                sr_rejects *rej)
{
    const sr_ingest_opts *o = p->opts;
    sr_err err;
    if (o->format == SR_SOURCE_FORMAT_EVENTS) {
        err = sr_events_read(paths, n_paths, o->events, rej, sr_ingest_sink, p, &p->counts);
    } else {
        sr_mssd_opts mo;
        sr_mssd_opts_default(&mo);
        mo.skip_rule = o->skip_rule;
        mo.max_session_len = o->max_session_len;
        err = SR_OK;
        for (size_t i = 0; i < n_paths && err == SR_OK; i++)
            err = sr_mssd_read_file(paths[i], &mo, rej, sr_ingest_sink, p, &p->counts);
    }
    if (err == SR_OK && fflush(p->spool) != 0)
        err = sr_errorf(SR_ERR_IO, "%s: write failed: %s", p->spool_path, strerror(errno));
    p->err = err;
    if (err != SR_OK)
        snprintf(p->errmsg, sizeof p->errmsg, "%s", sr_errmsg());
}

/* ---- the run ------------------------------------------------------------------ */

typedef struct sr_ingest_run_state {
    const sr_ingest_opts *o;
    sr_ingest_part *parts;
    size_t n_parts;
    sr_vocab *global;         /* all kept tracks, first-seen order over parts */
    uint32_t *global_count;   /* [global size] plays per track before filtering */
    int32_t *final_index;     /* [global size] store index, or SR_TRACK_UNSEEN */
    uint32_t n_final;
    sr_str *final_ids;        /* [n_final] */
    uint32_t *final_plays, *final_skips; /* [n_final] counts over the training part
                                          * (borrowed: thread 0's count arrays) */
    int64_t *reservoir;       /* session starts (temporal) */
    uint64_t reservoir_n, reservoir_seen;
    sr_rng reservoir_rng;
    int64_t cut_valid, cut_test;
    /* write pass, shared by its threads */
    atomic_bool write_failed;        /* a part failed: the others stop early */
    atomic_uint_fast64_t written;    /* plays written, for progress */
    uint64_t n_plays;                /* plays in the store */
} sr_ingest_run_state;

static int sr_ingest_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static sr_err sr_ingest_merge_vocab(sr_ingest_run_state *st)
{
    sr_err err = sr_vocab_new(&st->global);
    if (err != SR_OK)
        return err;
    for (size_t k = 0; k < st->n_parts; k++) {
        sr_ingest_part *p = &st->parts[k];
        uint32_t n = sr_vocab_size(p->vocab);
        p->to_global = malloc((size_t)(n ? n : 1) * sizeof *p->to_global);
        if (!p->to_global)
            return sr_errorf(SR_ERR_NOMEM, "out of memory merging vocabularies");
        for (uint32_t i = 0; i < n; i++) {
            err = sr_vocab_intern(st->global, sr_vocab_id(p->vocab, (int32_t)i), &p->to_global[i]);
            if (err != SR_OK)
                return err;
        }
        /* The part vocabulary is no longer needed: free it early. */
        sr_vocab_free(&p->vocab);
    }
    uint32_t g = sr_vocab_size(st->global);
    st->global_count = calloc(g ? g : 1, sizeof *st->global_count);
    st->final_index = malloc((size_t)(g ? g : 1) * sizeof *st->final_index);
    if (!st->global_count || !st->final_index)
        return sr_errorf(SR_ERR_NOMEM, "out of memory for %u tracks", g);
    return SR_OK;
}

/* Iterate every spooled session in file order. `fn` sees the part whose
 * scratch holds the session with GLOBAL track indices. */
typedef sr_err (*sr_ingest_visit_fn)(sr_ingest_run_state *st, sr_ingest_part *p, uint32_t n,
                                     int64_t start);

static sr_err sr_ingest_visit_part(sr_ingest_run_state *st, sr_ingest_part *p,
                                    sr_ingest_visit_fn fn)
{
    if (fseek(p->spool, 0, SEEK_SET) != 0)
        return sr_errorf(SR_ERR_IO, "%s: seek failed: %s", p->spool_path, strerror(errno));
    for (;;) {
        uint32_t n = 0;
        int64_t start = 0;
        sr_err err = sr_ingest_spool_read(p, &n, &start);
        if (err != SR_OK)
            return err;
        if (n == 0)
            return SR_OK;
        for (uint32_t i = 0; i < n; i++)
            p->track[i] = p->to_global[p->track[i]];
        if ((err = fn(st, p, n, start)) != SR_OK)
            return err;
    }
}

static sr_err sr_ingest_visit(sr_ingest_run_state *st, sr_ingest_visit_fn fn)
{
    for (size_t k = 0; k < st->n_parts; k++) {
        sr_err err = sr_ingest_visit_part(st, &st->parts[k], fn);
        if (err != SR_OK)
            return err;
    }
    return SR_OK;
}

static sr_err sr_ingest_count_tracks(sr_ingest_run_state *st, sr_ingest_part *p, uint32_t n,
                                     int64_t start)
{
    (void)start;
    for (uint32_t i = 0; i < n; i++)
        st->global_count[p->track[i]]++;
    return SR_OK;
}

/* Drop plays of rare tracks in place; returns the new length. */
static uint32_t sr_ingest_filter_session(const sr_ingest_run_state *st, sr_ingest_part *p,
                                         uint32_t n)
{
    uint32_t min_count = st->o->min_track_count;
    if (min_count <= 1)
        return n;
    uint32_t m = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (st->global_count[p->track[i]] < min_count)
            continue;
        p->track[m] = p->track[i];
        p->fb[m] = p->fb[i];
        p->pos[m] = p->pos[i];
        p->time[m] = p->time[i];
        p->ctx[m] = p->ctx[i];
        m++;
    }
    return m;
}

/* Does the filtered session survive the length and skip filters again? */
static bool sr_ingest_session_kept(const sr_ingest_run_state *st, const sr_ingest_part *p,
                                   uint32_t m)
{
    if (m < st->o->min_session_len || m == 0)
        return false;
    if (st->o->only_with_skip) {
        for (uint32_t i = 0; i < m; i++)
            if (p->fb[i] & SR_FB_SKIPPED)
                return true;
        return false;
    }
    return true;
}

/* Scan: sessions surviving the track filter; their start times (temporal). */
static sr_err sr_ingest_scan_starts(sr_ingest_run_state *st, sr_ingest_part *p, uint32_t n,
                                    int64_t start)
{
    uint32_t m = sr_ingest_filter_session(st, p, n);
    if (!sr_ingest_session_kept(st, p, m))
        return SR_OK;
    int64_t s = p->time[0];
    (void)start;
    /* Reservoir sampling (Vitter's R) with a fixed seed: exact below the cap,
     * deterministic above it. */
    if (st->reservoir_n < SR_INGEST_RESERVOIR) {
        st->reservoir[st->reservoir_n++] = s;
    } else {
        uint64_t j = sr_rng_below(&st->reservoir_rng, st->reservoir_seen + 1);
        if (j < SR_INGEST_RESERVOIR)
            st->reservoir[j] = s;
    }
    st->reservoir_seen++;
    return SR_OK;
}

static uint8_t sr_ingest_split_of(const sr_ingest_run_state *st, int64_t start)
{
    if (st->o->split == SR_SPLIT_KIND_LEAVE_LAST)
        return SR_SPLIT_ALL;
    if (start >= st->cut_test)
        return SR_SPLIT_TEST;
    if (start >= st->cut_valid)
        return SR_SPLIT_VALID;
    return SR_SPLIT_TRAIN;
}

/* Number of leading plays of a session that a model may train on. */
static uint32_t sr_ingest_train_prefix(uint8_t split, uint32_t m)
{
    if (split == SR_SPLIT_ALL)
        return m >= 3 ? m - 2 : 0; /* SPEC.md 5: x_1..x_{n-2} */
    return split == SR_SPLIT_TRAIN ? m : 0;
}

/* Scan: the vocabulary = tracks played in the training part, first-seen
 * order (temporal); leave-last keeps every track. Also counts what each
 * part keeps, which places its sessions in the store. */
static sr_err sr_ingest_scan_vocab(sr_ingest_run_state *st, sr_ingest_part *p, uint32_t n,
                                   int64_t start)
{
    (void)start;
    uint32_t m = sr_ingest_filter_session(st, p, n);
    if (!sr_ingest_session_kept(st, p, m))
        return SR_OK;
    p->kept_sessions++;
    p->kept_plays += m;
    uint8_t split = sr_ingest_split_of(st, p->time[0]);
    uint32_t lim = st->o->split == SR_SPLIT_KIND_TEMPORAL ? sr_ingest_train_prefix(split, m) : m;
    for (uint32_t i = 0; i < lim; i++) {
        int32_t g = p->track[i];
        if (st->final_index[g] == SR_TRACK_UNSEEN)
            st->final_index[g] = (int32_t)st->n_final++;
    }
    return SR_OK;
}

/* Write pass, on the part's own thread: touches only the part, its
 * thread's track counts and the cursor; reads the shared state. */
static sr_err sr_ingest_write_session(sr_ingest_run_state *st, sr_ingest_part *p, uint32_t n,
                                      int64_t start)
{
    (void)start;
    if (atomic_load_explicit(&st->write_failed, memory_order_relaxed)) {
        p->stopped = true;
        return sr_errorf(SR_ERR_CANCELLED, "stopped: another part failed");
    }
    sr_store_stats *s = &p->wstats;
    uint32_t m = sr_ingest_filter_session(st, p, n);
    s->removed_rare_track_plays += n - m;
    if (!sr_ingest_session_kept(st, p, m)) {
        /* only reachable when the rare-track filter removed plays */
        if (m < st->o->min_session_len)
            s->removed_short_sessions++;
        else
            s->removed_noskip_sessions++;
        return SR_OK;
    }
    uint8_t split = sr_ingest_split_of(st, p->time[0]);
    uint32_t train = sr_ingest_train_prefix(split, m);
    for (uint32_t i = 0; i < m; i++) {
        int32_t f = st->final_index[p->track[i]];
        p->track[i] = f;
        if (f == SR_TRACK_UNSEEN) {
            s->unseen_plays++;
        } else if (i < train) {
            p->plays_out[f]++;
            if (p->fb[i] & SR_FB_SKIPPED)
                p->skips_out[f]++;
        }
        if (p->fb[i] & SR_FB_SKIPPED)
            s->skipped++;
    }
    s->sessions++;
    s->interactions += m;
    if (split == SR_SPLIT_ALL) {
        /* Leave-last (SPEC.md 5): a session trains when its prefix x_1..x_{n-2}
         * has a target (n >= 4), validates on x_{n-1} (n >= 3), tests on x_n. */
        if (m >= 4) {
            s->train_sessions++;
            s->train_interactions += train;
        }
        if (m >= 3) {
            s->valid_sessions++;
            s->valid_interactions++;
        }
        s->test_sessions++;
        s->test_interactions++;
    } else if (split == SR_SPLIT_TRAIN) {
        s->train_sessions++;
        s->train_interactions += m;
    } else if (split == SR_SPLIT_VALID) {
        s->valid_sessions++;
        s->valid_interactions += m;
    } else {
        s->test_sessions++;
        s->test_interactions += m;
    }
    sr_err err = sr_store_cursor_add(p->cursor, split, p->time[0], m, p->track, p->fb, p->pos,
                                     p->time, p->ctx);
    if (err != SR_OK)
        return err;
    const sr_ingest_opts *o = st->o;
    if (o->progress && s->sessions % SR_INGEST_PROGRESS_EVERY == 0) {
        uint64_t delta = s->interactions - p->reported;
        p->reported = s->interactions;
        uint64_t done = delta + atomic_fetch_add_explicit(&st->written, delta,
                                                          memory_order_relaxed);
        if (!o->progress(o->progress_ud, "write", done, st->n_plays))
            return sr_errorf(SR_ERR_CANCELLED, "ingestion cancelled");
    }
    return SR_OK;
}

/* Write one part through its own cursor; errors are kept in the part
 * (threads can't return) and stop the other parts early. */
static void sr_ingest_part_write(sr_ingest_run_state *st, sr_ingest_part *p,
                                 sr_store_writer *w)
{
    sr_err err = sr_store_cursor_open(w, p->first_session, p->kept_sessions, p->first_play,
                                      p->kept_plays, &p->cursor);
    if (err == SR_OK)
        err = sr_ingest_visit_part(st, p, sr_ingest_write_session);
    if (err == SR_OK)
        err = sr_store_cursor_close(&p->cursor);
    else
        sr_store_cursor_abort(&p->cursor);
    p->err = err;
    if (err != SR_OK) {
        snprintf(p->errmsg, sizeof p->errmsg, "%s", sr_errmsg());
        atomic_store(&st->write_failed, true);
    }
}

/* Add the part's write-pass counts to the run's. */
static void sr_ingest_add_write_stats(sr_store_stats *s, const sr_store_stats *p)
{
    s->removed_rare_track_plays += p->removed_rare_track_plays;
    s->removed_short_sessions += p->removed_short_sessions;
    s->removed_noskip_sessions += p->removed_noskip_sessions;
    s->unseen_plays += p->unseen_plays;
    s->skipped += p->skipped;
    s->sessions += p->sessions;
    s->interactions += p->interactions;
    s->train_sessions += p->train_sessions;
    s->valid_sessions += p->valid_sessions;
    s->test_sessions += p->test_sessions;
    s->train_interactions += p->train_interactions;
    s->valid_interactions += p->valid_interactions;
    s->test_interactions += p->test_interactions;
}

static sr_err sr_ingest_check_opts(const sr_ingest_opts *o, size_t n_paths)
{
    if (n_paths == 0)
        return sr_errorf(SR_ERR_ARG, "no input files");
    if (o->min_session_len < 1)
        return sr_errorf(SR_ERR_ARG, "min_session_len must be >= 1");
    if (o->format == SR_SOURCE_FORMAT_EVENTS && !o->events)
        return sr_errorf(SR_ERR_ARG, "events format needs a column-mapping config");
    if (!(o->max_reject_rate >= 0.0 && o->max_reject_rate <= 1.0))
        return sr_errorf(SR_ERR_ARG, "max_reject_rate must be in [0, 1]");
    if (o->split == SR_SPLIT_KIND_TEMPORAL &&
        !(o->valid_frac >= 0.0 && o->test_frac > 0.0 && o->valid_frac + o->test_frac < 1.0))
        return sr_errorf(SR_ERR_ARG,
                         "temporal split needs valid_frac >= 0, test_frac > 0 and their sum < 1");
    return SR_OK;
}

static void sr_ingest_run_state_free(sr_ingest_run_state *st)
{
    for (size_t k = 0; k < st->n_parts; k++)
        sr_ingest_part_free(&st->parts[k]);
    free(st->parts);
    sr_vocab_free(&st->global);
    free(st->global_count);
    free(st->final_index);
    free(st->final_ids);
    free(st->reservoir);
}

/* Fail when too many rows were rejected; the message names the top reasons. */
static sr_err sr_ingest_check_rejects(const sr_ingest_opts *o, sr_rejects *rej,
                                      const sr_store_stats *s, const char *rej_path)
{
    if (s->input_rows == 0)
        return SR_OK;
    double rate = (double)s->rejected_rows / (double)s->input_rows;
    if (rate <= o->max_reject_rate)
        return SR_OK;
    const char *reasons[3];
    uint64_t counts[3];
    size_t k = sr_rejects_summary(rej, reasons, counts, 3);
    char top[256] = "";
    size_t off = 0;
    for (size_t i = 0; i < k && off < sizeof top; i++)
        off += (size_t)snprintf(top + off, sizeof top - off, "%s%s (%llu)", i ? ", " : "",
                                reasons[i], (unsigned long long)counts[i]);
    return sr_errorf(SR_ERR_REJECTS,
                     "%llu of %llu rows rejected (%.2f%% > max %.2f%%); see %s; most common: %s",
                     (unsigned long long)s->rejected_rows, (unsigned long long)s->input_rows,
                     100.0 * rate, 100.0 * o->max_reject_rate, rej_path, top);
}

/* Copy the rejects summary before the rejects object goes away. */
static void sr_ingest_copy_reasons(const sr_rejects *rej, sr_ingest_reasons *out)
{
    const char *reasons[SR_INGEST_MAX_REASONS];
    uint64_t counts[SR_INGEST_MAX_REASONS];
    out->n = rej ? sr_rejects_summary(rej, reasons, counts, SR_INGEST_MAX_REASONS) : 0;
    for (size_t i = 0; i < out->n; i++) {
        snprintf(out->reason[i], sizeof out->reason[i], "%s", reasons[i]);
        out->count[i] = counts[i];
    }
}

sr_err sr_ingest_run(const char *const *paths, size_t n_paths, const sr_ingest_opts *o,
                     const char *store_path, sr_store_stats *stats_out,
                     sr_ingest_reasons *reasons_out)
{
    sr_ingest_run_state st = { 0 };
    sr_store_stats s = { 0 };
    if (reasons_out)
        reasons_out->n = 0;
    sr_rejects *rej = NULL;
    sr_store_writer *w = NULL;
    char *rej_path = NULL, *failed_path = NULL;
    uint32_t **count_plays = NULL, **count_skips = NULL; /* [threads][n_final] */
    int threads = 1; /* readers and writers */
    st.o = o;
    sr_err err = sr_ingest_check_opts(o, n_paths);
    if (err != SR_OK)
        goto done;
    if (o->format == SR_SOURCE_FORMAT_EVENTS && (err = sr_events_config_check(o->events)) != SR_OK)
        goto done;

    size_t rl = strlen(store_path) + 16;
    rej_path = malloc(rl);
    failed_path = malloc(rl + 8);
    if (!rej_path || !failed_path) {
        err = sr_errorf(SR_ERR_NOMEM, "out of memory");
        goto done;
    }
    snprintf(rej_path, rl, "%s.rejects.tsv", store_path);
    /* A failed run keeps its rejects under another name: they explain the
     * failure, and a good store's rejects file must not be replaced. */
    snprintf(failed_path, rl + 8, "%s.rejects.failed.tsv", store_path);
    if ((err = sr_rejects_open(rej_path, &rej)) != SR_OK)
        goto done;

    /* 1. read */
    double t_start = sr_ingest_clock();
    st.n_parts = o->format == SR_SOURCE_FORMAT_EVENTS ? 1 : n_paths;
    st.parts = calloc(st.n_parts, sizeof *st.parts);
    if (!st.parts) {
        err = sr_errorf(SR_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t k = 0; k < st.n_parts; k++)
        if ((err = sr_ingest_part_init(&st.parts[k], store_path, k, o)) != SR_OK)
            goto done;
    threads = o->threads;
#ifdef _OPENMP
    if (threads <= 0)
        threads = omp_get_max_threads();
#endif
    if (threads < 1)
        threads = 1;
    if ((size_t)threads > st.n_parts)
        threads = (int)st.n_parts;
    if (o->format == SR_SOURCE_FORMAT_EVENTS) {
        sr_ingest_part_read(&st.parts[0], paths, n_paths, rej);
    } else {
        long np = (long)n_paths;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (np > 1)
        for (long k = 0; k < np; k++)
            sr_ingest_part_read(&st.parts[k], &paths[k], 1, rej);
    }
    for (size_t k = 0; k < st.n_parts; k++) {
        const sr_ingest_part *p = &st.parts[k];
        s.input_files += p->counts.files;
        s.input_bytes += p->counts.bytes;
        s.input_rows += p->counts.rows;
        s.rejected_rows += p->counts.rejected;
        s.truncated_plays += p->counts.truncated;
        s.sessions_read += p->sessions_read;
        s.plays_read += p->plays_read;
        s.removed_short_sessions += p->removed_short;
        s.removed_noskip_sessions += p->removed_noskip;
    }
    for (size_t k = 0; k < st.n_parts; k++) {
        if (st.parts[k].err != SR_OK) {
            err = sr_errorf(st.parts[k].err, "%s", st.parts[k].errmsg);
            goto done;
        }
    }
    if ((err = sr_ingest_check_rejects(o, rej, &s, failed_path)) != SR_OK)
        goto done;
    if (s.input_rows == 0) {
        err = sr_errorf(SR_ERR_EMPTY, "no data rows in %zu input file(s)", n_paths);
        goto done;
    }

    double t_read = sr_ingest_clock();
    /* 2. merge vocabularies in file order */
    if ((err = sr_ingest_merge_vocab(&st)) != SR_OK)
        goto done;
    /* Each scan below reads every spool once: skip those that cannot change
     * anything (no rare-track filter, no temporal split is the common case). */
    bool filter_tracks = o->min_track_count > 1;
    if (filter_tracks && (err = sr_ingest_visit(&st, sr_ingest_count_tracks)) != SR_OK)
        goto done;

    /* 3. split: temporal cut-offs from the surviving sessions' start times */
    if (o->split == SR_SPLIT_KIND_TEMPORAL) {
        st.reservoir = malloc(SR_INGEST_RESERVOIR * sizeof *st.reservoir);
        if (!st.reservoir) {
            err = sr_errorf(SR_ERR_NOMEM, "out of memory");
            goto done;
        }
        sr_rng_seed(&st.reservoir_rng, 0x5eed5eedull);
        if ((err = sr_ingest_visit(&st, sr_ingest_scan_starts)) != SR_OK)
            goto done;
        if (st.reservoir_n > 0) {
            qsort(st.reservoir, st.reservoir_n, sizeof *st.reservoir, sr_ingest_cmp_i64);
            double q_valid = 1.0 - o->valid_frac - o->test_frac, q_test = 1.0 - o->test_frac;
            uint64_t iv = (uint64_t)(q_valid * (double)st.reservoir_n);
            uint64_t it = (uint64_t)(q_test * (double)st.reservoir_n);
            if (iv >= st.reservoir_n) iv = st.reservoir_n - 1;
            if (it >= st.reservoir_n) it = st.reservoir_n - 1;
            st.cut_valid = st.reservoir[iv];
            st.cut_test = st.reservoir[it];
        }
    }

    /* 4. vocabulary of the store, and what each part keeps */
    uint32_t g = sr_vocab_size(st.global);
    if (filter_tracks || o->split == SR_SPLIT_KIND_TEMPORAL) {
        for (uint32_t i = 0; i < g; i++)
            st.final_index[i] = SR_TRACK_UNSEEN;
        if ((err = sr_ingest_visit(&st, sr_ingest_scan_vocab)) != SR_OK)
            goto done;
    } else {
        /* Every merged track is in a kept session, and the merge order is the
         * first-seen order over the spools: the scan would give the identity.
         * Nothing is filtered after pass 1, so the spools are the store. */
        for (uint32_t i = 0; i < g; i++)
            st.final_index[i] = (int32_t)i;
        st.n_final = g;
        for (size_t k = 0; k < st.n_parts; k++) {
            st.parts[k].kept_sessions = st.parts[k].spooled_sessions;
            st.parts[k].kept_plays = st.parts[k].spooled_plays;
        }
    }
    /* Each part's place in the store: prefix sums in file order. */
    uint64_t n_sessions = 0;
    st.n_plays = 0;
    for (size_t k = 0; k < st.n_parts; k++) {
        st.parts[k].first_session = n_sessions;
        st.parts[k].first_play = st.n_plays;
        n_sessions += st.parts[k].kept_sessions;
        st.n_plays += st.parts[k].kept_plays;
    }
    st.final_ids = malloc((size_t)(st.n_final ? st.n_final : 1) * sizeof *st.final_ids);
    /* Track counts: one pair of arrays per writing thread, thread 0's being
     * the result; the others are added to it after the write. */
    count_plays = calloc((size_t)threads, sizeof *count_plays);
    count_skips = calloc((size_t)threads, sizeof *count_skips);
    if (!st.final_ids || !count_plays || !count_skips) {
        err = sr_errorf(SR_ERR_NOMEM, "out of memory for %u tracks", st.n_final);
        goto done;
    }
    for (int t = 0; t < threads; t++) {
        count_plays[t] = calloc(st.n_final ? st.n_final : 1, sizeof **count_plays);
        count_skips[t] = calloc(st.n_final ? st.n_final : 1, sizeof **count_skips);
        if (!count_plays[t] || !count_skips[t]) {
            err = sr_errorf(SR_ERR_NOMEM, "out of memory for %u tracks (%d threads)", st.n_final,
                            threads);
            goto done;
        }
    }
    for (uint32_t i = 0; i < g; i++) {
        int32_t f = st.final_index[i];
        if (f != SR_TRACK_UNSEEN)
            st.final_ids[f] = sr_vocab_id(st.global, (int32_t)i);
        else if (!filter_tracks || st.global_count[i] >= o->min_track_count)
            s.unseen_tracks++; /* temporal: appears only after the training period */
    }

    double t_scan = sr_ingest_clock();
    /* 5. write */
    sr_store_meta meta;
    memset(&meta, 0, sizeof meta);
    meta.split = o->split;
    meta.skip_rule = o->skip_rule;
    meta.source = o->format;
    meta.created = (int64_t)time(NULL);
    snprintf(meta.name, sizeof meta.name, "%s", o->name ? o->name : "dataset");
    if ((err = sr_store_writer_open_sized(store_path, &meta, n_sessions, st.n_plays, &w)) !=
        SR_OK)
        goto done;
    atomic_init(&st.write_failed, false);
    atomic_init(&st.written, 0);
    {
        long np = (long)st.n_parts;
        /* Parts in file order over the threads; a part's cursor owns its
         * place in the store, so no lock is taken per session. */
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (np > 1 && threads > 1)
        for (long k = 0; k < np; k++) {
            int t = 0;
#ifdef _OPENMP
            t = omp_get_thread_num();
#endif
            sr_ingest_part *p = &st.parts[k];
            p->plays_out = count_plays[t];
            p->skips_out = count_skips[t];
            sr_ingest_part_write(&st, p, w);
        }
    }
    double t_parts = sr_ingest_clock();
    /* Report the first part (in file order) that failed on its own. */
    for (size_t k = 0; k < st.n_parts && err == SR_OK; k++)
        if (st.parts[k].err != SR_OK && !st.parts[k].stopped)
            err = sr_errorf(st.parts[k].err, "%s", st.parts[k].errmsg);
    for (size_t k = 0; k < st.n_parts; k++)
        sr_ingest_add_write_stats(&s, &st.parts[k].wstats);
    if (err != SR_OK)
        goto done;
    for (int t = 1; t < threads; t++) {
        for (uint32_t i = 0; i < st.n_final; i++) {
            count_plays[0][i] += count_plays[t][i];
            count_skips[0][i] += count_skips[t][i];
        }
    }
    st.final_plays = count_plays[0];
    st.final_skips = count_skips[0];
    if (s.sessions == 0) {
        err = sr_errorf(SR_ERR_EMPTY,
                        "no session left after filtering (%llu read, %llu too short, %llu without "
                        "skips)",
                        (unsigned long long)s.sessions_read,
                        (unsigned long long)s.removed_short_sessions,
                        (unsigned long long)s.removed_noskip_sessions);
        goto done;
    }
    s.tracks = st.n_final;
    s.skip_rate = s.interactions ? (double)s.skipped / (double)s.interactions : 0.0;
    if (o->progress && !o->progress(o->progress_ud, "write", s.interactions, s.interactions)) {
        err = sr_errorf(SR_ERR_CANCELLED, "ingestion cancelled");
        goto done;
    }
    err = sr_store_writer_finish(&w, st.n_final, st.final_ids, st.final_plays, st.final_skips, &s);
    if (err != SR_OK)
        goto done;
    if (reasons_out)
        sr_ingest_copy_reasons(rej, reasons_out);
    err = sr_rejects_close(&rej);
    double t_end = sr_ingest_clock();
    sr_log(SR_LOG_LEVEL_DEBUG, "ingest timing: read %.2f s, merge+scan %.2f s, write %.2f s",
           t_read - t_start, t_scan - t_read, t_end - t_scan);
    sr_log(SR_LOG_LEVEL_DEBUG,
           "ingest write: %zu parts on %d threads %.2f s, finish (checksums, fsync) %.2f s",
           st.n_parts, threads, t_parts - t_scan, t_end - t_parts);
    sr_log(SR_LOG_LEVEL_DEBUG,
           "ingested %s: %llu sessions, %llu plays, %llu tracks, skip rate %.3f, %llu rows "
           "rejected",
           store_path, (unsigned long long)s.sessions, (unsigned long long)s.interactions,
           (unsigned long long)s.tracks, s.skip_rate, (unsigned long long)s.rejected_rows);
done:
    if (err != SR_OK && rej) {
        if (reasons_out)
            sr_ingest_copy_reasons(rej, reasons_out);
        /* Keep the rejects file: it explains the failure. Closing must not
         * replace the message of the error being returned. */
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", sr_errmsg());
        if (sr_rejects_close_to(&rej, failed_path) != SR_OK)
            sr_log(SR_LOG_LEVEL_WARN, "rejects file: %s", sr_errmsg());
        sr_errorf(err, "%s", msg);
    }
    /* Cursors first (in the parts), then the writer they write to. */
    sr_ingest_run_state_free(&st);
    sr_store_writer_abort(&w);
    for (int t = 0; count_plays && t < threads; t++)
        free(count_plays[t]);
    for (int t = 0; count_skips && t < threads; t++)
        free(count_skips[t]);
    free(count_plays);
    free(count_skips);
    free(rej_path);
    free(failed_path);
    if (stats_out)
        *stats_out = s;
    return err;
}
