/* pipeline/loader.h — finds and dlopens component plugins.
 *
 * A plugin of kind K and type T is the file <dir>/<K>_<T>.so exporting the
 * data symbol `kiln_plugin` (include/kiln/plugin.h). The loader keeps every
 * handle it opened until kiln_loader_free; descriptors it returns point into
 * those libraries and are valid as long as the loader.
 */
#ifndef KILN_CORE_LOADER_H
#define KILN_CORE_LOADER_H

#include <kiln/plugin.h>

typedef struct kiln_loader kiln_loader;

/* `dir` is copied. */
kiln_loader *kiln_loader_new(const char *dir);
void kiln_loader_free(kiln_loader *l);
const char *kiln_loader_dir(const kiln_loader *l);

/* Loads (once) the plugin for kind/type. Errors name the file and what is
 * wrong: not found, not loadable (dlerror), no `kiln_plugin` symbol, ABI
 * mismatch, wrong kind or type inside. */
int kiln_loader_get(kiln_loader *l, kiln_kind kind, const char *type, const kiln_plugin **out,
                    kiln_err *err);

/* Loads every *.so in the directory (for `kiln components`); calls fn for
 * each descriptor in file-name order, and reports files that failed in err
 * lines to `on_error`. Two files declaring the same kind/type: an error. */
int kiln_loader_scan(kiln_loader *l, void (*fn)(const kiln_plugin *, const char *file, void *),
                     void (*on_error)(const char *file, const kiln_err *, void *), void *arg);

/* The default plugin directory for the running binary: <exe>/../lib/kiln/plugins
 * when it exists, else <exe>/../<install libdir>/kiln/plugins. */
int kiln_loader_default_dir(char *buf, size_t cap);

kiln_kind kiln_kind_from_name(const char *s); /* 0 if unknown */

#endif
