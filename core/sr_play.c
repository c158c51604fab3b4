/* sr_play.c - skip rules and the code tables of the packed play context.
 *
 * The tables are part of the store format (docs/data.md): codes are stored
 * in sessions, so entries may be appended but never reordered.
 */
#include "sr_play.h"

#include <string.h>

static const char *const sr_skip_rule_names[] = {
    [SR_SKIP_RULE_SKIP_1] = "skip_1",
    [SR_SKIP_RULE_SKIP_2] = "skip_2",
    [SR_SKIP_RULE_SKIP_3] = "skip_3",
    [SR_SKIP_RULE_NOT_SKIPPED] = "not_skipped",
};

sr_err sr_skip_rule_parse(sr_str s, sr_skip_rule *out)
{
    int i;
    sr_err err = sr_name_parse(s, sr_skip_rule_names, SR_COUNTOF(sr_skip_rule_names), "skip rule", &i);
    if (err == SR_OK)
        *out = (sr_skip_rule)i;
    return err;
}

const char *sr_skip_rule_name(sr_skip_rule r)
{
    return sr_name_at(sr_skip_rule_names, SR_COUNTOF(sr_skip_rule_names), (unsigned)r);
}

bool sr_skip_rule_apply(sr_skip_rule r, uint8_t fb)
{
    switch (r) {
    case SR_SKIP_RULE_SKIP_1:
        return (fb & SR_FB_SKIP_1) != 0;
    case SR_SKIP_RULE_SKIP_2:
        return (fb & SR_FB_SKIP_2) != 0;
    case SR_SKIP_RULE_SKIP_3:
        return (fb & SR_FB_SKIP_3) != 0;
    case SR_SKIP_RULE_NOT_SKIPPED:
        return (fb & SR_FB_NOT_SKIPPED) == 0;
    }
    return false;
}

typedef struct sr_code_name {
    const char *name;
    size_t len;
} sr_code_name;

#define SR_CODE_NAME(s) { s, sizeof(s) - 1 }

/* MSSD's context_type values. */
static const sr_code_name sr_ctx_type_names[SR_CTX_TYPE_COUNT] = {
    [SR_CTX_TYPE_UNKNOWN] = SR_CODE_NAME("unknown"),
    [SR_CTX_TYPE_EDITORIAL_PLAYLIST] = SR_CODE_NAME("editorial_playlist"),
    [SR_CTX_TYPE_USER_COLLECTION] = SR_CODE_NAME("user_collection"),
    [SR_CTX_TYPE_CATALOG] = SR_CODE_NAME("catalog"),
    [SR_CTX_TYPE_RADIO] = SR_CODE_NAME("radio"),
    [SR_CTX_TYPE_PERSONALIZED_PLAYLIST] = SR_CODE_NAME("personalized_playlist"),
    [SR_CTX_TYPE_CHARTS] = SR_CODE_NAME("charts"),
};

/* MSSD's hist_user_behavior_reason_start / _end values. */
static const sr_code_name sr_reason_names[SR_REASON_COUNT] = {
    [SR_REASON_UNKNOWN] = SR_CODE_NAME("unknown"),
    [SR_REASON_TRACKDONE] = SR_CODE_NAME("trackdone"),
    [SR_REASON_FWDBTN] = SR_CODE_NAME("fwdbtn"),
    [SR_REASON_BACKBTN] = SR_CODE_NAME("backbtn"),
    [SR_REASON_CLICKROW] = SR_CODE_NAME("clickrow"),
    [SR_REASON_PLAYBTN] = SR_CODE_NAME("playbtn"),
    [SR_REASON_APPLOAD] = SR_CODE_NAME("appload"),
    [SR_REASON_TRACKERROR] = SR_CODE_NAME("trackerror"),
    [SR_REASON_REMOTE] = SR_CODE_NAME("remote"),
    [SR_REASON_ENDPLAY] = SR_CODE_NAME("endplay"),
    [SR_REASON_LOGOUT] = SR_CODE_NAME("logout"),
    [SR_REASON_POPUP] = SR_CODE_NAME("popup"),
    [SR_REASON_URIOPEN] = SR_CODE_NAME("uriopen"),
    [SR_REASON_CLICKSIDE] = SR_CODE_NAME("clickside"),
};

/* Linear scan: the MSSD reader calls this three times per row, and the
 * length plus first-byte check rejects almost every entry without a memcmp. */
static uint32_t sr_table_code(const sr_code_name *t, uint32_t n, sr_str s)
{
    if (s.len == 0)
        return 0;
    for (uint32_t i = 1; i < n; i++) {
        if (t[i].len == s.len && t[i].name[0] == s.ptr[0] && memcmp(t[i].name, s.ptr, s.len) == 0)
            return i;
    }
    return 0;
}

uint32_t sr_ctx_type_code(sr_str name)
{
    return sr_table_code(sr_ctx_type_names, SR_CTX_TYPE_COUNT, name);
}

const char *sr_ctx_type_name(uint32_t code)
{
    return code < SR_CTX_TYPE_COUNT ? sr_ctx_type_names[code].name : "unknown";
}

uint32_t sr_reason_code(sr_str name)
{
    return sr_table_code(sr_reason_names, SR_REASON_COUNT, name);
}

const char *sr_reason_name(uint32_t code)
{
    return code < SR_REASON_COUNT ? sr_reason_names[code].name : "unknown";
}
