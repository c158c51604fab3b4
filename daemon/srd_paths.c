/* srd_paths.c - see srd_paths.h. */
/* realpath(3) is an XSI function: ask for it on top of _POSIX_C_SOURCE. */
#define _XOPEN_SOURCE 700
#include "srd_paths.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

bool srd_paths_inside(const char *root_real, const char *real)
{
    size_t n = strlen(root_real);
    /* "/" as the root: everything absolute is inside. */
    while (n > 1 && root_real[n - 1] == '/')
        n--;
    if (n == 1 && root_real[0] == '/')
        return real[0] == '/';
    return strncmp(real, root_real, n) == 0 && (real[n] == '\0' || real[n] == '/');
}

/* Does `p` have a ".." component? */
static bool srd_paths_has_dotdot(const char *p)
{
    const char *s = p;
    while (*s) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 2 && s[0] == '.' && s[1] == '.')
            return true;
        if (!e)
            break;
        s = e + 1;
    }
    return false;
}

sr_proto_code srd_paths_confine(const char *root_real, const char *path, srd_path_kind kind,
                                char *out, size_t cap, char *err, size_t errcap)
{
    char joined[PATH_MAX];
    char real[PATH_MAX];
    size_t plen = strlen(path);
    if (plen == 0) {
        snprintf(err, errcap, "empty path");
        return SR_PROTO_CODE_BAD_REQUEST;
    }
    if (srd_paths_has_dotdot(path)) {
        snprintf(err, errcap, "path '%s': '..' is not allowed", path);
        return SR_PROTO_CODE_FORBIDDEN;
    }
    int n = path[0] == '/' ? snprintf(joined, sizeof joined, "%s", path)
                           : snprintf(joined, sizeof joined, "%s/%s", root_real, path);
    if (n < 0 || (size_t)n >= sizeof joined) {
        snprintf(err, errcap, "path '%.200s...': too long", path);
        return SR_PROTO_CODE_BAD_REQUEST;
    }
    /* Trailing slashes would make the "last component" empty for outputs. */
    while (n > 1 && joined[n - 1] == '/')
        joined[--n] = '\0';

    if (kind == SRD_PATH_KIND_INPUT) {
        if (!realpath(joined, real)) {
            int e = errno;
            snprintf(err, errcap, "path '%s': %s", path, strerror(e));
            return (e == ENOENT || e == ENOTDIR) ? SR_PROTO_CODE_NOT_FOUND
                                                 : SR_PROTO_CODE_FORBIDDEN;
        }
        if (!srd_paths_inside(root_real, real)) {
            snprintf(err, errcap, "path '%s': outside the data root", path);
            return SR_PROTO_CODE_FORBIDDEN;
        }
    } else {
        char *slash = strrchr(joined, '/');
        const char *base = slash + 1;
        if (base[0] == '\0' || strcmp(base, ".") == 0) {
            snprintf(err, errcap, "path '%s': not a file name", path);
            return SR_PROTO_CODE_INVALID;
        }
        char dir[PATH_MAX];
        size_t dl = (size_t)(slash - joined);
        if (dl == 0)
            dl = 1; /* "/name" */
        memcpy(dir, joined, dl);
        dir[dl] = '\0';
        if (!realpath(dir, real)) {
            int e = errno;
            snprintf(err, errcap, "path '%s': directory: %s", path, strerror(e));
            return (e == ENOENT || e == ENOTDIR) ? SR_PROTO_CODE_NOT_FOUND
                                                 : SR_PROTO_CODE_FORBIDDEN;
        }
        if (!srd_paths_inside(root_real, real)) {
            snprintf(err, errcap, "path '%s': outside the data root", path);
            return SR_PROTO_CODE_FORBIDDEN;
        }
        size_t rl = strlen(real);
        size_t bl = strlen(base);
        if (rl + 1 + bl + 1 > sizeof real) {
            snprintf(err, errcap, "path '%.200s...': too long", path);
            return SR_PROTO_CODE_BAD_REQUEST;
        }
        if (!(rl == 1 && real[0] == '/'))
            real[rl++] = '/';
        memcpy(real + rl, base, bl + 1);
        struct stat st;
        if (lstat(real, &st) == 0 && S_ISDIR(st.st_mode)) {
            snprintf(err, errcap, "path '%s': is a directory", path);
            return SR_PROTO_CODE_INVALID;
        }
    }
    if (strlen(real) >= cap) {
        snprintf(err, errcap, "path '%.200s...': too long", path);
        return SR_PROTO_CODE_BAD_REQUEST;
    }
    strcpy(out, real);
    return SR_PROTO_CODE_OK;
}

sr_proto_code srd_paths_confine_pstr(const char *root_real, sr_pstr path, srd_path_kind kind,
                                     char *out, size_t cap, char *err, size_t errcap)
{
    char buf[PATH_MAX];
    if (path.len == 0) {
        snprintf(err, errcap, "empty path");
        return SR_PROTO_CODE_BAD_REQUEST;
    }
    if (!sr_pstr_copy(path, buf, sizeof buf)) {
        snprintf(err, errcap, "path: too long or holds a NUL byte");
        return SR_PROTO_CODE_BAD_REQUEST;
    }
    return srd_paths_confine(root_real, buf, kind, out, cap, err, errcap);
}
