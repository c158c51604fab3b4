/* replay_main.c - feed files to LLVMFuzzerTestOneInput without libFuzzer, so
 * the fuzz corpus runs as an ordinary test in the gcc and ASan builds
 * (libzmq and sqlite replay their corpora the same way).
 *
 * Usage: fuzz_replay PATH...   (a directory stands for every file in it)
 * Each input is read into a buffer of exactly its size, so an over-read is an
 * ASan error. Fails when an input cannot be read or when nothing was replayed
 * (an empty or missing corpus must not pass silently). */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    uint8_t *buf = NULL;
    int rc = -1;

    if (f == NULL || fstat(fileno(f), &st) != 0) {
        fprintf(stderr, "fuzz_replay: %s: %s\n", path, strerror(errno));
        goto done;
    }
    size_t size = (size_t)st.st_size;
    buf = malloc(size ? size : 1);
    if (buf == NULL) {
        fprintf(stderr, "fuzz_replay: %s: out of memory for %zu bytes\n", path, size);
        goto done;
    }
    if (size > 0 && fread(buf, 1, size, f) != size) {
        fprintf(stderr, "fuzz_replay: %s: short read\n", path);
        goto done;
    }
    /* an empty input is passed as (NULL, 0), as libFuzzer may do */
    LLVMFuzzerTestOneInput(size ? buf : NULL, size);
    rc = 0;
done:
    free(buf);
    if (f != NULL)
        fclose(f);
    return rc;
}

static int replay_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replay a directory's regular files in name order; returns the count or -1. */
static long replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    char **names = NULL;
    size_t n = 0, cap = 0;
    long count = -1;

    if (d == NULL) {
        fprintf(stderr, "fuzz_replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 64;
            char **tmp = realloc(names, ncap * sizeof(*names));
            if (tmp == NULL)
                goto done;
            names = tmp;
            cap = ncap;
        }
        size_t len = strlen(dir) + 1 + strlen(e->d_name) + 1;
        names[n] = malloc(len);
        if (names[n] == NULL)
            goto done;
        snprintf(names[n], len, "%s/%s", dir, e->d_name);
        n++;
    }
    if (n > 0)
        qsort(names, n, sizeof(*names), replay_cmp);
    count = 0;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(names[i], &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (replay_file(names[i]) != 0) {
            count = -1;
            goto done;
        }
        count++;
    }
done:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    closedir(d);
    return count;
}

int main(int argc, char **argv)
{
    long total = 0;
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE_OR_DIR...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "fuzz_replay: %s: %s\n", argv[i], strerror(errno));
            return 1;
        }
        long n = S_ISDIR(st.st_mode) ? replay_dir(argv[i]) : (replay_file(argv[i]) == 0 ? 1 : -1);
        if (n < 0)
            return 1;
        total += n;
    }
    if (total == 0) {
        fprintf(stderr, "fuzz_replay: no input files found\n");
        return 1;
    }
    printf("fuzz_replay: %ld inputs replayed, all properties held\n", total);
    return 0;
}
