/* pipeline/main.c — the kiln command line.
 *
 *   kiln --config FILE [--plugin-dir DIR]          run a pipeline
 *   kiln validate --config FILE [--plugin-dir DIR]  check a config, start nothing
 *   kiln components [--plugin-dir DIR]             list plugins and their fields
 *   kiln blocks list|inspect|verify --config FILE  the blocks in a store
 *   kiln query top|tree|folded|pprof --url URL     ask a running kiln or Pyroscope
 *   kiln --version
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core.h"
#include "log.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: kiln [--config FILE] [--plugin-dir DIR]   run the pipelines of FILE\n"
            "       kiln validate --config FILE [--plugin-dir DIR]\n"
            "       kiln components [--plugin-dir DIR]\n"
            "       kiln blocks list|inspect|verify --config FILE [--tenant T] [--block ID]\n"
            "       kiln query top|tree|folded|pprof [--url URL] [--query SEL] [--type ID]\n"
            "                  [--from T] [--until T] [--tenant T] [-o FILE]   (kiln query --help)\n"
            "       kiln --version\n");
}

int main(int argc, char **argv)
{
    const char *cmd = "run", *config = NULL, *plugin_dir = NULL;
    int i = 1;
    /* blocks has options of its own: hand it the rest of the line */
    if (argc > 1 && strcmp(argv[1], "blocks") == 0) return kiln_cli_blocks(argc - 2, argv + 2, NULL);
    if (argc > 1 && strcmp(argv[1], "query") == 0) return kiln_cli_query(argc - 2, argv + 2);
    if (argc > 1 && argv[1][0] != '-') cmd = argv[i++];
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--version") == 0 || strcmp(argv[i], "-v") == 0) {
            printf("kiln %s (plugin ABI %d.%d)\n", KILN_VERSION, KILN_ABI_MAJOR, KILN_ABI_MINOR);
            return 0;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if ((strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0) && i + 1 < argc) {
            config = argv[++i];
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            config = argv[i] + 9;
        } else if (strcmp(argv[i], "--plugin-dir") == 0 && i + 1 < argc) {
            plugin_dir = argv[++i];
        } else if (strncmp(argv[i], "--plugin-dir=", 13) == 0) {
            plugin_dir = argv[i] + 13;
        } else {
            fprintf(stderr, "kiln: unknown argument \"%s\"\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    char dir[4096];
    if (!plugin_dir) {
        if (kiln_loader_default_dir(dir, sizeof dir) != KILN_OK) {
            fprintf(stderr, "kiln: cannot find the plugin directory; pass --plugin-dir\n");
            return 2;
        }
        plugin_dir = dir;
    }
    if (strcmp(cmd, "components") == 0) return kiln_cli_components(plugin_dir);
    if (strcmp(cmd, "validate") == 0) {
        if (!config) {
            fprintf(stderr, "kiln validate: --config FILE is required\n");
            return 2;
        }
        return kiln_cli_validate(config, plugin_dir);
    }
    if (strcmp(cmd, "run") != 0) {
        fprintf(stderr, "kiln: unknown command \"%s\"\n", cmd);
        usage(stderr);
        return 2;
    }
    if (!config) config = "kiln.yaml";
    kiln_core core;
    kiln_err err;
    kiln_err_clear(&err);
    int rc = kiln_core_init(&core, plugin_dir, &err);
    if (rc == KILN_OK) {
        core.config_path = strdup(config);
        rc = kiln_core_run(&core, &err);
        if (rc < 0) kiln_core_log(KILN_LOG_ERROR, NULL, "%s", err.msg);
    } else {
        kiln_core_log(KILN_LOG_ERROR, NULL, "%s", err.msg);
    }
    kiln_core_fini(&core);
    return rc == 0 ? 0 : 1;
}
