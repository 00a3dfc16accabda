/* pipeline/block_wal.c — the write-ahead log of a head (FORMAT.md, "WAL").
 *
 * A segment file <dir>/<tenant-esc>/<block id>.wal:
 *   "KLNW", u32le version (1), u32le header length, header, u32le crc32(header)
 *     header = uv tenant length, tenant, 26-byte block id, sv created_ns
 *   then records: u32le body length, u32le crc32(body), body
 *     body = u8 type (1: profiles), uv n, n x profile
 *     profile = sv time_ns, sv duration_ns, uv n_labels, n x (uv len, name, uv len, value),
 *               uv payload length, payload (pprof, gzip'ed or plain)
 * A record is appended with one pwrite; when a write fails part way, the
 * file is cut back to where the record started so that no torn record is
 * ever followed by good ones. Replay stops at the first record that is
 * short or fails its checksum (a torn tail after a crash).
 *
 * Memory: a kiln_wal owns its fd and path; replay callbacks get pointers
 * into a buffer that lives only during the callback.
 */
#define _GNU_SOURCE
#include "block_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <kiln/kiln.h>

#define WAL_MAGIC "KLNW"
#define WAL_VERSION 1
#define WAL_MAX_RECORD (1u << 30)
#define WAL_MAX_PROFILES (1u << 20)

struct kiln_wal {
    atomic_int refs;
    int fd;
    int broken;
    uint64_t size;
    char path[4096];
};

int kiln_wal_path(const char *dir, const char *tenant, const char *id, char *buf, size_t cap)
{
    char esc[3 * KILN_TENANT_MAX + 8];
    if (kiln_blocks_tenant_escape(tenant, esc, sizeof esc) >= sizeof esc) return KILN_EINVAL;
    int n = snprintf(buf, cap, "%s/%s/%s.wal", dir, esc, id);
    return n < 0 || (size_t)n >= cap ? KILN_EINVAL : KILN_OK;
}

static int fsync_dir(const char *path)
{
    char d[4096];
    snprintf(d, sizeof d, "%s", path);
    char *slash = strrchr(d, '/');
    if (!slash) return 0;
    *slash = 0;
    int fd = open(d[0] ? d : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int r = fsync(fd);
    close(fd);
    return r;
}

static int mkdirs(const char *path)
{
    char d[4096];
    snprintf(d, sizeof d, "%s", path);
    for (char *p = d + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(d, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(d, 0755) != 0 && errno != EEXIST) return -1;
    return 0;
}

static int pwrite_all(int fd, const uint8_t *p, size_t n, uint64_t off)
{
    while (n) {
        ssize_t r = pwrite(fd, p, n, (off_t)off);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += r;
        n -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

int kiln_wal_create(const char *dir, const char *tenant, const char *id, int64_t created_ns,
                    kiln_wal **out, kiln_err *err)
{
    kiln_wal *w = calloc(1, sizeof *w);
    if (!w) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    atomic_init(&w->refs, 1);
    if (kiln_wal_path(dir, tenant, id, w->path, sizeof w->path) != KILN_OK) {
        free(w);
        return kiln_err_set(err, KILN_EINVAL, "WAL path too long");
    }
    char d[4096];
    snprintf(d, sizeof d, "%s", w->path);
    *strrchr(d, '/') = 0;
    if (mkdirs(d) != 0) {
        int e = errno;
        free(w);
        return kiln_err_set(err, KILN_EIO, "cannot create %s: %s", d, strerror(e));
    }
    w->fd = open(w->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        int e = errno;
        free(w);
        return kiln_err_set(err, KILN_EIO, "cannot create %s: %s", d, strerror(e));
    }
    kb_buf hdr = {0}, b = {0};
    kb_buf_str(&hdr, tenant, strlen(tenant));
    kb_buf_put(&hdr, id, KILN_BLOCK_ID_LEN);
    kb_buf_sv(&hdr, created_ns);
    kb_buf_put(&b, WAL_MAGIC, 4);
    kb_buf_u32le(&b, WAL_VERSION);
    kb_buf_u32le(&b, (uint32_t)hdr.n);
    kb_buf_put(&b, hdr.p, hdr.n);
    kb_buf_u32le(&b, kb_crc32(hdr.p, hdr.n));
    int rc = KILN_OK;
    if (b.oom || hdr.oom) rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
    else if (pwrite_all(w->fd, b.p, b.n, 0) != 0 || fdatasync(w->fd) != 0 || fsync_dir(w->path) != 0)
        rc = kiln_err_set(err, KILN_EIO, "writing %s: %s", w->path, strerror(errno));
    w->size = b.n;
    kb_buf_free(&hdr);
    kb_buf_free(&b);
    if (rc != KILN_OK) {
        close(w->fd);
        unlink(w->path);
        free(w);
        return rc;
    }
    *out = w;
    return KILN_OK;
}

int kiln_wal_reopen(const char *path, uint64_t end, kiln_wal **out, kiln_err *err)
{
    kiln_wal *w = calloc(1, sizeof *w);
    if (!w) return kiln_err_set(err, KILN_ENOMEM, "out of memory");
    atomic_init(&w->refs, 1);
    snprintf(w->path, sizeof w->path, "%s", path);
    w->fd = open(path, O_WRONLY | O_CLOEXEC);
    if (w->fd < 0 || ftruncate(w->fd, (off_t)end) != 0 || fdatasync(w->fd) != 0) {
        int e = errno;
        if (w->fd >= 0) close(w->fd);
        free(w);
        return kiln_err_set(err, KILN_EIO, "cannot reopen %s: %s", path, strerror(e));
    }
    w->size = end;
    *out = w;
    return KILN_OK;
}

kiln_wal *kiln_wal_ref(kiln_wal *w)
{
    atomic_fetch_add(&w->refs, 1);
    return w;
}

void kiln_wal_unref(kiln_wal *w)
{
    if (!w || atomic_fetch_sub(&w->refs, 1) != 1) return;
    close(w->fd);
    free(w);
}

uint64_t kiln_wal_size(const kiln_wal *w) { return w->size; }
const char *kiln_wal_file(const kiln_wal *w) { return w->path; }

int kiln_wal_append(kiln_wal *w, const kiln_wal_profile *v, size_t n, kiln_err *err)
{
    if (w->broken)
        return kiln_err_set(err, KILN_EIO, "%s: an earlier write failed and could not be undone", w->path);
    kb_buf b = {0};
    kb_buf_u32le(&b, 0);
    kb_buf_u32le(&b, 0);
    kb_buf_u8(&b, 1);
    kb_buf_uv(&b, n);
    for (size_t i = 0; i < n; i++) {
        kb_buf_sv(&b, v[i].time_ns);
        kb_buf_sv(&b, v[i].duration_ns);
        size_t nl = v[i].labels ? v[i].labels->n : 0;
        kb_buf_uv(&b, nl);
        for (size_t j = 0; j < nl; j++) {
            const kiln_label *l = &v[i].labels->v[j];
            kb_buf_str(&b, l->name, strlen(l->name));
            kb_buf_str(&b, l->value, strlen(l->value));
        }
        kb_buf_str(&b, (const char *)v[i].data, v[i].len);
    }
    if (b.oom) {
        kb_buf_free(&b);
        return kiln_err_set(err, KILN_ENOMEM, "out of memory building a WAL record");
    }
    if (b.n - 8 > WAL_MAX_RECORD) {
        kb_buf_free(&b);
        return kiln_err_set(err, KILN_ETOOBIG, "WAL record of %zu bytes is over the limit", b.n);
    }
    uint32_t len = (uint32_t)(b.n - 8), crc = kb_crc32(b.p + 8, b.n - 8);
    for (int i = 0; i < 4; i++) {
        b.p[i] = (uint8_t)(len >> (8 * i));
        b.p[4 + i] = (uint8_t)(crc >> (8 * i));
    }
    int rc = KILN_OK;
    if (pwrite_all(w->fd, b.p, b.n, w->size) != 0) {
        int e = errno;
        if (ftruncate(w->fd, (off_t)w->size) != 0) w->broken = 1;
        rc = kiln_err_set(err, KILN_EIO, "writing %s: %s", w->path, strerror(e));
    } else {
        w->size += b.n;
    }
    kb_buf_free(&b);
    return rc;
}

int kiln_wal_sync(kiln_wal *w, kiln_err *err)
{
    if (fdatasync(w->fd) != 0)
        return kiln_err_set(err, KILN_EIO, "fdatasync %s: %s", w->path, strerror(errno));
    return KILN_OK;
}

/* ---- replay --------------------------------------------------------------------------- */

static int parse_header(const uint8_t *d, size_t len, kiln_wal_header *h, size_t *end, kiln_err *err)
{
    if (len < 12 || memcmp(d, WAL_MAGIC, 4) != 0)
        return kiln_err_set(err, KILN_EINVAL, "not a kiln WAL segment (bad magic)");
    kb_rd r;
    kb_rd_init(&r, d + 4, len - 4);
    uint32_t ver, hl, crc;
    kb_rd_u32le(&r, &ver);
    kb_rd_u32le(&r, &hl);
    if (ver != WAL_VERSION) return kiln_err_set(err, KILN_EINVAL, "WAL version %u, this kiln reads %d", ver, WAL_VERSION);
    const uint8_t *hp;
    if (kb_rd_bytes(&r, hl, &hp) || kb_rd_u32le(&r, &crc))
        return kiln_err_set(err, KILN_EINVAL, "WAL header truncated");
    if (kb_crc32(hp, hl) != crc) return kiln_err_set(err, KILN_EINVAL, "WAL header checksum mismatch");
    kb_rd q;
    kb_rd_init(&q, hp, hl);
    uint64_t tl;
    const uint8_t *tp, *ip;
    if (kb_rd_uvmax(&q, sizeof h->tenant - 1, &tl) || tl == 0 || kb_rd_bytes(&q, tl, &tp) ||
        kb_rd_bytes(&q, KILN_BLOCK_ID_LEN, &ip) || kb_rd_sv(&q, &h->created_ns) || kb_rd_left(&q))
        return kiln_err_set(err, KILN_EINVAL, "WAL header malformed");
    if (memchr(tp, 0, tl)) return kiln_err_set(err, KILN_EINVAL, "WAL header: NUL in tenant");
    memcpy(h->tenant, tp, tl);
    h->tenant[tl] = 0;
    memcpy(h->id, ip, KILN_BLOCK_ID_LEN);
    h->id[KILN_BLOCK_ID_LEN] = 0;
    if (!kiln_block_id_parse(h->id, NULL)) return kiln_err_set(err, KILN_EINVAL, "WAL header: bad block id");
    *end = (size_t)(r.p - d);
    return KILN_OK;
}

/* Parses one record body and calls fn per profile; KILN_EINVAL if malformed. */
static int parse_body(const uint8_t *p, size_t n, int (*fn)(const kiln_wal_profile *, void *),
                      void *arg, uint64_t *profiles, kiln_err *err)
{
    kb_rd r;
    kb_rd_init(&r, p, n);
    const uint8_t *tp;
    uint64_t cnt;
    if (kb_rd_bytes(&r, 1, &tp) || tp[0] != 1 || kb_rd_uvmax(&r, WAL_MAX_PROFILES, &cnt))
        return kiln_err_set(err, KILN_EINVAL, "unknown record type");
    int rc = KILN_OK;
    kiln_labels ls = KILN_LABELS_INIT;
    for (uint64_t i = 0; i < cnt && rc == KILN_OK; i++) {
        kiln_wal_profile wp;
        memset(&wp, 0, sizeof wp);
        uint64_t nl;
        if (kb_rd_sv(&r, &wp.time_ns) || kb_rd_sv(&r, &wp.duration_ns) ||
            kb_rd_uvmax(&r, KB_MAX_LABELS, &nl)) {
            rc = kiln_err_set(err, KILN_EINVAL, "record profile %llu malformed", (unsigned long long)i);
            break;
        }
        kiln_labels_free(&ls);
        for (uint64_t j = 0; j < nl; j++) {
            uint64_t a, b;
            const uint8_t *ap, *bp;
            if (kb_rd_uvmax(&r, n, &a) || kb_rd_bytes(&r, a, &ap) || kb_rd_uvmax(&r, n, &b) ||
                kb_rd_bytes(&r, b, &bp) || a == 0 || memchr(ap, 0, a) || memchr(bp, 0, b)) {
                rc = kiln_err_set(err, KILN_EINVAL, "record profile %llu: bad label", (unsigned long long)i);
                break;
            }
            if (kiln_labels_setn(&ls, (const char *)ap, a, (const char *)bp, b) != KILN_OK) {
                rc = kiln_err_set(err, KILN_ENOMEM, "out of memory");
                break;
            }
        }
        if (rc != KILN_OK) break;
        uint64_t dl;
        if (kb_rd_uvmax(&r, n, &dl) || kb_rd_bytes(&r, dl, &wp.data)) {
            rc = kiln_err_set(err, KILN_EINVAL, "record profile %llu: bad payload", (unsigned long long)i);
            break;
        }
        wp.len = dl;
        wp.labels = &ls;
        (*profiles)++;
        if (fn) rc = fn(&wp, arg);
    }
    kiln_labels_free(&ls);
    if (rc == KILN_OK && kb_rd_left(&r)) rc = kiln_err_set(err, KILN_EINVAL, "record has trailing bytes");
    return rc;
}

/* Records of d[off, len) (the header already parsed). */
static int replay_records(const uint8_t *d, size_t len, size_t off,
                          int (*fn)(const kiln_wal_profile *p, void *arg), void *arg,
                          kiln_wal_replay_result *res, kiln_err *err)
{
    res->valid_end = off;
    while (off < len) {
        if (len - off < 8) {
            res->torn = 1;
            break;
        }
        kb_rd r;
        kb_rd_init(&r, d + off, 8);
        uint32_t bl, crc;
        kb_rd_u32le(&r, &bl);
        kb_rd_u32le(&r, &crc);
        if (bl > WAL_MAX_RECORD || bl > len - off - 8 || kb_crc32(d + off + 8, bl) != crc) {
            res->torn = 1;
            break;
        }
        /* a record with a good checksum is complete: its profiles are
         * validated first, then handed over, so a malformed one (never
         * written by kiln) is reported as a torn tail instead of half-used */
        uint64_t cnt = 0;
        kiln_err e2;
        if (parse_body(d + off + 8, bl, NULL, NULL, &cnt, &e2) != KILN_OK) {
            res->torn = 1;
            break;
        }
        cnt = 0;
        int rc = parse_body(d + off + 8, bl, fn, arg, &cnt, err);
        res->profiles += cnt;
        if (rc != KILN_OK) return rc;
        res->records++;
        off += 8 + (size_t)bl;
        res->valid_end = off;
    }
    return KILN_OK;
}

int kiln_wal_replay_buf(const uint8_t *d, size_t len, kiln_wal_header *hdr,
                        int (*fn)(const kiln_wal_profile *p, void *arg), void *arg,
                        kiln_wal_replay_result *res, kiln_err *err)
{
    memset(res, 0, sizeof *res);
    res->file_size = len;
    size_t off = 0;
    int rc = parse_header(d, len, hdr, &off, err);
    if (rc != KILN_OK) return rc;
    return replay_records(d, len, off, fn, arg, res, err);
}

static int read_file(const char *path, uint64_t from, uint8_t **out, size_t *hdr_len, size_t *len,
                     kiln_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return kiln_err_set(err, errno == ENOENT ? KILN_ENOTFOUND : KILN_EIO, "cannot open %s: %s",
                            path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return kiln_err_set(err, KILN_EIO, "stat %s: %s", path, strerror(e));
    }
    size_t size = (size_t)st.st_size;
    /* the header (at most 4 KiB) and then [from, size) */
    size_t hl = size < 4096 ? size : 4096;
    if (from > size) from = size;
    size_t want = hl + (from > hl ? size - from : size - hl);
    uint8_t *d = malloc(want ? want : 1);
    if (!d) {
        close(fd);
        return kiln_err_set(err, KILN_ENOMEM, "out of memory reading %s (%zu bytes)", path, want);
    }
    size_t got = 0;
    while (got < want) {
        uint64_t pos = got < hl ? got : (from > hl ? from : hl) + (got - hl);
        ssize_t r = pread(fd, d + got, want - got, (off_t)pos);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        /* a read never crosses from the header part into the tail part */
        if (got < hl && got + (size_t)r > hl) r = (ssize_t)(hl - got);
        got += (size_t)r;
    }
    close(fd);
    *out = d;
    *hdr_len = hl;
    *len = got;
    return KILN_OK;
}

int kiln_wal_replay_from(const char *path, uint64_t from, kiln_wal_header *hdr,
                         int (*fn)(const kiln_wal_profile *p, void *arg), void *arg,
                         kiln_wal_replay_result *res, kiln_err *err)
{
    uint8_t *d = NULL;
    size_t hl = 0, len = 0;
    int rc = read_file(path, from, &d, &hl, &len, err);
    if (rc != KILN_OK) return rc;
    memset(res, 0, sizeof *res);
    size_t off = 0;
    rc = parse_header(d, len < hl ? len : hl, hdr, &off, err);
    if (rc == KILN_OK) {
        if (from < off) from = off;
        /* d = header bytes [0, hl) then file bytes [max(from, hl), ...) */
        if (from <= hl) {
            res->file_size = len;
            rc = replay_records(d, len, (size_t)from, fn, arg, res, err);
        } else {
            res->file_size = from + (len - hl);
            kiln_wal_replay_result r2;
            memset(&r2, 0, sizeof r2);
            rc = replay_records(d + hl, len - hl, 0, fn, arg, &r2, err);
            res->records = r2.records;
            res->profiles = r2.profiles;
            res->torn = r2.torn;
            res->valid_end = from + r2.valid_end;
        }
    }
    if (rc != KILN_OK) kiln_err_prefix(err, "%s", path);
    free(d);
    return rc;
}

int kiln_wal_replay(const char *path, kiln_wal_header *hdr,
                    int (*fn)(const kiln_wal_profile *p, void *arg), void *arg,
                    kiln_wal_replay_result *res, kiln_err *err)
{
    return kiln_wal_replay_from(path, 0, hdr, fn, arg, res, err);
}
