/* test_rejects.c - the rejects file: exact content and escaping, the
 * summary's ordering and its "other" bucket, close/abort, threads. */
#include "sr_test.h"

#include <pthread.h>

#include "sr_rejects.h"

static void test_rejects_file_content_and_escaping(void **state)
{
    (void)state;
    char path[256], tmp[300];
    sr_test_path_buf(path, sizeof path, "content.rejects.tsv");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    sr_rejects *r = NULL;
    assert_int_equal(sr_rejects_open(path, &r), SR_OK);
    assert_true(sr_test_exists(tmp));
    assert_false(sr_test_exists(path));
    const char raw1[] = "s1,2,t_a,True";
    const char raw2[] = "a\tb\\c\nd\re";
    sr_rejects_add(r, "in.csv", 7, "bad boolean in skip_2", raw1, strlen(raw1));
    sr_rejects_add(r, "dir/in\t2.tsv", 12345678901ull, "empty track", raw2, strlen(raw2));
    /* raw_len bounds the row: bytes after it are not written */
    sr_rejects_add(r, "in.csv", 9, "cut", "abcdef", 3);
    sr_rejects_add(r, "in.csv", 10, "no raw", NULL, 0);
    assert_int_equal(sr_rejects_count(r), 4);
    assert_int_equal(sr_rejects_close(&r), SR_OK);
    assert_null(r);
    assert_false(sr_test_exists(tmp));
    char *got = sr_test_read_file(path, NULL);
    assert_string_equal(got,
                        "in.csv\t7\tbad boolean in skip_2\ts1,2,t_a,True\n"
                        "dir/in\\t2.tsv\t12345678901\tempty track\ta\\tb\\\\c\\nd\\re\n"
                        "in.csv\t9\tcut\tabc\n"
                        "in.csv\t10\tno raw\t\n");
    free(got);
}

static void test_rejects_summary_most_frequent_first_ties_in_first_seen_order(void **state)
{
    (void)state;
    sr_rejects *r = NULL;
    assert_int_equal(sr_rejects_open(NULL, &r), SR_OK);
    /* a x1, b x3, c x2, d x3 (b seen before d) */
    const char *seq[] = { "a", "b", "c", "b", "d", "c", "d", "b", "d" };
    for (size_t i = 0; i < SR_COUNTOF(seq); i++)
        sr_rejects_add(r, "f", i + 2, seq[i], "x", 1);
    const char *reasons[8];
    uint64_t counts[8];
    assert_int_equal(sr_rejects_summary(r, reasons, counts, 8), 4);
    const char *want[] = { "b", "d", "c", "a" };
    const uint64_t want_n[] = { 3, 3, 2, 1 };
    for (int i = 0; i < 4; i++) {
        assert_string_equal(reasons[i], want[i]);
        assert_int_equal(counts[i], want_n[i]);
    }
    /* cap truncates to the most frequent */
    assert_int_equal(sr_rejects_summary(r, reasons, counts, 2), 2);
    assert_string_equal(reasons[0], "b");
    assert_string_equal(reasons[1], "d");
    assert_int_equal(sr_rejects_summary(r, reasons, counts, 0), 0);
    assert_int_equal(sr_rejects_count(r), 9);
    assert_int_equal(sr_rejects_close(&r), SR_OK);
}

static void test_rejects_summary_folds_reasons_beyond_32_into_other(void **state)
{
    (void)state;
    sr_rejects *r = NULL;
    assert_int_equal(sr_rejects_open(NULL, &r), SR_OK);
    char reason[32];
    for (int i = 0; i < 40; i++) {
        snprintf(reason, sizeof reason, "reason %02d", i);
        sr_rejects_add(r, "f", 1, reason, "", 0);
    }
    sr_rejects_add(r, "f", 1, "reason 00", "", 0);
    sr_rejects_add(r, "f", 1, "reason 35", "", 0); /* not in the table: other */
    const char *reasons[64];
    uint64_t counts[64];
    size_t n = sr_rejects_summary(r, reasons, counts, 64);
    assert_int_equal(n, 33);
    assert_string_equal(reasons[0], "other"); /* reasons 32..39 + 35 again = 9 */
    assert_int_equal(counts[0], 9);
    assert_string_equal(reasons[1], "reason 00");
    assert_int_equal(counts[1], 2);
    assert_string_equal(reasons[2], "reason 01");
    assert_string_equal(reasons[32], "reason 31");
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += counts[i];
    assert_int_equal(total, 42);
    assert_int_equal(sr_rejects_count(r), 42);
    sr_rejects_abort(&r);
    assert_null(r);
}

static void test_rejects_abort_removes_temporary_file(void **state)
{
    (void)state;
    char path[256], tmp[300];
    sr_test_path_buf(path, sizeof path, "aborted.tsv");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    sr_rejects *r = NULL;
    assert_int_equal(sr_rejects_open(path, &r), SR_OK);
    sr_rejects_add(r, "f", 2, "why", "row", 3);
    assert_true(sr_test_exists(tmp));
    sr_rejects_abort(&r);
    assert_null(r);
    assert_false(sr_test_exists(tmp));
    assert_false(sr_test_exists(path));
    sr_rejects_abort(&r);                       /* NULL-safe */
    assert_int_equal(sr_rejects_close(&r), SR_OK); /* NULL-safe */
    assert_int_equal(sr_rejects_close(NULL), SR_OK);
    sr_rejects_abort(NULL);
}

/* Nothing rejected: no file is kept, and a file an earlier run left at the
 * final path is removed (it would describe another run). */
static void test_rejects_close_with_no_rows_leaves_no_file(void **state)
{
    (void)state;
    char path[256], tmp[300];
    sr_test_path_buf(path, sizeof path, "none.tsv");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    sr_test_write_text(path, "stale\t1\told run\trow\n");
    sr_rejects *r = NULL;
    assert_int_equal(sr_rejects_open(path, &r), SR_OK);
    assert_int_equal(sr_rejects_close(&r), SR_OK);
    assert_false(sr_test_exists(path));
    assert_false(sr_test_exists(tmp));
}

/* close_to keeps a failed run's rejects under another name and leaves the
 * file at the default path alone. */
static void test_rejects_close_to_other_path_leaves_default_alone(void **state)
{
    (void)state;
    char path[256], other[256];
    sr_test_path_buf(path, sizeof path, "good.tsv");
    sr_test_path_buf(other, sizeof other, "failed.tsv");
    sr_test_write_text(path, "kept\n");
    sr_rejects *r = NULL;
    assert_int_equal(sr_rejects_open(path, &r), SR_OK);
    sr_rejects_add(r, "f", 3, "why", "row", 3);
    assert_int_equal(sr_rejects_close_to(&r, other), SR_OK);
    size_t len = 0;
    char *kept = sr_test_read_file(path, &len);
    assert_string_equal(kept, "kept\n");
    free(kept);
    char *failed = sr_test_read_file(other, &len);
    assert_non_null(strstr(failed, "f\t3\twhy\trow"));
    free(failed);
}

/* A symbolic link planted at the temporary name is replaced, never
 * followed: the write cannot be redirected outside the directory. */
static void test_rejects_tmp_symlink_is_not_followed(void **state)
{
    (void)state;
    char path[256], tmp[300], target[256];
    sr_test_path_buf(path, sizeof path, "r.tsv");
    sr_test_path_buf(target, sizeof target, "victim");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    sr_test_write_text(target, "precious\n");
    assert_int_equal(symlink(target, tmp), 0);
    sr_rejects *r = NULL;
    assert_int_equal(sr_rejects_open(path, &r), SR_OK);
    sr_rejects_add(r, "f", 2, "why", "row", 3);
    assert_int_equal(sr_rejects_close(&r), SR_OK);
    size_t len = 0;
    char *v = sr_test_read_file(target, &len);
    assert_string_equal(v, "precious\n");
    free(v);
    assert_true(sr_test_exists(path));
}

static void test_rejects_count_only_writes_nothing(void **state)
{
    (void)state;
    sr_rejects *r = NULL;
    assert_int_equal(sr_rejects_open(NULL, &r), SR_OK);
    sr_rejects_add(r, "f", 1, "x", "row", 3);
    sr_rejects_add(NULL, "f", 1, "x", "row", 3); /* ignored */
    assert_int_equal(sr_rejects_count(r), 1);
    assert_int_equal(sr_rejects_count(NULL), 0);
    assert_int_equal(sr_rejects_close(&r), SR_OK);
}

static void test_rejects_open_in_missing_directory_is_io_error(void **state)
{
    (void)state;
    char path[256];
    sr_test_path_buf(path, sizeof path, "no/such/dir/r.tsv");
    sr_rejects *r = NULL;
    assert_int_equal(sr_rejects_open(path, &r), SR_ERR_IO);
    assert_null(r);
    assert_non_null(strstr(sr_errmsg(), "r.tsv.tmp"));
}

static void test_rejects_close_fails_when_rename_fails(void **state)
{
    (void)state;
    char path[256], tmp[300], inner[300];
    sr_test_path_buf(path, sizeof path, "occupied");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    snprintf(inner, sizeof inner, "%s/keep", path);
    /* a non-empty directory at the final path cannot be replaced */
    assert_int_equal(mkdir(path, 0700), 0);
    sr_test_write_file(inner, "", 0);
    sr_rejects *r = NULL;
    assert_int_equal(sr_rejects_open(path, &r), SR_OK);
    sr_rejects_add(r, "f", 2, "why", "row", 3);
    assert_int_equal(sr_rejects_close(&r), SR_ERR_IO);
    assert_null(r);
    assert_non_null(strstr(sr_errmsg(), "rename"));
    assert_false(sr_test_exists(tmp));
}

typedef struct thread_arg {
    sr_rejects *r;
    int id;
} thread_arg;

static void *add_many(void *p)
{
    thread_arg *a = p;
    char raw[64], reason[16];
    snprintf(reason, sizeof reason, "thread %d", a->id);
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(raw, sizeof raw, "row %d of %d", i, a->id);
        sr_rejects_add(a->r, "f.csv", (uint64_t)i, reason, raw, (size_t)n);
    }
    return NULL;
}

static void test_rejects_concurrent_adds_from_threads(void **state)
{
    (void)state;
    char path[256];
    sr_test_path_buf(path, sizeof path, "threads.tsv");
    sr_rejects *r = NULL;
    assert_int_equal(sr_rejects_open(path, &r), SR_OK);
    pthread_t th[4];
    thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i].r = r;
        args[i].id = i;
        assert_int_equal(pthread_create(&th[i], NULL, add_many, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(sr_rejects_count(r), 4000);
    const char *reasons[8];
    uint64_t counts[8];
    assert_int_equal(sr_rejects_summary(r, reasons, counts, 8), 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(counts[i], 1000);
    assert_int_equal(sr_rejects_close(&r), SR_OK);
    /* every row whole, on its own line */
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    char line[256];
    int lines = 0;
    while (fgets(line, sizeof line, fp)) {
        int tid = -1, row = -1, tid2 = -2;
        unsigned long long ln;
        assert_int_equal(sscanf(line, "f.csv\t%llu\tthread %d\trow %d of %d\n", &ln, &tid, &row, &tid2), 4);
        assert_int_equal(tid, tid2);
        assert_int_equal((int)ln, row);
        lines++;
    }
    fclose(fp);
    assert_int_equal(lines, 4000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rejects_file_content_and_escaping),
        cmocka_unit_test(test_rejects_summary_most_frequent_first_ties_in_first_seen_order),
        cmocka_unit_test(test_rejects_summary_folds_reasons_beyond_32_into_other),
        cmocka_unit_test(test_rejects_abort_removes_temporary_file),
        cmocka_unit_test(test_rejects_close_with_no_rows_leaves_no_file),
        cmocka_unit_test(test_rejects_close_to_other_path_leaves_default_alone),
        cmocka_unit_test(test_rejects_tmp_symlink_is_not_followed),
        cmocka_unit_test(test_rejects_count_only_writes_nothing),
        cmocka_unit_test(test_rejects_open_in_missing_directory_is_io_error),
        cmocka_unit_test(test_rejects_close_fails_when_rename_fails),
        cmocka_unit_test(test_rejects_concurrent_adds_from_threads),
    };
    return cmocka_run_group_tests(tests, sr_test_dir_setup, sr_test_dir_teardown);
}
