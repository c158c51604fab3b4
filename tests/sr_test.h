/* sr_test.h - helpers shared by the cmocka tests: one scratch directory
 * under /tmp per test binary (or per test), paths inside it, and whole-file
 * write / read / exists / count. Header-only: every function is static
 * inline, so a test that uses only some of them gets no unused-function
 * warning.
 *
 * Use sr_test_dir_setup / sr_test_dir_teardown as the group fixture
 * (cmocka_run_group_tests(tests, sr_test_dir_setup, sr_test_dir_teardown))
 * or per test (SR_TEST_IN_DIR(test_fn) in the test table), or call them
 * from a fixture of your own. They leave *state alone.
 *
 * The file helpers fail the current test (cmocka assertions) instead of
 * returning errors: a test cannot go on without its fixture file.
 * The tree is removed with opendir/lstat/unlink/rmdir (all POSIX.1-2008,
 * which the build's _POSIX_C_SOURCE gives) rather than nftw (which would
 * need _XOPEN_SOURCE before every system header) or system("rm -rf"). */
#ifndef SR_TEST_H
#define SR_TEST_H

/* the cmocka prelude */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Longest path the helpers build (the scratch dir is ~20 bytes). */
#define SR_TEST_PATH_MAX 512
#define SR_TEST_DIR_CAP 64

/* The scratch directory's name; "" while there is none. One per process:
 * each test binary is one translation unit. */
static inline char *sr_test_dir_storage(void)
{
    static char dir[SR_TEST_DIR_CAP];
    return dir;
}

static inline const char *sr_test_dir(void)
{
    return sr_test_dir_storage();
}

/* Remove `path` and, if it is a directory, everything below it. Symbolic
 * links are removed, never followed. A missing path is not an error.
 * 0 on success, -1 if anything could not be removed. */
static inline int sr_test_remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlink(path);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char child[SR_TEST_PATH_MAX];
        int n = snprintf(child, sizeof child, "%s/%s", path, e->d_name);
        if (n < 0 || (size_t)n >= sizeof child || sr_test_remove_tree(child) != 0)
            rc = -1;
    }
    closedir(d);
    if (rmdir(path) != 0)
        rc = -1;
    return rc;
}

/* Fixture: make a fresh /tmp/sr_test_XXXXXX. */
static inline int sr_test_dir_setup(void **state)
{
    (void)state;
    char *dir = sr_test_dir_storage();
    snprintf(dir, SR_TEST_DIR_CAP, "/tmp/sr_test_XXXXXX");
    if (!mkdtemp(dir)) {
        dir[0] = '\0';
        return -1;
    }
    return 0;
}

/* Fixture: remove the scratch directory and all it holds. */
static inline int sr_test_dir_teardown(void **state)
{
    (void)state;
    char *dir = sr_test_dir_storage();
    if (dir[0] == '\0')
        return 0;
    int rc = sr_test_remove_tree(dir);
    dir[0] = '\0';
    return rc;
}

/* A cmocka test entry that runs in a fresh scratch directory of its own. */
#define SR_TEST_IN_DIR(f) \
    cmocka_unit_test_setup_teardown(f, sr_test_dir_setup, sr_test_dir_teardown)

/* "<scratch dir>/<name>" into buf[cap]; fails the test if it does not fit. */
static inline void sr_test_path_buf(char *buf, size_t cap, const char *name)
{
    const char *dir = sr_test_dir();
    if (dir[0] == '\0')
        fail_msg("sr_test_path(\"%s\"): no scratch directory (sr_test_dir_setup not run)", name);
    int n = snprintf(buf, cap, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= cap)
        fail_msg("sr_test_path: \"%s/%s\" does not fit in %zu bytes", dir, name, cap);
}

/* "<scratch dir>/<name>" in one of 8 static buffers used in turn: the
 * result stays valid until 8 more calls. Use sr_test_path_buf to keep a
 * path for longer. */
static inline const char *sr_test_path(const char *name)
{
    static char ring[8][SR_TEST_PATH_MAX];
    static unsigned next;
    char *buf = ring[next++ % 8];
    sr_test_path_buf(buf, SR_TEST_PATH_MAX, name);
    return buf;
}

/* Create or replace `path` with data[0..len). */
static inline void sr_test_write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    if (!fp)
        fail_msg("cannot create %s: %s", path, strerror(errno));
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* Create or replace `path` with the NUL-terminated `text` (without the NUL). */
static inline void sr_test_write_text(const char *path, const char *text)
{
    sr_test_write_file(path, text, strlen(text));
}

/* The whole file, malloc'd and NUL-terminated (buf[*len] == '\0'); the
 * caller frees it. `len` may be NULL. void * so that it assigns to char *
 * and uint8_t * alike. */
static inline void *sr_test_read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        fail_msg("cannot open %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    assert_non_null(buf);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            char *grown = realloc(buf, cap + 1);
            assert_non_null(grown);
            buf = grown;
        }
        size_t k = fread(buf + n, 1, cap - n, fp);
        n += k;
        if (k == 0)
            break;
    }
    assert_false(ferror(fp));
    fclose(fp);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

/* Does `path` exist (following symbolic links)? */
static inline bool sr_test_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Number of entries in directory `dir` other than "." and ".."; the first
 * one readdir returns is copied to first[cap] when `first` is not NULL. */
static inline int sr_test_count_entries(const char *dir, char *first, size_t cap)
{
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("cannot open directory %s: %s", dir, strerror(errno));
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (n == 0 && first)
            snprintf(first, cap, "%s", e->d_name);
        n++;
    }
    closedir(d);
    return n;
}

/* |a - b| <= tol in double, failing on NaN or infinity on either side.
 * Use instead of cmocka 1.1.5's assert_float_equal, which rounds to float and
 * passes when a value is NaN. */
#define SR_ASSERT_NEAR(a, b, tol) sr_test_near((double)(a), (double)(b), (double)(tol), #a, #b, __FILE__, __LINE__)
static inline void sr_test_near(double a, double b, double tol, const char *ea, const char *eb,
                                const char *file, int line)
{
    if (!(isfinite(a) && isfinite(b) && fabs(a - b) <= tol))
        fail_msg("%s:%d: %s = %.17g and %s = %.17g differ by more than %g", file, line, ea, a,
                 eb, b, tol);
}

#endif
