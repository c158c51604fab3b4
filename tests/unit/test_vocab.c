/* test_vocab.c - sr_vocab: interning, lookup, order, growth, limits. */
#include "sr_test.h"

#include "sr_vocab.h"

static sr_str str_of(const char *s)
{
    return sr_str_c(s);
}

static void assert_id_eq(sr_str got, const char *want, size_t want_len)
{
    assert_int_equal(got.len, want_len);
    assert_memory_equal(got.ptr, want, want_len);
}

static void test_vocab_intern_find_id_round_trip(void **state)
{
    (void)state;
    sr_vocab *v = NULL;
    assert_int_equal(sr_vocab_new(&v), SR_OK);
    const char *ids[] = { "t_0001", "t_0002", "spotify:track:xyz" };
    for (int i = 0; i < 3; i++) {
        int32_t k = -7;
        assert_int_equal(sr_vocab_intern(v, str_of(ids[i]), &k), SR_OK);
        assert_int_equal(k, i);
    }
    assert_int_equal(sr_vocab_size(v), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(sr_vocab_find(v, str_of(ids[i])), i);
        assert_id_eq(sr_vocab_id(v, i), ids[i], strlen(ids[i]));
    }
    /* 6 + 6 + 17 bytes */
    assert_int_equal(sr_vocab_bytes(v), 29);
    /* out of range */
    assert_null(sr_vocab_id(v, 3).ptr);
    assert_int_equal(sr_vocab_id(v, -1).len, 0);
    sr_vocab_free(&v);
    assert_null(v);
    sr_vocab_free(&v); /* NULL-safe */
    sr_vocab_free(NULL);
}

static void test_vocab_first_seen_order(void **state)
{
    (void)state;
    sr_vocab *v = NULL;
    assert_int_equal(sr_vocab_new(&v), SR_OK);
    /* stream c a c b a d: first-seen order c=0 a=1 b=2 d=3 */
    const char *stream[] = { "c", "a", "c", "b", "a", "d" };
    const int32_t want[] = { 0, 1, 0, 2, 1, 3 };
    for (int i = 0; i < 6; i++) {
        int32_t k = -7;
        assert_int_equal(sr_vocab_intern(v, str_of(stream[i]), &k), SR_OK);
        assert_int_equal(k, want[i]);
    }
    assert_int_equal(sr_vocab_size(v), 4);
    assert_id_eq(sr_vocab_id(v, 0), "c", 1);
    assert_id_eq(sr_vocab_id(v, 1), "a", 1);
    assert_id_eq(sr_vocab_id(v, 2), "b", 1);
    assert_id_eq(sr_vocab_id(v, 3), "d", 1);
    assert_int_equal(sr_vocab_bytes(v), 4);
    sr_vocab_free(&v);
}

#define MANY 200000

static int make_id(char *buf, size_t cap, uint32_t i)
{
    /* Varying lengths (the "%x" part) and a shared prefix, like real ids. */
    return snprintf(buf, cap, "track-%u-%x", i, i * 2654435761u);
}

static void test_vocab_many_ids_with_growth(void **state)
{
    (void)state;
    sr_vocab *v = NULL;
    assert_int_equal(sr_vocab_new(&v), SR_OK);
    char buf[64];
    size_t bytes = 0;
    for (uint32_t i = 0; i < MANY; i++) {
        int n = make_id(buf, sizeof buf, i);
        bytes += (size_t)n;
        int32_t k = -7;
        sr_str s = { buf, (size_t)n };
        assert_int_equal(sr_vocab_intern(v, s, &k), SR_OK);
        assert_int_equal(k, (int32_t)i);
    }
    assert_int_equal(sr_vocab_size(v), MANY);
    assert_int_equal(sr_vocab_bytes(v), bytes);
    for (uint32_t i = 0; i < MANY; i++) {
        int n = make_id(buf, sizeof buf, i);
        sr_str s = { buf, (size_t)n };
        assert_int_equal(sr_vocab_find(v, s), (int32_t)i);
        assert_id_eq(sr_vocab_id(v, (int32_t)i), buf, (size_t)n);
        /* re-interning finds, never adds */
        int32_t k = -7;
        assert_int_equal(sr_vocab_intern(v, s, &k), SR_OK);
        assert_int_equal(k, (int32_t)i);
    }
    assert_int_equal(sr_vocab_size(v), MANY);
    for (uint32_t i = MANY; i < MANY + 1000; i++) {
        int n = make_id(buf, sizeof buf, i);
        sr_str s = { buf, (size_t)n };
        assert_int_equal(sr_vocab_find(v, s), -1);
    }
    /* Memory budget: id bytes plus 50% arena slack, and at most 40 B per id
     * for offsets (8 B + slack) and 8 B slots at load >= 0.35. 16-byte slots
     * would need ~54 B per id here (2^19 slots for 200k ids). */
    size_t mem = sr_vocab_mem(v);
    assert_true(mem >= bytes + (size_t)MANY * 8);
    assert_true(mem <= bytes + bytes / 2 + (size_t)MANY * 40);
    sr_vocab_free(&v);
}

static void test_vocab_empty_id_rejected(void **state)
{
    (void)state;
    sr_vocab *v = NULL;
    assert_int_equal(sr_vocab_new(&v), SR_OK);
    int32_t k = 5;
    sr_str empty = { "", 0 };
    assert_int_equal(sr_vocab_intern(v, empty, &k), SR_ERR_ARG);
    assert_int_equal(k, -1);
    assert_non_null(strstr(sr_errmsg(), "empty"));
    assert_int_equal(sr_vocab_size(v), 0);
    assert_int_equal(sr_vocab_find(v, empty), -1);
    sr_vocab_free(&v);
}

static void test_vocab_too_long_id_rejected(void **state)
{
    (void)state;
    sr_vocab *v = NULL;
    assert_int_equal(sr_vocab_new(&v), SR_OK);
    char *big = malloc(65536);
    assert_non_null(big);
    memset(big, 'x', 65536);
    int32_t k = 5;
    sr_str too_long = { big, 65536 };
    assert_int_equal(sr_vocab_intern(v, too_long, &k), SR_ERR_ARG);
    assert_int_equal(k, -1);
    assert_non_null(strstr(sr_errmsg(), "65536"));
    assert_int_equal(sr_vocab_size(v), 0);
    assert_int_equal(sr_vocab_find(v, too_long), -1);
    /* 65535 bytes is the largest id accepted */
    sr_str longest = { big, 65535 };
    assert_int_equal(sr_vocab_intern(v, longest, &k), SR_OK);
    assert_int_equal(k, 0);
    assert_int_equal(sr_vocab_bytes(v), 65535);
    assert_int_equal(sr_vocab_find(v, longest), 0);
    free(big);
    sr_vocab_free(&v);
}

static void test_vocab_ids_sharing_a_prefix(void **state)
{
    (void)state;
    sr_vocab *v = NULL;
    assert_int_equal(sr_vocab_new(&v), SR_OK);
    /* Each is a prefix of the next; "ab\0" differs from "ab" only by an
     * embedded NUL, which a length-delimited id must keep. */
    static const char all[] = "abcd";
    static const char nul[] = { 'a', 'b', '\0' };
    int32_t k;
    for (size_t n = 1; n <= 4; n++) {
        sr_str s = { all, n };
        assert_int_equal(sr_vocab_intern(v, s, &k), SR_OK);
        assert_int_equal(k, (int32_t)(n - 1));
    }
    sr_str sn = { nul, 3 };
    assert_int_equal(sr_vocab_intern(v, sn, &k), SR_OK);
    assert_int_equal(k, 4);
    assert_int_equal(sr_vocab_size(v), 5);
    for (size_t n = 1; n <= 4; n++) {
        sr_str s = { all, n };
        assert_int_equal(sr_vocab_find(v, s), (int32_t)(n - 1));
        assert_id_eq(sr_vocab_id(v, (int32_t)(n - 1)), all, n);
    }
    assert_int_equal(sr_vocab_find(v, sn), 4);
    assert_id_eq(sr_vocab_id(v, 4), nul, 3);
    sr_str abcde = { "abcde", 5 };
    assert_int_equal(sr_vocab_find(v, abcde), -1);
    assert_int_equal(sr_vocab_bytes(v), 1 + 2 + 3 + 4 + 3);
    sr_vocab_free(&v);
}

static void test_vocab_find_absent(void **state)
{
    (void)state;
    sr_vocab *v = NULL;
    assert_int_equal(sr_vocab_new(&v), SR_OK);
    assert_int_equal(sr_vocab_find(v, str_of("nothing")), -1);
    int32_t k;
    assert_int_equal(sr_vocab_intern(v, str_of("present"), &k), SR_OK);
    assert_int_equal(sr_vocab_find(v, str_of("Present")), -1);
    assert_int_equal(sr_vocab_find(v, str_of("presen")), -1);
    assert_int_equal(sr_vocab_find(v, str_of("presentt")), -1);
    assert_int_equal(sr_vocab_find(v, str_of("present")), 0);
    /* a failed find adds nothing */
    assert_int_equal(sr_vocab_size(v), 1);
    sr_vocab_free(&v);
}

/* An id that points into the vocabulary's own arena (a prefix of a stored
 * id) must survive the arena moving while it is copied; ASan catches a
 * read from the freed arena. */
static void test_vocab_intern_id_from_own_arena(void **state)
{
    (void)state;
    sr_vocab *v = NULL;
    assert_int_equal(sr_vocab_new(&v), SR_OK);
    char buf[32];
    int32_t k;
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(buf, sizeof buf, "x%05d-abcdefghij", i);
        sr_str s = { buf, (size_t)n };
        assert_int_equal(sr_vocab_intern(v, s, &k), SR_OK);
    }
    for (int i = 0; i < 1000; i++) {
        sr_str s = sr_vocab_id(v, i);
        s.len -= 1;
        assert_int_equal(sr_vocab_intern(v, s, &k), SR_OK);
        assert_int_equal(k, 1000 + i);
    }
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(buf, sizeof buf, "x%05d-abcdefghi", i);
        assert_id_eq(sr_vocab_id(v, 1000 + i), buf, (size_t)n);
    }
    sr_vocab_free(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vocab_intern_find_id_round_trip),
        cmocka_unit_test(test_vocab_first_seen_order),
        cmocka_unit_test(test_vocab_many_ids_with_growth),
        cmocka_unit_test(test_vocab_empty_id_rejected),
        cmocka_unit_test(test_vocab_too_long_id_rejected),
        cmocka_unit_test(test_vocab_ids_sharing_a_prefix),
        cmocka_unit_test(test_vocab_find_absent),
        cmocka_unit_test(test_vocab_intern_id_from_own_arena),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
