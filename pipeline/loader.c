/* pipeline/loader.c — see loader.h. */
#include "loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef KILN_PLUGIN_INSTALL_REL
#define KILN_PLUGIN_INSTALL_REL "lib/kiln/plugins"
#endif

typedef struct loaded {
    char *file;
    void *handle;
    const kiln_plugin *desc;
} loaded;

struct kiln_loader {
    char *dir;
    loaded *v;
    size_t n, cap;
};

const char *kiln_kind_name(kiln_kind k)
{
    switch (k) {
    case KILN_KIND_RECEIVER: return "receiver";
    case KILN_KIND_PROCESSOR: return "processor";
    case KILN_KIND_EXPORTER: return "exporter";
    case KILN_KIND_EXTENSION: return "extension";
    default: return "unknown";
    }
}

kiln_kind kiln_kind_from_name(const char *s)
{
    for (int k = KILN_KIND_RECEIVER; k <= KILN_KIND_EXTENSION; k++)
        if (strcmp(s, kiln_kind_name((kiln_kind)k)) == 0) return (kiln_kind)k;
    return 0;
}

kiln_loader *kiln_loader_new(const char *dir)
{
    kiln_loader *l = calloc(1, sizeof *l);
    if (!l) return NULL;
    l->dir = strdup(dir);
    if (!l->dir) {
        free(l);
        return NULL;
    }
    return l;
}

void kiln_loader_free(kiln_loader *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++) {
        /* keep libraries mapped under ASan so leak reports keep symbols */
        if (!getenv("KILN_NO_DLCLOSE")) dlclose(l->v[i].handle);
        free(l->v[i].file);
    }
    free(l->v);
    free(l->dir);
    free(l);
}

const char *kiln_loader_dir(const kiln_loader *l) { return l->dir; }

/* Opens one file and checks its descriptor. */
static int open_one(kiln_loader *l, const char *file, const kiln_plugin **out, kiln_err *err)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].file, file) == 0) {
            *out = l->v[i].desc;
            return KILN_OK;
        }
    struct stat st;
    if (stat(file, &st) != 0)
        return kiln_err_set(err, KILN_ENOTFOUND, "plugin %s: no such file (plugin dir %s)", file,
                            l->dir);
    void *h = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return kiln_err_set(err, KILN_ERR, "plugin %s: cannot load: %s (missing library? try ldd)",
                            file, dlerror());
    const kiln_plugin *d = dlsym(h, KILN_PLUGIN_SYMBOL);
    if (!d) {
        dlclose(h);
        return kiln_err_set(err, KILN_ERR, "plugin %s: no symbol '%s': not a kiln plugin", file,
                            KILN_PLUGIN_SYMBOL);
    }
    if (d->abi_major != KILN_ABI_MAJOR || d->abi_minor > KILN_ABI_MINOR) {
        int code = kiln_err_set(err, KILN_ERR,
                                "plugin %s: ABI %u.%u, but this kiln speaks %u.%u (rebuild the plugin)",
                                file, d->abi_major, d->abi_minor, KILN_ABI_MAJOR, KILN_ABI_MINOR);
        dlclose(h);
        return code;
    }
    if (d->desc_size < sizeof(kiln_plugin) || !d->type || !d->create || !d->destroy) {
        dlclose(h);
        return kiln_err_set(err, KILN_ERR, "plugin %s: descriptor incomplete (type, create, destroy)",
                            file);
    }
    if (l->n == l->cap) {
        size_t nc = l->cap ? l->cap * 2 : 8;
        loaded *nv = realloc(l->v, nc * sizeof *nv);
        if (!nv) {
            dlclose(h);
            return kiln_err_set(err, KILN_ENOMEM, "out of memory");
        }
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n].file = strdup(file);
    l->v[l->n].handle = h;
    l->v[l->n].desc = d;
    l->n++;
    *out = d;
    return KILN_OK;
}

int kiln_loader_get(kiln_loader *l, kiln_kind kind, const char *type, const kiln_plugin **out,
                    kiln_err *err)
{
    char file[PATH_MAX];
    snprintf(file, sizeof file, "%s/%s_%s.so", l->dir, kiln_kind_name(kind), type);
    const kiln_plugin *d;
    int rc = open_one(l, file, &d, err);
    if (rc == KILN_ENOTFOUND)
        return kiln_err_set(err, rc, "unknown %s type \"%s\": no plugin %s (see `kiln components`)",
                            kiln_kind_name(kind), type, file);
    if (rc != KILN_OK) return rc;
    if (d->kind != kind || strcmp(d->type, type) != 0)
        return kiln_err_set(err, KILN_ERR, "plugin %s: declares %s \"%s\", expected %s \"%s\"",
                            file, kiln_kind_name(d->kind), d->type, kiln_kind_name(kind), type);
    *out = d;
    return KILN_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int kiln_loader_scan(kiln_loader *l, void (*fn)(const kiln_plugin *, const char *, void *),
                     void (*on_error)(const char *, const kiln_err *, void *), void *arg)
{
    DIR *d = opendir(l->dir);
    if (!d) return KILN_ENOTFOUND;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 3, ".so") != 0) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = realloc(names, cap * sizeof *nn);
            if (!nn) break;
            names = nn;
        }
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    if (n > 1) qsort(names, n, sizeof *names, cmp_str);
    int rc = KILN_OK;
    const kiln_plugin **seen = calloc(n ? n : 1, sizeof *seen);
    size_t nseen = 0;
    for (size_t i = 0; i < n; i++) {
        char file[PATH_MAX];
        snprintf(file, sizeof file, "%s/%s", l->dir, names[i]);
        const kiln_plugin *p;
        kiln_err err;
        kiln_err_clear(&err);
        if (open_one(l, file, &p, &err) != KILN_OK) {
            rc = KILN_ERR;
            if (on_error) on_error(file, &err, arg);
        } else {
            int dup = 0;
            for (size_t j = 0; j < nseen; j++)
                if (seen[j]->kind == p->kind && strcmp(seen[j]->type, p->type) == 0) dup = 1;
            if (dup) {
                kiln_err_set(&err, KILN_ERR, "plugin %s: duplicate %s type \"%s\"", file,
                             kiln_kind_name(p->kind), p->type);
                rc = KILN_ERR;
                if (on_error) on_error(file, &err, arg);
            } else {
                seen[nseen++] = p;
                fn(p, file, arg);
            }
        }
        free(names[i]);
    }
    free(seen);
    free(names);
    return rc;
}

int kiln_loader_default_dir(char *buf, size_t cap)
{
    if (cap < PATH_MAX) return KILN_ERR;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return KILN_ERR;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return KILN_ERR;
    *slash = 0;
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s/../lib/kiln/plugins", exe);
    if (!realpath(tmp, buf)) {
        snprintf(tmp, sizeof tmp, "%s/../%s", exe, KILN_PLUGIN_INSTALL_REL);
        if (!realpath(tmp, buf)) snprintf(buf, cap, "%s", tmp);
    }
    return KILN_OK;
}
