#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

char *temp_path(const char *suffix)
{
    static int counter;
    char *p = malloc(256);
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(p, 256, "%s/vmsim-test-%d-%d%s", dir, (int)getpid(), counter++, suffix ? suffix : "");
    unlink(p);
    return p;
}

char *write_temp(const void *data, size_t len, const char *suffix)
{
    char *p = temp_path(suffix);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
    return p;
}

struct cmd_result run_vmsim(const char *fmt, ...)
{
    char args[4096], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    char *o = temp_path(".out"), *e = temp_path(".err");
    snprintf(cmd, sizeof cmd, "%s %s >%s 2>%s", VMSIM_BIN, args, o, e);
    int st = system(cmd);
    struct cmd_result r;
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r.out = read_file(o, NULL);
    r.err = read_file(e, NULL);
    unlink(o);
    unlink(e);
    free(o);
    free(e);
    return r;
}

void cmd_result_free(struct cmd_result *r)
{
    free(r->out);
    free(r->err);
}

long long json_number(const char *json, const char *key)
{
    char pat[256];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    if (!p)
        return -1;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    return strtoll(p, NULL, 10);
}

bool on_path(const char *prog)
{
    const char *path = getenv("PATH");
    if (!path)
        return false;
    char *copy = strdup(path), *save = NULL;
    bool found = false;
    for (char *dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
        char full[4096];
        snprintf(full, sizeof full, "%s/%s", *dir ? dir : ".", prog);
        found = access(full, X_OK) == 0;
    }
    free(copy);
    return found;
}

void expect_in(const char *what, const char *text, const char *needle)
{
    if (!text || !strstr(text, needle))
        fail_msg("%s does not contain \"%s\":\n%s", what, needle, text ? text : "(null)");
}

/* The value at a dotted JSON path ("caches.l1d.hits", "walks.refs_histogram[2]"). */
bool json_path(json_t *root, const char *path, uint64_t *v)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *o = root;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ".", &save); tok && o; tok = strtok_r(NULL, ".", &save)) {
        char *br = strchr(tok, '[');
        if (br) {
            *br = '\0';
            o = json_array_get(json_object_get(o, tok), strtoul(br + 1, NULL, 10));
        } else {
            o = json_object_get(o, tok);
        }
    }
    if (!json_is_integer(o))
        return false;
    *v = (uint64_t)json_integer_value(o);
    return true;
}
