/* pipeline/objstore_fs.c — the filesystem backend of the object store: key
 * "a/b/c" is the file <root>/a/b/c.
 *
 * put writes "<file>.tmp.<12 random characters>" in the same directory,
 * fsyncs it, renames it over the key's file and fsyncs the directory, so a
 * reader opens the old file or the whole new one, and a crash leaves one or
 * the other (and maybe a temporary file, which list skips). New directories
 * are fsynced into their parents. delete unlinks, fsyncs the directory and
 * removes directories it left empty. list walks the tree in lexical order
 * of keys: a directory "a" sorts as "a/", so "a-b" < "a/x" < "a0".
 *
 * Every path is opened relative to a descriptor of the root taken at open,
 * so a change of the working directory does not matter. Files are 0644,
 * directories 0755 (less the umask).
 *
 * Limitation (not S3's): a key cannot be both an object and a "directory"
 * of other keys ("a" and "a/b"): the second put fails with KILN_EINVAL.
 *
 * Memory: the store owns its root path and descriptor; get/get_range return
 * malloc'ed buffers the caller frees.
 */
#include "objstore_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct fs_store {
    kiln_objstore base;
    char *root;
    int rootfd;
} fs_store;

static int io_err(kiln_err *err, int e, const char *op, const fs_store *fs, const char *path)
{
    int code = KILN_EIO;
    if (e == ENOENT) code = KILN_ENOTFOUND;
    else if (e == ENOMEM) code = KILN_ENOMEM;
    else if (e == ENOTDIR || e == EISDIR || e == ENAMETOOLONG || e == EEXIST) code = KILN_EINVAL;
    return kiln_err_set(err, code, "objstore fs: %s %s/%s: %s", op, fs->root, path, strerror(e));
}

/* fsync of the directory holding path (relative to the root; "" = the root). */
static int sync_dir(fs_store *fs, const char *dir)
{
    int fd = openat(fs->rootfd, dir[0] ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* Creates the directories of key's path (all but the last segment), each
 * new one fsynced into its parent. */
static int make_dirs(fs_store *fs, const char *key, kiln_err *err)
{
    char path[KILN_OBJSTORE_KEY_MAX + 1];
    size_t n = strlen(key);
    memcpy(path, key, n + 1);
    int restarts = 0;
    for (size_t i = 0; i < n; i++) {
        if (path[i] != '/') continue;
        path[i] = 0;
        if (mkdirat(fs->rootfd, path, 0755) == 0) {
            char *slash = strrchr(path, '/');
            int rc;
            if (slash) {
                *slash = 0;
                rc = sync_dir(fs, path);
                *slash = '/';
            } else {
                rc = sync_dir(fs, "");
            }
            /* ENOENT: a concurrent delete removed the parent; the open
             * that follows fails the same way and the caller retries */
            if (rc && errno != ENOENT) return io_err(err, errno, "fsync the parent of", fs, path);
        } else if (errno == ENOENT && restarts < 8) {
            /* a concurrent delete removed a parent just made: again */
            path[i] = '/';
            restarts++;
            i = (size_t)-1; /* the loop's i++ makes it 0 */
            continue;
        } else if (errno != EEXIST) {
            int e = errno;
            path[i] = '/';
            return io_err(err, e, "mkdir for", fs, key);
        }
        path[i] = '/';
    }
    return KILN_OK;
}

static void rand_suffix(char out[KILN_OBJSTORE_TMP_RAND + 1])
{
    static const char al[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    unsigned char r[KILN_OBJSTORE_TMP_RAND];
    ssize_t got = getrandom(r, sizeof r, 0);
    if (got != (ssize_t)sizeof r) {
        /* getrandom cannot fail for 12 bytes once the pool is up; if it did,
         * O_EXCL below still keeps two writers apart */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid() ^
                     (uint64_t)(uintptr_t)out;
        for (size_t i = 0; i < sizeof r; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            r[i] = (unsigned char)x;
        }
    }
    for (size_t i = 0; i < sizeof r; i++) out[i] = al[r[i] % (sizeof al - 1)];
    out[KILN_OBJSTORE_TMP_RAND] = 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n > (1u << 30) ? (1u << 30) : n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void dir_of(const char *key, char *out)
{
    const char *slash = strrchr(key, '/');
    size_t l = slash ? (size_t)(slash - key) : 0;
    memcpy(out, key, l);
    out[l] = 0;
}

static int fs_put(kiln_objstore *os, const char *key, const uint8_t *data, size_t len, kiln_err *err)
{
    fs_store *fs = (fs_store *)os;
    char tmp[KILN_OBJSTORE_KEY_MAX + 32], dir[KILN_OBJSTORE_KEY_MAX + 1], rnd[KILN_OBJSTORE_TMP_RAND + 1];
    int fd = -1, rc;
    /* a concurrent delete may remove a directory between mkdir and open: retry */
    for (int attempt = 0; attempt < 8; attempt++) {
        if ((rc = make_dirs(fs, key, err)) != KILN_OK) return rc;
        rand_suffix(rnd);
        snprintf(tmp, sizeof tmp, "%s.tmp.%s", key, rnd);
        fd = openat(fs->rootfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0 || (errno != ENOENT && errno != EEXIST)) break;
    }
    if (fd < 0) return io_err(err, errno, "create", fs, tmp);
    if (write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlinkat(fs->rootfd, tmp, 0);
        return io_err(err, e, "write", fs, tmp);
    }
    if (close(fd) != 0) {
        int e = errno;
        unlinkat(fs->rootfd, tmp, 0);
        return io_err(err, e, "close", fs, tmp);
    }
    if (renameat(fs->rootfd, tmp, fs->rootfd, key) != 0) {
        int e = errno;
        unlinkat(fs->rootfd, tmp, 0);
        return io_err(err, e, "rename over", fs, key);
    }
    dir_of(key, dir);
    if (sync_dir(fs, dir) != 0) return io_err(err, errno, "fsync the directory of", fs, key);
    return KILN_OK;
}

/* Opens a key's file for reading; ENOTFOUND for a missing key or a directory. */
static int open_key(fs_store *fs, const char *key, int *fd_out, struct stat *st, kiln_err *err)
{
    int fd = openat(fs->rootfd, key, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return kiln_err_set(err, KILN_ENOTFOUND, "objstore fs: no object \"%s\" in %s", key, fs->root);
        return io_err(err, errno, "open", fs, key);
    }
    if (fstat(fd, st) != 0) {
        int e = errno;
        close(fd);
        return io_err(err, e, "stat", fs, key);
    }
    if (!S_ISREG(st->st_mode)) {
        close(fd);
        return kiln_err_set(err, KILN_ENOTFOUND, "objstore fs: \"%s\" in %s is not an object", key, fs->root);
    }
    *fd_out = fd;
    return KILN_OK;
}

/* Reads up to len bytes at off; *got is what was there. */
static int read_at(int fd, uint64_t off, size_t len, uint8_t *buf, size_t *got)
{
    size_t n = 0;
    while (n < len) {
        ssize_t r = pread(fd, buf + n, len - n, (off_t)(off + n));
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    *got = n;
    return 0;
}

static int fs_get_range(kiln_objstore *os, const char *key, uint64_t off, size_t len, uint8_t **data,
                        size_t *got, kiln_err *err)
{
    fs_store *fs = (fs_store *)os;
    int fd = -1, rc;
    struct stat st;
    if ((rc = open_key(fs, key, &fd, &st, err)) != KILN_OK) return rc;
    uint64_t size = (uint64_t)st.st_size;
    size_t want = off >= size ? 0 : (size - off < len ? (size_t)(size - off) : len);
    uint8_t *buf = malloc(want ? want : 1);
    if (!buf) {
        close(fd);
        return kiln_err_set(err, KILN_ENOMEM, "objstore fs: get \"%s\": out of memory for %zu bytes", key, want);
    }
    size_t n = 0;
    if (want && read_at(fd, off, want, buf, &n) != 0) {
        int e = errno;
        close(fd);
        free(buf);
        return io_err(err, e, "read", fs, key);
    }
    close(fd);
    *data = buf;
    *got = n;
    return KILN_OK;
}

static int fs_get(kiln_objstore *os, const char *key, uint8_t **data, size_t *len, kiln_err *err)
{
    /* objects are never changed in place (rename replaces the file), so
     * the size seen at open is the object's */
    return fs_get_range(os, key, 0, SIZE_MAX, data, len, err);
}

static int fs_size(kiln_objstore *os, const char *key, uint64_t *size, kiln_err *err)
{
    fs_store *fs = (fs_store *)os;
    struct stat st;
    if (fstatat(fs->rootfd, key, &st, 0) != 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return kiln_err_set(err, KILN_ENOTFOUND, "objstore fs: no object \"%s\" in %s", key, fs->root);
        return io_err(err, errno, "stat", fs, key);
    }
    if (!S_ISREG(st.st_mode))
        return kiln_err_set(err, KILN_ENOTFOUND, "objstore fs: \"%s\" in %s is not an object", key, fs->root);
    *size = (uint64_t)st.st_size;
    return KILN_OK;
}

static int fs_del(kiln_objstore *os, const char *key, kiln_err *err)
{
    fs_store *fs = (fs_store *)os;
    char dir[KILN_OBJSTORE_KEY_MAX + 1];
    if (unlinkat(fs->rootfd, key, 0) != 0) {
        if (errno == ENOENT || errno == ENOTDIR || errno == EISDIR) return KILN_OK; /* no such object */
        return io_err(err, errno, "unlink", fs, key);
    }
    dir_of(key, dir);
    /* ENOENT: another delete removed the emptied directory meanwhile */
    if (sync_dir(fs, dir) != 0 && errno != ENOENT)
        return io_err(err, errno, "fsync the directory of", fs, key);
    /* remove the directories this left empty (best effort: a concurrent put
     * may fill one again, then rmdir fails and that is fine) */
    while (dir[0]) {
        if (unlinkat(fs->rootfd, dir, AT_REMOVEDIR) != 0) break;
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0;
        else dir[0] = 0;
    }
    return KILN_OK;
}

/* ---- list -------------------------------------------------------------------------- */

typedef struct ent {
    char *name; /* the entry's name, "/" appended for a directory */
    int is_dir;
    uint64_t size;
} ent;

static int cmp_ent(const void *a, const void *b)
{
    return strcmp(((const ent *)a)->name, ((const ent *)b)->name);
}

typedef struct list_ctx {
    fs_store *fs;
    int (*fn)(const char *key, uint64_t size, void *arg);
    void *arg;
    kiln_err *err;
} list_ctx;

/* Lists directory `dir` (a key prefix ending with '/', or "" for the root);
 * only entries whose name starts with `match` at this level. */
static int walk_dir(list_ctx *c, const char *dir, const char *match)
{
    fs_store *fs = c->fs;
    int dfd = openat(fs->rootfd, dir[0] ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        if (errno == ENOENT || errno == ENOTDIR) return KILN_OK; /* nothing under it */
        return io_err(c->err, errno, "open directory", fs, dir);
    }
    DIR *d = fdopendir(dfd);
    if (!d) {
        int e = errno;
        close(dfd);
        return io_err(c->err, e, "read directory", fs, dir);
    }
    ent *es = NULL;
    size_t n = 0, cap = 0;
    size_t mlen = strlen(match);
    int rc = KILN_OK;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        if (strcmp(nm, ".") == 0 || strcmp(nm, "..") == 0) continue;
        size_t nl = strlen(nm);
        if (strncmp(nm, match, nl < mlen ? nl : mlen) != 0) continue;
        struct stat st;
        if (fstatat(dirfd(d), nm, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT) continue; /* deleted meanwhile */
            rc = io_err(c->err, errno, "stat", fs, dir);
            break;
        }
        int is_dir = S_ISDIR(st.st_mode);
        if (!is_dir && !S_ISREG(st.st_mode)) continue;
        if (!is_dir && (nl < mlen || kiln_objstore_is_tmp_name(nm, nl))) continue;
        if (is_dir && nl < mlen && match[nl] != '/') continue; /* "ab" when matching "abc" */
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 32;
            ent *ne = realloc(es, nc * sizeof *ne);
            if (!ne) {
                rc = kiln_err_set(c->err, KILN_ENOMEM, "objstore fs: list: out of memory");
                break;
            }
            es = ne;
            cap = nc;
        }
        es[n].name = malloc(nl + 2);
        if (!es[n].name) {
            rc = kiln_err_set(c->err, KILN_ENOMEM, "objstore fs: list: out of memory");
            break;
        }
        memcpy(es[n].name, nm, nl);
        es[n].name[nl] = is_dir ? '/' : 0;
        es[n].name[nl + 1] = 0;
        es[n].is_dir = is_dir;
        es[n].size = (uint64_t)st.st_size;
        n++;
        errno = 0;
    }
    if (rc == KILN_OK && errno != 0) rc = io_err(c->err, errno, "read directory", fs, dir);
    closedir(d); /* one descriptor open at a time, whatever the depth */
    if (rc == KILN_OK && n > 1) qsort(es, n, sizeof *es, cmp_ent);
    for (size_t i = 0; i < n && rc == KILN_OK; i++) {
        size_t dl = strlen(dir), nl = strlen(es[i].name);
        if (dl + nl > KILN_OBJSTORE_KEY_MAX) continue; /* not a key kiln can have written */
        char key[KILN_OBJSTORE_KEY_MAX + 2];
        memcpy(key, dir, dl);
        memcpy(key + dl, es[i].name, nl + 1);
        if (es[i].is_dir) {
            const char *sub = mlen > nl ? match + nl : "";
            rc = walk_dir(c, key, sub);
        } else {
            rc = c->fn(key, es[i].size, c->arg);
        }
    }
    for (size_t i = 0; i < n; i++) free(es[i].name);
    free(es);
    return rc;
}

static int fs_list(kiln_objstore *os, const char *prefix,
                   int (*fn)(const char *key, uint64_t size, void *arg), void *arg, kiln_err *err)
{
    list_ctx c = {(fs_store *)os, fn, arg, err};
    char dir[KILN_OBJSTORE_KEY_MAX + 1];
    const char *slash = strrchr(prefix, '/');
    size_t dl = slash ? (size_t)(slash - prefix) + 1 : 0;
    memcpy(dir, prefix, dl);
    dir[dl] = 0;
    return walk_dir(&c, dir, prefix + dl);
}

/* ---- open / close -------------------------------------------------------------------- */

static void fs_close(kiln_objstore *os)
{
    fs_store *fs = (fs_store *)os;
    if (fs->rootfd >= 0) close(fs->rootfd);
    free(fs->root);
    free(fs->base.desc);
    free(fs);
}

static const kiln_objstore_vt fs_vt = {fs_close, fs_put, fs_get, fs_get_range, fs_size, fs_del, fs_list};

/* mkdir -p */
static int mkdir_p(const char *dir, kiln_err *err)
{
    size_t n = strlen(dir);
    char *p = malloc(n + 1);
    if (!p) return kiln_err_set(err, KILN_ENOMEM, "objstore fs: out of memory");
    memcpy(p, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (p[i] != '/' && p[i] != 0) continue;
        char c = p[i];
        p[i] = 0;
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            int e = errno;
            int rc = kiln_err_set(err, e == ENOENT || e == ENOTDIR ? KILN_EINVAL : KILN_EIO,
                                  "objstore fs: mkdir %s: %s", p, strerror(e));
            free(p);
            return rc;
        }
        p[i] = c;
    }
    free(p);
    return KILN_OK;
}

int kiln_objstore_open_fs(const char *dir, kiln_objstore **out, kiln_err *err)
{
    *out = NULL;
    if (!dir || !dir[0]) return kiln_err_set(err, KILN_EINVAL, "objstore fs: no directory given");
    int rc = mkdir_p(dir, err);
    if (rc) return rc;
    fs_store *fs = calloc(1, sizeof *fs);
    if (!fs) return kiln_err_set(err, KILN_ENOMEM, "objstore fs: out of memory");
    fs->rootfd = -1;
    fs->base.vt = &fs_vt;
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/') dl--;
    fs->root = malloc(dl + 1);
    fs->base.desc = malloc(dl + 4);
    if (!fs->root || !fs->base.desc) {
        fs_close(&fs->base);
        return kiln_err_set(err, KILN_ENOMEM, "objstore fs: out of memory");
    }
    memcpy(fs->root, dir, dl);
    fs->root[dl] = 0;
    snprintf(fs->base.desc, dl + 4, "fs:%s", fs->root);
    fs->rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fs->rootfd < 0) {
        int e = errno;
        fs_close(&fs->base);
        return kiln_err_set(err, e == ENOTDIR ? KILN_EINVAL : KILN_EIO, "objstore fs: open %s: %s", dir,
                            strerror(e));
    }
    *out = &fs->base;
    return KILN_OK;
}
