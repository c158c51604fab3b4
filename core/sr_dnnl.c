/* sr_dnnl.c - the one file of seqrec that calls oneDNN (2.6, the 2.x C API:
 * `dnnl_*_desc_init`, then `dnnl_primitive_desc_create`), plus the hand-written
 * dense kernels that beat or replace it (docs/kernels.md).
 *
 * Dimension legend (sr_tensor.h): T rows (= B * L), D model width, In/Out the
 * widths of a linear layer, M/N/K a generic product C[M, N] = A[M, K] B[K, N],
 * n the length of an element-wise vector.
 *
 * Which op runs where (measured, docs/kernels.md): all matrix products and
 * layer norm on oneDNN; GELU hand-written (the public API has no context and
 * must accumulate; oneDNN's eltwise is kept as sr_dnnl_gelu_*); the linear
 * layer's bias gradient hand-written (a column sum).
 *
 * oneDNN facts this file relies on (STYLE.md, checked on 2.6.3):
 * - matmul has no backward: dx and dW of a linear layer are two more matmuls
 *   whose transposes are expressed through strides, never copies;
 * - accumulation (+=) into C is the sum post-op, which the GEMM-based matmul
 *   turns into beta = 1, so no extra pass over C;
 * - primitives are created once per shape (our cache) and their
 *   implementation string is checked: a reference implementation is logged;
 * - scratchpads are in user mode: the context owns one buffer, grown when a
 *   primitive is created, so executing a cached primitive never allocates.
 */
#include "sr_dnnl.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dnnl.h>

/* ---- runtime ISA dispatch for the hand-written kernels ----------------------
 * The portable build targets baseline x86-64 (SSE2); these kernels are
 * element- or row-wise loops that vectorise, so GCC compiles them three times
 * and picks the widest the CPU has when the program starts (ifunc). No FMA
 * contraction happens (ISO C mode implies -ffp-contract=off) and the loops
 * hold no reassociated reductions, so every clone gives bit-identical results.
 * OpenMP regions are outlined before cloning, so parallel regions live in
 * plain wrappers that call a cloned serial kernel on their slice. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && \
    !defined(SR_DNNL_NO_CLONES)
#define SR_DNNL_CLONES \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define SR_DNNL_CLONES
#endif

#define SR_DNNL_ALWAYS_INLINE static inline __attribute__((always_inline))

/* Element-wise work below this many floats runs on one thread: a fork/join
 * costs more than it saves (STYLE.md, ggml). */
#define SR_DNNL_PAR_MIN 32768

/* Largest size or leading dimension accepted (oneDNN's GEMM paths use 32-bit
 * dimensions internally). */
#define SR_DNNL_DIM_MAX ((int64_t)INT32_MAX)

#define SR_DNNL_KEY_LEN 10
#define SR_DNNL_MAX_ARGS 9
#define SR_DNNL_CACHE_CAP_MAX 4096
#define SR_DNNL_ALIGN 64

typedef enum sr_dnnl_op {
    SR_DNNL_OP_NONE = 0,
    SR_DNNL_OP_MATMUL,
    SR_DNNL_OP_LN_FWD,
    SR_DNNL_OP_LN_BWD,
    SR_DNNL_OP_GELU_FWD,
    SR_DNNL_OP_GELU_BWD
} sr_dnnl_op;

typedef struct sr_dnnl_entry {
    sr_dnnl_op op; /* SR_DNNL_OP_NONE: free slot */
    int64_t key[SR_DNNL_KEY_LEN];
    dnnl_primitive_t prim;
    int nargs;                          /* caller arguments, in creation order */
    int arg_kind[SR_DNNL_MAX_ARGS];     /* DNNL_ARG_* */
    dnnl_memory_t mem[SR_DNNL_MAX_ARGS];
    dnnl_memory_t pad;                  /* scratchpad memory or NULL */
    size_t work_floats;                 /* ctx->work this entry's caller needs */
    int nthr;                           /* omp_get_max_threads() at creation */
    uint64_t last_used;
    char impl[64];
} sr_dnnl_entry;

struct sr_dnnl_ctx {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    size_t cap;
    sr_dnnl_entry *entries; /* [cap] */
    uint64_t tick;
    int last;               /* slot of the last primitive used, -1 = none */
    void *pad;              /* oneDNN scratchpad, pad_bytes */
    size_t pad_bytes;
    float *work;            /* work floats for the oneDNN layer norm / GELU */
    size_t work_cap;
    sr_dnnl_impl ln_impl;
    sr_dnnl_stats stats;
};

/* oneDNN takes data handles as `void *` even for inputs it only reads. The
 * round trip through uintptr_t drops const without a qualifier-dropping cast;
 * oneDNN never writes to an input argument. */
static void *sr_dnnl_handle(const void *p)
{
    return (void *)(uintptr_t)p;
}

static sr_err sr_dnnl_status(dnnl_status_t st, const char *what)
{
    if (st == dnnl_success)
        return SR_OK;
    if (st == dnnl_out_of_memory)
        return sr_errorf(SR_ERR_NOMEM, "oneDNN %s: out of memory", what);
    return sr_errorf(SR_ERR_INTERNAL, "oneDNN %s failed (status %d)", what, (int)st);
}

/* ---- context --------------------------------------------------------------- */

static void *sr_dnnl_aligned(size_t bytes)
{
    if (bytes > SIZE_MAX - SR_DNNL_ALIGN)
        return NULL;
    size_t rounded = (bytes + SR_DNNL_ALIGN - 1) / SR_DNNL_ALIGN * SR_DNNL_ALIGN;
    return aligned_alloc(SR_DNNL_ALIGN, rounded ? rounded : SR_DNNL_ALIGN);
}

/* Grow the scratch buffers to at least the given sizes. Called only while a
 * primitive is created, never while one runs. */
static sr_err sr_dnnl_reserve(sr_dnnl_ctx *ctx, size_t pad_bytes, size_t work_floats)
{
    if (pad_bytes > ctx->pad_bytes) {
        void *p = sr_dnnl_aligned(pad_bytes);
        if (!p)
            return sr_errorf(SR_ERR_NOMEM, "oneDNN scratchpad of %zu bytes", pad_bytes);
        free(ctx->pad);
        ctx->pad = p;
        ctx->pad_bytes = pad_bytes;
    }
    if (work_floats > ctx->work_cap) {
        if (work_floats > SIZE_MAX / sizeof(float))
            return sr_errorf(SR_ERR_LIMIT, "work buffer of %zu floats", work_floats);
        float *w = sr_dnnl_aligned(work_floats * sizeof(float));
        if (!w)
            return sr_errorf(SR_ERR_NOMEM, "work buffer of %zu floats", work_floats);
        free(ctx->work);
        ctx->work = w;
        ctx->work_cap = work_floats;
    }
    return SR_OK;
}

static void sr_dnnl_entry_clear(sr_dnnl_entry *e)
{
    for (int i = 0; i < e->nargs; i++)
        if (e->mem[i])
            dnnl_memory_destroy(e->mem[i]);
    if (e->pad)
        dnnl_memory_destroy(e->pad);
    if (e->prim)
        dnnl_primitive_destroy(e->prim);
    memset(e, 0, sizeof *e);
}

sr_err sr_dnnl_ctx_new(size_t cache_cap, sr_dnnl_ctx **out)
{
    *out = NULL;
    if (cache_cap == 0)
        cache_cap = SR_DNNL_CACHE_CAP_DEFAULT;
    if (cache_cap > SR_DNNL_CACHE_CAP_MAX)
        return sr_errorf(SR_ERR_ARG, "oneDNN primitive cache of %zu entries (at most %d)",
                         cache_cap, SR_DNNL_CACHE_CAP_MAX);
    sr_err err = SR_OK;
    sr_dnnl_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return sr_errorf(SR_ERR_NOMEM, "oneDNN context");
    ctx->last = -1;
    ctx->cap = cache_cap;
    ctx->entries = calloc(cache_cap, sizeof *ctx->entries);
    if (!ctx->entries) {
        err = sr_errorf(SR_ERR_NOMEM, "oneDNN primitive cache of %zu entries", cache_cap);
        goto done;
    }
    if ((err = sr_dnnl_status(dnnl_engine_create(&ctx->engine, dnnl_cpu, 0), "engine_create")))
        goto done;
    if ((err = sr_dnnl_status(
             dnnl_stream_create(&ctx->stream, ctx->engine, dnnl_stream_default_flags),
             "stream_create")))
        goto done;
    const dnnl_version_t *v = dnnl_version();
    sr_log(SR_LOG_LEVEL_DEBUG, "oneDNN %d.%d.%d, primitive cache of %zu", v->major, v->minor,
           v->patch, cache_cap);
done:
    if (err) {
        sr_dnnl_ctx_free(&ctx);
        return err;
    }
    *out = ctx;
    return SR_OK;
}

void sr_dnnl_ctx_free(sr_dnnl_ctx **pctx)
{
    if (!pctx || !*pctx)
        return;
    sr_dnnl_ctx *ctx = *pctx;
    if (ctx->entries)
        for (size_t i = 0; i < ctx->cap; i++)
            sr_dnnl_entry_clear(&ctx->entries[i]);
    free(ctx->entries);
    if (ctx->stream)
        dnnl_stream_destroy(ctx->stream);
    if (ctx->engine)
        dnnl_engine_destroy(ctx->engine);
    free(ctx->pad);
    free(ctx->work);
    free(ctx);
    *pctx = NULL;
}

void sr_dnnl_ctx_stats(const sr_dnnl_ctx *ctx, sr_dnnl_stats *out)
{
    *out = ctx->stats;
    size_t n = 0;
    for (size_t i = 0; i < ctx->cap; i++)
        n += ctx->entries[i].op != SR_DNNL_OP_NONE;
    out->entries = n;
    out->scratch_bytes = ctx->pad_bytes + ctx->work_cap * sizeof(float);
}

const char *sr_dnnl_ctx_last_impl(const sr_dnnl_ctx *ctx)
{
    if (ctx->last < 0)
        return "";
    return ctx->entries[ctx->last].impl;
}

void sr_dnnl_ctx_set_layernorm_impl(sr_dnnl_ctx *ctx, sr_dnnl_impl impl)
{
    ctx->ln_impl = impl;
}

/* ---- the primitive cache ----------------------------------------------------- */

/* The cached entry for (op, key), or NULL. Counts a hit. The thread count is
 * part of the key: oneDNN sizes a primitive's work split and scratchpad for
 * the number of OpenMP threads at creation and keeps using that number, so a
 * caller that changes omp_set_num_threads() gets a new primitive. */
static sr_dnnl_entry *sr_dnnl_lookup(sr_dnnl_ctx *ctx, sr_dnnl_op op, const int64_t *key)
{
    int nthr = omp_get_max_threads();
    for (size_t i = 0; i < ctx->cap; i++) {
        sr_dnnl_entry *e = &ctx->entries[i];
        if (e->op == op && e->nthr == nthr && memcmp(e->key, key, sizeof e->key) == 0) {
            e->last_used = ++ctx->tick;
            ctx->last = (int)i;
            ctx->stats.hits++;
            return e;
        }
    }
    return NULL;
}

/* A free slot, evicting the least recently used entry when the cache is full. */
static sr_dnnl_entry *sr_dnnl_slot(sr_dnnl_ctx *ctx)
{
    size_t victim = 0;
    for (size_t i = 0; i < ctx->cap; i++) {
        if (ctx->entries[i].op == SR_DNNL_OP_NONE)
            return &ctx->entries[i];
        if (ctx->entries[i].last_used < ctx->entries[victim].last_used)
            victim = i;
    }
    sr_dnnl_entry_clear(&ctx->entries[victim]);
    ctx->stats.evicted++;
    return &ctx->entries[victim];
}

typedef struct sr_dnnl_argspec {
    int kind;                 /* DNNL_ARG_* */
    const dnnl_memory_desc_t *md;
} sr_dnnl_argspec;

/* Create the primitive for op_desc, its memory objects (no buffers yet) and
 * its scratchpad, and cache it under (op, key). `what` names the op and shape
 * for messages. On failure nothing is cached and no entry is evicted. */
static sr_err sr_dnnl_create(sr_dnnl_ctx *ctx, sr_dnnl_op op, const int64_t *key,
                             const_dnnl_op_desc_t op_desc, const_dnnl_primitive_attr_t attr_in,
                             const_dnnl_primitive_desc_t hint, const sr_dnnl_argspec *args,
                             int nargs, size_t work_floats, const char *what,
                             sr_dnnl_entry **out)
{
    SR_ASSERT(nargs <= SR_DNNL_MAX_ARGS);
    *out = NULL;
    sr_err err = SR_OK;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    sr_dnnl_entry e = { .op = SR_DNNL_OP_NONE };
    /* user-mode scratchpad: oneDNN must not allocate while a primitive runs */
    if (attr_in) {
        if ((err = sr_dnnl_status(dnnl_primitive_attr_clone(&attr, attr_in), what)))
            goto done;
    } else if ((err = sr_dnnl_status(dnnl_primitive_attr_create(&attr), what))) {
        goto done;
    }
    if ((err = sr_dnnl_status(dnnl_primitive_attr_set_scratchpad_mode(attr,
                                                                      dnnl_scratchpad_mode_user),
                              what)))
        goto done;
    dnnl_status_t st = dnnl_primitive_desc_create(&pd, op_desc, attr, ctx->engine, hint);
    if (st == dnnl_unimplemented) {
        err = sr_errorf(SR_ERR_INTERNAL, "oneDNN has no implementation for %s", what);
        goto done;
    }
    if ((err = sr_dnnl_status(st, what)))
        goto done;
    const char *impl = "";
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) != dnnl_success ||
        !impl)
        impl = "?";
    snprintf(e.impl, sizeof e.impl, "%s", impl);
    const dnnl_memory_desc_t *pad_md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md,
                                                                    0);
    size_t pad_bytes = pad_md ? dnnl_memory_desc_get_size(pad_md) : 0;
    if ((err = sr_dnnl_reserve(ctx, pad_bytes, work_floats)))
        goto done;
    if ((err = sr_dnnl_status(dnnl_primitive_create(&e.prim, pd), what)))
        goto done;
    for (int i = 0; i < nargs; i++) {
        e.arg_kind[i] = args[i].kind;
        e.nargs = i + 1;
        if ((err = sr_dnnl_status(
                 dnnl_memory_create(&e.mem[i], args[i].md, ctx->engine, DNNL_MEMORY_NONE),
                 what)))
            goto done;
    }
    if (pad_bytes > 0 &&
        (err = sr_dnnl_status(dnnl_memory_create(&e.pad, pad_md, ctx->engine, DNNL_MEMORY_NONE),
                              what)))
        goto done;
    e.op = op;
    memcpy(e.key, key, sizeof e.key);
    e.work_floats = work_floats;
    e.nthr = omp_get_max_threads();
    e.last_used = ++ctx->tick;
    sr_dnnl_entry *slot = sr_dnnl_slot(ctx);
    *slot = e;
    e.op = SR_DNNL_OP_NONE; /* now owned by the cache */
    ctx->last = (int)(slot - ctx->entries);
    ctx->stats.created++;
    *out = slot;
    /* the ~240x slower fall-back of STYLE.md must not go unnoticed */
    sr_log(strncmp(slot->impl, "ref", 3) == 0 ? SR_LOG_LEVEL_WARN : SR_LOG_LEVEL_DEBUG,
           "oneDNN %s: implementation %s", what, slot->impl);
done:
    if (err)
        sr_dnnl_entry_clear(&e);
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    return err;
}

/* Run a cached primitive on the given buffers (in the entry's argument order). */
static sr_err sr_dnnl_exec(sr_dnnl_ctx *ctx, sr_dnnl_entry *e, const void *const *ptrs)
{
    dnnl_exec_arg_t a[SR_DNNL_MAX_ARGS + 1];
    int n = 0;
    sr_err err = SR_OK;
    for (int i = 0; i < e->nargs; i++) {
        if ((err = sr_dnnl_status(dnnl_memory_set_data_handle(e->mem[i], sr_dnnl_handle(ptrs[i])),
                                  "memory_set_data_handle")))
            return err;
        a[n].arg = e->arg_kind[i];
        a[n].memory = e->mem[i];
        n++;
    }
    if (e->pad) {
        if ((err = sr_dnnl_status(dnnl_memory_set_data_handle(e->pad, ctx->pad),
                                  "memory_set_data_handle")))
            return err;
        a[n].arg = DNNL_ARG_SCRATCHPAD;
        a[n].memory = e->pad;
        n++;
    }
    err = sr_dnnl_status(dnnl_primitive_execute(e->prim, ctx->stream, n, a), "execute");
    if (!err)
        err = sr_dnnl_status(dnnl_stream_wait(ctx->stream), "stream_wait");
    return err;
}

/* ---- matrix products ----------------------------------------------------------- */

static sr_err sr_dnnl_md_2d(dnnl_memory_desc_t *md, int64_t rows, int64_t cols, int64_t s0,
                            int64_t s1)
{
    dnnl_dims_t dims = { rows, cols };
    dnnl_dims_t strides = { s0, s1 };
    return sr_dnnl_status(dnnl_memory_desc_init_by_strides(md, 2, dims, dnnl_f32, strides),
                          "memory_desc_init_by_strides");
}

/* C[M, N] (+)= A[M, K] B[K, N] (+ bias[N]) where A's element (m, k) is
 * A[m * sa0 + k * sa1], B's (k, n) is B[k * sb0 + n * sb1] and C is row-major
 * with row stride ldc. The strides express the transposes. */
static sr_err sr_dnnl_mm(sr_dnnl_ctx *ctx, const float *A, int64_t sa0, int64_t sa1,
                         const float *B, int64_t sb0, int64_t sb1, const float *bias, float *C,
                         int64_t ldc, int64_t M, int64_t N, int64_t K, bool accumulate)
{
    int64_t key[SR_DNNL_KEY_LEN] = { M, N, K, sa0, sa1, sb0, sb1, ldc, bias != NULL, accumulate };
    sr_dnnl_entry *e = sr_dnnl_lookup(ctx, SR_DNNL_OP_MATMUL, key);
    if (!e) {
        char what[160];
        snprintf(what, sizeof what,
                 "matmul M=%lld N=%lld K=%lld strides A(%lld,%lld) B(%lld,%lld) ldc=%lld%s%s",
                 (long long)M, (long long)N, (long long)K, (long long)sa0, (long long)sa1,
                 (long long)sb0, (long long)sb1, (long long)ldc, bias ? " +bias" : "",
                 accumulate ? " +=" : "");
        sr_err err = SR_OK;
        dnnl_memory_desc_t amd, bmd, cmd, biasmd;
        dnnl_matmul_desc_t md;
        dnnl_primitive_attr_t attr = NULL;
        dnnl_post_ops_t po = NULL;
        if ((err = sr_dnnl_md_2d(&amd, M, K, sa0, sa1)) ||
            (err = sr_dnnl_md_2d(&bmd, K, N, sb0, sb1)) ||
            (err = sr_dnnl_md_2d(&cmd, M, N, ldc, 1)) ||
            (bias && (err = sr_dnnl_md_2d(&biasmd, 1, N, N, 1))))
            return err;
        if ((err = sr_dnnl_status(dnnl_matmul_desc_init(&md, &amd, &bmd, bias ? &biasmd : NULL,
                                                        &cmd),
                                  what)))
            return err;
        if (accumulate) {
            /* sum post-op with scale 1: C = C + A B (beta = 1 in the GEMM) */
            if ((err = sr_dnnl_status(dnnl_primitive_attr_create(&attr), what)) ||
                (err = sr_dnnl_status(dnnl_post_ops_create(&po), what)) ||
                (err = sr_dnnl_status(dnnl_post_ops_append_sum(po, 1.0f), what)) ||
                (err = sr_dnnl_status(dnnl_primitive_attr_set_post_ops(attr, po), what)))
                goto mm_done;
        }
        sr_dnnl_argspec args[4] = {
            { DNNL_ARG_SRC, &amd },
            { DNNL_ARG_WEIGHTS, &bmd },
            { DNNL_ARG_DST, &cmd },
            { DNNL_ARG_BIAS, &biasmd },
        };
        err = sr_dnnl_create(ctx, SR_DNNL_OP_MATMUL, key, &md, attr, NULL, args, bias ? 4 : 3, 0,
                             what, &e);
    mm_done:
        if (po)
            dnnl_post_ops_destroy(po);
        if (attr)
            dnnl_primitive_attr_destroy(attr);
        if (err)
            return err;
    }
    const void *ptrs[4] = { A, B, C, bias };
    return sr_dnnl_exec(ctx, e, ptrs);
}

/* Argument checks shared by the three products; also handles the empty cases.
 * Returns SR_OK with *done = true when nothing is left to compute. */
static sr_err sr_dnnl_mm_check(const char *name, int64_t M, int64_t N, int64_t K, int64_t lda,
                               int64_t lda_min, int64_t ldb, int64_t ldb_min, float *C,
                               int64_t ldc, bool accumulate, bool *done)
{
    *done = false;
    if (M < 0 || N < 0 || K < 0 || M > SR_DNNL_DIM_MAX || N > SR_DNNL_DIM_MAX ||
        K > SR_DNNL_DIM_MAX)
        return sr_errorf(SR_ERR_ARG, "%s: sizes M=%lld N=%lld K=%lld out of [0, %lld]", name,
                         (long long)M, (long long)N, (long long)K, (long long)SR_DNNL_DIM_MAX);
    if (lda < SR_MAX(lda_min, 1) || ldb < SR_MAX(ldb_min, 1) || ldc < SR_MAX(N, 1) ||
        lda > SR_DNNL_DIM_MAX || ldb > SR_DNNL_DIM_MAX || ldc > SR_DNNL_DIM_MAX)
        return sr_errorf(SR_ERR_ARG,
                         "%s: leading dimensions lda=%lld (>= %lld) ldb=%lld (>= %lld) "
                         "ldc=%lld (>= %lld) out of range",
                         name, (long long)lda, (long long)lda_min, (long long)ldb,
                         (long long)ldb_min, (long long)ldc, (long long)N);
    if (M == 0 || N == 0) {
        *done = true;
    } else if (K == 0) {
        /* an empty sum: C = 0, or C unchanged when accumulating */
        if (!accumulate)
            for (int64_t m = 0; m < M; m++)
                memset(C + m * ldc, 0, (size_t)N * sizeof(float));
        *done = true;
    }
    return SR_OK;
}

sr_err sr_matmul_nt(sr_dnnl_ctx *ctx, const float *A, int64_t lda, const float *Bm, int64_t ldb,
                    float *C, int64_t ldc, int64_t M, int64_t N, int64_t K, bool accumulate)
{
    bool done;
    sr_err err = sr_dnnl_mm_check("sr_matmul_nt", M, N, K, lda, K, ldb, K, C, ldc, accumulate,
                                  &done);
    if (err || done)
        return err;
    /* B[k, n] = Bm[n, k] = Bm[n * ldb + k] */
    return sr_dnnl_mm(ctx, A, lda, 1, Bm, 1, ldb, NULL, C, ldc, M, N, K, accumulate);
}

sr_err sr_matmul_nn(sr_dnnl_ctx *ctx, const float *A, int64_t lda, const float *B, int64_t ldb,
                    float *C, int64_t ldc, int64_t M, int64_t N, int64_t K, bool accumulate)
{
    bool done;
    sr_err err = sr_dnnl_mm_check("sr_matmul_nn", M, N, K, lda, K, ldb, N, C, ldc, accumulate,
                                  &done);
    if (err || done)
        return err;
    return sr_dnnl_mm(ctx, A, lda, 1, B, ldb, 1, NULL, C, ldc, M, N, K, accumulate);
}

sr_err sr_matmul_tn(sr_dnnl_ctx *ctx, const float *A, int64_t lda, const float *B, int64_t ldb,
                    float *C, int64_t ldc, int64_t M, int64_t N, int64_t K, bool accumulate)
{
    bool done;
    sr_err err = sr_dnnl_mm_check("sr_matmul_tn", M, N, K, lda, M, ldb, N, C, ldc, accumulate,
                                  &done);
    if (err || done)
        return err;
    /* op(A)[m, k] = A[k, m] = A[k * lda + m] */
    return sr_dnnl_mm(ctx, A, 1, lda, B, ldb, 1, NULL, C, ldc, M, N, K, accumulate);
}

/* ---- linear layer ------------------------------------------------------------------ */

static sr_err sr_dnnl_dims_check(const char *name, int64_t a, const char *an, int64_t b,
                                 const char *bn, int64_t c, const char *cn)
{
    if (a <= 0 || b <= 0 || c <= 0 || a > SR_DNNL_DIM_MAX || b > SR_DNNL_DIM_MAX ||
        c > SR_DNNL_DIM_MAX)
        return sr_errorf(SR_ERR_ARG, "%s: sizes %s=%lld %s=%lld %s=%lld out of [1, %lld]", name,
                         an, (long long)a, bn, (long long)b, cn, (long long)c,
                         (long long)SR_DNNL_DIM_MAX);
    return SR_OK;
}

sr_err sr_linear_forward(sr_dnnl_ctx *ctx, const float *x, const float *W, const float *b,
                         float *y, int64_t T, int64_t In, int64_t Out)
{
    sr_err err = sr_dnnl_dims_check("sr_linear_forward", T, "T", In, "In", Out, "Out");
    if (err)
        return err;
    /* y[T, Out] = x[T, In] W^T[In, Out] + b: W^T[i, o] = W[o * In + i] */
    return sr_dnnl_mm(ctx, x, In, 1, W, 1, In, b, y, Out, T, Out, In, false);
}

/* db[j0 .. j0 + w) += column sums of dy[T, ld] over all T rows, in double.
 * w <= SR_DNNL_COL_BLOCK. Each column is summed in row order, so the result
 * is independent of how blocks are spread over threads. */
#define SR_DNNL_COL_BLOCK 32

SR_DNNL_CLONES
static void sr_dnnl_colsum_block(const float *dy, int64_t ld, int64_t T, int64_t j0, int64_t w,
                                 float *db)
{
    double acc[SR_DNNL_COL_BLOCK] = { 0 };
    for (int64_t t = 0; t < T; t++) {
        const float *row = dy + t * ld + j0;
#pragma omp simd
        for (int64_t j = 0; j < w; j++)
            acc[j] += (double)row[j];
    }
    for (int64_t j = 0; j < w; j++)
        db[j0 + j] = (float)((double)db[j0 + j] + acc[j]);
}

static void sr_dnnl_colsum(const float *dy, int64_t T, int64_t Out, float *db)
{
    int64_t nblocks = (Out + SR_DNNL_COL_BLOCK - 1) / SR_DNNL_COL_BLOCK;
#pragma omp parallel for schedule(static) if (T * Out >= SR_DNNL_PAR_MIN && nblocks > 1)
    for (int64_t k = 0; k < nblocks; k++) {
        int64_t j0 = k * SR_DNNL_COL_BLOCK;
        sr_dnnl_colsum_block(dy, Out, T, j0, SR_MIN(SR_DNNL_COL_BLOCK, Out - j0), db);
    }
}

sr_err sr_linear_backward(sr_dnnl_ctx *ctx, const float *x, const float *W, const float *dy,
                          float *dx, float *dW, float *db, int64_t T, int64_t In, int64_t Out)
{
    sr_err err = sr_dnnl_dims_check("sr_linear_backward", T, "T", In, "In", Out, "Out");
    if (err)
        return err;
    /* dx[T, In] += dy[T, Out] W[Out, In] */
    if (dx && (err = sr_dnnl_mm(ctx, dy, Out, 1, W, In, 1, NULL, dx, In, T, In, Out, true)))
        return err;
    /* dW[Out, In] += dy^T[Out, T] x[T, In]: dy^T[o, t] = dy[t * Out + o] */
    if (dW && (err = sr_dnnl_mm(ctx, dy, 1, Out, x, In, 1, NULL, dW, In, Out, In, T, true)))
        return err;
    if (db)
        sr_dnnl_colsum(dy, T, Out, db);
    return SR_OK;
}

/* ---- layer normalisation, hand-written ----------------------------------------------
 * Not the default: oneDNN's is 1.2-1.8x faster at T = 5120, D = 128
 * (docs/kernels.md). Kept because it is bit-identical for every thread count
 * and needs no work buffer, and as the tests' cross-check of oneDNN.
 * Row sums go to 8 explicit double lanes combined in a fixed order: the
 * compiler can keep the lanes in vector registers, and the result is the same
 * for every ISA clone and thread count. Loops over j with an unknown trip
 * count carry `omp simd`: at -O2 GCC 12's "very cheap" cost model will not
 * vectorise a loop that needs an alias check or a remainder loop; every
 * iteration there touches only its own column, so the assertion holds. */

#define SR_DNNL_LANES 8

/* Pairwise, in a fixed order. (16 or 32 lanes would shorten the chain of
 * dependent vector adds, but GCC then keeps the lanes in memory: slower.) */
SR_DNNL_ALWAYS_INLINE double sr_dnnl_lanes_sum(double *l)
{
    for (int w = SR_DNNL_LANES / 2; w >= 1; w /= 2)
        for (int k = 0; k < w; k++)
            l[k] += l[k + w];
    return l[0];
}

SR_DNNL_CLONES
static void sr_ln_fwd_rows(const float *x, const float *gamma, const float *beta, float *y,
                           float *mean, float *rstd, int64_t t0, int64_t t1, int64_t D,
                           float eps)
{
    int64_t DL = D / SR_DNNL_LANES * SR_DNNL_LANES;
    for (int64_t t = t0; t < t1; t++) {
        const float *xr = x + t * D;
        float *yr = y + t * D;
        double l[SR_DNNL_LANES] = { 0 };
        for (int64_t j = 0; j < DL; j += SR_DNNL_LANES)
            for (int k = 0; k < SR_DNNL_LANES; k++)
                l[k] += (double)xr[j + k];
        for (int64_t j = DL; j < D; j++)
            l[j - DL] += (double)xr[j];
        double m = sr_dnnl_lanes_sum(l) / (double)D;
        /* two-pass variance: no cancellation when |mean| >> std */
        double v[SR_DNNL_LANES] = { 0 };
        for (int64_t j = 0; j < DL; j += SR_DNNL_LANES)
            for (int k = 0; k < SR_DNNL_LANES; k++) {
                double d = (double)xr[j + k] - m;
                v[k] += d * d;
            }
        for (int64_t j = DL; j < D; j++) {
            double d = (double)xr[j] - m;
            v[j - DL] += d * d;
        }
        double var = sr_dnnl_lanes_sum(v) / (double)D;
        float mf = (float)m;
        float rf = (float)(1.0 / sqrt(var + (double)eps));
        mean[t] = mf;
        rstd[t] = rf;
#pragma omp simd
        for (int64_t j = 0; j < D; j++)
            yr[j] = (xr[j] - mf) * rf * gamma[j] + beta[j];
    }
}

/* dx rows: dx += rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * gamma,
 * xhat computed exactly as in the forward. */
SR_DNNL_CLONES
static void sr_ln_bwd_rows(const float *x, const float *gamma, const float *mean,
                           const float *rstd, const float *dy, float *dx, int64_t t0, int64_t t1,
                           int64_t D)
{
    int64_t DL = D / SR_DNNL_LANES * SR_DNNL_LANES;
    for (int64_t t = t0; t < t1; t++) {
        const float *xr = x + t * D;
        const float *dyr = dy + t * D;
        float *dxr = dx + t * D;
        float mf = mean[t], rf = rstd[t];
        double la[SR_DNNL_LANES] = { 0 }, lb[SR_DNNL_LANES] = { 0 };
        for (int64_t j = 0; j < DL; j += SR_DNNL_LANES)
            for (int k = 0; k < SR_DNNL_LANES; k++) {
                float g = dyr[j + k] * gamma[j + k];
                float xh = (xr[j + k] - mf) * rf;
                la[k] += (double)g;
                lb[k] += (double)g * (double)xh;
            }
        for (int64_t j = DL; j < D; j++) {
            float g = dyr[j] * gamma[j];
            float xh = (xr[j] - mf) * rf;
            la[j - DL] += (double)g;
            lb[j - DL] += (double)g * (double)xh;
        }
        float a = (float)(sr_dnnl_lanes_sum(la) / (double)D);
        float b = (float)(sr_dnnl_lanes_sum(lb) / (double)D);
#pragma omp simd
        for (int64_t j = 0; j < D; j++) {
            float g = dyr[j] * gamma[j];
            float xh = (xr[j] - mf) * rf;
            dxr[j] += rf * (g - a - xh * b);
        }
    }
}

/* dgamma[j0 .. j0 + w) += sum_t dy * xhat, dbeta += sum_t dy, each column in
 * row order in double (independent of the thread count). */
SR_DNNL_CLONES
static void sr_ln_bwd_params(const float *x, const float *mean, const float *rstd,
                             const float *dy, float *dgamma, float *dbeta, int64_t T, int64_t D,
                             int64_t j0, int64_t w)
{
    double ag[SR_DNNL_COL_BLOCK] = { 0 }, ab[SR_DNNL_COL_BLOCK] = { 0 };
    for (int64_t t = 0; t < T; t++) {
        const float *xr = x + t * D + j0;
        const float *dyr = dy + t * D + j0;
        float mf = mean[t], rf = rstd[t];
#pragma omp simd
        for (int64_t j = 0; j < w; j++) {
            float xh = (xr[j] - mf) * rf;
            ag[j] += (double)dyr[j] * (double)xh;
            ab[j] += (double)dyr[j];
        }
    }
    for (int64_t j = 0; j < w; j++) {
        if (dgamma)
            dgamma[j0 + j] = (float)((double)dgamma[j0 + j] + ag[j]);
        if (dbeta)
            dbeta[j0 + j] = (float)((double)dbeta[j0 + j] + ab[j]);
    }
}

/* Rows [t0, t1) of thread ith out of nth, contiguous and balanced. */
static void sr_dnnl_split(int64_t n, int ith, int nth, int64_t *lo, int64_t *hi)
{
    *lo = n * ith / nth;
    *hi = n * (ith + 1) / nth;
}

static void sr_ln_forward_c(const float *x, const float *gamma, const float *beta, float *y,
                            float *mean, float *rstd, int64_t T, int64_t D, float eps)
{
#pragma omp parallel if (T * D >= SR_DNNL_PAR_MIN)
    {
        int64_t lo, hi;
        sr_dnnl_split(T, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);
        sr_ln_fwd_rows(x, gamma, beta, y, mean, rstd, lo, hi, D, eps);
    }
}

static void sr_ln_backward_c(const float *x, const float *gamma, const float *mean,
                             const float *rstd, const float *dy, float *dx, float *dgamma,
                             float *dbeta, int64_t T, int64_t D)
{
    int64_t nblocks = (D + SR_DNNL_COL_BLOCK - 1) / SR_DNNL_COL_BLOCK;
    bool params = dgamma || dbeta;
#pragma omp parallel if (T * D >= SR_DNNL_PAR_MIN)
    {
        if (dx) {
            int64_t lo, hi;
            sr_dnnl_split(T, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);
            sr_ln_bwd_rows(x, gamma, mean, rstd, dy, dx, lo, hi, D);
        }
        if (params) {
            /* no barrier needed: these blocks read x and dy only */
#pragma omp for schedule(static) nowait
            for (int64_t k = 0; k < nblocks; k++) {
                int64_t j0 = k * SR_DNNL_COL_BLOCK;
                sr_ln_bwd_params(x, mean, rstd, dy, dgamma, dbeta, T, D, j0,
                                 SR_MIN(SR_DNNL_COL_BLOCK, D - j0));
            }
        }
    }
}

/* ---- layer normalisation on oneDNN --------------------------------------------------
 * oneDNN saves the variance, we save rstd (what the hand-written backward
 * needs), so the forward converts var -> rstd and the backward rstd -> var
 * through the work buffer; its backward overwrites diff_src, diff_scale and
 * diff_shift, so it runs into the work buffer and is then added. */

static sr_err sr_ln_descs(int64_t T, int64_t D, dnnl_memory_desc_t *data, dnnl_memory_desc_t *stat,
                          dnnl_memory_desc_t *param)
{
    dnnl_dims_t dd = { T, D }, ds = { T }, dp = { D };
    sr_err err;
    if ((err = sr_dnnl_status(dnnl_memory_desc_init_by_tag(data, 2, dd, dnnl_f32, dnnl_ab),
                              "memory_desc_init_by_tag")) ||
        (err = sr_dnnl_status(dnnl_memory_desc_init_by_tag(stat, 1, ds, dnnl_f32, dnnl_a),
                              "memory_desc_init_by_tag")) ||
        (err = sr_dnnl_status(dnnl_memory_desc_init_by_tag(param, 1, dp, dnnl_f32, dnnl_a),
                              "memory_desc_init_by_tag")))
        return err;
    return SR_OK;
}

static int64_t sr_dnnl_float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return (int64_t)u;
}

static const unsigned sr_ln_flags = dnnl_use_scale | dnnl_use_shift;

static sr_err sr_ln_fwd_entry(sr_dnnl_ctx *ctx, int64_t T, int64_t D, float eps,
                              sr_dnnl_entry **out)
{
    int64_t key[SR_DNNL_KEY_LEN] = { T, D, sr_dnnl_float_bits(eps) };
    *out = sr_dnnl_lookup(ctx, SR_DNNL_OP_LN_FWD, key);
    if (*out)
        return SR_OK;
    char what[96];
    snprintf(what, sizeof what, "layer norm forward T=%lld D=%lld", (long long)T, (long long)D);
    dnnl_memory_desc_t data, stat, param;
    dnnl_layer_normalization_desc_t ld;
    sr_err err = sr_ln_descs(T, D, &data, &stat, &param);
    if (err)
        return err;
    if ((err = sr_dnnl_status(dnnl_layer_normalization_forward_desc_init(
                                  &ld, dnnl_forward_training, &data, &stat, eps, sr_ln_flags),
                              what)))
        return err;
    sr_dnnl_argspec args[6] = {
        { DNNL_ARG_SRC, &data },  { DNNL_ARG_SCALE, &param },   { DNNL_ARG_SHIFT, &param },
        { DNNL_ARG_DST, &data },  { DNNL_ARG_MEAN, &stat },     { DNNL_ARG_VARIANCE, &stat },
    };
    return sr_dnnl_create(ctx, SR_DNNL_OP_LN_FWD, key, &ld, NULL, NULL, args, 6, (size_t)T, what,
                          out);
}

static sr_err sr_ln_forward_dnnl(sr_dnnl_ctx *ctx, const float *x, const float *gamma,
                                 const float *beta, float *y, float *mean, float *rstd, int64_t T,
                                 int64_t D, float eps)
{
    sr_dnnl_entry *e;
    sr_err err = sr_ln_fwd_entry(ctx, T, D, eps, &e);
    if (err)
        return err;
    SR_ASSERT(ctx->work_cap >= e->work_floats);
    float *var = ctx->work; /* [T] */
    const void *ptrs[6] = { x, gamma, beta, y, mean, var };
    if ((err = sr_dnnl_exec(ctx, e, ptrs)))
        return err;
    for (int64_t t = 0; t < T; t++)
        rstd[t] = (float)(1.0 / sqrt((double)var[t] + (double)eps));
    return SR_OK;
}

static sr_err sr_ln_backward_dnnl(sr_dnnl_ctx *ctx, const float *x, const float *gamma,
                                  const float *mean, const float *rstd, const float *dy,
                                  float *dx, float *dgamma, float *dbeta, int64_t T, int64_t D,
                                  float eps)
{
    int64_t key[SR_DNNL_KEY_LEN] = { T, D, sr_dnnl_float_bits(eps) };
    size_t work = (size_t)T * (size_t)D + 2 * (size_t)D + (size_t)T;
    sr_dnnl_entry *e = sr_dnnl_lookup(ctx, SR_DNNL_OP_LN_BWD, key);
    sr_err err = SR_OK;
    if (!e) {
        char what[96];
        snprintf(what, sizeof what, "layer norm backward T=%lld D=%lld", (long long)T,
                 (long long)D);
        dnnl_memory_desc_t data, stat, param;
        dnnl_layer_normalization_desc_t fd, bd;
        dnnl_primitive_desc_t hint = NULL;
        if ((err = sr_ln_descs(T, D, &data, &stat, &param)))
            return err;
        /* oneDNN wants the forward's primitive descriptor as a hint */
        if ((err = sr_dnnl_status(dnnl_layer_normalization_forward_desc_init(
                                      &fd, dnnl_forward_training, &data, &stat, eps, sr_ln_flags),
                                  what)) ||
            (err = sr_dnnl_status(dnnl_layer_normalization_backward_desc_init(
                                      &bd, dnnl_backward, &data, &data, &stat, eps, sr_ln_flags),
                                  what)) ||
            (err = sr_dnnl_status(dnnl_primitive_desc_create(&hint, &fd, NULL, ctx->engine, NULL),
                                  what)))
            goto bwd_done;
        sr_dnnl_argspec args[9] = {
            { DNNL_ARG_SRC, &data },         { DNNL_ARG_DIFF_DST, &data },
            { DNNL_ARG_MEAN, &stat },        { DNNL_ARG_VARIANCE, &stat },
            { DNNL_ARG_SCALE, &param },      { DNNL_ARG_SHIFT, &param },
            { DNNL_ARG_DIFF_SRC, &data },    { DNNL_ARG_DIFF_SCALE, &param },
            { DNNL_ARG_DIFF_SHIFT, &param },
        };
        err = sr_dnnl_create(ctx, SR_DNNL_OP_LN_BWD, key, &bd, NULL, hint, args, 9, work, what,
                             &e);
    bwd_done:
        if (hint)
            dnnl_primitive_desc_destroy(hint);
        if (err)
            return err;
    }
    SR_ASSERT(ctx->work_cap >= work);
    float *tdx = ctx->work;                      /* [T, D] */
    float *tdg = tdx + (size_t)T * (size_t)D;     /* [D] */
    float *tdb = tdg + D;                        /* [D] */
    float *var = tdb + D;                        /* [T] */
    for (int64_t t = 0; t < T; t++) {
        double r = (double)rstd[t];
        var[t] = (float)(1.0 / (r * r) - (double)eps);
    }
    /* 2.6 insists on a SHIFT argument in the backward although no gradient
     * depends on beta; gamma stands in for it (only its shape is used) */
    const void *ptrs[9] = { x, dy, mean, var, gamma, gamma, tdx, tdg, tdb };
    if ((err = sr_dnnl_exec(ctx, e, ptrs)))
        return err;
    if (dx) {
        int64_t n = T * D;
#pragma omp parallel for simd schedule(static) if (n >= SR_DNNL_PAR_MIN)
        for (int64_t i = 0; i < n; i++)
            dx[i] += tdx[i];
    }
    for (int64_t j = 0; j < D; j++) {
        if (dgamma)
            dgamma[j] += tdg[j];
        if (dbeta)
            dbeta[j] += tdb[j];
    }
    return SR_OK;
}

/* ---- layer normalisation, public ------------------------------------------------------ */

static sr_err sr_ln_check(const char *name, int64_t T, int64_t D, float eps)
{
    if (T <= 0 || D <= 0 || T > SR_DNNL_DIM_MAX || D > SR_DNNL_DIM_MAX)
        return sr_errorf(SR_ERR_ARG, "%s: sizes T=%lld D=%lld out of [1, %lld]", name,
                         (long long)T, (long long)D, (long long)SR_DNNL_DIM_MAX);
    if (!(eps > 0.0f) || !isfinite(eps))
        return sr_errorf(SR_ERR_ARG, "%s: eps=%g must be a positive finite number", name,
                         (double)eps);
    return SR_OK;
}

sr_err sr_layernorm_forward(sr_dnnl_ctx *ctx, const float *x, const float *gamma,
                            const float *beta, float *y, float *mean, float *rstd, int64_t T,
                            int64_t D, float eps)
{
    sr_err err = sr_ln_check("sr_layernorm_forward", T, D, eps);
    if (err)
        return err;
    if (ctx->ln_impl != SR_DNNL_IMPL_C)
        return sr_ln_forward_dnnl(ctx, x, gamma, beta, y, mean, rstd, T, D, eps);
    sr_ln_forward_c(x, gamma, beta, y, mean, rstd, T, D, eps);
    return SR_OK;
}

sr_err sr_layernorm_backward(sr_dnnl_ctx *ctx, const float *x, const float *gamma,
                             const float *mean, const float *rstd, const float *dy, float *dx,
                             float *dgamma, float *dbeta, int64_t T, int64_t D, float eps)
{
    sr_err err = sr_ln_check("sr_layernorm_backward", T, D, eps);
    if (err)
        return err;
    if (!dx && !dgamma && !dbeta)
        return SR_OK;
    if (ctx->ln_impl != SR_DNNL_IMPL_C)
        return sr_ln_backward_dnnl(ctx, x, gamma, mean, rstd, dy, dx, dgamma, dbeta, T, D, eps);
    sr_ln_backward_c(x, gamma, mean, rstd, dy, dx, dgamma, dbeta, T, D);
    return SR_OK;
}

/* ---- GELU, hand-written ------------------------------------------------------------------
 * Phi(x) = erfc(-x / sqrt 2) / 2 with the Chebyshev-fitted erfc of Numerical
 * Recipes (2nd ed., section 6.2, "erfcc": fractional error < 1.2e-7 for all
 * z >= 0), so the negative tail, where GELU is tiny, keeps its relative
 * accuracy. exp is a Cephes-style polynomial with 2^n scaling so the loop
 * vectorises (libm's erff/expf are scalar calls: 13 ms vs 0.9 ms at
 * n = 655360, docs/kernels.md). Branches are bit selects on sign bits: GCC
 * will not if-convert a floating-point select under -ftrapping-math on SSE2. */

SR_DNNL_ALWAYS_INLINE float sr_gelu_sel(float c, float neg, float pos)
{
    union { float f; uint32_t u; } uc, un, up, ur;
    uc.f = c;
    un.f = neg;
    up.f = pos;
    uint32_t m = 0u - (uc.u >> 31); /* all ones when the sign bit of c is set */
    ur.u = (un.u & m) | (up.u & ~m);
    return ur.f;
}

/* e^a for a <= ~1; 0 below -87 (where e^a leaves the normal float range). */
SR_DNNL_ALWAYS_INLINE float sr_gelu_exp(float a)
{
    float c = sr_gelu_sel(a + 87.0f, -87.0f, a);
    /* n = round(c / ln 2) by adding 1.5 * 2^23: the sum's low mantissa bits
     * hold n, so no float -> int conversion (undefined for NaN) is needed */
    union { float f; uint32_t u; } v, s;
    v.f = c * 1.44269504088896341f + 12582912.0f;
    float n = v.f - 12582912.0f;
    uint32_t ni = v.u - 0x4B400000u; /* n as a two's complement integer */
    /* r = c - n ln 2, with ln 2 in two parts */
    float r = c - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    s.u = (ni + 127u) << 23; /* 2^n; n >= -126 after the clamp */
    return sr_gelu_sel(a + 87.0f, 0.0f, p * s.f);
}

/* Phi(x), the standard normal CDF. */
SR_DNNL_ALWAYS_INLINE float sr_gelu_phi_cdf(float x)
{
    float z = fabsf(x) * 0.70710678118654752f;
    float t = 1.0f / (1.0f + 0.5f * z);
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    /* z^2 = x^2 / 2 computed as such: one rounding instead of two */
    float h = 0.5f * t * sr_gelu_exp(-0.5f * x * x + p); /* erfc(|x| / sqrt 2) / 2 */
    return sr_gelu_sel(x, h, 1.0f - h);
}

SR_DNNL_CLONES
static void sr_gelu_fwd_range(const float *x, float *y, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] * sr_gelu_phi_cdf(x[i]);
}

SR_DNNL_CLONES
static void sr_gelu_bwd_range(const float *x, const float *dy, float *dx, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float xi = x[i];
        /* phi(x) = e^(-x^2/2) / sqrt(2 pi) */
        float pdf = 0.39894228040143268f * sr_gelu_exp(-0.5f * xi * xi);
        dx[i] += dy[i] * (sr_gelu_phi_cdf(xi) + xi * pdf);
    }
}

void sr_gelu_forward(const float *x, float *y, size_t n)
{
#pragma omp parallel if (n >= SR_DNNL_PAR_MIN)
    {
        int64_t lo, hi;
        sr_dnnl_split((int64_t)n, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);
        sr_gelu_fwd_range(x + lo, y + lo, (size_t)(hi - lo));
    }
}

void sr_gelu_backward(const float *x, const float *dy, float *dx, size_t n)
{
#pragma omp parallel if (n >= SR_DNNL_PAR_MIN)
    {
        int64_t lo, hi;
        sr_dnnl_split((int64_t)n, omp_get_thread_num(), omp_get_num_threads(), &lo, &hi);
        sr_gelu_bwd_range(x + lo, dy + lo, dx + lo, (size_t)(hi - lo));
    }
}

/* ---- GELU on oneDNN (eltwise gelu_erf) ---------------------------------------------------- */

static sr_err sr_dnnl_gelu_check(const char *name, size_t n)
{
    if (n == 0 || n > (size_t)INT64_MAX / sizeof(float))
        return sr_errorf(SR_ERR_ARG, "%s: n=%zu out of range", name, n);
    return SR_OK;
}

sr_err sr_dnnl_gelu_forward(sr_dnnl_ctx *ctx, const float *x, float *y, size_t n)
{
    sr_err err = sr_dnnl_gelu_check("sr_dnnl_gelu_forward", n);
    if (err)
        return err;
    int64_t key[SR_DNNL_KEY_LEN] = { (int64_t)n };
    sr_dnnl_entry *e = sr_dnnl_lookup(ctx, SR_DNNL_OP_GELU_FWD, key);
    if (!e) {
        char what[64];
        snprintf(what, sizeof what, "gelu_erf forward n=%zu", n);
        dnnl_memory_desc_t md;
        dnnl_eltwise_desc_t ed;
        dnnl_dims_t d = { (int64_t)n };
        if ((err = sr_dnnl_status(dnnl_memory_desc_init_by_tag(&md, 1, d, dnnl_f32, dnnl_a),
                                  what)) ||
            (err = sr_dnnl_status(dnnl_eltwise_forward_desc_init(&ed, dnnl_forward_training,
                                                                 dnnl_eltwise_gelu_erf, &md,
                                                                 0.0f, 0.0f),
                                  what)))
            return err;
        sr_dnnl_argspec args[2] = { { DNNL_ARG_SRC, &md }, { DNNL_ARG_DST, &md } };
        if ((err = sr_dnnl_create(ctx, SR_DNNL_OP_GELU_FWD, key, &ed, NULL, NULL, args, 2, 0,
                                  what, &e)))
            return err;
    }
    const void *ptrs[2] = { x, y };
    return sr_dnnl_exec(ctx, e, ptrs);
}

sr_err sr_dnnl_gelu_backward(sr_dnnl_ctx *ctx, const float *x, const float *dy, float *dx,
                             size_t n)
{
    sr_err err = sr_dnnl_gelu_check("sr_dnnl_gelu_backward", n);
    if (err)
        return err;
    int64_t key[SR_DNNL_KEY_LEN] = { (int64_t)n };
    sr_dnnl_entry *e = sr_dnnl_lookup(ctx, SR_DNNL_OP_GELU_BWD, key);
    if (!e) {
        char what[64];
        snprintf(what, sizeof what, "gelu_erf backward n=%zu", n);
        dnnl_memory_desc_t md;
        dnnl_eltwise_desc_t fd, bd;
        dnnl_primitive_desc_t hint = NULL;
        dnnl_dims_t d = { (int64_t)n };
        if ((err = sr_dnnl_status(dnnl_memory_desc_init_by_tag(&md, 1, d, dnnl_f32, dnnl_a),
                                  what)) ||
            (err = sr_dnnl_status(dnnl_eltwise_forward_desc_init(&fd, dnnl_forward_training,
                                                                 dnnl_eltwise_gelu_erf, &md,
                                                                 0.0f, 0.0f),
                                  what)) ||
            (err = sr_dnnl_status(dnnl_eltwise_backward_desc_init(&bd, dnnl_eltwise_gelu_erf,
                                                                  &md, &md, 0.0f, 0.0f),
                                  what)) ||
            (err = sr_dnnl_status(dnnl_primitive_desc_create(&hint, &fd, NULL, ctx->engine, NULL),
                                  what)))
            goto bwd_done;
        sr_dnnl_argspec args[3] = {
            { DNNL_ARG_SRC, &md }, { DNNL_ARG_DIFF_DST, &md }, { DNNL_ARG_DIFF_SRC, &md }
        };
        err = sr_dnnl_create(ctx, SR_DNNL_OP_GELU_BWD, key, &bd, NULL, hint, args, 3, n, what, &e);
    bwd_done:
        if (hint)
            dnnl_primitive_desc_destroy(hint);
        if (err)
            return err;
    }
    SR_ASSERT(ctx->work_cap >= n);
    float *tmp = ctx->work; /* [n] */
    const void *ptrs[3] = { x, dy, tmp };
    if ((err = sr_dnnl_exec(ctx, e, ptrs)))
        return err;
    int64_t nn = (int64_t)n;
#pragma omp parallel for simd schedule(static) if (nn >= SR_DNNL_PAR_MIN)
    for (int64_t i = 0; i < nn; i++)
        dx[i] += tmp[i];
    return SR_OK;
}
