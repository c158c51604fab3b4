/* srd_evconf.h - the events column-mapping INI (configs/kuairand.ini,
 * configs/lastfm.ini) -> sr_events_config.
 *
 *   [columns]  user, session, track, time, time_format (unix_s|unix_ms|iso8601),
 *              delimiter (tab|comma; absent = by file extension)
 *   [skip]     flag, played, duration, played_unit (s|ms), min_played_seconds,
 *              min_played_fraction, rating, rating_skip_below
 *   [sessions] gap_minutes, max_length
 *
 * Unknown sections or keys and bad values are errors naming the line. The
 * result is then checked with sr_events_config_check().
 */
#ifndef SRD_EVCONF_H
#define SRD_EVCONF_H

#include <stddef.h>

#include "sr_events.h"

/* Largest accepted config text (the wire allows 64 KiB). */
#define SRD_EVCONF_MAX_BYTES (64u * 1024u)

/* Parse text[len] (need not be NUL-terminated; a NUL inside is an error).
 * On success *out holds sr_events_config_default() overridden by the file.
 * SR_ERR_ARG with "line N: ..." in sr_errmsg() otherwise. */
sr_err srd_evconf_parse(const char *text, size_t len, sr_events_config *out);

#endif /* SRD_EVCONF_H */
