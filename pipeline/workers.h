/* pipeline/workers.h — a fixed pool of worker threads running tasks.
 *
 * Tasks are (fn, arg) pairs run in FIFO order by any free worker. The
 * queue itself is unbounded: admission control happens before work is
 * queued (kiln_runtime's submit checks the memory budget and exporter
 * queues). kiln_workers_free runs every queued task, then joins.
 */
#ifndef KILN_CORE_WORKERS_H
#define KILN_CORE_WORKERS_H

#include <stddef.h>

typedef struct kiln_workers kiln_workers;

/* n == 0: one per online CPU. NULL on failure. */
kiln_workers *kiln_workers_new(size_t n);
/* Queues fn(arg). Thread-safe. KILN_OK or KILN_ENOMEM / KILN_ECANCELED. */
int kiln_workers_add(kiln_workers *w, void (*fn)(void *), void *arg);
/* Finishes queued tasks, joins the threads, frees. */
void kiln_workers_free(kiln_workers *w);
size_t kiln_workers_count(const kiln_workers *w);
/* Tasks queued and running now. */
size_t kiln_workers_backlog(kiln_workers *w);

#endif
