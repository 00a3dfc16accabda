/* tests/fuzz/fuzz_block_symbols.c — symbol chunk decoding (strings,
 * mappings, functions, locations, stack nodes). Byte 0 picks the section,
 * bytes 1-2 the entry count, byte 3 the first id; the rest is the raw
 * (decompressed) chunk. */
#include <stdlib.h>
#include <string.h>

#include "block_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len < 4) return 0;
    int sec = data[0] % KB_NSYM;
    uint32_t n = (uint32_t)data[1] | (uint32_t)data[2] << 8;
    uint32_t first = (sec == KB_SYM_STRINGS ? 0 : 1) + data[3];
    kb_symchunk c;
    kiln_err err;
    if (kb_symchunk_decode(sec, data + 4, len - 4, first, n, &c, &err) != KILN_OK) return 0;
    volatile uint64_t sink = 0;
    for (uint32_t i = 0; i < c.n; i++) {
        switch (sec) {
        case KB_SYM_STRINGS: sink += strlen(c.str[i]); break;
        case KB_SYM_MAPPINGS: sink += c.map[i].limit - c.map[i].start; break;
        case KB_SYM_FUNCTIONS: sink += c.fn[i].name; break;
        case KB_SYM_LOCATIONS:
            for (uint32_t j = 0; j < c.loc[i].n_lines; j++) sink += c.loc[i].lines[j].function;
            break;
        default:
            if (c.parent[i] >= first + i) abort(); /* parents must come first */
            sink += c.nloc[i];
        }
    }
    (void)sink;
    kb_symchunk_free(&c);
    return 0;
}
