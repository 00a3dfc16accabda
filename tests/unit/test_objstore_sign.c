/* tests/unit/test_objstore_sign.c — AWS Signature Version 4 (pipeline/s3_sign.c)
 * against the four worked examples AWS publishes for S3 ("Signature
 * Calculations for the Authorization Header: Transferring Payload in a
 * Single Chunk": GET Object, PUT Object, GET Bucket Lifecycle, GET Bucket /
 * List Objects): the canonical request, the string to sign and the
 * Authorization header must equal the documented ones byte for byte. Also
 * URI encoding, header value folding and the x-amz-date format.
 */
#include "testlib.h"

#include "objstore_internal.h"

#define AKID "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define DATE "20130524T000000Z"

typedef struct signed_out {
    int rc;
    kiln_osbuf auth, creq, sts;
} signed_out;

static void sign(const char *method, const char *uri, const kiln_s3_kv *q, size_t nq,
                 const kiln_s3_kv *h, size_t nh, const char *payload, signed_out *o)
{
    memset(o, 0, sizeof *o);
    kiln_s3_sign_in in = {
        .method = method, .canonical_uri = uri, .query = q, .n_query = nq, .headers = h,
        .n_headers = nh, .payload_hash = payload, .amz_date = DATE, .region = "us-east-1",
        .service = "s3", .access_key_id = AKID, .secret_access_key = SECRET,
    };
    kiln_err err = {0};
    o->rc = kiln_s3_sign(&in, &o->auth, &o->creq, &o->sts, &err);
    if (o->rc) printf("  sign: %s\n", err.msg);
}

static void out_free(signed_out *o)
{
    kiln_osbuf_free(&o->auth);
    kiln_osbuf_free(&o->creq);
    kiln_osbuf_free(&o->sts);
}

static void t_get_object(void)
{
    kiln_s3_kv h[] = {
        {"Host", "examplebucket.s3.amazonaws.com"},
        {"Range", "bytes=0-9"},
        {"x-amz-content-sha256", EMPTY_SHA},
        {"x-amz-date", DATE},
    };
    signed_out o;
    sign("GET", "/test.txt", NULL, 0, h, 4, EMPTY_SHA, &o);
    CHECK_EQ_INT(o.rc, KILN_OK);
    CHECK_EQ_STR(o.creq.p, "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
                           "x-amz-content-sha256:" EMPTY_SHA "\nx-amz-date:" DATE "\n\n"
                           "host;range;x-amz-content-sha256;x-amz-date\n" EMPTY_SHA);
    CHECK_EQ_STR(o.sts.p, "AWS4-HMAC-SHA256\n" DATE "\n20130524/us-east-1/s3/aws4_request\n"
                          "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
    CHECK_EQ_STR(o.auth.p, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
                           "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
                           "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    out_free(&o);
}

static void t_put_object(void)
{
    const char *body = "Welcome to Amazon S3.";
    char ph[65];
    kiln_s3_sha256_hex(body, strlen(body), ph);
    CHECK_EQ_STR(ph, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    kiln_osbuf uri = {0};
    CHECK_EQ_INT(kiln_s3_uri_encode(&uri, "/test$file.text", 15, 1), KILN_OK);
    CHECK_EQ_STR(uri.p, "/test%24file.text");
    kiln_s3_kv h[] = {
        /* out of order and mixed case on purpose */
        {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
        {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
        {"x-amz-date", DATE},
        {"Host", "examplebucket.s3.amazonaws.com"},
        {"X-Amz-Content-Sha256", ph},
    };
    signed_out o;
    sign("PUT", uri.p, NULL, 0, h, 5, ph, &o);
    CHECK_EQ_INT(o.rc, KILN_OK);
    CHECK_EQ_STR(o.creq.p, "PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\n"
                           "host:examplebucket.s3.amazonaws.com\n"
                           "x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
                           "x-amz-date:" DATE "\nx-amz-storage-class:REDUCED_REDUNDANCY\n\n"
                           "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
                           "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    CHECK_EQ_STR(o.sts.p, "AWS4-HMAC-SHA256\n" DATE "\n20130524/us-east-1/s3/aws4_request\n"
                          "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d");
    CHECK_EQ_STR(o.auth.p, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
                           "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,"
                           "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
    out_free(&o);
    kiln_osbuf_free(&uri);
}

static void t_get_lifecycle(void)
{
    kiln_s3_kv q[] = {{"lifecycle", ""}};
    kiln_s3_kv h[] = {
        {"host", "examplebucket.s3.amazonaws.com"},
        {"x-amz-date", DATE},
        {"x-amz-content-sha256", EMPTY_SHA},
    };
    signed_out o;
    sign("GET", "/", q, 1, h, 3, EMPTY_SHA, &o);
    CHECK_EQ_INT(o.rc, KILN_OK);
    CHECK_EQ_STR(o.creq.p, "GET\n/\nlifecycle=\nhost:examplebucket.s3.amazonaws.com\n"
                           "x-amz-content-sha256:" EMPTY_SHA "\nx-amz-date:" DATE "\n\n"
                           "host;x-amz-content-sha256;x-amz-date\n" EMPTY_SHA);
    CHECK_EQ_STR(o.sts.p, "AWS4-HMAC-SHA256\n" DATE "\n20130524/us-east-1/s3/aws4_request\n"
                          "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca");
    CHECK_CONTAINS(o.auth.p, "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
    out_free(&o);
}

static void t_list_objects(void)
{
    kiln_s3_kv q[] = {{"prefix", "J"}, {"max-keys", "2"}}; /* sorted by the signer */
    kiln_s3_kv h[] = {
        {"host", "examplebucket.s3.amazonaws.com"},
        {"x-amz-date", DATE},
        {"x-amz-content-sha256", EMPTY_SHA},
    };
    signed_out o;
    sign("GET", "/", q, 2, h, 3, EMPTY_SHA, &o);
    CHECK_EQ_INT(o.rc, KILN_OK);
    CHECK_EQ_STR(o.creq.p, "GET\n/\nmax-keys=2&prefix=J\nhost:examplebucket.s3.amazonaws.com\n"
                           "x-amz-content-sha256:" EMPTY_SHA "\nx-amz-date:" DATE "\n\n"
                           "host;x-amz-content-sha256;x-amz-date\n" EMPTY_SHA);
    CHECK_EQ_STR(o.sts.p, "AWS4-HMAC-SHA256\n" DATE "\n20130524/us-east-1/s3/aws4_request\n"
                          "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7");
    CHECK_EQ_STR(o.auth.p, "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
                           "SignedHeaders=host;x-amz-content-sha256;x-amz-date,"
                           "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
    out_free(&o);
}

static void t_one_byte_changes_signature(void)
{
    kiln_s3_kv q[] = {{"prefix", "K"}, {"max-keys", "2"}};
    kiln_s3_kv h[] = {{"host", "examplebucket.s3.amazonaws.com"}, {"x-amz-date", DATE},
                      {"x-amz-content-sha256", EMPTY_SHA}};
    signed_out o;
    sign("GET", "/", q, 2, h, 3, EMPTY_SHA, &o);
    CHECK_EQ_INT(o.rc, KILN_OK);
    CHECK(strstr(o.auth.p, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7") == NULL);
    out_free(&o);
}

static void t_uri_encode(void)
{
    kiln_osbuf b = {0};
    const char *s = "a b+c/d~e_f.g-h=%\xc3\xa9";
    kiln_s3_uri_encode(&b, s, strlen(s), 1);
    CHECK_EQ_STR(b.p, "a%20b%2Bc/d~e_f.g-h%3D%25%C3%A9");
    kiln_osbuf_free(&b);
    kiln_s3_uri_encode(&b, s, strlen(s), 0);
    CHECK_EQ_STR(b.p, "a%20b%2Bc%2Fd~e_f.g-h%3D%25%C3%A9");
    kiln_osbuf_free(&b);

    kiln_s3_kv q[] = {{"continuation-token", "1/abc+="}, {"b", NULL}, {"a", "z"}, {"a", "y"}};
    kiln_s3_canonical_query(&b, q, 4);
    CHECK_EQ_STR(b.p, "a=y&a=z&b=&continuation-token=1%2Fabc%2B%3D");
    kiln_osbuf_free(&b);
}

static void t_header_values_folded(void)
{
    kiln_s3_kv h[] = {{"host", "h"}, {"X-Amz-Meta-A", "  one   two\tthree  "}, {"x-amz-date", DATE}};
    signed_out o;
    sign("GET", "/", NULL, 0, h, 3, "UNSIGNED-PAYLOAD", &o);
    CHECK_EQ_INT(o.rc, KILN_OK);
    CHECK_CONTAINS(o.creq.p, "\nx-amz-meta-a:one two three\n");
    CHECK_CONTAINS(o.creq.p, "\nhost;x-amz-date;x-amz-meta-a\nUNSIGNED-PAYLOAD");
    CHECK(o.creq.p && o.creq.len > 16 && strcmp(o.creq.p + o.creq.len - 16, "UNSIGNED-PAYLOAD") == 0);
    out_free(&o);
}

static void t_dates_and_bad_input(void)
{
    char d[17];
    kiln_s3_amz_date(1369353600, d);
    CHECK_EQ_STR(d, "20130524T000000Z");
    kiln_s3_amz_date(1700000000, d); /* 2023-11-14 22:13:20 UTC */
    CHECK_EQ_STR(d, "20231114T221320Z");

    kiln_s3_kv h[] = {{"host", "h"}};
    kiln_s3_sign_in in = {.method = "GET", .canonical_uri = "/", .headers = h, .n_headers = 1,
                          .payload_hash = EMPTY_SHA, .amz_date = "2013-05-24", .region = "us-east-1",
                          .service = "s3", .access_key_id = AKID, .secret_access_key = SECRET};
    kiln_osbuf a = {0};
    kiln_err err = {0};
    CHECK_EQ_INT(kiln_s3_sign(&in, &a, NULL, NULL, &err), KILN_EINVAL);
    CHECK_CONTAINS(err.msg, "x-amz-date");
    in.amz_date = DATE;
    in.secret_access_key = NULL;
    CHECK_EQ_INT(kiln_s3_sign(&in, &a, NULL, NULL, &err), KILN_EINVAL);
    in.secret_access_key = SECRET;
    in.n_headers = 0;
    CHECK_EQ_INT(kiln_s3_sign(&in, &a, NULL, NULL, &err), KILN_EINVAL);
    CHECK(a.len == 0);
    kiln_osbuf_free(&a);
}

int main(void)
{
    RUN(t_get_object);
    RUN(t_put_object);
    RUN(t_get_lifecycle);
    RUN(t_list_objects);
    RUN(t_one_byte_changes_signature);
    RUN(t_uri_encode);
    RUN(t_header_values_folded);
    RUN(t_dates_and_bad_input);
    return test_summary();
}
