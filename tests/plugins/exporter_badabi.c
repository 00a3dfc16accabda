/* tests/plugins/exporter_badabi.c — a plugin built for a future ABI, so the
 * loader's refusal can be tested. */
#include <kiln/kiln.h>

static int bad_create(kiln_host *h, const void *cfg, void **st, kiln_err *err) { return KILN_ERR; }
static void bad_destroy(void *st) {}

KILN_PLUGIN_DEFINE = {
    .abi_major = KILN_ABI_MAJOR + 1,
    .abi_minor = 0,
    .desc_size = sizeof(kiln_plugin),
    .kind = KILN_KIND_EXPORTER,
    .type = "badabi",
    .create = bad_create,
    .destroy = bad_destroy,
};
