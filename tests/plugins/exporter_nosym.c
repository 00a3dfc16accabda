/* tests/plugins/exporter_nosym.c — a shared object without the kiln_plugin
 * symbol, so the loader's refusal can be tested. */
__attribute__((visibility("default"))) int kiln_not_a_plugin = 1;
