/* pipeline/cli.h — subcommands of the kiln binary (cli_*.c). Each returns
 * the process exit code and prints to stdout/stderr. */
#ifndef KILN_CORE_CLI_H
#define KILN_CORE_CLI_H

int kiln_cli_components(const char *plugin_dir);
int kiln_cli_validate(const char *config, const char *plugin_dir);
/* kiln blocks list|inspect|verify (pipeline/cli_blocks.c); argv starts after "blocks". */
int kiln_cli_blocks(int argc, char **argv, const char *plugin_dir);
/* kiln query top|tree|folded|pprof (pipeline/cli_query*.c); argv starts after "query". */
int kiln_cli_query(int argc, char **argv);

#endif
