/* pipeline/block_symtab.c — the symbol table of a block being built (a head
 * or a compaction): strings, mappings, functions, locations and the stack
 * tree, each deduplicated by content through a kb_map; and the encoding and
 * decoding of symbol chunks (FORMAT.md, "symbols.bin").
 *
 * Memory: the symtab owns its arrays (malloc) and an arena with string
 * bytes and location lines. A decoded kb_symchunk owns its arrays and the
 * raw bytes its strings point into (kb_symchunk_free).
 */
#include "block_internal.h"

const uint32_t kb_sym_per_chunk[KB_NSYM] = {4096, 1024, 4096, 4096, 16384};
const char *const kb_sym_names[KB_NSYM] = {"strings", "mappings", "functions", "locations",
                                           "stacks"};

#define GROW(arr, n, cap)                                                                          \
    do {                                                                                           \
        if ((n) == (cap)) {                                                                        \
            size_t nc_ = (cap) ? (cap) * 2 : 256;                                                  \
            void *np_ = realloc((arr), nc_ * sizeof *(arr));                                       \
            if (!np_) goto oom;                                                                    \
            (arr) = np_;                                                                           \
            (cap) = nc_;                                                                           \
        }                                                                                          \
    } while (0)

int kb_symtab_init(kb_symtab *s)
{
    memset(s, 0, sizeof *s);
    s->arena = kiln_arena_new(256 * 1024);
    s->cap_str = s->cap_map = s->cap_fn = s->cap_loc = s->cap_node = 256;
    s->str = malloc(s->cap_str * sizeof *s->str);
    s->str_len = malloc(s->cap_str * sizeof *s->str_len);
    s->map = calloc(s->cap_map, sizeof *s->map);
    s->fn = calloc(s->cap_fn, sizeof *s->fn);
    s->loc = calloc(s->cap_loc, sizeof *s->loc);
    s->node_parent = malloc(s->cap_node * sizeof *s->node_parent);
    s->node_loc = malloc(s->cap_node * sizeof *s->node_loc);
    if (!s->arena || !s->str || !s->str_len || !s->map || !s->fn || !s->loc || !s->node_parent ||
        !s->node_loc) {
        kb_symtab_free(s);
        return KILN_ENOMEM;
    }
    /* string 0 is "", the others' slot 0 is unused (id 0 means none) */
    s->str[0] = "";
    s->str_len[0] = 0;
    s->n_str = s->n_map = s->n_fn = s->n_loc = 1;
    s->node_parent[0] = s->node_loc[0] = 0;
    s->n_node = 1;
    return KILN_OK;
}

void kb_symtab_free(kb_symtab *s)
{
    kiln_arena_destroy(s->arena);
    free(s->str);
    free(s->str_len);
    free(s->map);
    free(s->fn);
    free(s->loc);
    free(s->node_parent);
    free(s->node_loc);
    kb_map_free(&s->str_map);
    kb_map_free(&s->map_map);
    kb_map_free(&s->fn_map);
    kb_map_free(&s->loc_map);
    free(s->node_tab);
    free(s->stack_tab);
    memset(s, 0, sizeof *s);
}

size_t kb_symtab_bytes(const kb_symtab *s)
{
    return kiln_arena_used(s->arena) + s->cap_str * (sizeof *s->str + sizeof *s->str_len) +
           s->cap_map * sizeof *s->map + s->cap_fn * sizeof *s->fn + s->cap_loc * sizeof *s->loc +
           s->cap_node * 8 + kb_map_bytes(&s->str_map) + kb_map_bytes(&s->map_map) +
           kb_map_bytes(&s->fn_map) + kb_map_bytes(&s->loc_map) + s->node_tab_cap * sizeof *s->node_tab + s->stack_tab_cap * sizeof *s->stack_tab;
}

/* ---- strings -------------------------------------------------------------------- */

typedef struct str_key {
    const kb_symtab *s;
    const char *p;
    size_t n;
} str_key;

static int str_eq(const void *ctx, uint32_t id)
{
    const str_key *k = ctx;
    uint32_t i = id - 1;
    return k->s->str_len[i] == k->n && memcmp(k->s->str[i], k->p, k->n) == 0;
}

uint32_t kb_sym_string(kb_symtab *s, const char *p, size_t n)
{
    if (n == 0) return 0;
    uint64_t h64 = kb_hash_bytes(p, n, 0x5354);
    uint32_t h = (uint32_t)h64;
    str_key k = {s, p, n};
    size_t slot;
    /* map ids are string id + 1 (0 is the map's empty marker) */
    uint32_t id = kb_map_find(&s->str_map, h, str_eq, &k, &slot);
    if (id) return id - 1;
    if (s->n_str >= UINT32_MAX - 2) return UINT32_MAX;
    char *copy = kiln_arena_strndup(s->arena, p, n);
    if (!copy) return UINT32_MAX;
    if (s->n_str == s->cap_str) {
        size_t nc = s->cap_str * 2;
        const char **ns = realloc(s->str, nc * sizeof *ns);
        if (!ns) return UINT32_MAX;
        s->str = ns;
        uint32_t *nl = realloc(s->str_len, nc * sizeof *nl);
        if (!nl) return UINT32_MAX;
        s->str_len = nl;
        s->cap_str = nc;
    }
    uint32_t sid = (uint32_t)s->n_str;
    s->str[sid] = copy;
    s->str_len[sid] = (uint32_t)n;
    if (kb_map_insert(&s->str_map, slot, h, sid + 1)) return UINT32_MAX;
    s->n_str++;
    return sid;
}

/* ---- mappings, functions -------------------------------------------------------------- */

static int map_eq(const void *ctx, uint32_t id)
{
    const void *const *c = ctx;
    const kb_symtab *s = c[0];
    const kb_mapping *m = c[1];
    return memcmp(&s->map[id], m, sizeof *m) == 0;
}

uint32_t kb_sym_mapping(kb_symtab *s, const kb_mapping *m0)
{
    kb_mapping m;
    memset(&m, 0, sizeof m); /* padding must compare equal */
    m.start = m0->start;
    m.limit = m0->limit;
    m.offset = m0->offset;
    m.filename = m0->filename;
    m.build_id = m0->build_id;
    m.flags = m0->flags;
    uint32_t h = (uint32_t)kb_hash_bytes(&m, sizeof m, 0x4d41);
    const void *ctx[2] = {s, &m};
    size_t slot;
    uint32_t id = kb_map_find(&s->map_map, h, map_eq, ctx, &slot);
    if (id) return id;
    GROW(s->map, s->n_map, s->cap_map);
    id = (uint32_t)s->n_map;
    s->map[id] = m;
    if (kb_map_insert(&s->map_map, slot, h, id)) return 0;
    s->n_map++;
    return id;
oom:
    return 0;
}

static int fn_eq(const void *ctx, uint32_t id)
{
    const void *const *c = ctx;
    const kb_symtab *s = c[0];
    const kb_function *f = c[1];
    const kb_function *g = &s->fn[id];
    return g->name == f->name && g->system_name == f->system_name && g->filename == f->filename &&
           g->start_line == f->start_line;
}

uint32_t kb_sym_function(kb_symtab *s, const kb_function *f)
{
    uint64_t k[3] = {(uint64_t)f->name << 32 | f->system_name, f->filename, (uint64_t)f->start_line};
    uint32_t h = (uint32_t)kb_hash_bytes(k, sizeof k, 0x464e);
    const void *ctx[2] = {s, f};
    size_t slot;
    uint32_t id = kb_map_find(&s->fn_map, h, fn_eq, ctx, &slot);
    if (id) return id;
    GROW(s->fn, s->n_fn, s->cap_fn);
    id = (uint32_t)s->n_fn;
    s->fn[id] = *f;
    if (kb_map_insert(&s->fn_map, slot, h, id)) return 0;
    s->n_fn++;
    return id;
oom:
    return 0;
}

/* ---- locations ------------------------------------------------------------------------- */

typedef struct loc_key {
    const kb_symtab *s;
    uint32_t mapping, n_lines;
    uint64_t address;
    int is_folded;
    const kiln_block_line *lines;
} loc_key;

static int loc_eq(const void *ctx, uint32_t id)
{
    const loc_key *k = ctx;
    const kb_location *l = &k->s->loc[id];
    if (l->mapping != k->mapping || l->address != k->address || l->n_lines != k->n_lines ||
        l->is_folded != k->is_folded)
        return 0;
    for (uint32_t i = 0; i < k->n_lines; i++)
        if (l->lines[i].function != k->lines[i].function || l->lines[i].line != k->lines[i].line)
            return 0;
    return 1;
}

uint32_t kb_sym_location(kb_symtab *s, uint32_t mapping, uint64_t address, int is_folded,
                         const kiln_block_line *lines, uint32_t n_lines)
{
    uint64_t h64 = kb_mix64(address ^ ((uint64_t)mapping << 40) ^ ((uint64_t)n_lines << 20) ^
                            (uint64_t)(is_folded != 0));
    for (uint32_t i = 0; i < n_lines; i++)
        h64 = kb_mix64(h64 ^ ((uint64_t)lines[i].function * 0x9E3779B97F4A7C15ULL) ^
                       (uint64_t)lines[i].line);
    uint32_t h = (uint32_t)h64;
    loc_key k = {s, mapping, n_lines, address, is_folded != 0, lines};
    size_t slot;
    uint32_t id = kb_map_find(&s->loc_map, h, loc_eq, &k, &slot);
    if (id) return id;
    GROW(s->loc, s->n_loc, s->cap_loc);
    kiln_block_line *copy = NULL;
    if (n_lines) {
        copy = kiln_arena_alloc(s->arena, n_lines * sizeof *copy);
        if (!copy) return 0;
        memcpy(copy, lines, n_lines * sizeof *copy);
    }
    id = (uint32_t)s->n_loc;
    s->loc[id] = (kb_location){mapping, n_lines, address, is_folded != 0, copy};
    if (kb_map_insert(&s->loc_map, slot, h, id)) return 0;
    s->n_loc++;
    return id;
oom:
    return 0;
}

/* ---- stack tree ------------------------------------------------------------------------ */

static inline size_t node_slot_hash(uint32_t parent, uint32_t loc)
{
    return (size_t)kb_mix64(((uint64_t)parent << 32 | loc) * 0x9E3779B97F4A7C15ULL);
}

static int node_tab_grow(kb_symtab *s)
{
    size_t nc = s->node_tab_cap ? s->node_tab_cap * 2 : 1024;
    struct kb_node_slot *nt = calloc(nc, sizeof *nt);
    if (!nt) return -1;
    for (size_t i = 0; i < s->node_tab_cap; i++) {
        const struct kb_node_slot *e = &s->node_tab[i];
        if (!e->id) continue;
        size_t j = node_slot_hash(e->parent, e->loc) & (nc - 1);
        while (nt[j].id) j = (j + 1) & (nc - 1);
        nt[j] = *e;
    }
    free(s->node_tab);
    s->node_tab = nt;
    s->node_tab_cap = nc;
    return 0;
}

uint32_t kb_sym_node(kb_symtab *s, uint32_t parent, uint32_t loc)
{
    if (s->n_node * 10 >= s->node_tab_cap * 7 && node_tab_grow(s)) return 0;
    size_t mask = s->node_tab_cap - 1, i = node_slot_hash(parent, loc) & mask;
    for (;;) {
        struct kb_node_slot *e = &s->node_tab[i];
        if (!e->id) break;
        if (e->parent == parent && e->loc == loc) return e->id;
        i = (i + 1) & mask;
    }
    if (s->n_node == s->cap_node) {
        size_t nc = s->cap_node * 2;
        uint32_t *np = realloc(s->node_parent, nc * sizeof *np);
        if (!np) return 0;
        s->node_parent = np;
        uint32_t *nl = realloc(s->node_loc, nc * sizeof *nl);
        if (!nl) return 0;
        s->node_loc = nl;
        s->cap_node = nc;
    }
    if (s->n_node >= UINT32_MAX - 1) return 0;
    uint32_t id = (uint32_t)s->n_node;
    s->node_parent[id] = parent;
    s->node_loc[id] = loc;
    s->node_tab[i] = (struct kb_node_slot){parent, loc, id, 0};
    s->n_node++;
    return id;
}

static void stack_hash(const uint32_t *locs, size_t n, uint64_t *h1, uint64_t *h2)
{
    uint64_t a = 0x243F6A8885A308D3ULL ^ n, b = 0x13198A2E03707344ULL + n;
    for (size_t i = 0; i < n; i++) {
        a = kb_mix64(a ^ ((uint64_t)locs[i] * 0x9E3779B97F4A7C15ULL));
        b = (b ^ locs[i]) * 0xff51afd7ed558ccdULL;
        b ^= b >> 29;
    }
    *h1 = a;
    *h2 = kb_mix64(b ^ 0xA4093822299F31D0ULL);
}

uint32_t kb_sym_stack_get(const kb_symtab *s, const uint32_t *locs, size_t n, uint64_t *h1,
                          uint64_t *h2)
{
    stack_hash(locs, n, h1, h2);
    if (!s->stack_tab_cap) return 0;
    size_t mask = s->stack_tab_cap - 1, i = (size_t)*h1 & mask;
    for (;;) {
        const struct kb_stack_slot *e = &s->stack_tab[i];
        if (!e->node) return 0;
        if (e->h1 == *h1 && e->h2 == *h2 && e->depth == n) return e->node;
        i = (i + 1) & mask;
    }
}

int kb_sym_stack_put(kb_symtab *s, uint64_t h1, uint64_t h2, size_t n, uint32_t node)
{
    if (!node || n > UINT32_MAX) return 0;
    if ((s->stack_tab_n + 1) * 10 >= s->stack_tab_cap * 7) {
        size_t nc = s->stack_tab_cap ? s->stack_tab_cap * 2 : 1024;
        struct kb_stack_slot *nt = calloc(nc, sizeof *nt);
        if (!nt) return -1;
        for (size_t i = 0; i < s->stack_tab_cap; i++) {
            const struct kb_stack_slot *e = &s->stack_tab[i];
            if (!e->node) continue;
            size_t j = (size_t)e->h1 & (nc - 1);
            while (nt[j].node) j = (j + 1) & (nc - 1);
            nt[j] = *e;
        }
        free(s->stack_tab);
        s->stack_tab = nt;
        s->stack_tab_cap = nc;
    }
    size_t mask = s->stack_tab_cap - 1, i = (size_t)h1 & mask;
    while (s->stack_tab[i].node) {
        if (s->stack_tab[i].h1 == h1 && s->stack_tab[i].h2 == h2 && s->stack_tab[i].depth == n) return 0;
        i = (i + 1) & mask;
    }
    s->stack_tab[i] = (struct kb_stack_slot){h1, h2, node, (uint32_t)n};
    s->stack_tab_n++;
    return 0;
}

/* ---- symbol chunks --------------------------------------------------------------------------
 * Raw layouts (before zstd), n = entries in the chunk, columns one after
 * another (FORMAT.md):
 *   strings:   n x uvarint length, then the bytes of all strings
 *   mappings:  n x (uv start, uv limit - start, uv offset, uv filename, uv build_id, uv flags)
 *   functions: n x uv name, n x uv system_name, n x uv filename, n x sv start_line
 *   locations: n x uv mapping, n x sv address delta (from the previous entry), n x uv flags
 *              (bit 0 is_folded), n x uv n_lines, then all lines: uv function, sv line
 *   stacks:    n x uv (id - parent), n x uv location
 */

void kb_symchunk_encode(const kb_symtab *s, int sec, uint32_t first, uint32_t n, kb_buf *o)
{
    switch (sec) {
    case KB_SYM_STRINGS:
        for (uint32_t i = 0; i < n; i++) kb_buf_uv(o, s->str_len[first + i]);
        for (uint32_t i = 0; i < n; i++) kb_buf_put(o, s->str[first + i], s->str_len[first + i]);
        break;
    case KB_SYM_MAPPINGS:
        for (uint32_t i = 0; i < n; i++) {
            const kb_mapping *m = &s->map[first + i];
            kb_buf_uv(o, m->start);
            kb_buf_uv(o, m->limit - m->start);
            kb_buf_uv(o, m->offset);
            kb_buf_uv(o, m->filename);
            kb_buf_uv(o, m->build_id);
            kb_buf_uv(o, m->flags);
        }
        break;
    case KB_SYM_FUNCTIONS:
        for (uint32_t i = 0; i < n; i++) kb_buf_uv(o, s->fn[first + i].name);
        for (uint32_t i = 0; i < n; i++) kb_buf_uv(o, s->fn[first + i].system_name);
        for (uint32_t i = 0; i < n; i++) kb_buf_uv(o, s->fn[first + i].filename);
        for (uint32_t i = 0; i < n; i++) kb_buf_sv(o, s->fn[first + i].start_line);
        break;
    case KB_SYM_LOCATIONS: {
        for (uint32_t i = 0; i < n; i++) kb_buf_uv(o, s->loc[first + i].mapping);
        uint64_t prev = 0;
        for (uint32_t i = 0; i < n; i++) {
            kb_buf_sv(o, (int64_t)(s->loc[first + i].address - prev));
            prev = s->loc[first + i].address;
        }
        for (uint32_t i = 0; i < n; i++) kb_buf_uv(o, (uint64_t)s->loc[first + i].is_folded);
        for (uint32_t i = 0; i < n; i++) kb_buf_uv(o, s->loc[first + i].n_lines);
        for (uint32_t i = 0; i < n; i++) {
            const kb_location *l = &s->loc[first + i];
            for (uint32_t j = 0; j < l->n_lines; j++) {
                kb_buf_uv(o, l->lines[j].function);
                kb_buf_sv(o, l->lines[j].line);
            }
        }
        break;
    }
    default:
        for (uint32_t i = 0; i < n; i++) kb_buf_uv(o, (first + i) - s->node_parent[first + i]);
        for (uint32_t i = 0; i < n; i++) kb_buf_uv(o, s->node_loc[first + i]);
        break;
    }
}

void kb_symchunk_free(kb_symchunk *c)
{
    if (!c) return;
    free(c->str);
    free(c->map);
    free(c->fn);
    free(c->loc);
    free(c->lines);
    free(c->parent);
    free(c->nloc);
    free(c->raw);
    memset(c, 0, sizeof *c);
}

#define CHUNK_BAD(what)                                                                            \
    do {                                                                                           \
        rc = kiln_err_set(err, KILN_EINVAL, "%s chunk at entry %u: %s", kb_sym_names[sec], first, \
                          what);                                                                   \
        goto fail;                                                                                 \
    } while (0)

int kb_symchunk_decode(int sec, const uint8_t *raw, size_t rlen, uint32_t first, uint32_t n,
                       kb_symchunk *c, kiln_err *err)
{
    int rc = KILN_OK;
    memset(c, 0, sizeof *c);
    c->first = first;
    c->n = n;
    kb_rd r;
    kb_rd_init(&r, raw, rlen);
    if (n > rlen) CHUNK_BAD("more entries than bytes");
    switch (sec) {
    case KB_SYM_STRINGS: {
        /* strings are copied with a NUL after each: a second buffer */
        uint64_t *lens = malloc((n ? n : 1) * sizeof *lens);
        if (!lens) goto oom;
        uint64_t total = 0;
        for (uint32_t i = 0; i < n; i++) {
            if (kb_rd_uvmax(&r, rlen, &lens[i])) {
                free(lens);
                CHUNK_BAD("bad string length");
            }
            total += lens[i];
        }
        if (total != kb_rd_left(&r)) {
            free(lens);
            CHUNK_BAD("string bytes do not add up");
        }
        c->raw = malloc(total + n + 1);
        c->str = malloc((n ? n : 1) * sizeof *c->str);
        if (!c->raw || !c->str) {
            free(lens);
            goto oom;
        }
        uint8_t *dst = c->raw;
        for (uint32_t i = 0; i < n; i++) {
            memcpy(dst, r.p, lens[i]);
            r.p += lens[i];
            dst[lens[i]] = 0;
            c->str[i] = (const char *)dst;
            dst += lens[i] + 1;
        }
        free(lens);
        if (first == 0 && n > 0 && c->str[0][0]) CHUNK_BAD("string 0 is not empty");
        break;
    }
    case KB_SYM_MAPPINGS:
        c->map = calloc(n ? n : 1, sizeof *c->map);
        if (!c->map) goto oom;
        for (uint32_t i = 0; i < n; i++) {
            uint64_t st, sz, off, fnm, bid, fl;
            if (kb_rd_uv(&r, &st) || kb_rd_uv(&r, &sz) || kb_rd_uv(&r, &off) ||
                kb_rd_uvmax(&r, UINT32_MAX, &fnm) || kb_rd_uvmax(&r, UINT32_MAX, &bid) ||
                kb_rd_uvmax(&r, 15, &fl))
                CHUNK_BAD("bad mapping");
            c->map[i] = (kb_mapping){st, st + sz, off, (uint32_t)fnm, (uint32_t)bid, (uint32_t)fl};
        }
        break;
    case KB_SYM_FUNCTIONS:
        c->fn = calloc(n ? n : 1, sizeof *c->fn);
        if (!c->fn) goto oom;
        for (int col = 0; col < 3; col++)
            for (uint32_t i = 0; i < n; i++) {
                uint64_t v;
                if (kb_rd_uvmax(&r, UINT32_MAX, &v)) CHUNK_BAD("bad function string id");
                if (col == 0) c->fn[i].name = (uint32_t)v;
                else if (col == 1) c->fn[i].system_name = (uint32_t)v;
                else c->fn[i].filename = (uint32_t)v;
            }
        for (uint32_t i = 0; i < n; i++)
            if (kb_rd_sv(&r, &c->fn[i].start_line)) CHUNK_BAD("bad function start line");
        break;
    case KB_SYM_LOCATIONS: {
        c->loc = calloc(n ? n : 1, sizeof *c->loc);
        if (!c->loc) goto oom;
        for (uint32_t i = 0; i < n; i++) {
            uint64_t v;
            if (kb_rd_uvmax(&r, UINT32_MAX, &v)) CHUNK_BAD("bad location mapping");
            c->loc[i].mapping = (uint32_t)v;
        }
        uint64_t prev = 0;
        for (uint32_t i = 0; i < n; i++) {
            int64_t d;
            if (kb_rd_sv(&r, &d)) CHUNK_BAD("bad location address");
            prev += (uint64_t)d;
            c->loc[i].address = prev;
        }
        for (uint32_t i = 0; i < n; i++) {
            uint64_t v;
            if (kb_rd_uvmax(&r, 1, &v)) CHUNK_BAD("bad location flags");
            c->loc[i].is_folded = (int)v;
        }
        uint64_t total = 0;
        for (uint32_t i = 0; i < n; i++) {
            uint64_t v;
            if (kb_rd_uvmax(&r, rlen, &v)) CHUNK_BAD("bad line count");
            c->loc[i].n_lines = (uint32_t)v;
            total += v;
        }
        if (total * 2 > kb_rd_left(&r)) CHUNK_BAD("line counts exceed the chunk");
        c->lines = malloc((total ? total : 1) * sizeof *c->lines);
        if (!c->lines) goto oom;
        uint64_t k = 0;
        for (uint32_t i = 0; i < n; i++) {
            c->loc[i].lines = c->lines + k;
            for (uint32_t j = 0; j < c->loc[i].n_lines; j++, k++) {
                uint64_t f;
                if (kb_rd_uvmax(&r, UINT32_MAX, &f) || kb_rd_sv(&r, &c->lines[k].line))
                    CHUNK_BAD("bad line");
                c->lines[k].function = (uint32_t)f;
            }
        }
        break;
    }
    default:
        c->parent = malloc((n ? n : 1) * sizeof *c->parent);
        c->nloc = malloc((n ? n : 1) * sizeof *c->nloc);
        if (!c->parent || !c->nloc) goto oom;
        for (uint32_t i = 0; i < n; i++) {
            uint64_t d;
            uint64_t id = (uint64_t)first + i;
            if (kb_rd_uv(&r, &d) || d == 0 || d > id) CHUNK_BAD("bad stack parent");
            c->parent[i] = (uint32_t)(id - d);
        }
        for (uint32_t i = 0; i < n; i++) {
            uint64_t v;
            if (kb_rd_uvmax(&r, UINT32_MAX, &v) || v == 0) CHUNK_BAD("bad stack location");
            c->nloc[i] = (uint32_t)v;
        }
        break;
    }
    if (r.bad) CHUNK_BAD("truncated");
    if (kb_rd_left(&r)) CHUNK_BAD("trailing bytes");
    return KILN_OK;
oom:
    rc = kiln_err_set(err, KILN_ENOMEM, "out of memory decoding a %s chunk", kb_sym_names[sec]);
fail:
    kb_symchunk_free(c);
    return rc;
}
