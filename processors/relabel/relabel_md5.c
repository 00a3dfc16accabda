/* processors/relabel/relabel_md5.c — MD5 as RFC 1321 defines it (see
 * relabel_md5.h). A straight implementation of the four rounds over 64-byte
 * blocks; speed is not a concern (hashmod hashes one short string).
 *
 * Memory: stack only.
 */
#include "relabel_md5.h"

#include <string.h>

/* Per-step left-rotate amounts, by round (RFC 1321 section 3.4). */
static const uint8_t md5_shift[4][4] = {{7, 12, 17, 22}, {5, 9, 14, 20}, {4, 11, 16, 23}, {6, 10, 15, 21}};

/* T[i] = floor(abs(sin(i + 1)) * 2^32), the table of RFC 1321. */
static const uint32_t md5_t[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};

static uint32_t rotl(uint32_t x, unsigned n) { return (x << n) | (x >> (32 - n)); }

static void md5_block(uint32_t st[4], const uint8_t blk[64])
{
    uint32_t x[16];
    for (int i = 0; i < 16; i++)
        x[i] = (uint32_t)blk[i * 4] | (uint32_t)blk[i * 4 + 1] << 8 | (uint32_t)blk[i * 4 + 2] << 16 |
               (uint32_t)blk[i * 4 + 3] << 24;
    uint32_t a = st[0], b = st[1], c = st[2], d = st[3];
    for (int i = 0; i < 64; i++) {
        uint32_t f;
        int k;
        int round = i / 16;
        switch (round) {
        case 0: f = (b & c) | (~b & d); k = i; break;
        case 1: f = (d & b) | (~d & c); k = (5 * i + 1) % 16; break;
        case 2: f = b ^ c ^ d; k = (3 * i + 5) % 16; break;
        default: f = c ^ (b | ~d); k = (7 * i) % 16; break;
        }
        uint32_t tmp = d;
        d = c;
        c = b;
        b = b + rotl(a + f + md5_t[i] + x[k], md5_shift[round][i % 4]);
        a = tmp;
    }
    st[0] += a;
    st[1] += b;
    st[2] += c;
    st[3] += d;
}

void kiln_relabel_md5(const void *data, size_t len, uint8_t out[16])
{
    uint32_t st[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
    const uint8_t *p = data;
    size_t left = len;
    while (left >= 64) {
        md5_block(st, p);
        p += 64;
        left -= 64;
    }
    /* the tail, the 0x80 marker, zero padding and the bit length (little-endian) */
    uint8_t tail[128];
    memset(tail, 0, sizeof tail);
    if (left) memcpy(tail, p, left);
    tail[left] = 0x80;
    size_t tl = left + 1 + 8 <= 64 ? 64 : 128;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++) tail[tl - 8 + i] = (uint8_t)(bits >> (8 * i));
    md5_block(st, tail);
    if (tl == 128) md5_block(st, tail + 64);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) out[i * 4 + j] = (uint8_t)(st[i] >> (8 * j));
}

uint64_t kiln_relabel_hashmod(const void *data, size_t len, uint64_t modulus)
{
    uint8_t h[16];
    kiln_relabel_md5(data, len, h);
    uint64_t v = 0;
    for (int i = 8; i < 16; i++) v = v << 8 | h[i];
    return modulus ? v % modulus : 0;
}
