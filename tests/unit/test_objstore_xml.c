/* tests/unit/test_objstore_xml.c — the bounded XML reader for S3's answers
 * (pipeline/s3_xml.c): ListObjectsV2 pages, InitiateMultipartUpload,
 * Error documents as S3 and s3rver write them, and garbage: every cut of a
 * valid page, mismatched tags, DOCTYPE/entity tricks, over-deep nesting,
 * over-long text, bad numbers. (tests/fuzz/fuzz_s3_xml.c goes further.)
 */
#include "testlib.h"

#include <stdlib.h>

#include "objstore_internal.h"

static const char list_page[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\n"
    "  <Name>kiln-test</Name>\n"
    "  <Prefix>tenant/</Prefix>\n"
    "  <KeyCount>3</KeyCount>\n"
    "  <MaxKeys>3</MaxKeys>\n"
    "  <IsTruncated>true</IsTruncated>\n"
    "  <!-- a comment -->\n"
    "  <Contents>\n"
    "    <Key>tenant/01HX/meta.json</Key>\n"
    "    <LastModified>2024-05-01T10:00:00.000Z</LastModified>\n"
    "    <ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag>\n"
    "    <Size>434</Size>\n"
    "    <Owner><ID>75aa57f09aa0c8caeab4f8c24e99d10f8e7faeebf76c078efc7c6caea54ba06a</ID>"
    "<DisplayName>mtd@amazon.com</DisplayName></Owner>\n"
    "    <StorageClass>STANDARD</StorageClass>\n"
    "  </Contents>\n"
    "  <Contents><Key>tenant/a&amp;b &lt;&#x4e2d;&#25991;&gt;</Key><Size>0</Size></Contents>\n"
    "  <Contents foo='x&gt;y' bar=\"1>2\"><Key><![CDATA[tenant/c<d>]]></Key><Size> 18446744073709551615 </Size></Contents>\n"
    "  <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>\n"
    "  <EncodingType/>\n"
    "</ListBucketResult>\n";

static void t_list_page(void)
{
    kiln_s3_list_page pg;
    kiln_err err = {0};
    int rc = kiln_s3_xml_list(list_page, strlen(list_page), &pg, &err);
    CHECK_EQ_INT(rc, KILN_OK);
    if (rc) {
        printf("  %s\n", err.msg);
        return;
    }
    CHECK_EQ_INT(pg.n, 3);
    CHECK_EQ_INT(pg.truncated, 1);
    CHECK_EQ_STR(pg.next_token, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
    CHECK_EQ_STR(pg.items[0].key, "tenant/01HX/meta.json");
    CHECK_EQ_INT(pg.items[0].size, 434);
    CHECK_EQ_STR(pg.items[1].key, "tenant/a&b <\xe4\xb8\xad\xe6\x96\x87>");
    CHECK_EQ_INT(pg.items[1].size, 0);
    CHECK_EQ_STR(pg.items[2].key, "tenant/c<d>");
    CHECK(pg.items[2].size == UINT64_MAX);
    kiln_s3_list_page_free(&pg);
    CHECK(pg.items == NULL && pg.n == 0);
}

static void t_list_last_page(void)
{
    /* as s3rver 3.7 writes it: no token, IsTruncated false, no Contents */
    const char *d = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult "
                    "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><IsTruncated>false</IsTruncated>"
                    "<MaxKeys>1000</MaxKeys><Name>b</Name><Prefix></Prefix><KeyCount>0</KeyCount>"
                    "</ListBucketResult>";
    kiln_s3_list_page pg;
    CHECK_EQ_INT(kiln_s3_xml_list(d, strlen(d), &pg, NULL), KILN_OK);
    CHECK_EQ_INT(pg.n, 0);
    CHECK_EQ_INT(pg.truncated, 0);
    CHECK(pg.next_token == NULL);
    kiln_s3_list_page_free(&pg);
}

static void t_every_cut_fails(void)
{
    /* every proper prefix that ends before the root's end tag is incomplete */
    const char *endtag = strstr(list_page, "</ListBucketResult>");
    size_t complete = (size_t)(endtag - list_page) + strlen("</ListBucketResult>");
    int failed = 0;
    for (size_t n = 0; n < complete; n++) {
        char *cut = malloc(n ? n : 1); /* exact size: ASan sees any read past n */
        memcpy(cut, list_page, n);
        kiln_s3_list_page pg;
        kiln_err err = {0};
        int rc = kiln_s3_xml_list(cut, n, &pg, &err);
        if (rc == KILN_EUNPROC && pg.n == 0 && pg.items == NULL) failed++;
        else printf("  cut at %zu: rc %d\n", n, rc);
        free(cut);
    }
    CHECK_EQ_INT(failed, complete);
    for (size_t n = complete; n <= strlen(list_page); n++) {
        kiln_s3_list_page pg;
        CHECK_EQ_INT(kiln_s3_xml_list(list_page, n, &pg, NULL), KILN_OK);
        CHECK_EQ_INT(pg.n, 3);
        kiln_s3_list_page_free(&pg);
    }
}

static int expect_fail(const char *doc, const char *msg_part)
{
    kiln_s3_list_page pg;
    kiln_err err = {0};
    int rc = kiln_s3_xml_list(doc, strlen(doc), &pg, &err);
    if (rc == KILN_OK) kiln_s3_list_page_free(&pg);
    if (rc != KILN_EUNPROC || !strstr(err.msg, msg_part)) {
        printf("  \"%.60s\": rc %d, \"%s\" (wanted \"%s\")\n", doc, rc, err.msg, msg_part);
        return 0;
    }
    return 1;
}

static void t_garbage(void)
{
    CHECK(expect_fail("", "no root element"));
    CHECK(expect_fail("   \n", "no root element"));
    CHECK(expect_fail("hello", "text outside the root"));
    CHECK(expect_fail("<ListBucketResult>", "ends inside an element"));
    CHECK(expect_fail("<ListBucketResult></ListBucketResul>", "does not match"));
    CHECK(expect_fail("<ListBucketResult></ListBucketResult><ListBucketResult/>", "second root"));
    CHECK(expect_fail("<ListBucketResult/>x", "text outside the root"));
    CHECK(expect_fail("</ListBucketResult>", "end tag without"));
    CHECK(expect_fail("<Error><Code>NoSuchBucket</Code></Error>", "expected <ListBucketResult>"));
    CHECK(expect_fail("<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;\">]>"
                      "<ListBucketResult>&lol2;</ListBucketResult>", "DOCTYPE"));
    CHECK(expect_fail("<ListBucketResult>&lol;</ListBucketResult>", "unknown entity"));
    CHECK(expect_fail("<ListBucketResult>&amp</ListBucketResult>", "unterminated character reference"));
    CHECK(expect_fail("<ListBucketResult>&#0;</ListBucketResult>", "does not allow"));
    CHECK(expect_fail("<ListBucketResult>&#xD800;</ListBucketResult>", "does not allow"));
    CHECK(expect_fail("<ListBucketResult>&#x110000;</ListBucketResult>", "out of range"));
    CHECK(expect_fail("<ListBucketResult>&#12a;</ListBucketResult>", "bad digit"));
    CHECK(expect_fail("<ListBucketResult>&#;</ListBucketResult>", "empty character reference"));
    CHECK(expect_fail("<ListBucketResult>\x01</ListBucketResult>", "control byte"));
    CHECK(expect_fail("<ListBucketResult a=b></ListBucketResult>", "quoted attribute"));
    CHECK(expect_fail("<ListBucketResult a=\"b\"c=\"d\"></ListBucketResult>", "space before an attribute"));
    CHECK(expect_fail("<ListBucketResult a=\"<\"></ListBucketResult>", "'<' in an attribute"));
    CHECK(expect_fail("<ListBucketResult><![CDATA[x</ListBucketResult>", "unterminated CDATA"));
    CHECK(expect_fail("<ListBucketResult><!-- x</ListBucketResult>", "unterminated comment"));
    CHECK(expect_fail("<?xml version=\"1.0\"", "unterminated processing"));
    CHECK(expect_fail("<1a/>", "expected a name"));
    CHECK(expect_fail("<ListBucketResult><Contents><Key>k</Key></Contents></ListBucketResult>",
                      "without <Size>"));
    CHECK(expect_fail("<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
                      "without <Key>"));
    CHECK(expect_fail("<ListBucketResult><Contents><Key>a</Key><Key>b</Key><Size>1</Size></Contents>"
                      "</ListBucketResult>", "two <Key>s"));
    CHECK(expect_fail("<ListBucketResult><Contents><Key>a</Key><Size>12a</Size></Contents></ListBucketResult>",
                      "bad <Size>"));
    CHECK(expect_fail("<ListBucketResult><Contents><Key>a</Key><Size>18446744073709551616</Size></Contents>"
                      "</ListBucketResult>", "bad <Size>"));
    CHECK(expect_fail("<ListBucketResult><Contents><Key>a</Key><Size></Size></Contents></ListBucketResult>",
                      "bad <Size>"));
    CHECK(expect_fail("<ListBucketResult><IsTruncated>yes</IsTruncated></ListBucketResult>", "bad <IsTruncated>"));
    CHECK(expect_fail("<ListBucketResult><Contents><Key>a&#0;</Key><Size>1</Size></Contents></ListBucketResult>",
                      "does not allow"));
    CHECK(expect_fail("<ListBucketResult><NextContinuationToken>a</NextContinuationToken>"
                      "<NextContinuationToken>b</NextContinuationToken></ListBucketResult>", "two <NextContinuationToken>"));
}

static void t_limits(void)
{
    /* 16 levels are fine, 17 are not */
    char deep[512] = "";
    for (int i = 0; i < 16; i++) strcat(deep, "<a>");
    for (int i = 0; i < 16; i++) strcat(deep, "</a>");
    kiln_err err = {0};
    CHECK_EQ_INT(kiln_s3_xml_walk(deep, strlen(deep), NULL, NULL, &err), KILN_OK);
    char deeper[512] = "";
    for (int i = 0; i < 17; i++) strcat(deeper, "<a>");
    for (int i = 0; i < 17; i++) strcat(deeper, "</a>");
    CHECK_EQ_INT(kiln_s3_xml_walk(deeper, strlen(deeper), NULL, NULL, &err), KILN_EUNPROC);
    CHECK_CONTAINS(err.msg, "too deep");

    /* text: KILN_S3_XML_TEXT bytes fit, one more does not */
    size_t n = KILN_S3_XML_TEXT;
    char *big = malloc(n + 64);
    if (!big) return;
    strcpy(big, "<a>");
    memset(big + 3, 'x', n);
    strcpy(big + 3 + n, "</a>");
    CHECK_EQ_INT(kiln_s3_xml_walk(big, strlen(big), NULL, NULL, &err), KILN_OK);
    strcpy(big, "<a>");
    memset(big + 3, 'x', n + 1);
    strcpy(big + 4 + n, "</a>");
    CHECK_EQ_INT(kiln_s3_xml_walk(big, strlen(big), NULL, NULL, &err), KILN_EUNPROC);
    CHECK_CONTAINS(err.msg, "size limit");
    free(big);

    char name[128] = "<";
    memset(name + 1, 'n', 64);
    strcpy(name + 65, "/>");
    CHECK_EQ_INT(kiln_s3_xml_walk(name, strlen(name), NULL, NULL, &err), KILN_EUNPROC);
    CHECK_CONTAINS(err.msg, "longer than 63");
}

typedef struct counts {
    int starts, ends, maxdepth;
    char texts[256];
} counts;

static int c_start(void *arg, const char *const *path, int depth)
{
    counts *c = arg;
    c->starts++;
    if (depth > c->maxdepth) c->maxdepth = depth;
    return 0;
}

static int c_end(void *arg, const char *const *path, int depth, const char *text, size_t len)
{
    counts *c = arg;
    c->ends++;
    if (depth == 3 && strcmp(path[0], "r") == 0 && strcmp(path[1], "b") == 0)
        snprintf(c->texts + strlen(c->texts), sizeof c->texts - strlen(c->texts), "[%s:%s]", path[2], text);
    return strcmp(path[depth - 1], "stop") == 0 ? 42 : 0;
}

static void t_walk(void)
{
    const char *d = "\xef\xbb\xbf<?xml version='1.0'?><r><b x='1'><c>one</c><d/><e>t&apos;wo<!-- c -->2</e></b>"
                    "<f>  </f></r><!-- after -->\n";
    counts c = {0};
    kiln_s3_xml_cb cb = {c_start, c_end};
    kiln_err err = {0};
    CHECK_EQ_INT(kiln_s3_xml_walk(d, strlen(d), &cb, &c, &err), KILN_OK);
    CHECK_EQ_INT(c.starts, 6);
    CHECK_EQ_INT(c.ends, 6);
    CHECK_EQ_INT(c.maxdepth, 3);
    CHECK_EQ_STR(c.texts, "[c:one][d:][e:t'wo2]");
    /* a callback's non-zero return stops the walk and comes back as is */
    const char *s = "<r><stop/><never/></r>";
    counts c2 = {0};
    CHECK_EQ_INT(kiln_s3_xml_walk(s, strlen(s), &cb, &c2, &err), 42);
    CHECK_EQ_INT(c2.starts, 2);
}

static void t_error_doc(void)
{
    const char *d = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>\n  <Code>NoSuchKey</Code>\n"
                    "  <Message>The resource you requested does not exist</Message>\n"
                    "  <Resource>/mybucket/myfoto.jpg</Resource>\n  <RequestId>4442587FB7D0A2F9</RequestId>\n</Error>";
    char code[64], msg[128];
    CHECK_EQ_INT(kiln_s3_xml_error(d, strlen(d), code, sizeof code, msg, sizeof msg), 1);
    CHECK_EQ_STR(code, "NoSuchKey");
    CHECK_EQ_STR(msg, "The resource you requested does not exist");
    /* cut to fit */
    char c4[5], m8[8];
    CHECK_EQ_INT(kiln_s3_xml_error(d, strlen(d), c4, sizeof c4, m8, sizeof m8), 1);
    CHECK_EQ_STR(c4, "NoSu");
    CHECK_EQ_STR(m8, "The res");
    /* line breaks in a message become spaces */
    const char *ml = "<Error><Code>SlowDown</Code><Message>a\nb</Message></Error>";
    CHECK_EQ_INT(kiln_s3_xml_error(ml, strlen(ml), code, sizeof code, msg, sizeof msg), 1);
    CHECK_EQ_STR(msg, "a b");
    /* not an error document, or not XML */
    CHECK_EQ_INT(kiln_s3_xml_error(list_page, strlen(list_page), code, sizeof code, msg, sizeof msg), 0);
    CHECK_EQ_STR(code, "");
    CHECK_EQ_INT(kiln_s3_xml_error("<html>502 Bad Gateway", 21, code, sizeof code, msg, sizeof msg), 0);
    CHECK_EQ_INT(kiln_s3_xml_error("", 0, code, sizeof code, msg, sizeof msg), 0);
    CHECK_EQ_INT(kiln_s3_xml_error("<Error><Code>X</Code>", 21, code, sizeof code, msg, sizeof msg), 0);
    CHECK_EQ_STR(code, "");
}

static void t_upload_id(void)
{
    const char *d = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<InitiateMultipartUploadResult "
                    "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\n  <Bucket>example-bucket</Bucket>\n"
                    "  <Key>example-object</Key>\n"
                    "  <UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>\n"
                    "</InitiateMultipartUploadResult>";
    char *id = NULL;
    kiln_err err = {0};
    CHECK_EQ_INT(kiln_s3_xml_upload_id(d, strlen(d), &id, &err), KILN_OK);
    CHECK_EQ_STR(id, "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA");
    free(id);
    const char *none = "<InitiateMultipartUploadResult><Key>k</Key></InitiateMultipartUploadResult>";
    CHECK_EQ_INT(kiln_s3_xml_upload_id(none, strlen(none), &id, &err), KILN_EUNPROC);
    CHECK(id == NULL);
    CHECK_CONTAINS(err.msg, "no <UploadId>");
    const char *empty = "<InitiateMultipartUploadResult><UploadId></UploadId></InitiateMultipartUploadResult>";
    CHECK_EQ_INT(kiln_s3_xml_upload_id(empty, strlen(empty), &id, &err), KILN_EUNPROC);
    const char *e = "<Error><Code>AccessDenied</Code></Error>";
    CHECK_EQ_INT(kiln_s3_xml_upload_id(e, strlen(e), &id, &err), KILN_EUNPROC);
    CHECK_CONTAINS(err.msg, "got <Error>");
}

static void t_escape_roundtrip(void)
{
    kiln_osbuf b = {0};
    kiln_osbuf_adds(&b, "<ETag>");
    CHECK_EQ_INT(kiln_s3_xml_escape(&b, "\"a&b<c>'\""), KILN_OK);
    kiln_osbuf_adds(&b, "</ETag>");
    CHECK_EQ_STR(b.p, "<ETag>&quot;a&amp;b&lt;c&gt;&apos;&quot;</ETag>");
    counts c = {0};
    (void)c;
    /* the reader gives back what was escaped */
    char code[64], msg[64];
    kiln_osbuf e = {0};
    kiln_osbuf_adds(&e, "<Error><Code>");
    kiln_s3_xml_escape(&e, "\"a&b<c>'\"");
    kiln_osbuf_adds(&e, "</Code></Error>");
    CHECK_EQ_INT(kiln_s3_xml_error(e.p, e.len, code, sizeof code, msg, sizeof msg), 1);
    CHECK_EQ_STR(code, "\"a&b<c>'\"");
    kiln_osbuf_free(&b);
    kiln_osbuf_free(&e);
}

int main(void)
{
    RUN(t_list_page);
    RUN(t_list_last_page);
    RUN(t_every_cut_fails);
    RUN(t_garbage);
    RUN(t_limits);
    RUN(t_walk);
    RUN(t_error_doc);
    RUN(t_upload_id);
    RUN(t_escape_roundtrip);
    return test_summary();
}
