/* sr_play.h - one play of a listening session and how readers hand sessions
 * to the ingestion pipeline.
 *
 * A reader (sr_mssd, sr_events) parses rows, groups them into sessions and
 * calls an sr_session_sink once per session. The sink copies what it keeps:
 * every pointer in an sr_session is valid only during the call.
 */
#ifndef SR_PLAY_H
#define SR_PLAY_H

#include "sr_common.h"

/* Feedback bits of one play (sr_play.feedback). The raw MSSD flags are kept so
 * that another skip rule can be applied later; SR_FB_SKIPPED is the label the
 * configured rule gave (SPEC.md section 2: skip_2, "skip_1+skip_2+skip_3 > 1"). */
enum {
    SR_FB_SKIP_1 = 1u << 0,      /* MSSD skip_1: played very briefly */
    SR_FB_SKIP_2 = 1u << 1,      /* MSSD skip_2: played briefly */
    SR_FB_SKIP_3 = 1u << 2,      /* MSSD skip_3: most of it played */
    SR_FB_NOT_SKIPPED = 1u << 3, /* MSSD not_skipped: played in full */
    SR_FB_SKIPPED = 1u << 7      /* label under the configured skip rule */
};

typedef enum sr_skip_rule {
    SR_SKIP_RULE_SKIP_1 = 0,
    SR_SKIP_RULE_SKIP_2,      /* default: the paper's rule */
    SR_SKIP_RULE_SKIP_3,
    SR_SKIP_RULE_NOT_SKIPPED  /* skipped = !not_skipped */
} sr_skip_rule;

/* Parse "skip_1" | "skip_2" | "skip_3" | "not_skipped". */
sr_err sr_skip_rule_parse(sr_str s, sr_skip_rule *out);
const char *sr_skip_rule_name(sr_skip_rule r);
/* Does a play with raw MSSD flags `fb` count as skipped under rule `r`? */
bool sr_skip_rule_apply(sr_skip_rule r, uint8_t fb);

/* ---- per-play context, packed into 32 bits (sr_play.context) -------------------
 *  bits  0..3  context_type   (SR_CTX_TYPE_*; 0 = unknown/other)
 *  bits  4..7  reason_start   (SR_REASON_*;   0 = unknown/other)
 *  bits  8..11 reason_end     (SR_REASON_*)
 *  bit  12     hist_user_behavior_is_shuffle
 *  bit  13     premium
 *  bit  14     context_switch
 *  bits 15..16 pause before play: 0 none, 1 short, 2 long, 3 unknown
 *  bits 17..21 hour_of_day 0..23 (31 = unknown)
 * Code tables are fixed by the store format version (docs/data.md). */
enum {
    SR_CTX_TYPE_UNKNOWN = 0,
    SR_CTX_TYPE_EDITORIAL_PLAYLIST,
    SR_CTX_TYPE_USER_COLLECTION,
    SR_CTX_TYPE_CATALOG,
    SR_CTX_TYPE_RADIO,
    SR_CTX_TYPE_PERSONALIZED_PLAYLIST,
    SR_CTX_TYPE_CHARTS,
    SR_CTX_TYPE_COUNT
};
enum {
    SR_REASON_UNKNOWN = 0,
    SR_REASON_TRACKDONE,
    SR_REASON_FWDBTN,
    SR_REASON_BACKBTN,
    SR_REASON_CLICKROW,
    SR_REASON_PLAYBTN,
    SR_REASON_APPLOAD,
    SR_REASON_TRACKERROR,
    SR_REASON_REMOTE,
    SR_REASON_ENDPLAY,
    SR_REASON_LOGOUT,
    SR_REASON_POPUP,
    SR_REASON_URIOPEN,
    SR_REASON_CLICKSIDE,
    SR_REASON_COUNT
};
#define SR_CTX_HOUR_UNKNOWN 31u

/* Name <-> code for the tables above ("unknown" for 0). Unknown names map to 0. */
uint32_t sr_ctx_type_code(sr_str name);
const char *sr_ctx_type_name(uint32_t code);
uint32_t sr_reason_code(sr_str name);
const char *sr_reason_name(uint32_t code);

static inline uint32_t sr_ctx_pack(uint32_t type, uint32_t rstart, uint32_t rend,
                                   bool shuffle, bool premium, bool cswitch,
                                   uint32_t pause, uint32_t hour)
{
    return (type & 15u) | (rstart & 15u) << 4 | (rend & 15u) << 8 |
           (uint32_t)shuffle << 12 | (uint32_t)premium << 13 | (uint32_t)cswitch << 14 |
           (pause & 3u) << 15 | (hour & 31u) << 17;
}
static inline uint32_t sr_ctx_type(uint32_t c) { return c & 15u; }
static inline uint32_t sr_ctx_reason_start(uint32_t c) { return (c >> 4) & 15u; }
static inline uint32_t sr_ctx_reason_end(uint32_t c) { return (c >> 8) & 15u; }
static inline bool sr_ctx_shuffle(uint32_t c) { return (c >> 12) & 1u; }
static inline bool sr_ctx_premium(uint32_t c) { return (c >> 13) & 1u; }
static inline bool sr_ctx_switch(uint32_t c) { return (c >> 14) & 1u; }
static inline uint32_t sr_ctx_pause(uint32_t c) { return (c >> 15) & 3u; }
static inline uint32_t sr_ctx_hour(uint32_t c) { return (c >> 17) & 31u; }

/* One play as a reader produced it. */
typedef struct sr_play {
    sr_str track;      /* external track id (valid during the sink call) */
    int64_t time;      /* unix seconds, UTC (MSSD: date at hour_of_day) */
    uint32_t context;  /* packed, see above */
    uint16_t position; /* 1-based position in the session as logged */
    uint8_t feedback;  /* SR_FB_* bits */
} sr_play;

/* One session: plays in session order. */
typedef struct sr_session {
    sr_str key;           /* external session id (events: "<user>#<k>") */
    const sr_play *plays; /* [n] */
    uint32_t n;
} sr_session;

/* Called once per session; a non-OK return stops the reader, which returns it. */
typedef sr_err (*sr_session_sink)(void *ud, const sr_session *s);

/* What a reader saw, accumulated over calls (the caller zeroes it once). */
typedef struct sr_read_counts {
    uint64_t files;
    uint64_t bytes;     /* uncompressed bytes read */
    uint64_t rows;      /* data rows, header excluded */
    uint64_t rejected;  /* rows written to the rejects file */
    uint64_t sessions;  /* sessions handed to the sink */
    uint64_t plays;     /* plays handed to the sink */
    uint64_t truncated; /* plays dropped by a maximum session length */
} sr_read_counts;

#endif /* SR_PLAY_H */
