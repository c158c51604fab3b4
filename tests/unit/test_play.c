/* test_play.c - skip rules over every flag combination (a hand-written
 * table), skip rule names, and the context code tables and packing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "sr_play.h"

/* All 16 combinations of (skip_1, skip_2, skip_3, not_skipped) and the
 * label each rule gives, written out by hand: rule skip_k -> flag k;
 * rule not_skipped -> !not_skipped. The first five rows are the
 * combinations MSSD actually holds. */
static const struct {
    uint8_t s1, s2, s3, ns;
    bool r1, r2, r3, rns;
} skip_table[] = {
    /* s1 s2 s3 ns   skip_1 skip_2 skip_3 not_skipped */
    { 1, 1, 1, 0, true, true, true, true },
    { 0, 0, 0, 1, false, false, false, false },
    { 0, 0, 1, 0, false, false, true, true },
    { 0, 1, 1, 0, false, true, true, true },
    { 0, 0, 0, 0, false, false, false, true },
    { 0, 0, 1, 1, false, false, true, false },
    { 0, 1, 0, 0, false, true, false, true },
    { 0, 1, 0, 1, false, true, false, false },
    { 0, 1, 1, 1, false, true, true, false },
    { 1, 0, 0, 0, true, false, false, true },
    { 1, 0, 0, 1, true, false, false, false },
    { 1, 0, 1, 0, true, false, true, true },
    { 1, 0, 1, 1, true, false, true, false },
    { 1, 1, 0, 0, true, true, false, true },
    { 1, 1, 0, 1, true, true, false, false },
    { 1, 1, 1, 1, true, true, true, false },
};

static void test_skip_rule_apply_every_flag_combination(void **state)
{
    (void)state;
    assert_int_equal(SR_COUNTOF(skip_table), 16);
    for (size_t i = 0; i < SR_COUNTOF(skip_table); i++) {
        uint8_t fb = (uint8_t)((skip_table[i].s1 ? SR_FB_SKIP_1 : 0) |
                               (skip_table[i].s2 ? SR_FB_SKIP_2 : 0) |
                               (skip_table[i].s3 ? SR_FB_SKIP_3 : 0) |
                               (skip_table[i].ns ? SR_FB_NOT_SKIPPED : 0));
        /* the previous label bit must not influence the rule */
        for (int prev = 0; prev < 2; prev++) {
            uint8_t in = (uint8_t)(fb | (prev ? SR_FB_SKIPPED : 0));
            assert_int_equal(sr_skip_rule_apply(SR_SKIP_RULE_SKIP_1, in), skip_table[i].r1);
            assert_int_equal(sr_skip_rule_apply(SR_SKIP_RULE_SKIP_2, in), skip_table[i].r2);
            assert_int_equal(sr_skip_rule_apply(SR_SKIP_RULE_SKIP_3, in), skip_table[i].r3);
            assert_int_equal(sr_skip_rule_apply(SR_SKIP_RULE_NOT_SKIPPED, in), skip_table[i].rns);
        }
    }
}

static void test_skip_rule_parse_and_name_round_trip(void **state)
{
    (void)state;
    const struct { const char *name; sr_skip_rule r; } rules[] = {
        { "skip_1", SR_SKIP_RULE_SKIP_1 }, { "skip_2", SR_SKIP_RULE_SKIP_2 },
        { "skip_3", SR_SKIP_RULE_SKIP_3 }, { "not_skipped", SR_SKIP_RULE_NOT_SKIPPED },
    };
    for (size_t i = 0; i < SR_COUNTOF(rules); i++) {
        sr_skip_rule r = (sr_skip_rule)99;
        assert_int_equal(sr_skip_rule_parse(sr_str_c(rules[i].name), &r), SR_OK);
        assert_int_equal(r, rules[i].r);
        assert_string_equal(sr_skip_rule_name(rules[i].r), rules[i].name);
    }
    assert_string_equal(sr_skip_rule_name((sr_skip_rule)42), "unknown");
}

static void test_skip_rule_parse_rejects_unknown_names(void **state)
{
    (void)state;
    const char *bad[] = { "skip_4", "", "Skip_2", "skip_2 ", "skipped" };
    for (size_t i = 0; i < SR_COUNTOF(bad); i++) {
        sr_skip_rule r = SR_SKIP_RULE_SKIP_3;
        assert_int_equal(sr_skip_rule_parse(sr_str_c(bad[i]), &r), SR_ERR_ARG);
        assert_int_equal(r, SR_SKIP_RULE_SKIP_3);
        char want[64];
        snprintf(want, sizeof want, "\"%s\"", bad[i]);
        assert_non_null(strstr(sr_errmsg(), want));
    }
    /* a length-delimited name is not read past its end */
    sr_str s = { "skip_1x", 6 };
    sr_skip_rule r;
    assert_int_equal(sr_skip_rule_parse(s, &r), SR_OK);
    assert_int_equal(r, SR_SKIP_RULE_SKIP_1);
}

static void test_ctx_type_codes_round_trip(void **state)
{
    (void)state;
    const struct { const char *name; uint32_t code; } t[] = {
        { "editorial_playlist", SR_CTX_TYPE_EDITORIAL_PLAYLIST },
        { "user_collection", SR_CTX_TYPE_USER_COLLECTION },
        { "catalog", SR_CTX_TYPE_CATALOG },
        { "radio", SR_CTX_TYPE_RADIO },
        { "personalized_playlist", SR_CTX_TYPE_PERSONALIZED_PLAYLIST },
        { "charts", SR_CTX_TYPE_CHARTS },
    };
    assert_int_equal(SR_COUNTOF(t), SR_CTX_TYPE_COUNT - 1);
    for (size_t i = 0; i < SR_COUNTOF(t); i++) {
        assert_int_equal(sr_ctx_type_code(sr_str_c(t[i].name)), t[i].code);
        assert_string_equal(sr_ctx_type_name(t[i].code), t[i].name);
    }
    assert_string_equal(sr_ctx_type_name(SR_CTX_TYPE_UNKNOWN), "unknown");
    assert_string_equal(sr_ctx_type_name(SR_CTX_TYPE_COUNT), "unknown");
    const char *unknown[] = { "", "unknown", "Radio", "radio2", "podcast", "chart" };
    for (size_t i = 0; i < SR_COUNTOF(unknown); i++)
        assert_int_equal(sr_ctx_type_code(sr_str_c(unknown[i])), SR_CTX_TYPE_UNKNOWN);
}

static void test_reason_codes_round_trip(void **state)
{
    (void)state;
    const struct { const char *name; uint32_t code; } t[] = {
        { "trackdone", SR_REASON_TRACKDONE }, { "fwdbtn", SR_REASON_FWDBTN },
        { "backbtn", SR_REASON_BACKBTN }, { "clickrow", SR_REASON_CLICKROW },
        { "playbtn", SR_REASON_PLAYBTN }, { "appload", SR_REASON_APPLOAD },
        { "trackerror", SR_REASON_TRACKERROR }, { "remote", SR_REASON_REMOTE },
        { "endplay", SR_REASON_ENDPLAY }, { "logout", SR_REASON_LOGOUT },
        { "popup", SR_REASON_POPUP }, { "uriopen", SR_REASON_URIOPEN },
        { "clickside", SR_REASON_CLICKSIDE },
    };
    assert_int_equal(SR_COUNTOF(t), SR_REASON_COUNT - 1);
    for (size_t i = 0; i < SR_COUNTOF(t); i++) {
        assert_int_equal(sr_reason_code(sr_str_c(t[i].name)), t[i].code);
        assert_string_equal(sr_reason_name(t[i].code), t[i].name);
    }
    assert_string_equal(sr_reason_name(SR_REASON_UNKNOWN), "unknown");
    assert_string_equal(sr_reason_name(200), "unknown");
    const char *unknown[] = { "", "unknown", "Trackdone", "track", "fwdbtn ", "skip" };
    for (size_t i = 0; i < SR_COUNTOF(unknown); i++)
        assert_int_equal(sr_reason_code(sr_str_c(unknown[i])), SR_REASON_UNKNOWN);
}

static void test_ctx_pack_unpack_round_trip(void **state)
{
    (void)state;
    /* Every field at several values, including each field's maximum. */
    const uint32_t types[] = { 0, SR_CTX_TYPE_RADIO, SR_CTX_TYPE_CHARTS, 15 };
    const uint32_t reasons[] = { 0, SR_REASON_FWDBTN, SR_REASON_CLICKSIDE, 15 };
    const uint32_t hours[] = { 0, 7, 23, SR_CTX_HOUR_UNKNOWN };
    for (size_t a = 0; a < 4; a++)
        for (size_t b = 0; b < 4; b++)
            for (size_t e = 0; e < 4; e++)
                for (uint32_t flags = 0; flags < 8; flags++)
                    for (uint32_t pause = 0; pause < 4; pause++)
                        for (size_t h = 0; h < 4; h++) {
                            bool sh = flags & 1, pr = flags & 2, cs = flags & 4;
                            uint32_t c = sr_ctx_pack(types[a], reasons[b], reasons[3 - e], sh,
                                                     pr, cs, pause, hours[h]);
                            assert_int_equal(sr_ctx_type(c), types[a]);
                            assert_int_equal(sr_ctx_reason_start(c), reasons[b]);
                            assert_int_equal(sr_ctx_reason_end(c), reasons[3 - e]);
                            assert_int_equal(sr_ctx_shuffle(c), sh);
                            assert_int_equal(sr_ctx_premium(c), pr);
                            assert_int_equal(sr_ctx_switch(c), cs);
                            assert_int_equal(sr_ctx_pause(c), pause);
                            assert_int_equal(sr_ctx_hour(c), hours[h]);
                            assert_int_equal(c >> 22, 0);
                        }
    /* the documented bit positions, by hand: radio(4) | fwdbtn(2)<<4 |
     * trackdone(1)<<8 | shuffle<<12 | short pause(1)<<15 | hour 6<<17 */
    uint32_t c = sr_ctx_pack(SR_CTX_TYPE_RADIO, SR_REASON_FWDBTN, SR_REASON_TRACKDONE, true,
                             false, false, 1, 6);
    assert_int_equal(c, 4u | 2u << 4 | 1u << 8 | 1u << 12 | 1u << 15 | 6u << 17);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_skip_rule_apply_every_flag_combination),
        cmocka_unit_test(test_skip_rule_parse_and_name_round_trip),
        cmocka_unit_test(test_skip_rule_parse_rejects_unknown_names),
        cmocka_unit_test(test_ctx_type_codes_round_trip),
        cmocka_unit_test(test_reason_codes_round_trip),
        cmocka_unit_test(test_ctx_pack_unpack_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
