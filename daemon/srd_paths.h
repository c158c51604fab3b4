/* srd_paths.h - confinement of request paths to the data root.
 *
 * A request path is relative to the root or absolute. It is refused (403)
 * when it has a ".." component, or when its real path (symlinks resolved
 * with realpath(3)) is not the root or below it - checked on a '/' boundary,
 * so /data-root2 is not inside /data-root.
 */
#ifndef SRD_PATHS_H
#define SRD_PATHS_H

#include <stdbool.h>
#include <stddef.h>

#include "sr_proto.h"

typedef enum srd_path_kind {
    SRD_PATH_KIND_INPUT = 0, /* must exist (file or directory); fully resolved */
    SRD_PATH_KIND_OUTPUT     /* its directory must exist; the last component is a
                              * plain name that is created or replaced */
} srd_path_kind;

/* Is `real` (an absolute real path) the root `root_real` or below it? */
bool srd_paths_inside(const char *root_real, const char *real);

/* Resolve `path` (NUL-terminated) against `root_real` (a realpath) into
 * out[cap]. Returns SR_PROTO_CODE_OK, or FORBIDDEN (outside, ".."),
 * NOT_FOUND (an input, or an output's directory, does not exist),
 * BAD_REQUEST (empty, too long) or INVALID (an output that is a directory),
 * with a message naming the path in err[errcap]. */
sr_proto_code srd_paths_confine(const char *root_real, const char *path, srd_path_kind kind,
                                char *out, size_t cap, char *err, size_t errcap);

/* The same for a wire string (which may hold a NUL: BAD_REQUEST). */
sr_proto_code srd_paths_confine_pstr(const char *root_real, sr_pstr path, srd_path_kind kind,
                                     char *out, size_t cap, char *err, size_t errcap);

#endif /* SRD_PATHS_H */
