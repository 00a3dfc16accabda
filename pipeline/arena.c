/* pipeline/arena.c — bump allocator (see include/kiln/arena.h).
 *
 * Chunks form a singly linked list, newest first. An allocation that does
 * not fit the current chunk opens a new one of twice the previous size
 * (at least the request), so a decode of an N-byte profile costs
 * O(log N) mallocs.
 */
#include <kiln/arena.h>

#include <protobuf-c/protobuf-c.h>
#include <stdlib.h>
#include <string.h>

typedef struct chunk {
    struct chunk *next;
    size_t cap, used;
    _Alignas(16) unsigned char data[];
} chunk;

struct kiln_arena {
    chunk *head;
    size_t next_size;
    size_t total; /* bytes handed out */
    ProtobufCAllocator pc;
};

static chunk *chunk_new(size_t cap)
{
    chunk *c = malloc(sizeof(chunk) + cap);
    if (!c) return NULL;
    c->next = NULL;
    c->cap = cap;
    c->used = 0;
    return c;
}

static void *pc_alloc(void *ud, size_t n) { return kiln_arena_alloc((kiln_arena *)ud, n); }
static void pc_free(void *ud, void *p) {}

kiln_arena *kiln_arena_new(size_t first_chunk)
{
    kiln_arena *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->next_size = first_chunk ? first_chunk : 64 * 1024;
    a->pc.alloc = pc_alloc;
    a->pc.free = pc_free;
    a->pc.allocator_data = a;
    return a;
}

void kiln_arena_destroy(kiln_arena *a)
{
    if (!a) return;
    chunk *c = a->head;
    while (c) {
        chunk *n = c->next;
        free(c);
        c = n;
    }
    free(a);
}

void kiln_arena_reset(kiln_arena *a)
{
    chunk *keep = NULL, *c = a->head;
    while (c) {
        chunk *n = c->next;
        if (!keep || c->cap > keep->cap) {
            if (keep) free(keep);
            keep = c;
        } else {
            free(c);
        }
        c = n;
    }
    if (keep) {
        keep->next = NULL;
        keep->used = 0;
    }
    a->head = keep;
    a->total = 0;
}

void *kiln_arena_alloc(kiln_arena *a, size_t n)
{
    size_t need = (n + 15) & ~(size_t)15;
    if (need < n) return NULL; /* overflow */
    chunk *c = a->head;
    if (!c || c->cap - c->used < need) {
        size_t cap = a->next_size;
        while (cap < need) cap *= 2;
        chunk *nc = chunk_new(cap);
        if (!nc) return NULL;
        if (a->next_size < ((size_t)64 << 20)) a->next_size *= 2;
        /* keep the fuller chunk out of the way: new chunk becomes head */
        nc->next = c;
        a->head = c = nc;
    }
    void *p = c->data + c->used;
    c->used += need;
    a->total += need;
    return p;
}

void *kiln_arena_calloc(kiln_arena *a, size_t n)
{
    void *p = kiln_arena_alloc(a, n);
    if (p) memset(p, 0, n);
    return p;
}

char *kiln_arena_strndup(kiln_arena *a, const char *s, size_t n)
{
    char *p = kiln_arena_alloc(a, n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

size_t kiln_arena_used(const kiln_arena *a) { return a->total; }

void *kiln_arena_pc_allocator(kiln_arena *a) { return &a->pc; }
