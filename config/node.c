/* config/node.c — reading a loaded kiln_node tree: lookup by key, kinds,
 * key positions, and the "file:line:col: path: message" error format.
 *
 * Memory: nothing is allocated; nodes belong to their tree (yaml_load.c).
 */
#include "kiln_config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const kiln_node *kiln_node_get(const kiln_node *map, const char *key)
{
    if (!map || map->kind != KILN_NODE_MAP || !key) return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->keys[i], key) == 0) return map->items[i];
    return NULL;
}

const char *kiln_node_kind_desc(const kiln_node *n)
{
    if (!n) return "nothing";
    switch (n->kind) {
    case KILN_NODE_MAP: return "a mapping";
    case KILN_NODE_SEQ: return "a list";
    case KILN_NODE_SCALAR: return "a scalar";
    default: return "nothing";
    }
}

void kiln_node_key_pos(const kiln_node *n, int *line, int *col)
{
    const kiln_knode *k = (const kiln_knode *)n;
    *line = n ? k->key_line : 0;
    *col = n ? k->key_col : 0;
}

static int vnode_err(kiln_err *err, const kiln_node *n, int line, int col, const char *fmt, va_list ap)
{
    char msg[KILN_ERR_MSG_MAX];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (!n) return kiln_err_set(err, KILN_EINVAL, "%s", msg);
    const char *file = n->file ? n->file : "<config>";
    if (n->path && *n->path)
        return kiln_err_set(err, KILN_EINVAL, "%s:%d:%d: %s: %s", file, line, col, n->path, msg);
    return kiln_err_set(err, KILN_EINVAL, "%s:%d:%d: %s", file, line, col, msg);
}

int kiln_node_err(kiln_err *err, const kiln_node *n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vnode_err(err, n, n ? n->line : 0, n ? n->col : 0, fmt, ap);
    va_end(ap);
    return rc;
}

int kiln_node_key_err(kiln_err *err, const kiln_node *n, const char *fmt, ...)
{
    int line = 0, col = 0;
    if (n) kiln_node_key_pos(n, &line, &col);
    va_list ap;
    va_start(ap, fmt);
    int rc = vnode_err(err, n, line, col, fmt, ap);
    va_end(ap);
    return rc;
}
