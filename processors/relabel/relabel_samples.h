/* processors/relabel/relabel_samples.h — the relabel processor's options that
 * change the profile data itself (they decode the payload):
 *
 *   drop_sample_types / keep_sample_types  remove value columns by sample type name
 *   drop_frames / keep_frames              pprof's Profile.Prune: cut each stack at the
 *                                          first frame (from the root) whose simplified
 *                                          function name fully matches drop_frames and not
 *                                          keep_frames, keeping the part toward the root
 *   drop_sample_labels                     remove pprof sample labels by key
 *   max_stack_depth                        truncate longer stacks (root side kept, as
 *                                          Pyroscope does; or the leaf side)
 *
 * The source model is shared and never written: the result is a new model
 * in a new arena, holding only what its samples reference (strings,
 * functions, locations, mappings), ids kept. Samples that end up with the
 * same stack and labels are merged (values summed); samples whose values
 * are all zero after sample types were removed are left out.
 *
 * Memory: kiln_relabel_samples_apply allocates the result arena, which the
 * caller owns (normally handed to kiln_payload_from_pprof); temporary memory
 * is freed before it returns. Options are read-only (thread-safe).
 */
#ifndef KILN_RELABEL_SAMPLES_H
#define KILN_RELABEL_SAMPLES_H

#include <stddef.h>
#include <stdint.h>

#include <kiln/kiln.h>

#include "relabel_regex.h"

typedef struct kiln_relabel_sample_opts {
    const kiln_strlist *drop_types;  /* NULL or empty: none */
    const kiln_strlist *keep_types;  /* NULL or empty: all */
    const kiln_relabel_re *drop_frames; /* NULL: off (pprof-anchored) */
    const kiln_relabel_re *keep_frames; /* NULL: none */
    const kiln_strlist *drop_labels;
    int64_t max_depth; /* 0: off */
    int keep_leaf;     /* max_depth: 1 keeps the leaf side, 0 the root side */
} kiln_relabel_sample_opts;

/* 1 if any option is set (the payload must be decoded). */
int kiln_relabel_samples_active(const kiln_relabel_sample_opts *o);

enum {
    KILN_RS_UNCHANGED = 0, /* nothing to change: keep the payload as it is */
    KILN_RS_REBUILT = 1,   /* *out / *out_arena hold the new model */
    KILN_RS_NO_TYPES = 2   /* no sample type is left: drop the profile */
};

/* Applies the options to `src`. On KILN_RS_REBUILT the caller owns
 * *out_arena (holding *out). `m` is a matcher with at least 2 pairs, used
 * for drop_frames/keep_frames. Returns a KILN_RS_* value, or a negative
 * status (KILN_ENOMEM) with err set. */
int kiln_relabel_samples_apply(const kiln_relabel_sample_opts *o, const kiln_pprof *src,
                               kiln_relabel_matcher *m, kiln_arena **out_arena, kiln_pprof **out,
                               kiln_err *err);

/* pprof's simplifyFunc: drops one leading '.', then cuts the name at the
 * first '(' that is not part of "(anonymous namespace)" or "operator()".
 * Returns the length of the simplified name starting at *start. */
size_t kiln_relabel_simplify_func(const char *name, const char **start);

#endif
