/* exporters/query/qstatic.h — the query exporter's web UI: static files
 * (web/ and the npm libraries it uses) served on the query endpoint.
 *
 *   GET /                 index.html (or a page saying the UI's assets are
 *                         missing and how to install them)
 *   GET /ui/<file>        web/<file>: index.html, *.js, *.css, ...
 *   GET /ui/lib/<file>    the npm libraries and their licences (table
 *                         kq_ui_libs in qstatic.c: url name -> node_modules path)
 *
 * Two sources: the copy embedded into the plugin at build time (the
 * generated header of cmake/kiln_ui_embed.cmake, compiled into qstatic.c when
 * KILN_QUERY_UI_EMBED is defined; see exporters/query/plugin.cmake), or, with
 * the `ui_dir` config field, files read from a directory at every request (a
 * checkout's web/ with its node_modules, for UI development).
 *
 * Memory: a kq_ui owns its copy of the directory path and the gzip'ed copies
 * of embedded assets it made (lazily, on the loop thread); the asset table
 * itself is static (or the caller's, which must outlive the kq_ui).
 */
#ifndef KILN_EXPORTER_QUERY_QSTATIC_H
#define KILN_EXPORTER_QUERY_QSTATIC_H

#include <stddef.h>

#include <kiln/kiln.h>

/* One embedded file: `name` is its path under /ui/ ("app.js", "lib/d3.min.js"). */
typedef struct kq_asset {
    const char *name;
    const unsigned char *data;
    size_t len;
} kq_asset;

typedef struct kq_ui_opts {
    const char *dir;         /* NULL or "": serve `assets`; else files under this directory */
    const kq_asset *assets;  /* embedded files (may be NULL when n_assets is 0) */
    size_t n_assets;
    const char *missing;     /* embedded mode: library files the build did not find ("" none) */
} kq_ui_opts;

typedef struct kq_ui kq_ui;

/* The copy embedded in this build: fills assets, n_assets and missing (no
 * assets and everything missing when the plugin was built without them). */
void kiln_query_ui_embedded(kq_ui_opts *o);

/* Makes the UI server; in directory mode the directory must exist (its real
 * path is what requests are confined to). */
int kiln_query_ui_new(kiln_host *h, const kq_ui_opts *o, kq_ui **out, kiln_err *err);
/* Registers GET / and the prefix /ui/ on `endpoint` (call from create). */
int kiln_query_ui_routes(kq_ui *ui, const char *endpoint, kiln_err *err);
void kiln_query_ui_free(kq_ui *ui);

/* The Content-Type for a file name by its extension; NULL when unknown
 * (directory mode does not serve those). */
const char *kiln_query_ui_ctype(const char *name);

#endif
