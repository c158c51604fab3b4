/* test_paths.c - confinement of request paths to the data root
 * (daemon/srd_paths.c): "..", absolute paths outside, symlinks out of the
 * root and the /data-root2 vs /data-root prefix trick are refused; paths
 * inside are resolved to their real path. */
#define _XOPEN_SOURCE 700 /* realpath */
#include "sr_test.h"

#include <limits.h>

#include "srd_paths.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* Layout made by setup():
 *   base/root/a.csv, base/root/sub/b.csv, base/root/..data.csv
 *   base/root/link_out -> ../outside.csv      (file symlink leaving the root)
 *   base/root/link_in  -> sub/b.csv           (symlink staying inside)
 *   base/root/dirlink  -> ../root2            (directory symlink to a sibling)
 *   base/root2/x.csv                          (sibling sharing the prefix)
 *   base/outside.csv
 * where base is the scratch directory of sr_test.h. */
typedef struct fixture {
    char root[PATH_MAX]; /* realpath of base/root */
} fixture;

static void touch(const char *dir, const char *name)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    sr_test_write_text(p, "x\n");
}

static void mkdir_in(const char *dir, const char *name)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    assert_int_equal(mkdir(p, 0755), 0);
}

static void symlink_in(const char *dir, const char *name, const char *target)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    assert_int_equal(symlink(target, p), 0);
}

static int setup(void **state)
{
    if (sr_test_dir_setup(state) != 0)
        return -1;
    fixture *fx = calloc(1, sizeof *fx);
    if (!fx)
        return -1;
    *state = fx;
    const char *base = sr_test_dir();
    char tmp[PATH_MAX + 16];
    mkdir_in(base, "root");
    mkdir_in(base, "root2");
    touch(base, "outside.csv");
    snprintf(tmp, sizeof tmp, "%s/root2", base);
    touch(tmp, "x.csv");
    snprintf(tmp, sizeof tmp, "%s/root", base);
    if (!realpath(tmp, fx->root))
        return -1;
    touch(fx->root, "a.csv");
    touch(fx->root, "..data.csv");
    mkdir_in(fx->root, "sub");
    snprintf(tmp, sizeof tmp, "%s/sub", fx->root);
    touch(tmp, "b.csv");
    symlink_in(fx->root, "link_out", "../outside.csv");
    symlink_in(fx->root, "link_in", "sub/b.csv");
    symlink_in(fx->root, "dirlink", "../root2");
    return 0;
}

static int teardown(void **state)
{
    free(*state);
    *state = NULL;
    return sr_test_dir_teardown(state);
}

static sr_proto_code confine(const fixture *fx, const char *path, srd_path_kind kind, char *out)
{
    char err[512];
    err[0] = '\0';
    sr_proto_code c = srd_paths_confine(fx->root, path, kind, out, PATH_MAX, err, sizeof err);
    if (c != SR_PROTO_CODE_OK)
        assert_true(err[0] != '\0'); /* every refusal says why */
    return c;
}

static void expect_ok(const fixture *fx, const char *path, srd_path_kind kind, const char *rel)
{
    char out[PATH_MAX], want[PATH_MAX + 64];
    assert_int_equal(confine(fx, path, kind, out), SR_PROTO_CODE_OK);
    snprintf(want, sizeof want, "%s/%s", fx->root, rel);
    assert_string_equal(out, want);
}

static void expect_code(const fixture *fx, const char *path, srd_path_kind kind,
                        sr_proto_code want)
{
    char out[PATH_MAX];
    assert_int_equal(confine(fx, path, kind, out), want);
}

static void test_relative_paths_inside_resolve(void **state)
{
    fixture *fx = *state;
    expect_ok(fx, "a.csv", SRD_PATH_KIND_INPUT, "a.csv");
    expect_ok(fx, "sub/b.csv", SRD_PATH_KIND_INPUT, "sub/b.csv");
    expect_ok(fx, "./sub//b.csv", SRD_PATH_KIND_INPUT, "sub/b.csv");
    expect_ok(fx, "sub", SRD_PATH_KIND_INPUT, "sub");
    /* "..data.csv" is a name, not a ".." component */
    expect_ok(fx, "..data.csv", SRD_PATH_KIND_INPUT, "..data.csv");
}

static void test_absolute_path_inside_is_ok(void **state)
{
    fixture *fx = *state;
    char p[PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/a.csv", fx->root);
    expect_ok(fx, p, SRD_PATH_KIND_INPUT, "a.csv");
}

static void test_dotdot_is_forbidden(void **state)
{
    fixture *fx = *state;
    expect_code(fx, "../outside.csv", SRD_PATH_KIND_INPUT, SR_PROTO_CODE_FORBIDDEN);
    /* refused even when it would land inside again */
    expect_code(fx, "sub/../a.csv", SRD_PATH_KIND_INPUT, SR_PROTO_CODE_FORBIDDEN);
    expect_code(fx, "..", SRD_PATH_KIND_INPUT, SR_PROTO_CODE_FORBIDDEN);
    expect_code(fx, "../new.csv", SRD_PATH_KIND_OUTPUT, SR_PROTO_CODE_FORBIDDEN);
}

static void test_absolute_path_outside_is_forbidden(void **state)
{
    fixture *fx = *state;
    char p[PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/outside.csv", sr_test_dir());
    expect_code(fx, p, SRD_PATH_KIND_INPUT, SR_PROTO_CODE_FORBIDDEN);
    expect_code(fx, "/etc", SRD_PATH_KIND_INPUT, SR_PROTO_CODE_FORBIDDEN);
    expect_code(fx, "/tmp/new.csv", SRD_PATH_KIND_OUTPUT, SR_PROTO_CODE_FORBIDDEN);
}

static void test_symlink_out_of_root_is_forbidden(void **state)
{
    fixture *fx = *state;
    expect_code(fx, "link_out", SRD_PATH_KIND_INPUT, SR_PROTO_CODE_FORBIDDEN);
    expect_code(fx, "dirlink/x.csv", SRD_PATH_KIND_INPUT, SR_PROTO_CODE_FORBIDDEN);
    expect_code(fx, "dirlink", SRD_PATH_KIND_INPUT, SR_PROTO_CODE_FORBIDDEN);
    /* an output's directory is resolved too */
    expect_code(fx, "dirlink/new.csv", SRD_PATH_KIND_OUTPUT, SR_PROTO_CODE_FORBIDDEN);
}

static void test_symlink_inside_root_is_resolved(void **state)
{
    fixture *fx = *state;
    expect_ok(fx, "link_in", SRD_PATH_KIND_INPUT, "sub/b.csv");
}

static void test_sibling_with_root_prefix_is_forbidden(void **state)
{
    fixture *fx = *state;
    char p[PATH_MAX + 16];
    snprintf(p, sizeof p, "%s2/x.csv", fx->root); /* base/root2/x.csv */
    expect_code(fx, p, SRD_PATH_KIND_INPUT, SR_PROTO_CODE_FORBIDDEN);
    assert_false(srd_paths_inside("/data-root", "/data-root2"));
    assert_false(srd_paths_inside("/data-root", "/data-root2/x.csv"));
    assert_false(srd_paths_inside("/data-root", "/data"));
    assert_true(srd_paths_inside("/data-root", "/data-root"));
    assert_true(srd_paths_inside("/data-root", "/data-root/x.csv"));
    assert_true(srd_paths_inside("/data-root/", "/data-root/x.csv"));
    assert_true(srd_paths_inside("/", "/anything"));
}

static void test_missing_input_is_not_found(void **state)
{
    fixture *fx = *state;
    expect_code(fx, "missing.csv", SRD_PATH_KIND_INPUT, SR_PROTO_CODE_NOT_FOUND);
    expect_code(fx, "nodir/new.csv", SRD_PATH_KIND_OUTPUT, SR_PROTO_CODE_NOT_FOUND);
}

static void test_outputs_resolve_their_directory(void **state)
{
    fixture *fx = *state;
    expect_ok(fx, "new.csv", SRD_PATH_KIND_OUTPUT, "new.csv");
    expect_ok(fx, "sub/new.csv.gz", SRD_PATH_KIND_OUTPUT, "sub/new.csv.gz");
    expect_ok(fx, "link_in", SRD_PATH_KIND_OUTPUT, "link_in"); /* the link itself is replaced */
    expect_code(fx, "sub", SRD_PATH_KIND_OUTPUT, SR_PROTO_CODE_INVALID);
    expect_code(fx, ".", SRD_PATH_KIND_OUTPUT, SR_PROTO_CODE_INVALID);
}

static void test_empty_and_nul_paths_are_bad_requests(void **state)
{
    fixture *fx = *state;
    expect_code(fx, "", SRD_PATH_KIND_INPUT, SR_PROTO_CODE_BAD_REQUEST);
    char out[PATH_MAX], err[256];
    sr_pstr nul = { "a.csv\0../x", 10 };
    assert_int_equal(srd_paths_confine_pstr(fx->root, nul, SRD_PATH_KIND_INPUT, out, sizeof out,
                                            err, sizeof err),
                     SR_PROTO_CODE_BAD_REQUEST);
    sr_pstr ok = { "a.csvXYZ", 5 }; /* length-delimited: only "a.csv" */
    assert_int_equal(srd_paths_confine_pstr(fx->root, ok, SRD_PATH_KIND_INPUT, out, sizeof out,
                                            err, sizeof err),
                     SR_PROTO_CODE_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relative_paths_inside_resolve),
        cmocka_unit_test(test_absolute_path_inside_is_ok),
        cmocka_unit_test(test_dotdot_is_forbidden),
        cmocka_unit_test(test_absolute_path_outside_is_forbidden),
        cmocka_unit_test(test_symlink_out_of_root_is_forbidden),
        cmocka_unit_test(test_symlink_inside_root_is_resolved),
        cmocka_unit_test(test_sibling_with_root_prefix_is_forbidden),
        cmocka_unit_test(test_missing_input_is_not_found),
        cmocka_unit_test(test_outputs_resolve_their_directory),
        cmocka_unit_test(test_empty_and_nul_paths_are_bad_requests),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
