/* Plugin test: the web UI's static files (qstatic.c) on the mock core.
 *
 * Embedded mode with a test-made asset table (this test build compiles
 * qstatic.c without the generated header): routes, content types, 404,
 * the /ui/ redirect, gzip (checked by gunzipping with libkiln), ETag and
 * If-None-Match, the "assets missing" page. Directory mode (`ui_dir`) over a
 * scratch directory: the library mapping to node_modules, and path
 * traversal refused — `..`, hidden files, symlinks leading out, directories,
 * empty segments, backslashes, unknown extensions — while a symlink that
 * stays inside is served; ETags follow file changes. Through the plugin's
 * config: `ui: false` registers no route, `ui_dir` serves the directory, a
 * missing `ui_dir` fails create, and the default of this build (no embedded
 * assets) answers the missing page.
 */
#include "qtest.h"

#include <sys/stat.h>

#include "qstatic.h"

/* ---- embedded mode ---------------------------------------------------------------------------- */

static char app_js[4096];

static const unsigned char idx_html[] = "<!doctype html><title>kiln</title><script src=\"ui/app.js\"></script>";
static const unsigned char style_css[] = "body{margin:0}";
static const unsigned char lic[] = "ISC License text";
static const unsigned char icon_svg[] = "<svg xmlns=\"http://www.w3.org/2000/svg\"/>";
static const unsigned char png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

static void make_app_js(void)
{
    size_t n = 0;
    for (int i = 0; n + 64 < sizeof app_js; i++)
        n += (size_t)snprintf(app_js + n, sizeof app_js - n, "export const v%d = 'kiln flame graph %d';\n", i, i % 7);
}

static kq_asset assets[7];

static size_t fill_assets(int with_index)
{
    make_app_js();
    size_t k = 0;
    if (with_index) assets[k++] = (kq_asset){"index.html", idx_html, sizeof idx_html - 1};
    assets[k++] = (kq_asset){"app.js", (const unsigned char *)app_js, strlen(app_js)};
    assets[k++] = (kq_asset){"style.css", style_css, sizeof style_css - 1};
    assets[k++] = (kq_asset){"lib/d3.LICENSE.txt", lic, sizeof lic - 1};
    assets[k++] = (kq_asset){"favicon.svg", icon_svg, sizeof icon_svg - 1};
    assets[k++] = (kq_asset){"img.png", png, sizeof png};
    return k;
}

typedef struct ui_fx {
    mock_host *m;
    kq_ui *ui;
} ui_fx;

static int ui_open(ui_fx *f, const kq_ui_opts *o)
{
    kiln_err err;
    f->m = mock_host_new("exporter/query", "exporter");
    if (kiln_query_ui_new(mock_host_host(f->m), o, &f->ui, &err) != KILN_OK) {
        fprintf(stderr, "ui_new: %s\n", err.msg);
        return -1;
    }
    if (kiln_query_ui_routes(f->ui, "127.0.0.1:0", &err) != KILN_OK) {
        fprintf(stderr, "routes: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static void ui_close(ui_fx *f)
{
    kiln_query_ui_free(f->ui);
    mock_host_free(f->m);
    memset(f, 0, sizeof *f);
}

/* GET with up to two headers. */
static int get(ui_fx *f, const char *target, const char *h1, const char *v1, const char *h2, const char *v2,
               mock_http_reply *r)
{
    const char *h[] = {h1, v1, h2, v2, NULL};
    return mock_http_request(f->m, "GET", target, h1 ? h : NULL, NULL, 0, r);
}

/* The value of header `name` in a mock reply ("" when absent). */
static const char *header(const mock_http_reply *r, const char *name, char *out, size_t cap)
{
    out[0] = 0;
    size_t nl = strlen(name);
    for (const char *p = r->headers; *p;) {
        const char *e = strchr(p, '\n');
        if (!e) break;
        if (!strncmp(p, name, nl) && p[nl] == ':') {
            snprintf(out, cap, "%.*s", (int)(e - p - nl - 2), p + nl + 2);
            return out;
        }
        p = e + 1;
    }
    return out;
}

static void t_embedded_routes_and_types(void)
{
    ui_fx f;
    kq_ui_opts o = {NULL, assets, fill_assets(1), ""};
    CHECK(ui_open(&f, &o) == 0);
    mock_http_reply r;
    char hv[512];

    CHECK(get(&f, "/", NULL, NULL, NULL, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_STR(r.content_type, "text/html; charset=utf-8");
    CHECK(r.len == sizeof idx_html - 1 && !memcmp(r.body, idx_html, r.len));
    CHECK(header(&r, "ETag", hv, sizeof hv)[0] == '"' && strlen(hv) == 18);
    CHECK_EQ_STR(header(&r, "Cache-Control", hv, sizeof hv), "no-cache");
    CHECK_EQ_STR(header(&r, "X-Content-Type-Options", hv, sizeof hv), "nosniff");
    CHECK_CONTAINS(header(&r, "Content-Security-Policy", hv, sizeof hv), "default-src 'self'");
    mock_http_reply_free(&r);

    static const char *const want[][2] = {
        {"/ui/index.html", "text/html; charset=utf-8"},
        {"/ui/app.js", "text/javascript; charset=utf-8"},
        {"/ui/style.css", "text/css; charset=utf-8"},
        {"/ui/lib/d3.LICENSE.txt", "text/plain; charset=utf-8"},
        {"/ui/favicon.svg", "image/svg+xml"},
        {"/ui/img.png", "image/png"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        CHECK(get(&f, want[i][0], NULL, NULL, NULL, NULL, &r) == 0);
        CHECK_EQ_INT(r.status, 200);
        CHECK_EQ_STR(r.content_type, want[i][1]);
        mock_http_reply_free(&r);
    }
    CHECK(get(&f, "/ui/img.png", NULL, NULL, NULL, NULL, &r) == 0);
    CHECK(r.len == sizeof png && !memcmp(r.body, png, sizeof png));
    mock_http_reply_free(&r);

    /* unknown names, and names that are not there in embedded mode */
    static const char *const nf[] = {"/ui/nope.js", "/ui/lib/d3.min.js", "/ui/../index.html", "/ui/APP.JS",
                                     "/ui/app.js/", "/ui/index"};
    for (size_t i = 0; i < sizeof nf / sizeof nf[0]; i++) {
        CHECK(get(&f, nf[i], NULL, NULL, NULL, NULL, &r) == 0);
        if (r.status != 404) fprintf(stderr, "  %s -> %d\n", nf[i], r.status);
        CHECK_EQ_INT(r.status, 404);
        mock_http_reply_free(&r);
    }
    /* /ui/ sends the browser to the page (relative, for proxies) */
    CHECK(get(&f, "/ui/", NULL, NULL, NULL, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 302);
    CHECK_EQ_STR(header(&r, "Location", hv, sizeof hv), "../");
    mock_http_reply_free(&r);
    /* the routes are / (exact) and /ui/ (prefix): nothing else */
    CHECK(get(&f, "/index.html", NULL, NULL, NULL, NULL, &r) == -1);
    CHECK(get(&f, "/uix/app.js", NULL, NULL, NULL, NULL, &r) == -1);
    ui_close(&f);

    CHECK_EQ_STR(kiln_query_ui_ctype("a/b/Page.HTML"), "text/html; charset=utf-8");
    CHECK_EQ_STR(kiln_query_ui_ctype("x.mjs"), "text/javascript; charset=utf-8");
    CHECK_EQ_STR(kiln_query_ui_ctype("f.woff2"), "font/woff2");
    CHECK(kiln_query_ui_ctype("noext") == NULL);
    CHECK(kiln_query_ui_ctype("x.exe") == NULL);
    CHECK(kiln_query_ui_ctype("dir.js/noext") == NULL);
}

static void t_gzip(void)
{
    ui_fx f;
    kq_ui_opts o = {NULL, assets, fill_assets(1), ""};
    CHECK(ui_open(&f, &o) == 0);
    mock_http_reply r, r2;
    char hv[512], etag_id[64], etag_gz[64];

    CHECK(get(&f, "/ui/app.js", NULL, NULL, NULL, NULL, &r) == 0);
    CHECK(r.status == 200 && r.len == strlen(app_js));
    CHECK_EQ_STR(header(&r, "Content-Encoding", hv, sizeof hv), "");
    CHECK_EQ_STR(header(&r, "Vary", hv, sizeof hv), "Accept-Encoding");
    header(&r, "ETag", etag_id, sizeof etag_id);
    mock_http_reply_free(&r);

    CHECK(get(&f, "/ui/app.js", "Accept-Encoding", "br, gzip, deflate", NULL, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_STR(header(&r, "Content-Encoding", hv, sizeof hv), "gzip");
    CHECK_EQ_STR(r.content_type, "text/javascript; charset=utf-8");
    header(&r, "ETag", etag_gz, sizeof etag_gz);
    CHECK(strcmp(etag_id, etag_gz) != 0 && strstr(etag_gz, "-gz\"") != NULL);
    CHECK(r.len > 18 && r.len < strlen(app_js) / 3);
    kiln_arena *a = kiln_arena_new(0);
    uint8_t *plain = NULL;
    size_t pl = 0;
    kiln_err err;
    CHECK(kiln_gunzip(a, (const uint8_t *)r.body, r.len, 1 << 20, &plain, &pl, &err) == KILN_OK);
    CHECK(pl == strlen(app_js) && plain && !memcmp(plain, app_js, pl));
    /* the second answer is the same bytes (the compressed copy is kept) */
    CHECK(get(&f, "/ui/app.js", "Accept-Encoding", "gzip", NULL, NULL, &r2) == 0);
    CHECK(r2.len == r.len && !memcmp(r2.body, r.body, r.len));
    mock_http_reply_free(&r2);
    mock_http_reply_free(&r);
    kiln_arena_destroy(a);

    /* refused or not offered: identity */
    static const char *const no[] = {"gzip;q=0", "deflate, br", "identity", "x-gzip"};
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
        CHECK(get(&f, "/ui/app.js", "Accept-Encoding", no[i], NULL, NULL, &r) == 0);
        CHECK(r.status == 200 && r.len == strlen(app_js));
        CHECK_EQ_STR(header(&r, "Content-Encoding", hv, sizeof hv), "");
        mock_http_reply_free(&r);
    }
    /* small files and images are sent as they are */
    CHECK(get(&f, "/ui/style.css", "Accept-Encoding", "gzip", NULL, NULL, &r) == 0);
    CHECK(r.len == sizeof style_css - 1 && !*header(&r, "Content-Encoding", hv, sizeof hv));
    mock_http_reply_free(&r);
    CHECK(get(&f, "/ui/img.png", "Accept-Encoding", "gzip", NULL, NULL, &r) == 0);
    CHECK(r.len == sizeof png && !*header(&r, "Content-Encoding", hv, sizeof hv));
    CHECK_EQ_STR(header(&r, "Vary", hv, sizeof hv), "");
    mock_http_reply_free(&r);
    ui_close(&f);
}

static void t_etag(void)
{
    ui_fx f;
    kq_ui_opts o = {NULL, assets, fill_assets(1), ""};
    CHECK(ui_open(&f, &o) == 0);
    mock_http_reply r;
    char etag[64], weak[80], list[160], hv[128];
    CHECK(get(&f, "/ui/style.css", NULL, NULL, NULL, NULL, &r) == 0);
    header(&r, "ETag", etag, sizeof etag);
    mock_http_reply_free(&r);
    snprintf(weak, sizeof weak, "W/%s", etag);
    snprintf(list, sizeof list, "\"nope\", %s", etag);
    const char *hit[] = {etag, weak, list, "*"};
    for (size_t i = 0; i < 4; i++) {
        CHECK(get(&f, "/ui/style.css", "If-None-Match", hit[i], NULL, NULL, &r) == 0);
        CHECK_EQ_INT(r.status, 304);
        CHECK_EQ_INT(r.len, 0);
        CHECK_EQ_STR(header(&r, "ETag", hv, sizeof hv), etag);
        mock_http_reply_free(&r);
    }
    const char *miss[] = {"\"0000000000000000\"", "", "W/\"x\""};
    for (size_t i = 0; i < 3; i++) {
        CHECK(get(&f, "/ui/style.css", "If-None-Match", miss[i], NULL, NULL, &r) == 0);
        CHECK_EQ_INT(r.status, 200);
        CHECK_EQ_INT(r.len, sizeof style_css - 1);
        mock_http_reply_free(&r);
    }
    /* the gzip variant has its own tag: the identity tag does not match it */
    CHECK(get(&f, "/ui/app.js", "If-None-Match", etag, "Accept-Encoding", "gzip", &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    mock_http_reply_free(&r);
    /* different content, different tags */
    char e2[64];
    CHECK(get(&f, "/ui/favicon.svg", NULL, NULL, NULL, NULL, &r) == 0);
    header(&r, "ETag", e2, sizeof e2);
    CHECK(strcmp(e2, etag) != 0);
    mock_http_reply_free(&r);
    ui_close(&f);
}

static void t_missing_page(void)
{
    ui_fx f;
    mock_http_reply r;
    kq_ui_opts o = {NULL, assets, fill_assets(1), "lib/d3.min.js lib/d3-flamegraph.min.js"};
    CHECK(ui_open(&f, &o) == 0);
    CHECK(get(&f, "/", NULL, NULL, NULL, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_STR(r.content_type, "text/html; charset=utf-8");
    CHECK_CONTAINS(r.body, "assets are missing");
    CHECK_CONTAINS(r.body, "lib/d3.min.js lib/d3-flamegraph.min.js");
    CHECK_CONTAINS(r.body, "npm ci");
    CHECK_CONTAINS(r.body, "scripts/build.sh");
    CHECK_CONTAINS(r.body, "/pyroscope/render");
    mock_http_reply_free(&r);
    /* what is there is still served */
    CHECK(get(&f, "/ui/app.js", NULL, NULL, NULL, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    mock_http_reply_free(&r);
    ui_close(&f);

    /* no index.html at all */
    kq_ui_opts o2 = {NULL, assets, fill_assets(0), ""};
    CHECK(ui_open(&f, &o2) == 0);
    CHECK(get(&f, "/", NULL, NULL, NULL, NULL, &r) == 0);
    CHECK_CONTAINS(r.body, "<code>index.html</code>");
    mock_http_reply_free(&r);
    ui_close(&f);

    /* no assets (what this test build's kiln_query_ui_embedded gives) */
    kq_ui_opts o3 = {0};
    kiln_query_ui_embedded(&o3);
    CHECK_EQ_INT(o3.n_assets, 0);
    CHECK(ui_open(&f, &o3) == 0);
    CHECK(get(&f, "/", NULL, NULL, NULL, NULL, &r) == 0);
    CHECK_CONTAINS(r.body, "assets are missing");
    mock_http_reply_free(&r);
    CHECK(get(&f, "/ui/app.js", NULL, NULL, NULL, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 404);
    mock_http_reply_free(&r);
    ui_close(&f);
}

/* ---- directory mode ----------------------------------------------------------------------------------- */

static int put(const char *dir, const char *rel, const char *text)
{
    char p[512], cmd[700];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    snprintf(cmd, sizeof cmd, "mkdir -p \"$(dirname '%s')\"", p);
    if (system(cmd) != 0) return -1;
    FILE *fp = fopen(p, "w");
    if (!fp) return -1;
    fputs(text, fp);
    return fclose(fp);
}

static void t_dir_mode(void)
{
    char base[] = "/tmp/kiln-qstatic.XXXXXX";
    CHECK(mkdtemp(base) != NULL);
    char root[600];
    snprintf(root, sizeof root, "%s/web", base);
    CHECK(put(root, "index.html", "<!doctype html><p>dev page</p>") == 0);
    CHECK(put(root, "app.js", "console.log('dev')\n") == 0);
    CHECK(put(root, "sub/x.css", "p{color:red}") == 0);
    CHECK(put(root, ".hidden.js", "HIDDEN") == 0);
    CHECK(put(root, "noext", "NOEXT") == 0);
    CHECK(put(root, "x.exe", "EXE") == 0);
    CHECK(put(root, "node_modules/d3/dist/d3.min.js", "// d3 here") == 0);
    CHECK(put(root, "node_modules/d3/LICENSE", "ISC") == 0);
    CHECK(put(root, "node_modules/d3-flame-graph/dist/d3-flamegraph.umd.min.js", "// fg here") == 0);
    CHECK(put(root, "node_modules/d3-flame-graph/LICENSE", "Apache") == 0);
    CHECK(put(base, "outside/secret.js", "SECRET") == 0);
    char p1[700], p2[700];
    snprintf(p1, sizeof p1, "%s/outside/secret.js", base);
    snprintf(p2, sizeof p2, "%s/link.js", root);
    CHECK(symlink(p1, p2) == 0);
    snprintf(p2, sizeof p2, "%s/alias.js", root);
    CHECK(symlink("app.js", p2) == 0); /* stays inside: fine */
    snprintf(p2, sizeof p2, "%s/dir.js", root);
    CHECK(mkdir(p2, 0755) == 0);

    ui_fx f;
    kq_ui_opts o = {root, NULL, 0, NULL};
    CHECK(ui_open(&f, &o) == 0);
    mock_http_reply r;
    char hv[256];

    CHECK(get(&f, "/", NULL, NULL, NULL, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_STR(r.body, "<!doctype html><p>dev page</p>");
    mock_http_reply_free(&r);
    static const char *const okv[][3] = {
        {"/ui/app.js", "console.log('dev')\n", "text/javascript; charset=utf-8"},
        {"/ui/alias.js", "console.log('dev')\n", "text/javascript; charset=utf-8"},
        {"/ui/sub/x.css", "p{color:red}", "text/css; charset=utf-8"},
        {"/ui/lib/d3.min.js", "// d3 here", "text/javascript; charset=utf-8"},
        {"/ui/lib/d3-flamegraph.min.js", "// fg here", "text/javascript; charset=utf-8"},
        {"/ui/lib/d3-flame-graph.LICENSE.txt", "Apache", "text/plain; charset=utf-8"},
    };
    for (size_t i = 0; i < sizeof okv / sizeof okv[0]; i++) {
        CHECK(get(&f, okv[i][0], NULL, NULL, NULL, NULL, &r) == 0);
        if (r.status != 200) fprintf(stderr, "  %s -> %d\n", okv[i][0], r.status);
        CHECK_EQ_INT(r.status, 200);
        CHECK_EQ_STR(r.body, okv[i][1]);
        CHECK_EQ_STR(r.content_type, okv[i][2]);
        mock_http_reply_free(&r);
    }
    static const char *const refused[] = {
        "/ui/../outside/secret.js", "/ui/sub/../../outside/secret.js", "/ui/./app.js",
        "/ui/%2e%2e/outside/secret.js", "/ui/..%2Foutside%2Fsecret.js", "/ui/.hidden.js", "/ui/link.js",
        "/ui/dir.js", "/ui/noext", "/ui/x.exe", "/ui//app.js", "/ui/sub//x.css", "/ui/sub\\..\\app.js",
        "/ui/lib/unknown.js", "/ui/lib/../app.js", "/ui/node_modules/../../outside/secret.js", "/ui/sub/",
        "/ui/lib/d3.min.js/", "/ui/..", "/ui/app.js\x01",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        CHECK(get(&f, refused[i], NULL, NULL, NULL, NULL, &r) == 0);
        if (r.status != 404) fprintf(stderr, "  %s -> %d\n", refused[i], r.status);
        CHECK_EQ_INT(r.status, 404);
        CHECK(!r.body || (!strstr(r.body, "SECRET") && !strstr(r.body, "HIDDEN") && !strstr(r.body, "EXE")));
        mock_http_reply_free(&r);
    }

    /* gzip from a file: its own tag, unpacks to the file */
    make_app_js();
    CHECK(put(root, "big.js", app_js) == 0);
    CHECK(get(&f, "/ui/big.js", "Accept-Encoding", "gzip", NULL, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_STR(header(&r, "Content-Encoding", hv, sizeof hv), "gzip");
    header(&r, "ETag", hv, sizeof hv);
    CHECK(strlen(hv) > 8 && !strcmp(hv + strlen(hv) - 4, "-gz\""));
    {
        kiln_arena *a = kiln_arena_new(0);
        uint8_t *plain = NULL;
        size_t pl = 0;
        kiln_err err;
        CHECK(kiln_gunzip(a, (const uint8_t *)r.body, r.len, 1 << 20, &plain, &pl, &err) == KILN_OK);
        CHECK(pl == strlen(app_js) && plain && !memcmp(plain, app_js, pl));
        kiln_arena_destroy(a);
    }
    mock_http_reply_free(&r);

    /* ETag follows the file */
    char e1[64];
    CHECK(get(&f, "/ui/app.js", NULL, NULL, NULL, NULL, &r) == 0);
    header(&r, "ETag", e1, sizeof e1);
    mock_http_reply_free(&r);
    CHECK(get(&f, "/ui/app.js", "If-None-Match", e1, NULL, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 304);
    mock_http_reply_free(&r);
    CHECK(put(root, "app.js", "console.log('changed, longer')\n") == 0);
    CHECK(get(&f, "/ui/app.js", "If-None-Match", e1, NULL, NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_STR(r.body, "console.log('changed, longer')\n");
    CHECK(strcmp(header(&r, "ETag", hv, sizeof hv), e1) != 0);
    mock_http_reply_free(&r);

    /* a library gone: / says what is missing */
    char lib[700];
    snprintf(lib, sizeof lib, "%s/node_modules/d3/dist/d3.min.js", root);
    CHECK(unlink(lib) == 0);
    CHECK(get(&f, "/", NULL, NULL, NULL, NULL, &r) == 0);
    CHECK_CONTAINS(r.body, "assets are missing");
    CHECK_CONTAINS(r.body, "node_modules/d3/dist/d3.min.js");
    CHECK(!strstr(r.body, "d3-flamegraph.umd.min.js"));
    mock_http_reply_free(&r);
    ui_close(&f);

    /* a directory that is not there, or a file */
    kiln_err err;
    kq_ui *ui = NULL;
    char gone[700];
    snprintf(gone, sizeof gone, "%s/nope", base);
    kq_ui_opts bad = {gone, NULL, 0, NULL};
    mock_host *m = mock_host_new("exporter/query", "exporter");
    CHECK_EQ_INT(kiln_query_ui_new(mock_host_host(m), &bad, &ui, &err), KILN_EINVAL);
    CHECK_CONTAINS(err.msg, "ui_dir");
    CHECK_CONTAINS(err.msg, "No such file");
    snprintf(gone, sizeof gone, "%s/app.js", root);
    bad.dir = gone;
    CHECK_EQ_INT(kiln_query_ui_new(mock_host_host(m), &bad, &ui, &err), KILN_EINVAL);
    CHECK_CONTAINS(err.msg, "Not a directory");
    CHECK(ui == NULL);
    mock_host_free(m);

    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", base);
    CHECK(system(cmd) == 0);
}

/* ---- through the plugin's config ------------------------------------------------------------------------ */

static void t_plugin_config(void)
{
    qt_fx f;
    mock_http_reply r;
    /* default: ui on; this build embeds nothing, so / explains */
    CHECK(qt_open(&f) == 0);
    CHECK(qt_start(&f, NULL) == 0);
    CHECK(qt_get(&f, "/", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_CONTAINS(r.body, "assets are missing");
    mock_http_reply_free(&r);
    CHECK(qt_get(&f, "/pyroscope/label-values?label=service_name", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    mock_http_reply_free(&r);
    qt_done(&f);

    /* ui: false: no route at / nor /ui/ */
    CHECK(qt_open(&f) == 0);
    CHECK(qt_start(&f, "ui: false\n") == 0);
    CHECK(qt_get(&f, "/", NULL, &r) == -1);
    CHECK(qt_get(&f, "/ui/app.js", NULL, &r) == -1);
    CHECK(qt_get(&f, "/pyroscope/labels", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    mock_http_reply_free(&r);
    qt_done(&f);

    /* ui_dir */
    CHECK(qt_open(&f) == 0);
    char dir[400], yaml[500];
    snprintf(dir, sizeof dir, "%s/site", f.dir);
    CHECK(put(dir, "index.html", "<p>from ui_dir</p>") == 0);
    CHECK(put(dir, "node_modules/d3/dist/d3.min.js", "1") == 0);
    CHECK(put(dir, "node_modules/d3/LICENSE", "1") == 0);
    CHECK(put(dir, "node_modules/d3-flame-graph/dist/d3-flamegraph.umd.min.js", "1") == 0);
    CHECK(put(dir, "node_modules/d3-flame-graph/LICENSE", "1") == 0);
    snprintf(yaml, sizeof yaml, "ui_dir: %s\n", dir);
    CHECK(qt_start(&f, yaml) == 0);
    CHECK(qt_get(&f, "/", NULL, &r) == 0);
    CHECK_EQ_INT(r.status, 200);
    CHECK_EQ_STR(r.body, "<p>from ui_dir</p>");
    mock_http_reply_free(&r);
    qt_done(&f);

    /* a ui_dir that is not there fails create, naming it */
    CHECK(qt_open(&f) == 0);
    snprintf(yaml, sizeof yaml, "ui_dir: %s/absent\n", f.dir);
    CHECK(qt_start(&f, yaml) == -1);
    f.st = NULL; /* create failed: nothing to destroy */
    qt_done(&f);
}

int main(void)
{
    RUN(t_embedded_routes_and_types);
    RUN(t_gzip);
    RUN(t_etag);
    RUN(t_missing_page);
    RUN(t_dir_mode);
    RUN(t_plugin_config);
    return test_summary();
}
