/* pipeline/cli_components.c — `kiln components` and `kiln validate`. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "core.h"

static void print_fields(const kiln_cfg_field *f)
{
    for (; f && f->name; f++) {
        const char *def = f->def ? f->def : "";
        if (f->flags & KILN_CFG_SECRET && f->def) def = "(secret)";
        printf("    %-36s %-9s %-14s %s%s", f->name, kiln_cfg_type_name(f->type),
               *def ? def : (f->flags & KILN_CFG_REQUIRED ? "(required)" : "-"), f->doc ? f->doc : "",
               f->enum_values ? " [" : "");
        if (f->enum_values) printf("%s]", f->enum_values);
        putchar('\n');
    }
}

static void on_plugin(const kiln_plugin *p, const char *file, void *arg)
{
    const char *base = strrchr(file, '/');
    printf("%s %s  (%s, ABI %u.%u)\n", kiln_kind_name(p->kind), p->type, base ? base + 1 : file,
           p->abi_major, p->abi_minor);
    if (p->doc) printf("  %s\n", p->doc);
    printf("  fields:\n");
    print_fields(p->fields);
    if (p->kind == KILN_KIND_EXPORTER) print_fields(kiln_exporter_core_fields());
    putchar('\n');
}

static void on_error(const char *file, const kiln_err *err, void *arg)
{
    fprintf(stderr, "kiln components: %s\n", err->msg);
    (*(int *)arg)++;
}

int kiln_cli_components(const char *plugin_dir)
{
    kiln_loader *l = kiln_loader_new(plugin_dir);
    if (!l) return 1;
    int errors = 0;
    printf("plugins in %s\n\n", plugin_dir);
    int rc = kiln_loader_scan(l, on_plugin, on_error, &errors);
    if (rc == KILN_ENOTFOUND) fprintf(stderr, "kiln components: cannot read %s\n", plugin_dir);
    kiln_loader_free(l);
    return rc == KILN_OK && errors == 0 ? 0 : 1;
}

int kiln_cli_validate(const char *config, const char *plugin_dir)
{
    kiln_core core;
    memset(&core, 0, sizeof core);
    core.loader = kiln_loader_new(plugin_dir);
    if (!core.loader) return 1;
    kiln_config *cfg = NULL;
    kiln_err err;
    kiln_err_clear(&err);
    int rc = kiln_config_load(config, &cfg, &err);
    if (rc == KILN_OK) rc = kiln_graph_build(&core, cfg, 0, NULL, &err);
    if (rc != KILN_OK) {
        fprintf(stderr, "%s\n", err.msg);
    } else {
        for (size_t i = 0; i < cfg->n_warnings; i++) fprintf(stderr, "warning: %s\n", cfg->warnings[i]);
        printf("%s: valid (%zu pipelines, %zu components)\n", config, cfg->n_pipelines, cfg->n_components);
    }
    if (cfg) kiln_config_free(cfg);
    kiln_loader_free(core.loader);
    return rc == KILN_OK ? 0 : 1;
}
