/* processors/relabel/relabel_md5.h — MD5 (RFC 1321), written for the relabel
 * processor's `hashmod` action, which must give the numbers Prometheus gives.
 *
 * Memory: nothing is allocated; the caller owns the input and the 16-byte
 * output buffer.
 */
#ifndef KILN_RELABEL_MD5_H
#define KILN_RELABEL_MD5_H

#include <stddef.h>
#include <stdint.h>

/* Writes the MD5 digest of data[0..len) into out[16]. */
void kiln_relabel_md5(const void *data, size_t len, uint8_t out[16]);

/* Prometheus's hashmod: the last 8 bytes of MD5(data) read as a big-endian
 * uint64, modulo `modulus` (which must not be 0). */
uint64_t kiln_relabel_hashmod(const void *data, size_t len, uint64_t modulus);

#endif
