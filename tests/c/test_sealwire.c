/*
 * C11 tests of include/sealwire.h against libsealwire (shared or static).
 *
 * Part 1 loads tests/vectors/identity.json (the vectors every binding checks) and requires
 * byte-identical public identities, did:key strings, fingerprints and signatures, working
 * import of the vector exports, and the listed error code for every invalid case.
 * Part 2 checks the API conventions: NULL handling, the output-buffer length query,
 * _free(NULL), out-parameters untouched on failure, verify failures, wrong passphrases,
 * truncation.
 *
 * Usage: test_sealwire [path/to/identity.json]
 * Prints "N passed, M failed" as its last line; exits non-zero on any failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sealwire.h"
#include "test_support.h"
#include "test_vectors.h"


/* ---- small helpers ------------------------------------------------------------------- */

static uint8_t *jhex(const cJSON *obj, const char *key, size_t *len)
{
    uint8_t *out = hex_decode(jstr(obj, key), len);
    if (out == NULL) {
        fprintf(stderr, "vector field \"%s\" is not hex\n", key);
        abort();
    }
    return out;
}

static const cJSON *find_identity(const cJSON *identities, const char *name)
{
    const cJSON *v;
    cJSON_ArrayForEach(v, identities)
    {
        if (strcmp(jstr(v, "name"), name) == 0) return v;
    }
    return NULL;
}

/* Public identity bytes of a handle, malloc'd, via the length query. */
static uint8_t *public_bytes(const sealwire_public_identity *pub, size_t *len)
{
    size_t need = 0;
    uint8_t *buf;
    if (sealwire_public_identity_to_bytes(pub, NULL, 0, &need) != SEALWIRE_BUFFER_TOO_SMALL) {
        return NULL;
    }
    buf = malloc(need);
    if (buf == NULL) return NULL;
    if (sealwire_public_identity_to_bytes(pub, buf, need, len) != SEALWIRE_OK) {
        free(buf);
        return NULL;
    }
    return buf;
}

static int identity_public_bytes_equal(const sealwire_identity *id, const uint8_t *want,
                                       size_t want_len)
{
    sealwire_public_identity *pub = NULL;
    uint8_t *got;
    size_t got_len = 0;
    int equal;
    if (sealwire_identity_public(id, &pub) != SEALWIRE_OK) return 0;
    got = public_bytes(pub, &got_len);
    equal = got != NULL && got_len == want_len && memcmp(got, want, want_len) == 0;
    free(got);
    sealwire_public_identity_free(pub);
    return equal;
}

static void check_code(sealwire_result got, const char *want_code, const char *description)
{
    const char *got_code = sealwire_result_code_string(got);
    if (strcmp(got_code, want_code) == 0) {
        g_passed++;
    } else {
        g_failed++;
        fprintf(stderr, "FAIL: invalid case \"%s\": got %s, expected %s\n", description, got_code,
                want_code);
    }
}

/* ---- part 1: the shared vectors ------------------------------------------------------ */

static void test_string_output(const sealwire_public_identity *pub, int is_did, const char *want)
{
    char buf[128];
    char small[8];
    size_t need = 0, written = 0;
    size_t want_len = strlen(want) + 1;
    sealwire_result (*fn)(const sealwire_public_identity *, char *, size_t, size_t *) =
        is_did ? sealwire_public_identity_did : sealwire_public_identity_fingerprint;

    CHECK_RC(fn(pub, NULL, 0, &need), SEALWIRE_BUFFER_TOO_SMALL);
    CHECK(need == want_len);
    memset(small, 'x', sizeof small);
    written = 0;
    CHECK_RC(fn(pub, small, sizeof small, &written), SEALWIRE_BUFFER_TOO_SMALL);
    CHECK(written == want_len);
    CHECK(small[0] == 'x' && small[sizeof small - 1] == 'x'); /* nothing written */
    /* One byte short (no room for the NUL) is still too small. */
    CHECK_RC(fn(pub, buf, want_len - 1, &written), SEALWIRE_BUFFER_TOO_SMALL);
    memset(buf, 'x', sizeof buf);
    CHECK_RC(fn(pub, buf, want_len, &written), SEALWIRE_OK);
    CHECK(written == want_len);
    CHECK(strcmp(buf, want) == 0);
    CHECK_RC(fn(pub, buf, sizeof buf, &written), SEALWIRE_OK);
    CHECK(strcmp(buf, want) == 0);
    CHECK(is_did ? want_len <= SEALWIRE_DID_BUFFER_LEN : want_len == SEALWIRE_FINGERPRINT_BUFFER_LEN);
}

static void test_identity_vector(const cJSON *v)
{
    size_t seed_len, xsec_len, pub_len, got_len = 0;
    uint8_t *seed = jhex(v, "ed25519_seed", &seed_len);
    uint8_t *xsec = jhex(v, "x25519_secret", &xsec_len);
    uint8_t *pub_want = jhex(v, "public_identity", &pub_len);
    sealwire_identity *id = NULL;
    sealwire_public_identity *pub = NULL, *parsed = NULL;
    uint8_t *got = NULL;
    const cJSON *sigs = cJSON_GetObjectItemCaseSensitive(v, "signatures");
    const cJSON *s;

    CHECK_RC(sealwire_identity_from_secret_bytes(seed, seed_len, xsec, xsec_len, &id), SEALWIRE_OK);
    CHECK_RC(sealwire_identity_public(id, &pub), SEALWIRE_OK);
    if (id == NULL || pub == NULL) goto out;

    CHECK(pub_len == SEALWIRE_PUBLIC_IDENTITY_LEN);
    got = public_bytes(pub, &got_len);
    CHECK(got != NULL && got_len == pub_len && memcmp(got, pub_want, pub_len) == 0);

    CHECK_RC(sealwire_public_identity_from_bytes(pub_want, pub_len, &parsed), SEALWIRE_OK);
    CHECK(sealwire_public_identity_equal(pub, parsed));
    CHECK(sealwire_public_identity_equal(parsed, pub));

    test_string_output(pub, 1, jstr(v, "did"));
    test_string_output(parsed, 1, jstr(v, "did"));
    test_string_output(pub, 0, jstr(v, "fingerprint"));
    test_string_output(parsed, 0, jstr(v, "fingerprint"));

    cJSON_ArrayForEach(s, sigs)
    {
        size_t msg_len, sig_len, written = 0;
        uint8_t *msg = jhex(s, "message", &msg_len);
        uint8_t *sig_want = jhex(s, "signature", &sig_len);
        uint8_t sig[SEALWIRE_SIGNATURE_LEN];

        CHECK_RC(sealwire_identity_sign(id, msg, msg_len, sig, sizeof sig, &written), SEALWIRE_OK);
        CHECK(written == SEALWIRE_SIGNATURE_LEN && sig_len == SEALWIRE_SIGNATURE_LEN);
        CHECK(memcmp(sig, sig_want, SEALWIRE_SIGNATURE_LEN) == 0);
        CHECK_RC(sealwire_public_identity_verify(parsed, msg, msg_len, sig_want, sig_len), SEALWIRE_OK);
        sig[SEALWIRE_SIGNATURE_LEN - 1] ^= 0x01;
        CHECK_RC(sealwire_public_identity_verify(parsed, msg, msg_len, sig, sizeof sig),
                 SEALWIRE_BAD_SIGNATURE);
        if (msg_len > 0) {
            msg[0] ^= 0x80;
            CHECK_RC(sealwire_public_identity_verify(parsed, msg, msg_len, sig_want, sig_len),
                     SEALWIRE_BAD_SIGNATURE);
        }
        free(msg);
        free(sig_want);
    }

out:
    free(got);
    free(seed);
    free(xsec);
    free(pub_want);
    sealwire_public_identity_free(parsed);
    sealwire_public_identity_free(pub);
    sealwire_identity_free(id);
}

static void test_vectors(const char *path)
{
    char *text = read_file(path);
    cJSON *root;
    const cJSON *identities, *v;
    if (text == NULL) {
        fprintf(stderr, "FAIL: cannot read %s\n", path);
        g_failed++;
        return;
    }
    root = cJSON_Parse(text);
    free(text);
    if (root == NULL) {
        fprintf(stderr, "FAIL: %s is not JSON\n", path);
        g_failed++;
        return;
    }
    identities = cJSON_GetObjectItemCaseSensitive(root, "identities");
    CHECK(cJSON_GetArraySize(identities) > 0);
    cJSON_ArrayForEach(v, identities)
    {
        test_identity_vector(v);
    }

    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(root, "exports"))
    {
        size_t blob_len, pub_len;
        uint8_t *blob = jhex(v, "blob", &blob_len);
        const char *pass = jstr(v, "passphrase");
        const cJSON *named = find_identity(identities, jstr(v, "identity"));
        sealwire_identity *id = NULL;
        CHECK(named != NULL);
        CHECK_RC(sealwire_identity_import(blob, blob_len, (const uint8_t *)pass, strlen(pass), &id),
                 SEALWIRE_OK);
        if (id != NULL && named != NULL) {
            uint8_t *pub_want = jhex(named, "public_identity", &pub_len);
            CHECK(identity_public_bytes_equal(id, pub_want, pub_len));
            free(pub_want);
        }
        sealwire_identity_free(id);
        free(blob);
    }

    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(root, "invalid_public_identities"))
    {
        size_t len;
        uint8_t *bytes = jhex(v, "bytes", &len);
        sealwire_public_identity *out = SENTINEL;
        sealwire_result rc = sealwire_public_identity_from_bytes(bytes, len, &out);
        check_code(rc, jstr(v, "error"), jstr(v, "description"));
        CHECK(out == SENTINEL);
        if (rc == SEALWIRE_OK) sealwire_public_identity_free(out);
        free(bytes);
    }

    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(root, "invalid_exports"))
    {
        size_t len;
        uint8_t *blob = jhex(v, "blob", &len);
        const char *pass = jstr(v, "passphrase");
        sealwire_identity *out = SENTINEL;
        sealwire_result rc =
            sealwire_identity_import(blob, len, (const uint8_t *)pass, strlen(pass), &out);
        check_code(rc, jstr(v, "error"), jstr(v, "description"));
        CHECK(out == SENTINEL);
        if (rc == SEALWIRE_OK) sealwire_identity_free(out);
        free(blob);
    }

    cJSON_Delete(root);
}

/* ---- part 2: API conventions --------------------------------------------------------- */

static const uint8_t SEED_A[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                   17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
static const uint8_t SECRET_A[32] = {32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17,
                                     16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1};

static void test_result_strings(void)
{
    static const sealwire_result all[] = {
        SEALWIRE_OK, SEALWIRE_NULL_POINTER, SEALWIRE_BUFFER_TOO_SMALL, SEALWIRE_INVALID_UTF8,
        SEALWIRE_PANIC, SEALWIRE_INVALID_PARAMETER, SEALWIRE_TRUNCATED, SEALWIRE_TRAILING_BYTES,
        SEALWIRE_INVALID_LENGTH, SEALWIRE_BAD_MAGIC, SEALWIRE_UNSUPPORTED_VERSION,
        SEALWIRE_UNSUPPORTED_ALGORITHM, SEALWIRE_MALFORMED, SEALWIRE_INVALID_ENCODING,
        SEALWIRE_INVALID_PUBLIC_KEY, SEALWIRE_BAD_SIGNATURE, SEALWIRE_NON_CONTRIBUTORY,
        SEALWIRE_DECRYPTION_FAILED, SEALWIRE_RANDOMNESS, SEALWIRE_REMOTE_KEY_MISMATCH,
        SEALWIRE_REPLAY, SEALWIRE_MESSAGE_TOO_LARGE, SEALWIRE_OUT_OF_TURN,
        SEALWIRE_HANDSHAKE_COMPLETE, SEALWIRE_HANDSHAKE_INCOMPLETE, SEALWIRE_NONCE_EXHAUSTED,
        SEALWIRE_INVALID_STATE, SEALWIRE_COMMITMENT_MISMATCH, SEALWIRE_HEADER_AUTH_FAILED,
        SEALWIRE_CONTEXT_MISMATCH, SEALWIRE_IDENTITY_MISMATCH, SEALWIRE_STALE_STATE,
        SEALWIRE_PREKEY_ALREADY_USED, SEALWIRE_TOO_MANY_SKIPPED_MESSAGES,
        SEALWIRE_SESSION_MISMATCH, SEALWIRE_IO, SEALWIRE_NO_MATCHING_KEY, SEALWIRE_KEY_NOT_FOUND,
        SEALWIRE_KEY_RETIRED, SEALWIRE_PROVIDER_FAILED, SEALWIRE_UNKNOWN_PREKEY,
        SEALWIRE_STORAGE, SEALWIRE_STORE_CONFLICT, SEALWIRE_NO_SESSION, SEALWIRE_KMS_AUTH_FAILED,
        SEALWIRE_KMS_KEY_NOT_FOUND, SEALWIRE_KMS_KEY_DISABLED, SEALWIRE_KMS_UNAVAILABLE,
        SEALWIRE_KMS_TIMEOUT, SEALWIRE_KMS_THROTTLED, SEALWIRE_RELAY_REJECTED,
        SEALWIRE_RELAY_AUTH_FAILED, SEALWIRE_RELAY_NOT_FOUND, SEALWIRE_RELAY_MAILBOX_FULL,
        SEALWIRE_RELAY_UNAVAILABLE, SEALWIRE_RELAY_TIMEOUT, SEALWIRE_INTERNAL_ERROR,
    };
    size_t n = sizeof all / sizeof all[0], i, j;
    int unique = 1;
    for (i = 0; i < n; i++) {
        const char *code = sealwire_result_code_string(all[i]);
        const char *msg = sealwire_result_message(all[i]);
        CHECK(code != NULL && msg != NULL && msg[0] != '\0');
        CHECK(code != NULL && strcmp(code, "ERR_SEALWIRE_UNKNOWN_RESULT") != 0);
        for (j = 0; j < i; j++) {
            if (strcmp(code, sealwire_result_code_string(all[j])) == 0) unique = 0;
        }
    }
    CHECK(unique);
    CHECK(strcmp(sealwire_result_code_string(SEALWIRE_OK), "OK") == 0);
    CHECK(strcmp(sealwire_result_code_string(SEALWIRE_TRUNCATED), "ERR_SEALWIRE_TRUNCATED") == 0);
    CHECK(strcmp(sealwire_result_code_string(SEALWIRE_PANIC), "ERR_SEALWIRE_PANIC") == 0);
    CHECK(strcmp(sealwire_result_code_string(12345), "ERR_SEALWIRE_UNKNOWN_RESULT") == 0);
    CHECK(strcmp(sealwire_result_code_string(0xFFFFFFFFu), "ERR_SEALWIRE_UNKNOWN_RESULT") == 0);
    CHECK(sealwire_result_message(777) != NULL);
    CHECK(sealwire_version() != NULL && strchr(sealwire_version(), '.') != NULL);
    /* Grouped ranges. */
    CHECK(SEALWIRE_NULL_POINTER / 1000 == 1 && SEALWIRE_TRUNCATED / 1000 == 2 &&
          SEALWIRE_BAD_SIGNATURE / 1000 == 3 && SEALWIRE_OUT_OF_TURN / 1000 == 4 &&
          SEALWIRE_NO_MATCHING_KEY / 1000 == 5);
    CHECK(n == 57); /* every sealwire_result value is in the table above */
}

static void test_null_handling(void)
{
    sealwire_identity *id = NULL;
    sealwire_public_identity *pub = NULL;
    sealwire_identity *id_out = SENTINEL;
    sealwire_public_identity *pub_out = SENTINEL;
    uint8_t buf[256], sig[SEALWIRE_SIGNATURE_LEN];
    char str[128];
    size_t written = 12345, pub_len = 0;
    uint8_t *blob = SENTINEL;
    size_t blob_len = 12345;
    uint8_t pub_bytes[SEALWIRE_PUBLIC_IDENTITY_LEN];

    /* _free(NULL) is a no-op. */
    sealwire_identity_free(NULL);
    sealwire_public_identity_free(NULL);
    sealwire_bytes_free(NULL, 0);
    sealwire_bytes_free(NULL, 99);
    CHECK(1);

    CHECK_RC(sealwire_identity_generate(NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_identity_from_secret_bytes(NULL, 32, SECRET_A, 32, &id_out), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_identity_from_secret_bytes(SEED_A, 32, NULL, 32, &id_out), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_identity_from_secret_bytes(SEED_A, 32, SECRET_A, 32, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_identity_from_secret_bytes(SEED_A, 31, SECRET_A, 32, &id_out), SEALWIRE_INVALID_LENGTH);
    CHECK_RC(sealwire_identity_from_secret_bytes(SEED_A, 32, SECRET_A, 33, &id_out), SEALWIRE_INVALID_LENGTH);
    CHECK_RC(sealwire_identity_from_secret_bytes(NULL, 0, SECRET_A, 32, &id_out), SEALWIRE_INVALID_LENGTH);
    CHECK(id_out == SENTINEL);

    CHECK_RC(sealwire_identity_from_secret_bytes(SEED_A, 32, SECRET_A, 32, &id), SEALWIRE_OK);
    CHECK_RC(sealwire_identity_public(id, &pub), SEALWIRE_OK);
    if (id == NULL || pub == NULL) goto out;

    CHECK_RC(sealwire_identity_public(NULL, &pub_out), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_identity_public(id, NULL), SEALWIRE_NULL_POINTER);
    CHECK(pub_out == SENTINEL);

    /* sign */
    CHECK_RC(sealwire_identity_sign(NULL, buf, 1, sig, sizeof sig, &written), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_identity_sign(id, NULL, 1, sig, sizeof sig, &written), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_identity_sign(id, buf, 1, sig, sizeof sig, NULL), SEALWIRE_NULL_POINTER);
    CHECK(written == 12345);
    CHECK_RC(sealwire_identity_sign(id, NULL, 0, sig, sizeof sig, &written), SEALWIRE_OK); /* empty message */
    CHECK(written == SEALWIRE_SIGNATURE_LEN);
    CHECK_RC(sealwire_public_identity_verify(pub, NULL, 0, sig, sizeof sig), SEALWIRE_OK);

    /* public identity outputs */
    CHECK_RC(sealwire_public_identity_to_bytes(NULL, buf, sizeof buf, &written), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_public_identity_to_bytes(pub, buf, sizeof buf, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_public_identity_did(NULL, str, sizeof str, &written), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_public_identity_did(pub, str, sizeof str, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_public_identity_fingerprint(NULL, str, sizeof str, &written), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_public_identity_fingerprint(pub, str, sizeof str, NULL), SEALWIRE_NULL_POINTER);

    /* verify */
    CHECK_RC(sealwire_public_identity_verify(NULL, buf, 1, sig, sizeof sig), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_public_identity_verify(pub, NULL, 1, sig, sizeof sig), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_public_identity_verify(pub, buf, 1, NULL, sizeof sig), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_public_identity_verify(pub, NULL, 0, NULL, 0), SEALWIRE_INVALID_LENGTH);

    /* from_bytes */
    CHECK_RC(sealwire_public_identity_to_bytes(pub, pub_bytes, sizeof pub_bytes, &pub_len), SEALWIRE_OK);
    CHECK_RC(sealwire_public_identity_from_bytes(NULL, 5, &pub_out), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_public_identity_from_bytes(pub_bytes, pub_len, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_public_identity_from_bytes(NULL, 0, &pub_out), SEALWIRE_TRUNCATED);
    CHECK(pub_out == SENTINEL);

    /* equal */
    CHECK(!sealwire_public_identity_equal(NULL, NULL));
    CHECK(!sealwire_public_identity_equal(pub, NULL));
    CHECK(!sealwire_public_identity_equal(NULL, pub));
    CHECK(sealwire_public_identity_equal(pub, pub));

    /* export / import */
    CHECK_RC(sealwire_identity_export(NULL, (const uint8_t *)"pw", 2, &blob, &blob_len), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_identity_export(id, NULL, 2, &blob, &blob_len), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_identity_export(id, (const uint8_t *)"pw", 2, NULL, &blob_len), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_identity_export(id, (const uint8_t *)"pw", 2, &blob, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_identity_export_with_params(NULL, (const uint8_t *)"pw", 2, SEALWIRE_KDF_MIN_MEMORY_KIB,
                                                  SEALWIRE_KDF_MIN_ITERATIONS, SEALWIRE_KDF_MIN_LANES,
                                                  &blob, &blob_len),
             SEALWIRE_NULL_POINTER);
    /* Pointers are checked before parameters. */
    CHECK_RC(sealwire_identity_export_with_params(id, (const uint8_t *)"pw", 2, 1, 1, 1, NULL, &blob_len),
             SEALWIRE_NULL_POINTER);
    CHECK(blob == SENTINEL && blob_len == 12345);
    CHECK_RC(sealwire_identity_import(NULL, 10, (const uint8_t *)"pw", 2, &id_out), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_identity_import(buf, 10, NULL, 2, &id_out), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_identity_import(buf, 10, (const uint8_t *)"pw", 2, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_identity_import(NULL, 0, NULL, 0, &id_out), SEALWIRE_TRUNCATED);
    CHECK(id_out == SENTINEL);

out:
    sealwire_public_identity_free(pub);
    sealwire_identity_free(id);
}

static void test_buffers_and_failures(void)
{
    sealwire_identity *id = NULL, *other = NULL, *back = SENTINEL;
    sealwire_public_identity *pub = NULL, *pub2 = NULL, *other_pub = NULL, *tmp = SENTINEL;
    uint8_t sig[SEALWIRE_SIGNATURE_LEN + 8], bytes[SEALWIRE_PUBLIC_IDENTITY_LEN + 1];
    size_t written = 0, i;
    static const uint8_t msg[] = "hello from agent A";
    static const uint8_t reserved[] = "SEALWIRE\0public-identity";
    uint8_t *blob = NULL;
    size_t blob_len = 0;
    const uint8_t *pass = (const uint8_t *)"correct horse battery staple";
    size_t pass_len = strlen((const char *)pass);

    CHECK_RC(sealwire_identity_from_secret_bytes(SEED_A, 32, SECRET_A, 32, &id), SEALWIRE_OK);
    CHECK_RC(sealwire_identity_generate(&other), SEALWIRE_OK);
    if (id == NULL || other == NULL) goto out;
    CHECK_RC(sealwire_identity_public(id, &pub), SEALWIRE_OK);
    CHECK_RC(sealwire_identity_public(other, &other_pub), SEALWIRE_OK);
    CHECK(!sealwire_public_identity_equal(pub, other_pub));

    /* Length query and BUFFER_TOO_SMALL for bytes. */
    written = 0;
    CHECK_RC(sealwire_identity_sign(id, msg, sizeof msg, NULL, 0, &written), SEALWIRE_BUFFER_TOO_SMALL);
    CHECK(written == SEALWIRE_SIGNATURE_LEN);
    written = 0;
    memset(sig, 0xAA, sizeof sig);
    CHECK_RC(sealwire_identity_sign(id, msg, sizeof msg, sig, SEALWIRE_SIGNATURE_LEN - 1, &written),
             SEALWIRE_BUFFER_TOO_SMALL);
    CHECK(written == SEALWIRE_SIGNATURE_LEN);
    CHECK(sig[0] == 0xAA && sig[SEALWIRE_SIGNATURE_LEN - 2] == 0xAA);
    CHECK_RC(sealwire_identity_sign(id, msg, sizeof msg, sig, sizeof sig, &written), SEALWIRE_OK);
    CHECK(written == SEALWIRE_SIGNATURE_LEN && sig[SEALWIRE_SIGNATURE_LEN] == 0xAA);

    written = 0;
    CHECK_RC(sealwire_public_identity_to_bytes(pub, NULL, 500, &written), SEALWIRE_BUFFER_TOO_SMALL);
    CHECK(written == SEALWIRE_PUBLIC_IDENTITY_LEN);
    CHECK_RC(sealwire_public_identity_to_bytes(pub, bytes, SEALWIRE_PUBLIC_IDENTITY_LEN - 1, &written),
             SEALWIRE_BUFFER_TOO_SMALL);
    CHECK_RC(sealwire_public_identity_to_bytes(pub, bytes, sizeof bytes, &written), SEALWIRE_OK);
    CHECK(written == SEALWIRE_PUBLIC_IDENTITY_LEN);

    /* Verify failures. */
    CHECK_RC(sealwire_public_identity_verify(pub, msg, sizeof msg, sig, SEALWIRE_SIGNATURE_LEN), SEALWIRE_OK);
    CHECK_RC(sealwire_public_identity_verify(other_pub, msg, sizeof msg, sig, SEALWIRE_SIGNATURE_LEN),
             SEALWIRE_BAD_SIGNATURE);
    CHECK_RC(sealwire_public_identity_verify(pub, msg, sizeof msg - 1, sig, SEALWIRE_SIGNATURE_LEN),
             SEALWIRE_BAD_SIGNATURE);
    CHECK_RC(sealwire_public_identity_verify(pub, msg, sizeof msg, sig, SEALWIRE_SIGNATURE_LEN - 1),
             SEALWIRE_INVALID_LENGTH);
    CHECK_RC(sealwire_public_identity_verify(pub, msg, sizeof msg, sig, SEALWIRE_SIGNATURE_LEN + 1),
             SEALWIRE_INVALID_LENGTH);
    sig[10] ^= 0x04;
    CHECK_RC(sealwire_public_identity_verify(pub, msg, sizeof msg, sig, SEALWIRE_SIGNATURE_LEN),
             SEALWIRE_BAD_SIGNATURE);

    /* The reserved protocol prefix cannot be signed. */
    written = 0;
    CHECK_RC(sealwire_identity_sign(id, reserved, sizeof reserved, sig, sizeof sig, &written),
             SEALWIRE_INVALID_PARAMETER);
    CHECK(written == 0);

    /* Truncated and extended public identities. */
    for (i = 0; i < SEALWIRE_PUBLIC_IDENTITY_LEN; i += 19) {
        tmp = SENTINEL;
        CHECK_RC(sealwire_public_identity_from_bytes(bytes, i, &tmp), SEALWIRE_TRUNCATED);
        CHECK(tmp == SENTINEL);
    }
    CHECK_RC(sealwire_public_identity_from_bytes(bytes, SEALWIRE_PUBLIC_IDENTITY_LEN - 1, &tmp),
             SEALWIRE_TRUNCATED);
    bytes[SEALWIRE_PUBLIC_IDENTITY_LEN] = 0;
    CHECK_RC(sealwire_public_identity_from_bytes(bytes, SEALWIRE_PUBLIC_IDENTITY_LEN + 1, &tmp),
             SEALWIRE_TRAILING_BYTES);
    CHECK_RC(sealwire_public_identity_from_bytes(bytes, SEALWIRE_PUBLIC_IDENTITY_LEN, &pub2), SEALWIRE_OK);
    CHECK(sealwire_public_identity_equal(pub, pub2));

    /* A public handle outlives the identity it came from. */
    sealwire_identity_free(other);
    other = NULL;
    {
        char did[SEALWIRE_DID_BUFFER_LEN];
        CHECK_RC(sealwire_public_identity_did(other_pub, did, sizeof did, &written), SEALWIRE_OK);
        CHECK(strncmp(did, "did:key:z6Mk", 12) == 0);
    }

    /* Export with the minimum cost, import, wrong passphrase, truncation. */
    CHECK_RC(sealwire_identity_export_with_params(id, pass, pass_len, 1024, 1, 1, &blob, &blob_len),
             SEALWIRE_INVALID_PARAMETER);
    CHECK(blob == NULL && blob_len == 0);
    CHECK_RC(sealwire_identity_export_with_params(id, pass, pass_len, SEALWIRE_KDF_MIN_MEMORY_KIB,
                                                  SEALWIRE_KDF_MIN_ITERATIONS, 17, &blob, &blob_len),
             SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_identity_export_with_params(id, pass, pass_len, SEALWIRE_KDF_MIN_MEMORY_KIB,
                                                  SEALWIRE_KDF_MIN_ITERATIONS, SEALWIRE_KDF_MIN_LANES,
                                                  &blob, &blob_len),
             SEALWIRE_OK);
    CHECK(blob != NULL && blob_len > 0);
    if (blob != NULL) {
        CHECK_RC(sealwire_identity_import(blob, blob_len, pass, pass_len, &back), SEALWIRE_OK);
        if (back != SENTINEL) {
            CHECK(identity_public_bytes_equal(back, bytes, SEALWIRE_PUBLIC_IDENTITY_LEN));
            sealwire_identity_free(back);
        }
        back = SENTINEL;
        CHECK_RC(sealwire_identity_import(blob, blob_len, pass, pass_len - 1, &back),
                 SEALWIRE_DECRYPTION_FAILED);
        CHECK_RC(sealwire_identity_import(blob, blob_len, NULL, 0, &back), SEALWIRE_DECRYPTION_FAILED);
        CHECK_RC(sealwire_identity_import(blob, blob_len - 1, pass, pass_len, &back), SEALWIRE_TRUNCATED);
        CHECK_RC(sealwire_identity_import(blob, 3, pass, pass_len, &back), SEALWIRE_TRUNCATED);
        blob[blob_len - 1] ^= 0x01;
        CHECK_RC(sealwire_identity_import(blob, blob_len, pass, pass_len, &back), SEALWIRE_DECRYPTION_FAILED);
        blob[0] ^= 0x01;
        CHECK_RC(sealwire_identity_import(blob, blob_len, pass, pass_len, &back), SEALWIRE_BAD_MAGIC);
        CHECK(back == SENTINEL);
        sealwire_bytes_free(blob, blob_len);
        blob = NULL;
    }

    /* Default-cost export with an empty passphrase (NULL, 0). */
    CHECK_RC(sealwire_identity_export(id, NULL, 0, &blob, &blob_len), SEALWIRE_OK);
    if (blob != NULL) {
        back = SENTINEL;
        CHECK_RC(sealwire_identity_import(blob, blob_len, (const uint8_t *)"", 0, &back), SEALWIRE_OK);
        if (back != SENTINEL) {
            CHECK(identity_public_bytes_equal(back, bytes, SEALWIRE_PUBLIC_IDENTITY_LEN));
            sealwire_identity_free(back);
        }
        sealwire_bytes_free(blob, blob_len);
    }

out:
    sealwire_public_identity_free(pub);
    sealwire_public_identity_free(pub2);
    sealwire_public_identity_free(other_pub);
    sealwire_identity_free(other);
    sealwire_identity_free(id);
}

int main(int argc, char **argv)
{
    const char *vectors = argc > 1 ? argv[1] : "tests/vectors/identity.json";
    printf("sealwire %s C API tests\n", sealwire_version());
    test_vectors(vectors);
    test_result_strings();
    test_null_handling();
    test_buffers_and_failures();
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 && g_passed > 0 ? 0 : 1;
}
