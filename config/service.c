/* config/service.c — the whole config file: component sections, the service
 * section (pipelines, telemetry, limits, extensions), structural checks and
 * warnings. Per-component fields are checked later by the core
 * (kiln_cfg_apply with each plugin's table).
 *
 * Memory: the kiln_config, its arrays and strings all live in the arena of
 * its YAML tree; kiln_config_free destroys the tree and with it everything.
 * Scratch hash tables are malloc'ed and freed before returning.
 */
#include "kiln_config.h"
#include "strtab.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <kiln/host.h>
#include <kiln/plugin.h>

/* ---- tables for the service section ------------------------------------------------ */

typedef struct service_cfg {
    const kiln_node *pipelines, *telemetry, *extensions;
    int64_t memory_limit, shutdown_timeout, workers;
} service_cfg;

static const kiln_cfg_field service_fields[] = {
    {"pipelines", KILN_CFG_NODE, NULL, offsetof(service_cfg, pipelines),
     "the pipelines: profiles or profiles/<name>, each with receivers, processors, exporters",
     KILN_CFG_REQUIRED, 0, 0, NULL},
    {"telemetry", KILN_CFG_NODE, NULL, offsetof(service_cfg, telemetry),
     "kiln's own logs (logs.level) and metrics (metrics.address)", 0, 0, 0, NULL},
    {"extensions", KILN_CFG_NODE, NULL, offsetof(service_cfg, extensions),
     "ids of the extensions to enable", 0, 0, 0, NULL},
    {"memory_limit", KILN_CFG_BYTES, "512MiB", offsetof(service_cfg, memory_limit),
     "profile data held in flight before receivers refuse with 429", 0, 0, 0, NULL},
    {"shutdown_timeout", KILN_CFG_DURATION, "30s", offsetof(service_cfg, shutdown_timeout),
     "how long SIGTERM waits for in-flight data to drain", 0, 0, -1, NULL},
    {"workers", KILN_CFG_INT, "0", offsetof(service_cfg, workers),
     "worker threads for CPU work; 0: one per core", 0, 0, 4096, NULL},
    {NULL, 0, NULL, 0, NULL, 0, 0, 0, NULL},
};

typedef struct telemetry_cfg {
    int level;
    char *address;
} telemetry_cfg;

/* word order = KILN_LOG_ERROR, WARN, INFO, DEBUG */
static const kiln_cfg_field telemetry_fields[] = {
    {"logs.level", KILN_CFG_ENUM, "info", offsetof(telemetry_cfg, level), "lowest level logged", 0, 0,
     0, "error|warn|info|debug"},
    {"metrics.address", KILN_CFG_STRING, ":8888", offsetof(telemetry_cfg, address),
     "host:port of kiln's own /metrics, /healthz and /ready", 0, 0, 0, NULL},
    {NULL, 0, NULL, 0, NULL, 0, 0, 0, NULL},
};

typedef struct pipeline_cfg {
    const kiln_node *receivers, *processors, *exporters;
} pipeline_cfg;

static const kiln_cfg_field pipeline_fields[] = {
    {"receivers", KILN_CFG_NODE, NULL, offsetof(pipeline_cfg, receivers), "receiver ids",
     KILN_CFG_REQUIRED, 0, 0, NULL},
    {"processors", KILN_CFG_NODE, NULL, offsetof(pipeline_cfg, processors),
     "processor ids, applied in order", 0, 0, 0, NULL},
    {"exporters", KILN_CFG_NODE, NULL, offsetof(pipeline_cfg, exporters), "exporter ids",
     KILN_CFG_REQUIRED, 0, 0, NULL},
    {NULL, 0, NULL, 0, NULL, 0, 0, 0, NULL},
};

static const struct {
    const char *key;
    int kind;
    const char *singular;
} sections[] = {
    {"receivers", KILN_KIND_RECEIVER, "receiver"},
    {"processors", KILN_KIND_PROCESSOR, "processor"},
    {"exporters", KILN_KIND_EXPORTER, "exporter"},
    {"extensions", KILN_KIND_EXTENSION, "extension"},
};
#define N_SECTIONS (sizeof sections / sizeof sections[0])

static int section_of_kind(int kind)
{
    for (size_t i = 0; i < N_SECTIONS; i++)
        if (sections[i].kind == kind) return (int)i;
    return -1;
}

/* ---- ids ------------------------------------------------------------------------------ */

static int is_lower(char ch) { return ch >= 'a' && ch <= 'z'; }
static int is_digit(char ch) { return ch >= '0' && ch <= '9'; }
static int name_char(char ch)
{
    return is_lower(ch) || is_digit(ch) || (ch >= 'A' && ch <= 'Z') || ch == '_' || ch == '.' ||
           ch == '-';
}

/* NULL when `id` is a valid type[/name], else why not. */
static const char *id_problem(const char *id)
{
    size_t n = strlen(id);
    if (n == 0) return "an id must not be empty";
    if (n > KILN_CONFIG_MAX_ID) return "an id must be at most 256 bytes";
    const char *slash = strchr(id, '/');
    size_t tl = slash ? (size_t)(slash - id) : n;
    if (tl == 0 || !is_lower(id[0])) return "the type must match [a-z][a-z0-9_]*";
    for (size_t i = 1; i < tl; i++)
        if (!is_lower(id[i]) && !is_digit(id[i]) && id[i] != '_')
            return "the type must match [a-z][a-z0-9_]*";
    if (!slash) return NULL;
    if (!slash[1]) return "the name after \"/\" must not be empty";
    for (const char *p = slash + 1; *p; p++)
        if (!name_char(*p)) return "the name after \"/\" may only hold letters, digits, '_', '.' and '-'";
    return NULL;
}

/* ---- building ------------------------------------------------------------------------------ */

typedef struct build {
    kiln_config *c;
    kiln_arena *a;
    kiln_strtab ids[N_SECTIONS]; /* id -> kiln_config_component* */
    kiln_err *err;
} build;

static int nomem(build *b)
{
    return kiln_err_set(b->err, KILN_ENOMEM, "%s: out of memory loading the config", b->c->path);
}

static void *balloc(build *b, size_t n) { return kiln_arena_calloc(b->a, n ? n : 1); }

static int add_components(build *b, size_t sec, const kiln_node *map)
{
    kiln_config *c = b->c;
    if (map->kind == KILN_NODE_NULL) return KILN_OK;
    if (map->kind != KILN_NODE_MAP)
        return kiln_node_err(b->err, map, "expected a mapping of %s ids to their settings, got %s",
                             sections[sec].singular, kiln_node_kind_desc(map));
    for (size_t i = 0; i < map->n; i++) {
        const char *id = map->keys[i];
        const kiln_node *body = map->items[i];
        const char *why = id_problem(id);
        if (why) return kiln_node_key_err(b->err, body, "bad component id \"%.64s\": %s", id, why);
        if (body->kind != KILN_NODE_MAP && body->kind != KILN_NODE_NULL)
            return kiln_node_err(b->err, body, "expected the %s's settings as a mapping, got %s",
                                 sections[sec].singular, kiln_node_kind_desc(body));
        kiln_config_component *k = &c->components[c->n_components++];
        const char *slash = strchr(id, '/');
        k->kind = sections[sec].kind;
        k->id = map->keys[i];
        k->type = kiln_arena_strndup(b->a, id, slash ? (size_t)(slash - id) : strlen(id));
        k->name = kiln_arena_strndup(b->a, slash ? slash + 1 : "", slash ? strlen(slash + 1) : 0);
        if (!k->type || !k->name) return nomem(b);
        k->node = body->kind == KILN_NODE_MAP ? body : NULL;
        k->decl = body;
        if (kiln_strtab_put(&b->ids[sec], k->id, k, NULL) < 0) return nomem(b);
    }
    return KILN_OK;
}

/* Resolves a list of ids (`list`, under `what`) against section `sec`,
 * marking them used. *out gets the ids (arena), *n their count. */
static int resolve_list(build *b, size_t sec, const kiln_node *list, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!list || list->kind == KILN_NODE_NULL) return KILN_OK;
    if (list->kind != KILN_NODE_SEQ)
        return kiln_node_err(b->err, list, "expected a list of %s ids, got %s", sections[sec].singular,
                             kiln_node_kind_desc(list));
    char **ids = balloc(b, list->n * sizeof *ids);
    if (!ids) return nomem(b);
    kiln_strtab seen = {0};
    int rc = KILN_OK;
    for (size_t i = 0; i < list->n && !rc; i++) {
        const kiln_node *it = list->items[i];
        if (it->kind != KILN_NODE_SCALAR) {
            rc = kiln_node_err(b->err, it, "expected a %s id, got %s", sections[sec].singular,
                               kiln_node_kind_desc(it));
            break;
        }
        const char *why = id_problem(it->scalar);
        if (why) {
            rc = kiln_node_err(b->err, it, "bad component id \"%.64s\": %s", it->scalar, why);
            break;
        }
        kiln_config_component *k = kiln_strtab_get(&b->ids[sec], it->scalar);
        if (!k) {
            rc = kiln_node_err(b->err, it, "%s \"%.64s\" is not defined under %s", sections[sec].singular,
                               it->scalar, sections[sec].key);
            break;
        }
        const kiln_node *first = kiln_strtab_get(&seen, it->scalar);
        if (first) {
            rc = kiln_node_err(b->err, it, "%s \"%.64s\" is listed twice (also at line %d, column %d)",
                               sections[sec].singular, it->scalar, first->line, first->col);
            break;
        }
        if (kiln_strtab_put(&seen, it->scalar, (void *)it, NULL) < 0) {
            rc = nomem(b);
            break;
        }
        k->used = 1;
        ids[i] = k->id;
    }
    kiln_strtab_free(&seen);
    if (rc) return rc;
    *out = ids;
    *n = list->n;
    return KILN_OK;
}

/* NULL when `id` is a valid pipeline id, else why not. */
static const char *pipeline_id_problem(const char *id)
{
    const char *slash = strchr(id, '/');
    size_t sl = slash ? (size_t)(slash - id) : strlen(id);
    if (sl == 8 && strncmp(id, "profiles", 8) == 0) {
        if (!slash) return NULL;
        if (!slash[1]) return "the name after \"profiles/\" must not be empty";
        if (strlen(slash + 1) > KILN_CONFIG_MAX_ID) return "the name is longer than 256 bytes";
        for (const char *p = slash + 1; *p; p++)
            if (!name_char(*p)) return "the name after \"/\" may only hold letters, digits, '_', '.' and '-'";
        return NULL;
    }
    static const char *const other[] = {"traces", "metrics", "logs"};
    for (size_t i = 0; i < 3; i++)
        if (sl == strlen(other[i]) && strncmp(id, other[i], sl) == 0)
            return "kiln handles profiles only: name pipelines profiles or profiles/<name>";
    return "a pipeline id must be profiles or profiles/<name>";
}

static int add_pipelines(build *b, const kiln_node *pipes)
{
    kiln_config *c = b->c;
    if (pipes->kind != KILN_NODE_MAP)
        return kiln_node_err(b->err, pipes, "expected a mapping of pipelines, got %s",
                             kiln_node_kind_desc(pipes));
    if (pipes->n == 0) return kiln_node_err(b->err, pipes, "at least one pipeline is required");
    c->pipelines = balloc(b, pipes->n * sizeof *c->pipelines);
    if (!c->pipelines) return nomem(b);
    for (size_t i = 0; i < pipes->n; i++) {
        const char *id = pipes->keys[i];
        const kiln_node *body = pipes->items[i];
        const char *why = pipeline_id_problem(id);
        if (why) return kiln_node_key_err(b->err, body, "bad pipeline id \"%.64s\": %s", id, why);
        if (body->kind == KILN_NODE_NULL)
            return kiln_node_key_err(b->err, body, "a pipeline needs receivers and exporters");
        pipeline_cfg pc;
        memset(&pc, 0, sizeof pc);
        int rc = kiln_cfg_apply(pipeline_fields, body, &pc, b->err);
        if (rc) return rc;
        kiln_config_pipeline *p = &c->pipelines[c->n_pipelines];
        p->id = pipes->keys[i];
        p->node = body;
        int rsec = section_of_kind(KILN_KIND_RECEIVER), psec = section_of_kind(KILN_KIND_PROCESSOR),
            esec = section_of_kind(KILN_KIND_EXPORTER);
        if ((rc = resolve_list(b, (size_t)rsec, pc.receivers, &p->receivers, &p->n_receivers)) ||
            (rc = resolve_list(b, (size_t)psec, pc.processors, &p->processors, &p->n_processors)) ||
            (rc = resolve_list(b, (size_t)esec, pc.exporters, &p->exporters, &p->n_exporters)))
            return rc;
        if (p->n_receivers == 0)
            return kiln_node_err(b->err, pc.receivers, "a pipeline needs at least one receiver");
        if (p->n_exporters == 0)
            return kiln_node_err(b->err, pc.exporters, "a pipeline needs at least one exporter");
        c->n_pipelines++;
    }
    return KILN_OK;
}

static int add_warning(build *b, const kiln_config_component *k, const char *what)
{
    kiln_config *c = b->c;
    int line, col;
    kiln_node_key_pos(k->decl, &line, &col);
    size_t need = strlen(k->decl->file) + strlen(k->decl->path) + 2 * strlen(k->id) + strlen(what) + 96;
    char *w = balloc(b, need);
    if (!w) return nomem(b);
    snprintf(w, need, "%s:%d:%d: %s: %s \"%s\" is defined but %s", k->decl->file, line, col,
             k->decl->path, sections[section_of_kind(k->kind)].singular, k->id, what);
    c->warnings[c->n_warnings++] = w;
    return KILN_OK;
}

static int build_config(kiln_node *root, kiln_config **out, kiln_err *err)
{
    build b;
    memset(&b, 0, sizeof b);
    b.err = err;
    b.a = kiln_yaml_arena(root);
    kiln_config *c = kiln_arena_calloc(b.a, sizeof *c);
    if (!c) return kiln_err_set(err, KILN_ENOMEM, "%s: out of memory loading the config", root->file);
    b.c = c;
    c->root = root;
    c->path = (char *)root->file;
    int rc = KILN_OK;
    const kiln_node *service = NULL;

    if (root->kind == KILN_NODE_NULL) {
        rc = kiln_err_set(err, KILN_EINVAL, "%s: the config is empty; it needs at least service.pipelines",
                          root->file);
        goto out;
    }
    if (root->kind != KILN_NODE_MAP) {
        rc = kiln_node_err(err, root,
                           "expected a mapping with receivers, processors, exporters, extensions and "
                           "service, got %s",
                           kiln_node_kind_desc(root));
        goto out;
    }
    /* top-level keys; count components first */
    size_t total = 0;
    for (size_t i = 0; i < root->n; i++) {
        int known = 0;
        for (size_t s = 0; s < N_SECTIONS; s++)
            if (strcmp(root->keys[i], sections[s].key) == 0) {
                known = 1;
                if (root->items[i]->kind == KILN_NODE_MAP) total += root->items[i]->n;
            }
        if (strcmp(root->keys[i], "service") == 0) {
            known = 1;
            service = root->items[i];
        }
        if (!known) {
            rc = kiln_node_key_err(err, root->items[i],
                                   "unknown top-level key%s; valid keys: receivers, processors, "
                                   "exporters, extensions, service",
                                   strcmp(root->keys[i], "connectors") == 0 ? " (kiln has no connectors)"
                                                                            : "");
            goto out;
        }
    }
    c->components = balloc(&b, total * sizeof *c->components);
    if (!c->components) {
        rc = nomem(&b);
        goto out;
    }
    for (size_t i = 0; i < root->n; i++)
        for (size_t s = 0; s < N_SECTIONS; s++)
            if (strcmp(root->keys[i], sections[s].key) == 0 &&
                (rc = add_components(&b, s, root->items[i])))
                goto out;

    /* service */
    if (!service) {
        rc = kiln_err_set(err, KILN_EINVAL,
                          "%s: no service section; a config needs service.pipelines (see config/README.md)",
                          root->file);
        goto out;
    }
    if (service->kind == KILN_NODE_NULL) {
        rc = kiln_node_key_err(err, service, "a config needs service.pipelines");
        goto out;
    }
    service_cfg sc;
    memset(&sc, 0, sizeof sc);
    if ((rc = kiln_cfg_apply(service_fields, service, &sc, err))) goto out;
    c->memory_limit = sc.memory_limit;
    c->shutdown_timeout = sc.shutdown_timeout;
    c->workers = sc.workers;

    telemetry_cfg tc;
    memset(&tc, 0, sizeof tc);
    if ((rc = kiln_cfg_apply(telemetry_fields, sc.telemetry, &tc, err))) goto out;
    c->log_level = tc.level;
    c->metrics_address = kiln_arena_strndup(b.a, tc.address ? tc.address : "", tc.address ? strlen(tc.address) : 0);
    kiln_cfg_free(telemetry_fields, &tc);
    if (!c->metrics_address) {
        rc = nomem(&b);
        goto out;
    }

    if ((rc = add_pipelines(&b, sc.pipelines))) goto out;
    if ((rc = resolve_list(&b, (size_t)section_of_kind(KILN_KIND_EXTENSION), sc.extensions,
                           &c->extensions, &c->n_extensions)))
        goto out;

    /* warnings: the loader's (unset env vars), then unused components */
    size_t n_env = 0;
    char *const *env_w = kiln_yaml_warnings(root, &n_env);
    c->warnings = balloc(&b, (n_env + c->n_components) * sizeof *c->warnings);
    if (!c->warnings) {
        rc = nomem(&b);
        goto out;
    }
    for (size_t i = 0; i < n_env; i++) c->warnings[c->n_warnings++] = env_w[i];
    for (size_t i = 0; i < c->n_components; i++) {
        const kiln_config_component *k = &c->components[i];
        if (k->used) continue;
        rc = add_warning(&b, k,
                         k->kind == KILN_KIND_EXTENSION ? "not listed in service.extensions"
                                                        : "not used by any pipeline");
        if (rc) goto out;
    }
out:
    for (size_t s = 0; s < N_SECTIONS; s++) kiln_strtab_free(&b.ids[s]);
    if (rc) return rc;
    *out = c;
    return KILN_OK;
}

int kiln_config_load_string(const char *name, const char *yaml, size_t len, kiln_config **out,
                            kiln_err *err)
{
    *out = NULL;
    kiln_node *root = NULL;
    int rc = kiln_yaml_load_string(name, yaml, len, &root, err);
    if (rc) return rc;
    rc = build_config(root, out, err);
    if (rc) kiln_yaml_free(root);
    return rc;
}

int kiln_config_load(const char *path, kiln_config **out, kiln_err *err)
{
    *out = NULL;
    kiln_node *root = NULL;
    int rc = kiln_yaml_load_file(path, &root, err);
    if (rc) return rc;
    rc = build_config(root, out, err);
    if (rc) kiln_yaml_free(root);
    return rc;
}

void kiln_config_free(kiln_config *c)
{
    if (c) kiln_yaml_free(c->root); /* c lives in the tree's arena */
}

const kiln_config_component *kiln_config_find(const kiln_config *c, int kind, const char *id)
{
    if (!c || !id) return NULL;
    for (size_t i = 0; i < c->n_components; i++)
        if (c->components[i].kind == kind && strcmp(c->components[i].id, id) == 0)
            return &c->components[i];
    return NULL;
}
