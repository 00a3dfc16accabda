/* kiln/plugin.h — the descriptor every component shared object exports.
 *
 * A plugin is one .so in the plugin directory named `<kind>_<type>.so`
 * (receiver_pprof.so, exporter_debug.so) that exports one data symbol,
 * `kiln_plugin_descriptor` (KILN_PLUGIN_SYMBOL), of type kiln_plugin. The core dlopens
 * only the types a config names and refuses a descriptor whose abi_major
 * differs from its own, or whose abi_minor is newer than its own.
 *
 * Lifecycle, all called by the core:
 *   validate(cfg, node)      optional; cross-field checks after the table
 *                            filled `cfg`. Also run by `kiln validate`.
 *   create(host, cfg, &st)   allocate state; register HTTP routes and
 *                            metrics. No traffic yet. `host` and `cfg` stay
 *                            valid until destroy.
 *   start(st)                begin work (receivers start accepting).
 *   consume(st, batch)       may run on several worker threads at once.
 *                            processors: edit `batch` in place (drop
 *                            profiles with kiln_profile_drop, change labels,
 *                            swap payloads) and return KILN_OK, or fail the
 *                            whole batch (KILN_EAGAIN: sender retries later;
 *                            KILN_ELIMIT / KILN_EINVAL: sender is told why).
 *                            exporters: take the batch durably (written, or
 *                            in the exporter's own persistent queue) and
 *                            return KILN_OK; a retriable error makes the core
 *                            retry with backoff (retry_on_failure); the
 *                            batch is read-only and must be kiln_batch_ref'd
 *                            if kept. Called on worker threads, possibly
 *                            concurrently (sending_queue.num_consumers).
 *   shutdown(st, deadline)   stop taking new work and finish what is in
 *                            flight by `deadline` (CLOCK_MONOTONIC ns).
 *   destroy(st)              free everything.
 *
 * Defining a plugin (the symbol is kiln_plugin_descriptor; the type is
 * kiln_plugin — C does not allow a variable named like a typedef):
 *   KILN_PLUGIN_DEFINE = {
 *       KILN_PLUGIN_HEADER, .kind = KILN_KIND_EXPORTER, .type = "debug", ...};
 */
#ifndef KILN_PLUGIN_H
#define KILN_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include <kiln/config.h>
#include <kiln/err.h>
#include <kiln/host.h>
#include <kiln/profile.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KILN_ABI_MAJOR 1
#define KILN_ABI_MINOR 0
#define KILN_PLUGIN_SYMBOL "kiln_plugin_descriptor"

typedef enum kiln_kind {
    KILN_KIND_RECEIVER = 1,
    KILN_KIND_PROCESSOR = 2,
    KILN_KIND_EXPORTER = 3,
    KILN_KIND_EXTENSION = 4
} kiln_kind;

const char *kiln_kind_name(kiln_kind k); /* "receiver", ... */

typedef struct kiln_plugin {
    /* must stay first, in this order, in every ABI version */
    uint32_t abi_major;
    uint32_t abi_minor;
    uint32_t desc_size; /* sizeof(kiln_plugin) the plugin was built with */

    kiln_kind kind;
    const char *type; /* "pprof", "debug" */
    const char *doc;  /* one paragraph for `kiln components` */

    const kiln_cfg_field *fields; /* ends with a {NULL} row; may be NULL */
    size_t cfg_size;              /* bytes of the config struct the table fills */

    int (*validate)(const void *cfg, const kiln_node *node, kiln_err *err);
    int (*create)(kiln_host *host, const void *cfg, void **state, kiln_err *err);
    int (*start)(void *state, kiln_err *err);
    int (*consume)(void *state, kiln_batch *batch, kiln_err *err);
    int (*shutdown)(void *state, int64_t deadline_mono_ns);
    void (*destroy)(void *state);
} kiln_plugin;

#define KILN_PLUGIN_HEADER                                                                         \
    .abi_major = KILN_ABI_MAJOR, .abi_minor = KILN_ABI_MINOR, .desc_size = sizeof(kiln_plugin)

#define KILN_PLUGIN_EXPORT __attribute__((visibility("default")))

/* Declares the plugin's descriptor; follow it with `= { ... };`. */
#define KILN_PLUGIN_DEFINE KILN_PLUGIN_EXPORT const kiln_plugin kiln_plugin_descriptor

#ifdef __cplusplus
}
#endif
#endif
