/*
 * C11 tests of the envelope API of include/sealwire.h against libsealwire (shared or static).
 *
 * Part 1 replays tests/vectors/envelope.json: the root-key keyring file loads (from bytes and
 * from a file) with the listed keys and versions; the recipients' key ids match; every envelope
 * opens to its plaintext with each listed opener (one-shot and streamed in several chunk
 * sizes) and its header inspects as listed; every invalid envelope gives its listed code
 * (one-shot and streamed).
 * Part 2: round trips with a keyring, an X25519 recipient and an X-Wing recipient, multi-wrap
 * (any one opens), wrong identity and wrong context, a 5 MiB streamed payload in 64 KiB chunks
 * with truncation detected, rewrap keeping the payload bytes, keyring rotation with a retired
 * version's cutoff, keyring files under a passphrase and a root key, a key provider written in
 * C (function pointers), a key set shared by four threads while its keyring rotates, and the
 * conventions (NULL, BUFFER_TOO_SMALL, out-parameters untouched
 * on failure, _free(NULL), result codes).
 *
 * Usage: test_envelope [path/to/envelope.json]
 * Prints "N passed, M failed" as its last line; exits non-zero on any failure.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "sealwire.h"
#include "test_support.h"
#include "test_vectors.h"


/* ---- small helpers ------------------------------------------------------------------- */

static int write_file(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    int ok;
    if (f == NULL) return 0;
    ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

static uint8_t *jhex(const cJSON *obj, const char *key, size_t *len)
{
    uint8_t *out = hex_decode(jstr(obj, key), len);
    if (out == NULL) {
        fprintf(stderr, "vector field \"%s\" is not hex\n", key);
        abort();
    }
    return out;
}

static void check_code(sealwire_result got, const char *want_code, const char *what,
                       const char *description)
{
    const char *got_code = sealwire_result_code_string(got);
    if (strcmp(got_code, want_code) == 0) {
        g_passed++;
    } else {
        g_failed++;
        fprintf(stderr, "FAIL: %s \"%s\": got %s, expected %s\n", what, description, got_code,
                want_code);
    }
}

/* Deterministic filler bytes. */
static void fill_pattern(uint8_t *p, size_t n, uint32_t seed)
{
    size_t i;
    uint32_t x = seed * 2654435761u + 1;
    for (i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        p[i] = (uint8_t)(x >> 24);
    }
}

static sealwire_context *make_context(const char *const *pairs, size_t n_pairs)
{
    sealwire_context *ctx = NULL;
    size_t i;
    if (sealwire_context_new(&ctx) != SEALWIRE_OK) return NULL;
    for (i = 0; i < n_pairs; i++) {
        const char *k = pairs[2 * i], *v = pairs[2 * i + 1];
        if (sealwire_context_insert(ctx, (const uint8_t *)k, strlen(k), (const uint8_t *)v,
                                    strlen(v)) != SEALWIRE_OK) {
            sealwire_context_free(ctx);
            return NULL;
        }
    }
    return ctx;
}

/* A context from a JSON array of [key, value] arrays. */
static sealwire_context *context_from_json(const cJSON *arr)
{
    sealwire_context *ctx = NULL;
    const cJSON *pair;
    if (sealwire_context_new(&ctx) != SEALWIRE_OK) return NULL;
    cJSON_ArrayForEach(pair, arr)
    {
        const char *k = cJSON_GetArrayItem(pair, 0)->valuestring;
        const char *v = cJSON_GetArrayItem(pair, 1)->valuestring;
        CHECK_RC(sealwire_context_insert(ctx, (const uint8_t *)k, strlen(k), (const uint8_t *)v,
                                         strlen(v)),
                 SEALWIRE_OK);
    }
    return ctx;
}

static sealwire_key_set *key_set_new(void)
{
    sealwire_key_set *ks = NULL;
    CHECK_RC(sealwire_key_set_new(&ks), SEALWIRE_OK);
    return ks;
}

/* One-shot open into a malloc'd buffer via the exact length query. */
static sealwire_result open_alloc(const uint8_t *sealed, size_t sealed_len,
                                  const sealwire_context *ctx, const sealwire_key_set *ks,
                                  uint8_t **pt, size_t *pt_len)
{
    size_t need = 0, got = 0;
    sealwire_result rc = sealwire_envelope_open(sealed, sealed_len, ctx, ks, NULL, 0, &need);
    *pt = NULL;
    *pt_len = 0;
    if (rc != SEALWIRE_BUFFER_TOO_SMALL) return rc;
    if (need > sealed_len) return SEALWIRE_INTERNAL_ERROR; /* sealed_len always suffices */
    *pt = malloc(need + 1);
    if (*pt == NULL) abort();
    rc = sealwire_envelope_open(sealed, sealed_len, ctx, ks, *pt, need, &got);
    if (rc != SEALWIRE_OK) {
        free(*pt);
        *pt = NULL;
        return rc;
    }
    if (got != need) {
        free(*pt);
        *pt = NULL;
        return SEALWIRE_INTERNAL_ERROR;
    }
    *pt_len = got;
    return SEALWIRE_OK;
}

/* Append `n` bytes to a growing buffer. */
static void append(uint8_t **buf, size_t *len, size_t *cap, const uint8_t *data, size_t n)
{
    if (*len + n > *cap) {
        size_t c = (*cap == 0 ? 1024 : *cap);
        while (c < *len + n) c *= 2;
        *buf = realloc(*buf, c);
        if (*buf == NULL) abort();
        *cap = c;
    }
    if (n > 0) memcpy(*buf + *len, data, n);
    *len += n;
}

/*
 * Stream-open `sealed` in chunks of `chunk` bytes: every read and the finish are first
 * queried (out = NULL), then called with exactly the reported length. Returns the first
 * error; the plaintext released so far is in *pt (caller frees).
 */
static sealwire_result stream_open(const uint8_t *sealed, size_t sealed_len, size_t chunk,
                                   const sealwire_context *ctx, const sealwire_key_set *ks,
                                   uint8_t **pt, size_t *pt_len)
{
    sealwire_envelope_reader *r = NULL;
    size_t off = 0, cap = 0, need = 0, got = 0;
    sealwire_result rc;
    uint8_t dummy;
    uint8_t *buf;
    *pt = NULL;
    *pt_len = 0;
    rc = sealwire_envelope_reader_new(ctx, ks, &r);
    if (rc != SEALWIRE_OK) return rc;
    for (;;) {
        size_t n = sealed_len - off < chunk ? sealed_len - off : chunk;
        int last = off == sealed_len;
        rc = last ? sealwire_envelope_reader_finish(r, NULL, 0, &need)
                  : sealwire_envelope_reader_read(r, sealed + off, n, NULL, 0, &need);
        if (rc != SEALWIRE_BUFFER_TOO_SMALL) break;
        buf = need > 0 ? malloc(need) : &dummy;
        if (buf == NULL) abort();
        rc = last ? sealwire_envelope_reader_finish(r, buf, need, &got)
                  : sealwire_envelope_reader_read(r, sealed + off, n, buf, need, &got);
        if (rc == SEALWIRE_OK) {
            if (got != need) rc = SEALWIRE_INTERNAL_ERROR;
            append(pt, pt_len, &cap, buf, got);
        }
        if (need > 0) free(buf);
        if (rc != SEALWIRE_OK || last) break;
        off += n;
    }
    if (rc == SEALWIRE_OK && !sealwire_envelope_reader_is_finished(r)) rc = SEALWIRE_INTERNAL_ERROR;
    sealwire_envelope_reader_free(r);
    return rc;
}

static size_t header_len_of(const uint8_t *sealed, size_t len)
{
    sealwire_envelope_header *h = NULL;
    size_t n = 0;
    if (sealwire_envelope_header_parse(sealed, len, &h) != SEALWIRE_OK) return 0;
    sealwire_envelope_header_len(h, &n);
    sealwire_envelope_header_free(h);
    return n;
}

static int string_is(sealwire_result rc, const char *got, const char *want)
{
    return rc == SEALWIRE_OK && strcmp(got, want) == 0;
}

/* ---- part 1: the shared vectors ------------------------------------------------------ */

typedef struct {
    sealwire_keyring *ring;
    uint64_t open_at;
    sealwire_identity *bob, *mallory;
    sealwire_xwing_keypair *carol;
    sealwire_key_set *by_keyring, *by_bob, *by_mallory, *by_carol;
} vector_keys;

static sealwire_key_set *opener(const vector_keys *k, const char *name)
{
    if (strcmp(name, "keyring") == 0) return k->by_keyring;
    if (strcmp(name, "bob") == 0) return k->by_bob;
    if (strcmp(name, "mallory") == 0) return k->by_mallory;
    if (strcmp(name, "carol-xwing") == 0) return k->by_carol;
    fprintf(stderr, "unknown opener %s\n", name);
    return NULL;
}

static void load_vector_keyring(const cJSON *kr, vector_keys *k, const char *tmpdir)
{
    size_t file_len, root_len, n = 0, i;
    uint8_t *file = jhex(kr, "file", &file_len);
    uint8_t *root = jhex(kr, "root_key", &root_len);
    uint8_t wrong_root[32];
    sealwire_keyring *from_file = NULL, *out = SENTINEL;
    char path[512], str[256];
    uint64_t generation = 0;
    const cJSON *key;

    CHECK(root_len == SEALWIRE_KEYRING_ROOT_KEY_LEN);
    CHECK_RC(sealwire_keyring_open_with_root_key(file, file_len, root, root_len, &k->ring), SEALWIRE_OK);
    if (k->ring == NULL) goto out;
    k->open_at = jnum(kr, "open_at");
    CHECK_RC(sealwire_keyring_set_time(k->ring, k->open_at), SEALWIRE_OK);
    CHECK_RC(sealwire_keyring_generation(k->ring, &generation), SEALWIRE_OK);
    CHECK(generation == jnum(kr, "file_generation"));
    CHECK(string_is(sealwire_keyring_default_key(k->ring, str, sizeof str, &n), str,
                    jstr(kr, "default_key")));
    CHECK_RC(sealwire_keyring_key_count(k->ring, &n), SEALWIRE_OK);
    CHECK(n == (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(kr, "keys")));

    i = 0;
    cJSON_ArrayForEach(key, cJSON_GetObjectItemCaseSensitive(kr, "keys"))
    {
        sealwire_key_version_info infos[8];
        const cJSON *ver;
        size_t count = 0, j = 0;
        uint32_t primary = 0;
        const char *id = jstr(key, "id");
        CHECK(string_is(sealwire_keyring_key_id_at(k->ring, i, str, sizeof str, &n), str, id));
        CHECK_RC(sealwire_keyring_primary_version(k->ring, id, &primary), SEALWIRE_OK);
        CHECK(primary == jnum(key, "primary"));
        CHECK_RC(sealwire_keyring_versions(k->ring, id, infos, 8, &count), SEALWIRE_OK);
        CHECK(count == (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(key, "versions")));
        cJSON_ArrayForEach(ver, cJSON_GetObjectItemCaseSensitive(key, "versions"))
        {
            const cJSON *retired = cJSON_GetObjectItemCaseSensitive(ver, "retired_at");
            const cJSON *until = cJSON_GetObjectItemCaseSensitive(ver, "decrypt_until");
            if (j >= count) break;
            CHECK(infos[j].version == jnum(ver, "version"));
            CHECK(infos[j].primary == (infos[j].version == primary));
            CHECK(infos[j].created_at == jnum(ver, "created_at"));
            CHECK(infos[j].retired_at == (retired ? jnum(ver, "retired_at") : 0));
            CHECK(infos[j].decrypt_until == (until ? jnum(ver, "decrypt_until") : 0));
            j++;
        }
        i++;
    }

    /* The same bytes as a file, through the file API. */
    snprintf(path, sizeof path, "%s/vector-keyring.swkr", tmpdir);
    CHECK(write_file(path, file, file_len));
    CHECK_RC(sealwire_keyring_load_with_root_key(path, root, root_len, &from_file), SEALWIRE_OK);
    CHECK_RC(sealwire_keyring_key_count(from_file, &n), SEALWIRE_OK);
    CHECK(n == 2);
    sealwire_keyring_free(from_file);
    unlink(path);

    /* Wrong root key, wrong protection, wrong length: refused, nothing written. */
    memcpy(wrong_root, root, 32);
    wrong_root[0] ^= 1;
    CHECK_RC(sealwire_keyring_open_with_root_key(file, file_len, wrong_root, 32, &out),
             SEALWIRE_DECRYPTION_FAILED);
    CHECK_RC(sealwire_keyring_open_with_passphrase(file, file_len, root, 32, &out),
             SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_keyring_open_with_root_key(file, file_len, root, 31, &out),
             SEALWIRE_INVALID_LENGTH);
    file[0] ^= 1;
    CHECK_RC(sealwire_keyring_open_with_root_key(file, file_len, root, 32, &out), SEALWIRE_BAD_MAGIC);
    CHECK(out == SENTINEL);
out:
    free(file);
    free(root);
}

static void load_vector_recipients(const cJSON *keys, vector_keys *k)
{
    const cJSON *r;
    char str[SEALWIRE_ENVELOPE_KEY_ID_BUFFER_LEN];
    size_t n;
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(keys, "x25519_recipients"))
    {
        size_t seed_len, sec_len;
        uint8_t *seed = jhex(r, "ed25519_seed", &seed_len);
        uint8_t *sec = jhex(r, "x25519_secret", &sec_len);
        sealwire_identity *id = NULL;
        sealwire_key_set *ks = key_set_new();
        const char *name = jstr(r, "name");
        CHECK_RC(sealwire_identity_from_secret_bytes(seed, seed_len, sec, sec_len, &id), SEALWIRE_OK);
        CHECK_RC(sealwire_key_set_add_identity(ks, id), SEALWIRE_OK);
        CHECK(string_is(sealwire_key_set_key_id_at(ks, 0, str, sizeof str, &n), str, jstr(r, "key_id")));
        CHECK(string_is(sealwire_key_set_provider_id_at(ks, 0, str, sizeof str, &n), str, "hpke-x25519"));
        if (strcmp(name, "bob") == 0) {
            k->bob = id;
            k->by_bob = ks;
        } else {
            k->mallory = id;
            k->by_mallory = ks;
        }
        free(seed);
        free(sec);
    }
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(keys, "xwing_recipients"))
    {
        size_t seed_len, pk_len, got_len = 0;
        uint8_t *seed = jhex(r, "seed", &seed_len);
        uint8_t *pk_want = jhex(r, "public_key", &pk_len);
        uint8_t pk[SEALWIRE_XWING_PUBLIC_KEY_ENCODED_LEN], seed_back[SEALWIRE_XWING_SEED_LEN];
        sealwire_xwing_public_key *pub = NULL, *parsed = NULL;
        CHECK_RC(sealwire_xwing_keypair_from_seed(seed, seed_len, &k->carol), SEALWIRE_OK);
        CHECK_RC(sealwire_xwing_keypair_public_key(k->carol, &pub), SEALWIRE_OK);
        CHECK_RC(sealwire_xwing_public_key_to_bytes(pub, pk, sizeof pk, &got_len), SEALWIRE_OK);
        CHECK(got_len == pk_len && pk_len == SEALWIRE_XWING_PUBLIC_KEY_ENCODED_LEN &&
              memcmp(pk, pk_want, pk_len) == 0);
        CHECK_RC(sealwire_xwing_public_key_from_bytes(pk_want, pk_len, &parsed), SEALWIRE_OK);
        CHECK(sealwire_xwing_public_key_equal(pub, parsed));
        CHECK_RC(sealwire_xwing_keypair_seed(k->carol, seed_back, sizeof seed_back, &got_len), SEALWIRE_OK);
        CHECK(got_len == 32 && memcmp(seed_back, seed, 32) == 0);
        k->by_carol = key_set_new();
        CHECK_RC(sealwire_key_set_add_xwing_keypair(k->by_carol, k->carol), SEALWIRE_OK);
        CHECK(string_is(sealwire_key_set_key_id_at(k->by_carol, 0, str, sizeof str, &n), str,
                        jstr(r, "key_id")));
        CHECK(string_is(sealwire_key_set_provider_id_at(k->by_carol, 0, str, sizeof str, &n), str,
                        "hpke-xwing"));
        sealwire_xwing_public_key_free(parsed);
        sealwire_xwing_public_key_free(pub);
        free(seed);
        free(pk_want);
    }
}

static void check_vector_header(const cJSON *v, const uint8_t *sealed, size_t sealed_len,
                                const sealwire_context *ctx)
{
    sealwire_envelope_header *h = NULL;
    sealwire_context *stored = NULL;
    sealwire_envelope_suite suite = 0;
    uint32_t seg = 0, version = 0;
    size_t n = 0, count = 0, i = 0, mid_len = 0;
    uint8_t mid[SEALWIRE_ENVELOPE_MESSAGE_ID_LEN];
    uint8_t *mid_want = jhex(v, "message_id", &mid_len);
    char str[SEALWIRE_ENVELOPE_KEY_ID_BUFFER_LEN];
    const cJSON *w;

    CHECK_RC(sealwire_envelope_header_parse(sealed, sealed_len, &h), SEALWIRE_OK);
    if (h == NULL) goto out;
    CHECK_RC(sealwire_envelope_header_suite(h, &suite), SEALWIRE_OK);
    CHECK(suite == jnum(v, "suite_id"));
    CHECK_RC(sealwire_envelope_header_segment_size(h, &seg), SEALWIRE_OK);
    CHECK(seg == jnum(v, "segment_size"));
    CHECK_RC(sealwire_envelope_header_len(h, &n), SEALWIRE_OK);
    CHECK(n == jnum(v, "header_len"));
    CHECK_RC(sealwire_envelope_header_message_id(h, mid, sizeof mid, &n), SEALWIRE_OK);
    CHECK(n == mid_len && memcmp(mid, mid_want, mid_len) == 0);
    CHECK_RC(sealwire_envelope_header_context(h, &stored), SEALWIRE_OK);
    CHECK(sealwire_context_equal(stored, ctx));
    CHECK_RC(sealwire_envelope_header_wrapped_key_count(h, &count), SEALWIRE_OK);
    CHECK(count == (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(v, "wrapped_keys")));
    cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(v, "wrapped_keys"))
    {
        CHECK(string_is(sealwire_envelope_header_wrapped_key_provider(h, i, str, sizeof str, &n), str,
                        jstr(w, "provider")));
        CHECK(string_is(sealwire_envelope_header_wrapped_key_id(h, i, str, sizeof str, &n), str,
                        jstr(w, "key_id")));
        CHECK_RC(sealwire_envelope_header_wrapped_key_version(h, i, &version), SEALWIRE_OK);
        CHECK(version == jnum(w, "key_version"));
        i++;
    }
    CHECK_RC(sealwire_envelope_header_wrapped_key_version(h, count, &version), SEALWIRE_INVALID_PARAMETER);
out:
    free(mid_want);
    sealwire_context_free(stored);
    sealwire_envelope_header_free(h);
}

static void test_vector_envelope(const cJSON *v, const vector_keys *k)
{
    size_t sealed_len, pt_len;
    uint8_t *sealed = jhex(v, "sealed", &sealed_len);
    uint8_t *want = jhex(v, "plaintext", &pt_len);
    sealwire_context *ctx = context_from_json(cJSON_GetObjectItemCaseSensitive(v, "context"));
    const cJSON *o;
    static const size_t chunks[] = {1, 7, 64, 80, 1000, 1u << 20};
    size_t c;

    check_vector_header(v, sealed, sealed_len, ctx);
    cJSON_ArrayForEach(o, cJSON_GetObjectItemCaseSensitive(v, "openers"))
    {
        const sealwire_key_set *ks = opener(k, o->valuestring);
        uint8_t *got = NULL;
        size_t got_len = 0;
        sealwire_result rc = open_alloc(sealed, sealed_len, ctx, ks, &got, &got_len);
        if (rc != SEALWIRE_OK || got_len != pt_len || (pt_len > 0 && memcmp(got, want, pt_len) != 0)) {
            g_failed++;
            fprintf(stderr, "FAIL: envelope \"%s\" opened by %s: %s\n", jstr(v, "name"), o->valuestring,
                    sealwire_result_code_string(rc));
        } else {
            g_passed++;
        }
        free(got);
        for (c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
            rc = stream_open(sealed, sealed_len, chunks[c], ctx, ks, &got, &got_len);
            if (rc != SEALWIRE_OK || got_len != pt_len || (pt_len > 0 && memcmp(got, want, pt_len) != 0)) {
                g_failed++;
                fprintf(stderr, "FAIL: envelope \"%s\" streamed in %zu-byte chunks by %s: %s\n",
                        jstr(v, "name"), chunks[c], o->valuestring, sealwire_result_code_string(rc));
            } else {
                g_passed++;
            }
            free(got);
        }
    }
    sealwire_context_free(ctx);
    free(sealed);
    free(want);
}

static void test_invalid_envelope(const cJSON *v, const vector_keys *k)
{
    size_t sealed_len;
    uint8_t *sealed = jhex(v, "sealed", &sealed_len);
    sealwire_context *ctx = context_from_json(cJSON_GetObjectItemCaseSensitive(v, "context"));
    const cJSON *now = cJSON_GetObjectItemCaseSensitive(v, "now");
    const sealwire_key_set *ks = opener(k, jstr(v, "opener"));
    const char *want = jstr(v, "error");
    uint8_t *got = NULL;
    size_t got_len = 0, written = 777;

    if (now != NULL) CHECK_RC(sealwire_keyring_set_time(k->ring, jnum(v, "now")), SEALWIRE_OK);
    check_code(open_alloc(sealed, sealed_len, ctx, ks, &got, &got_len), want, "invalid envelope (one-shot)",
               jstr(v, "description"));
    CHECK(got == NULL);
    /* A non-NULL buffer of sealed_len bytes: the real call gives the same code. */
    {
        uint8_t *out = malloc(sealed_len + 1);
        if (out == NULL) abort();
        check_code(sealwire_envelope_open(sealed, sealed_len, ctx, ks, out, sealed_len, &written), want,
                   "invalid envelope (one-shot, big buffer)", jstr(v, "description"));
        free(out);
    }
    CHECK(written == 777 || strcmp(want, "ERR_SEALWIRE_BUFFER_TOO_SMALL") == 0);
    check_code(stream_open(sealed, sealed_len, 100, ctx, ks, &got, &got_len), want,
               "invalid envelope (streamed)", jstr(v, "description"));
    free(got);
    check_code(stream_open(sealed, sealed_len, 1, ctx, ks, &got, &got_len), want,
               "invalid envelope (streamed byte by byte)", jstr(v, "description"));
    free(got);
    if (now != NULL) CHECK_RC(sealwire_keyring_set_time(k->ring, k->open_at), SEALWIRE_OK);
    sealwire_context_free(ctx);
    free(sealed);
}

static void test_vectors(const char *path, const char *tmpdir)
{
    char *text = read_file(path);
    cJSON *root;
    const cJSON *keys, *v;
    vector_keys k;
    int n = 0;
    memset(&k, 0, sizeof k);
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
    keys = cJSON_GetObjectItemCaseSensitive(root, "keys");
    load_vector_keyring(cJSON_GetObjectItemCaseSensitive(keys, "keyring"), &k, tmpdir);
    k.by_keyring = key_set_new();
    CHECK_RC(sealwire_key_set_add_keyring(k.by_keyring, k.ring), SEALWIRE_OK);
    load_vector_recipients(keys, &k);
    CHECK(k.ring && k.bob && k.mallory && k.carol);

    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(root, "envelopes"))
    {
        test_vector_envelope(v, &k);
        n++;
    }
    CHECK(n == 5);
    n = 0;
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(root, "invalid_envelopes"))
    {
        test_invalid_envelope(v, &k);
        n++;
    }
    CHECK(n == 28);
    printf("envelope.json: 5 envelopes, %d invalid cases, keyring file, recipients\n", n);

    sealwire_key_set_free(k.by_keyring);
    sealwire_key_set_free(k.by_bob);
    sealwire_key_set_free(k.by_mallory);
    sealwire_key_set_free(k.by_carol);
    sealwire_identity_free(k.bob);
    sealwire_identity_free(k.mallory);
    sealwire_xwing_keypair_free(k.carol);
    sealwire_keyring_free(k.ring);
    cJSON_Delete(root);
}

/* ---- part 2: round trips ------------------------------------------------------------- */

static const char *const CTX_PAIRS[] = {"tenant", "acme", "object", "reports/q3.pdf"};

/* Seal `pt` with `sender`, open with `receiver`, compare. Returns the open result. */
static sealwire_result round_trip(const uint8_t *pt, size_t pt_len, const sealwire_context *ctx,
                                  const sealwire_key_set *sender, const sealwire_key_set *receiver,
                                  sealwire_envelope_suite suite, uint32_t seg)
{
    uint8_t *sealed = NULL, *got = NULL;
    size_t sealed_len = 0, got_len = 0;
    sealwire_result rc = sealwire_envelope_seal(pt, pt_len, ctx, sender, suite, seg, &sealed, &sealed_len);
    if (rc != SEALWIRE_OK) return rc;
    rc = open_alloc(sealed, sealed_len, ctx, receiver, &got, &got_len);
    if (rc == SEALWIRE_OK && (got_len != pt_len || (pt_len > 0 && memcmp(got, pt, pt_len) != 0))) {
        rc = SEALWIRE_INTERNAL_ERROR;
    }
    free(got);
    sealwire_bytes_free(sealed, sealed_len);
    return rc;
}

static void test_keyring_round_trip(void)
{
    sealwire_keyring *ring = NULL;
    sealwire_key_set *ks = key_set_new();
    sealwire_context *ctx = make_context(CTX_PAIRS, 2);
    uint8_t pt[3000], out[3000], *sealed = NULL;
    size_t sealed_len = 0, need = 0, written = 0;
    uint64_t payload_len = 0;
    uint32_t v = 0;

    fill_pattern(pt, sizeof pt, 1);
    CHECK_RC(sealwire_keyring_new(&ring), SEALWIRE_OK);
    CHECK_RC(sealwire_key_set_add_keyring(ks, ring), SEALWIRE_OK);
    /* A keyring without keys cannot wrap. */
    CHECK_RC(sealwire_envelope_seal(pt, 10, ctx, ks, 1, 64, &sealed, &sealed_len), SEALWIRE_KEY_NOT_FOUND);
    CHECK(sealed == NULL);
    /* Keys created after the keyring was added are used: the key set shares the keyring. */
    CHECK_RC(sealwire_keyring_create_key(ring, "app:objects/v1", &v), SEALWIRE_OK);
    CHECK(v == 1);
    CHECK_RC(sealwire_keyring_create_key(ring, "app:objects/v1", &v), SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_keyring_create_key(ring, "bad id", &v), SEALWIRE_INVALID_PARAMETER);

    CHECK_RC(round_trip(pt, sizeof pt, ctx, ks, ks, SEALWIRE_ENVELOPE_SUITE_CHACHA20_POLY1305, 64), SEALWIRE_OK);
    CHECK_RC(round_trip(pt, sizeof pt, ctx, ks, ks, SEALWIRE_ENVELOPE_SUITE_AES_256_GCM, 1000), SEALWIRE_OK);
    CHECK_RC(round_trip(NULL, 0, ctx, ks, ks, SEALWIRE_ENVELOPE_SUITE_CHACHA20_POLY1305,
                        SEALWIRE_ENVELOPE_DEFAULT_SEGMENT_SIZE),
             SEALWIRE_OK);
    CHECK_RC(round_trip(pt, 128, ctx, ks, ks, SEALWIRE_ENVELOPE_SUITE_CHACHA20_POLY1305, 64), SEALWIRE_OK);

    /* Exact sizes: header + sealed payload length; open needs exactly the plaintext length. */
    CHECK_RC(sealwire_envelope_seal(pt, sizeof pt, ctx, ks, 1, 1000, &sealed, &sealed_len), SEALWIRE_OK);
    CHECK_RC(sealwire_envelope_sealed_payload_len(sizeof pt, 1000, &payload_len), SEALWIRE_OK);
    CHECK(payload_len == sizeof pt + 4 * 16);
    CHECK(sealed_len == header_len_of(sealed, sealed_len) + payload_len);
    CHECK_RC(sealwire_envelope_open(sealed, sealed_len, ctx, ks, NULL, 0, &need), SEALWIRE_BUFFER_TOO_SMALL);
    CHECK(need == sizeof pt);
    memset(out, 0xAA, sizeof out);
    written = 0;
    CHECK_RC(sealwire_envelope_open(sealed, sealed_len, ctx, ks, out, sizeof pt - 1, &written),
             SEALWIRE_BUFFER_TOO_SMALL);
    CHECK(written == sizeof pt);
    CHECK(out[0] == 0xAA && out[sizeof out - 2] == 0xAA); /* nothing written */
    CHECK_RC(sealwire_envelope_open(sealed, sealed_len, ctx, ks, out, sizeof out, &written), SEALWIRE_OK);
    CHECK(written == sizeof pt && memcmp(out, pt, sizeof pt) == 0);
    sealwire_bytes_free(sealed, sealed_len);

    /* Options are validated. */
    sealed = SENTINEL;
    CHECK_RC(sealwire_envelope_seal(pt, 10, ctx, ks, 3, 64, &sealed, &sealed_len), SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_envelope_seal(pt, 10, ctx, ks, 0, 64, &sealed, &sealed_len), SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_envelope_seal(pt, 10, ctx, ks, 1, 63, &sealed, &sealed_len), SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_envelope_seal(pt, 10, ctx, ks, 1, SEALWIRE_ENVELOPE_MAX_SEGMENT_SIZE + 1, &sealed,
                                    &sealed_len),
             SEALWIRE_INVALID_PARAMETER);
    CHECK(sealed == SENTINEL);
    CHECK_RC(sealwire_envelope_sealed_payload_len(10, 63, &payload_len), SEALWIRE_INVALID_PARAMETER);
    {
        sealwire_key_set *empty = key_set_new();
        CHECK_RC(sealwire_envelope_seal(pt, 10, ctx, empty, 1, 64, &sealed, &sealed_len),
                 SEALWIRE_INVALID_PARAMETER);
        CHECK(sealed == SENTINEL);
        sealwire_key_set_free(empty);
    }

    sealwire_context_free(ctx);
    sealwire_key_set_free(ks);
    sealwire_keyring_free(ring);
}

static void test_recipients(void)
{
    sealwire_identity *bob = NULL, *eve = NULL;
    sealwire_public_identity *bob_pub = NULL;
    sealwire_xwing_keypair *carol = NULL;
    sealwire_xwing_public_key *carol_pub = NULL;
    sealwire_keyring *ring = NULL;
    sealwire_key_set *to_bob = key_set_new(), *as_bob = key_set_new(), *as_eve = key_set_new();
    sealwire_key_set *to_carol = key_set_new(), *as_carol = key_set_new();
    sealwire_key_set *multi = key_set_new(), *as_ring = key_set_new();
    sealwire_context *ctx = make_context(CTX_PAIRS, 2), *other = make_context(CTX_PAIRS, 1);
    sealwire_envelope_header *h = NULL;
    uint8_t pt[777], *sealed = NULL, *got = NULL;
    size_t sealed_len = 0, got_len = 0, count = 0, n = 0;
    uint32_t v = 0;
    char str[SEALWIRE_ENVELOPE_KEY_ID_BUFFER_LEN];

    fill_pattern(pt, sizeof pt, 2);
    CHECK_RC(sealwire_identity_generate(&bob), SEALWIRE_OK);
    CHECK_RC(sealwire_identity_generate(&eve), SEALWIRE_OK);
    CHECK_RC(sealwire_identity_public(bob, &bob_pub), SEALWIRE_OK);
    CHECK_RC(sealwire_xwing_keypair_generate(&carol), SEALWIRE_OK);
    CHECK_RC(sealwire_xwing_keypair_public_key(carol, &carol_pub), SEALWIRE_OK);
    CHECK_RC(sealwire_keyring_new(&ring), SEALWIRE_OK);
    CHECK_RC(sealwire_keyring_create_key(ring, "k", &v), SEALWIRE_OK);

    CHECK_RC(sealwire_key_set_add_public_identity(to_bob, bob_pub), SEALWIRE_OK);
    CHECK_RC(sealwire_key_set_add_identity(as_bob, bob), SEALWIRE_OK);
    CHECK_RC(sealwire_key_set_add_identity(as_eve, eve), SEALWIRE_OK);
    CHECK_RC(sealwire_key_set_add_xwing_public_key(to_carol, carol_pub), SEALWIRE_OK);
    CHECK_RC(sealwire_key_set_add_xwing_keypair(as_carol, carol), SEALWIRE_OK);
    CHECK_RC(sealwire_key_set_add_keyring_key(as_ring, ring, "k"), SEALWIRE_OK);
    CHECK_RC(sealwire_key_set_add_keyring_key(multi, ring, "k"), SEALWIRE_OK);
    CHECK_RC(sealwire_key_set_add_public_identity(multi, bob_pub), SEALWIRE_OK);
    CHECK_RC(sealwire_key_set_add_xwing_public_key(multi, carol_pub), SEALWIRE_OK);
    CHECK_RC(sealwire_key_set_count(multi, &count), SEALWIRE_OK);
    CHECK(count == 3);
    /* Sender and receiver sets name the same recipient key id. */
    CHECK_RC(sealwire_key_set_key_id_at(to_bob, 0, str, sizeof str, &n), SEALWIRE_OK);
    {
        char str2[SEALWIRE_ENVELOPE_KEY_ID_BUFFER_LEN];
        CHECK(string_is(sealwire_key_set_key_id_at(as_bob, 0, str2, sizeof str2, &n), str2, str));
        CHECK(strlen(str) == 32);
    }

    /* X25519 recipient. */
    CHECK_RC(round_trip(pt, sizeof pt, ctx, to_bob, as_bob, 1, 256), SEALWIRE_OK);
    CHECK_RC(round_trip(pt, sizeof pt, ctx, to_bob, as_eve, 1, 256), SEALWIRE_NO_MATCHING_KEY);
    /* A public identity wraps but cannot open. */
    CHECK_RC(round_trip(pt, sizeof pt, ctx, to_bob, to_bob, 1, 256), SEALWIRE_NO_MATCHING_KEY);
    /* X-Wing recipient. */
    CHECK_RC(round_trip(pt, sizeof pt, ctx, to_carol, as_carol, 2, 256), SEALWIRE_OK);
    CHECK_RC(round_trip(pt, sizeof pt, ctx, to_carol, as_bob, 2, 256), SEALWIRE_NO_MATCHING_KEY);

    /* Multi-wrap: any one of the three opens; the wrong identity does not. */
    CHECK_RC(sealwire_envelope_seal(pt, sizeof pt, ctx, multi, 1, 100, &sealed, &sealed_len), SEALWIRE_OK);
    CHECK_RC(sealwire_envelope_header_parse(sealed, sealed_len, &h), SEALWIRE_OK);
    CHECK_RC(sealwire_envelope_header_wrapped_key_count(h, &count), SEALWIRE_OK);
    CHECK(count == 3);
    CHECK(string_is(sealwire_envelope_header_wrapped_key_provider(h, 0, str, sizeof str, &n), str, "keyring"));
    CHECK(string_is(sealwire_envelope_header_wrapped_key_provider(h, 1, str, sizeof str, &n), str, "hpke-x25519"));
    CHECK(string_is(sealwire_envelope_header_wrapped_key_provider(h, 2, str, sizeof str, &n), str, "hpke-xwing"));
    CHECK_RC(sealwire_envelope_header_wrapped_key_version(h, 0, &v), SEALWIRE_OK);
    CHECK(v == 1);
    CHECK_RC(sealwire_envelope_header_wrapped_key_version(h, 2, &v), SEALWIRE_OK);
    CHECK(v == 0);
    sealwire_envelope_header_free(h);
    CHECK_RC(open_alloc(sealed, sealed_len, ctx, as_bob, &got, &got_len), SEALWIRE_OK);
    CHECK(got_len == sizeof pt && memcmp(got, pt, sizeof pt) == 0);
    free(got);
    CHECK_RC(open_alloc(sealed, sealed_len, ctx, as_carol, &got, &got_len), SEALWIRE_OK);
    free(got);
    CHECK_RC(open_alloc(sealed, sealed_len, ctx, as_ring, &got, &got_len), SEALWIRE_OK);
    free(got);
    CHECK_RC(open_alloc(sealed, sealed_len, ctx, as_eve, &got, &got_len), SEALWIRE_NO_MATCHING_KEY);
    CHECK(got == NULL);
    /* Wrong context: refused before any key is used. */
    CHECK_RC(open_alloc(sealed, sealed_len, other, as_bob, &got, &got_len), SEALWIRE_CONTEXT_MISMATCH);
    CHECK_RC(stream_open(sealed, sealed_len, 333, other, as_bob, &got, &got_len), SEALWIRE_CONTEXT_MISMATCH);
    CHECK(got_len == 0);
    free(got);
    CHECK_RC(stream_open(sealed, sealed_len, 333, ctx, as_eve, &got, &got_len), SEALWIRE_NO_MATCHING_KEY);
    free(got);
    /* The handles added to a key set may be freed first: the set keeps its own references. */
    sealwire_identity_free(bob);
    bob = NULL;
    sealwire_xwing_keypair_free(carol);
    carol = NULL;
    sealwire_keyring_free(ring);
    ring = NULL;
    CHECK_RC(open_alloc(sealed, sealed_len, ctx, as_bob, &got, &got_len), SEALWIRE_OK);
    free(got);
    CHECK_RC(open_alloc(sealed, sealed_len, ctx, as_carol, &got, &got_len), SEALWIRE_OK);
    free(got);
    CHECK_RC(open_alloc(sealed, sealed_len, ctx, as_ring, &got, &got_len), SEALWIRE_OK);
    free(got);
    sealwire_bytes_free(sealed, sealed_len);

    sealwire_context_free(ctx);
    sealwire_context_free(other);
    sealwire_key_set_free(to_bob);
    sealwire_key_set_free(as_bob);
    sealwire_key_set_free(as_eve);
    sealwire_key_set_free(to_carol);
    sealwire_key_set_free(as_carol);
    sealwire_key_set_free(multi);
    sealwire_key_set_free(as_ring);
    sealwire_public_identity_free(bob_pub);
    sealwire_xwing_public_key_free(carol_pub);
    sealwire_identity_free(eve);
}

#define BIG_LEN (5u * 1024u * 1024u)
#define CHUNK (64u * 1024u)

static void test_streaming(void)
{
    sealwire_keyring *ring = NULL;
    sealwire_key_set *ks = key_set_new();
    sealwire_context *ctx = make_context(CTX_PAIRS, 2);
    sealwire_envelope_writer *w = NULL;
    sealwire_envelope_reader *r = NULL;
    sealwire_envelope_header *h = NULL;
    uint8_t *pt = malloc(BIG_LEN), *sealed = NULL, *got = NULL, *buf = malloc(CHUNK + 4096);
    size_t sealed_len = 0, sealed_cap = 0, got_len = 0, need = 0, n = 0, hlen, off, max_out = 0;
    uint64_t payload_len = 0;
    uint32_t v = 0;
    sealwire_result rc;
    uint8_t dummy;
    int first = 1, bad_sizes = 0;

    if (pt == NULL || buf == NULL) abort();
    fill_pattern(pt, BIG_LEN, 3);
    CHECK_RC(sealwire_keyring_new(&ring), SEALWIRE_OK);
    CHECK_RC(sealwire_keyring_create_key(ring, "stream", &v), SEALWIRE_OK);
    CHECK_RC(sealwire_key_set_add_keyring(ks, ring), SEALWIRE_OK);

    /* Write 5 MiB in 64 KiB chunks: each call emits exactly one segment (the first also the
     * header), reported exactly by the length query. */
    CHECK_RC(sealwire_envelope_writer_new(ctx, ks, SEALWIRE_ENVELOPE_SUITE_CHACHA20_POLY1305,
                                          SEALWIRE_ENVELOPE_DEFAULT_SEGMENT_SIZE, &w),
             SEALWIRE_OK);
    for (off = 0; off < BIG_LEN; off += CHUNK) {
        rc = sealwire_envelope_writer_write(w, pt + off, CHUNK, NULL, 0, &need);
        if (rc != SEALWIRE_BUFFER_TOO_SMALL || need > CHUNK + 4096) {
            bad_sizes++;
            break;
        }
        if (!first && need != CHUNK + 16) bad_sizes++;
        rc = sealwire_envelope_writer_write(w, pt + off, CHUNK, buf, CHUNK + 4096, &n);
        if (rc != SEALWIRE_OK || n != need) bad_sizes++;
        append(&sealed, &sealed_len, &sealed_cap, buf, n);
        first = 0;
    }
    CHECK(bad_sizes == 0);
    CHECK_RC(sealwire_envelope_writer_finish(w, NULL, 0, &need), SEALWIRE_BUFFER_TOO_SMALL);
    CHECK(need == 16); /* 5 MiB is a multiple of the segment size: the final segment is empty */
    CHECK_RC(sealwire_envelope_writer_finish(w, buf, 15, &n), SEALWIRE_BUFFER_TOO_SMALL);
    CHECK_RC(sealwire_envelope_writer_finish(w, buf, CHUNK, &n), SEALWIRE_OK);
    CHECK(n == 16);
    append(&sealed, &sealed_len, &sealed_cap, buf, n);
    CHECK_RC(sealwire_envelope_writer_finish(w, buf, CHUNK, &n), SEALWIRE_INVALID_STATE);
    CHECK_RC(sealwire_envelope_writer_write(w, pt, 1, buf, CHUNK, &n), SEALWIRE_INVALID_STATE);
    sealwire_envelope_writer_free(w);

    hlen = header_len_of(sealed, sealed_len);
    CHECK_RC(sealwire_envelope_sealed_payload_len(BIG_LEN, SEALWIRE_ENVELOPE_DEFAULT_SEGMENT_SIZE, &payload_len),
             SEALWIRE_OK);
    CHECK(sealed_len == hlen + payload_len);
    CHECK(payload_len == BIG_LEN + 81u * 16u);

    /* One-shot open of the streamed envelope. */
    CHECK_RC(open_alloc(sealed, sealed_len, ctx, ks, &got, &got_len), SEALWIRE_OK);
    CHECK(got_len == BIG_LEN && memcmp(got, pt, BIG_LEN) == 0);
    free(got);

    /* Read it back in 64 KiB chunks of sealed bytes (not aligned to segments): every output
     * is at most a chunk plus one segment, and the concatenation is the plaintext. */
    CHECK_RC(sealwire_envelope_reader_new(ctx, ks, &r), SEALWIRE_OK);
    CHECK_RC(sealwire_envelope_reader_header(r, &h), SEALWIRE_INVALID_STATE);
    CHECK(!sealwire_envelope_reader_is_finished(r));
    got = malloc(BIG_LEN);
    if (got == NULL) abort();
    got_len = 0;
    bad_sizes = 0;
    for (off = 0; off < sealed_len; off += CHUNK) {
        size_t len = sealed_len - off < CHUNK ? sealed_len - off : CHUNK;
        rc = sealwire_envelope_reader_read(r, sealed + off, len, buf, CHUNK + 4096, &n);
        if (rc != SEALWIRE_OK || got_len + n > BIG_LEN) {
            bad_sizes++;
            break;
        }
        memcpy(got + got_len, buf, n);
        got_len += n;
        if (n > max_out) max_out = n;
    }
    CHECK(bad_sizes == 0);
    CHECK(max_out <= CHUNK);
    CHECK_RC(sealwire_envelope_reader_header(r, &h), SEALWIRE_OK);
    CHECK_RC(sealwire_envelope_header_len(h, &n), SEALWIRE_OK);
    CHECK(n == hlen);
    sealwire_envelope_header_free(h);
    CHECK_RC(sealwire_envelope_reader_finish(r, NULL, 0, &need), SEALWIRE_BUFFER_TOO_SMALL);
    CHECK(need == 0);
    CHECK(!sealwire_envelope_reader_is_finished(r));
    CHECK_RC(sealwire_envelope_reader_finish(r, &dummy, 0, &n), SEALWIRE_OK);
    CHECK(n == 0);
    CHECK(sealwire_envelope_reader_is_finished(r));
    CHECK(got_len == BIG_LEN && memcmp(got, pt, BIG_LEN) == 0);
    CHECK_RC(sealwire_envelope_reader_read(r, sealed, 1, buf, CHUNK, &n), SEALWIRE_INVALID_STATE);
    CHECK_RC(sealwire_envelope_reader_finish(r, buf, CHUNK, &n), SEALWIRE_INVALID_STATE);
    sealwire_envelope_reader_free(r);
    free(got);

    /* Truncation at a segment boundary (the empty final segment dropped, or the last two
     * segments): every verified segment came out, the end is reported as TRUNCATED. */
    CHECK_RC(stream_open(sealed, sealed_len - 16, CHUNK, ctx, ks, &got, &got_len), SEALWIRE_TRUNCATED);
    CHECK(got_len == BIG_LEN && memcmp(got, pt, got_len) == 0);
    free(got);
    CHECK_RC(stream_open(sealed, sealed_len - 16 - (CHUNK + 16), CHUNK, ctx, ks, &got, &got_len),
             SEALWIRE_TRUNCATED);
    CHECK(got_len == BIG_LEN - CHUNK && memcmp(got, pt, got_len) == 0);
    free(got);
    CHECK_RC(open_alloc(sealed, sealed_len - 16, ctx, ks, &got, &got_len), SEALWIRE_TRUNCATED);
    /* Cut inside a segment: the short tail cannot verify as the final segment. */
    CHECK_RC(stream_open(sealed, sealed_len - 1000, CHUNK, ctx, ks, &got, &got_len),
             SEALWIRE_DECRYPTION_FAILED);
    CHECK(got_len % CHUNK == 0 && memcmp(got, pt, got_len) == 0); /* only verified segments */
    free(got);
    /* A flipped byte in segment 40: segments 0..39 were released, then the error sticks. */
    sealed[hlen + 40 * (CHUNK + 16) + 5] ^= 1;
    CHECK_RC(stream_open(sealed, sealed_len, 10000, ctx, ks, &got, &got_len), SEALWIRE_DECRYPTION_FAILED);
    CHECK(got_len == 40u * CHUNK && memcmp(got, pt, got_len) == 0);
    free(got);
    CHECK_RC(open_alloc(sealed, sealed_len, ctx, ks, &got, &got_len), SEALWIRE_DECRYPTION_FAILED);
    CHECK(got == NULL);
    {
        /* Sticky: after the failure every later call reports it. */
        sealwire_envelope_reader *r2 = NULL;
        size_t w2 = 0;
        CHECK_RC(sealwire_envelope_reader_new(ctx, ks, &r2), SEALWIRE_OK);
        CHECK_RC(sealwire_envelope_reader_read(r2, sealed, sealed_len, got = malloc(sealed_len), sealed_len, &w2),
                 SEALWIRE_DECRYPTION_FAILED);
        CHECK_RC(sealwire_envelope_reader_read(r2, sealed, 0, got, sealed_len, &w2), SEALWIRE_DECRYPTION_FAILED);
        CHECK_RC(sealwire_envelope_reader_finish(r2, got, sealed_len, &w2), SEALWIRE_DECRYPTION_FAILED);
        free(got);
        sealwire_envelope_reader_free(r2);
    }

    /* A length query of a reader changes nothing (the chunk is not consumed). */
    sealed[hlen + 40 * (CHUNK + 16) + 5] ^= 1;
    CHECK_RC(sealwire_envelope_reader_new(ctx, ks, &r), SEALWIRE_OK);
    CHECK_RC(sealwire_envelope_reader_read(r, sealed, hlen + CHUNK + 16, NULL, 0, &need), SEALWIRE_BUFFER_TOO_SMALL);
    CHECK(need == CHUNK);
    CHECK_RC(sealwire_envelope_reader_read(r, sealed, hlen + CHUNK + 16, buf, CHUNK - 1, &need),
             SEALWIRE_BUFFER_TOO_SMALL);
    CHECK_RC(sealwire_envelope_reader_read(r, sealed, hlen + CHUNK + 16, buf, CHUNK, &n), SEALWIRE_OK);
    CHECK(n == CHUNK && memcmp(buf, pt, CHUNK) == 0);
    /* Malformed bytes where a header should be: refused, not consumed. */
    sealwire_envelope_reader_free(r);
    CHECK_RC(sealwire_envelope_reader_new(ctx, ks, &r), SEALWIRE_OK);
    CHECK_RC(sealwire_envelope_reader_read(r, (const uint8_t *)"NOPE\x01\x00\x00\x01\x00", 9, buf, CHUNK, &n),
             SEALWIRE_BAD_MAGIC);
    CHECK_RC(sealwire_envelope_reader_read(r, sealed, 5, buf, CHUNK, &n), SEALWIRE_OK);
    CHECK(n == 0);
    CHECK_RC(sealwire_envelope_reader_finish(r, buf, CHUNK, &n), SEALWIRE_TRUNCATED);
    sealwire_envelope_reader_free(r);

    /* A writer freed before finishing leaves a stream readers refuse. */
    CHECK_RC(sealwire_envelope_writer_new(ctx, ks, 1, 64, &w), SEALWIRE_OK);
    CHECK_RC(sealwire_envelope_writer_write(w, pt, 100, buf, CHUNK, &n), SEALWIRE_OK);
    CHECK(n == header_len_of(buf, n) + 80);
    CHECK_RC(stream_open(buf, n, 50, ctx, ks, &got, &got_len), SEALWIRE_TRUNCATED);
    CHECK(got_len == 64);
    free(got);
    sealwire_envelope_writer_free(w);

    free(sealed);
    free(buf);
    free(pt);
    sealwire_context_free(ctx);
    sealwire_key_set_free(ks);
    sealwire_keyring_free(ring);
}

static void test_rewrap(void)
{
    sealwire_keyring *ring = NULL;
    sealwire_identity *bob = NULL;
    sealwire_public_identity *bob_pub = NULL;
    sealwire_key_set *as_ring = key_set_new(), *to_bob = key_set_new(), *as_bob = key_set_new();
    sealwire_context *ctx = make_context(CTX_PAIRS, 2);
    sealwire_envelope_rewrap *rw = NULL, *rw_out = SENTINEL;
    sealwire_envelope_header *h = NULL;
    uint8_t pt[5000], *sealed = NULL, *got = NULL, *rewrapped = NULL, *hdr = NULL;
    size_t sealed_len = 0, got_len = 0, need = 0, n = 0, old_hlen, new_hlen = 0, removed = 0, count = 0;
    uint32_t v = 0;
    char str[SEALWIRE_ENVELOPE_KEY_ID_BUFFER_LEN];

    fill_pattern(pt, sizeof pt, 4);
    CHECK_RC(sealwire_keyring_new(&ring), SEALWIRE_OK);
    CHECK_RC(sealwire_keyring_create_key(ring, "orders", &v), SEALWIRE_OK);
    CHECK_RC(sealwire_key_set_add_keyring(as_ring, ring), SEALWIRE_OK);
    CHECK_RC(sealwire_identity_generate(&bob), SEALWIRE_OK);
    CHECK_RC(sealwire_identity_public(bob, &bob_pub), SEALWIRE_OK);
    CHECK_RC(sealwire_key_set_add_public_identity(to_bob, bob_pub), SEALWIRE_OK);
    CHECK_RC(sealwire_key_set_add_identity(as_bob, bob), SEALWIRE_OK);

    CHECK_RC(sealwire_envelope_seal(pt, sizeof pt, ctx, as_ring, 1, 1024, &sealed, &sealed_len), SEALWIRE_OK);
    old_hlen = header_len_of(sealed, sealed_len);

    /* Opening requires the keys and the context, like open. */
    CHECK_RC(sealwire_envelope_rewrap_open(sealed, sealed_len, ctx, as_bob, &rw_out), SEALWIRE_NO_MATCHING_KEY);
    CHECK(rw_out == SENTINEL);
    /* Only the header is needed. */
    CHECK_RC(sealwire_envelope_rewrap_open(sealed, old_hlen, ctx, as_ring, &rw), SEALWIRE_OK);
    CHECK_RC(sealwire_envelope_rewrap_original_header_len(rw, &n), SEALWIRE_OK);
    CHECK(n == old_hlen);
    CHECK_RC(sealwire_envelope_rewrap_add(rw, to_bob), SEALWIRE_OK);
    CHECK_RC(sealwire_envelope_rewrap_remove(rw, "keyring", "orders", &removed), SEALWIRE_OK);
    CHECK(removed == 1);
    CHECK_RC(sealwire_envelope_rewrap_remove(rw, "keyring", "orders", &removed), SEALWIRE_OK);
    CHECK(removed == 0);
    CHECK_RC(sealwire_envelope_rewrap_header(rw, &h), SEALWIRE_OK);
    CHECK_RC(sealwire_envelope_header_wrapped_key_count(h, &count), SEALWIRE_OK);
    CHECK(count == 1);
    CHECK(string_is(sealwire_envelope_header_wrapped_key_provider(h, 0, str, sizeof str, &n), str, "hpke-x25519"));
    sealwire_envelope_header_free(h);

    /* The whole envelope: exact length query, then the bytes; payload bytes identical. */
    CHECK_RC(sealwire_envelope_rewrap_apply(rw, sealed, sealed_len, NULL, 0, &need), SEALWIRE_BUFFER_TOO_SMALL);
    rewrapped = malloc(need);
    if (rewrapped == NULL) abort();
    CHECK_RC(sealwire_envelope_rewrap_apply(rw, sealed, sealed_len, rewrapped, need, &n), SEALWIRE_OK);
    CHECK(n == need);
    new_hlen = header_len_of(rewrapped, n);
    CHECK(new_hlen > 0 && n - new_hlen == sealed_len - old_hlen);
    CHECK(memcmp(rewrapped + new_hlen, sealed + old_hlen, sealed_len - old_hlen) == 0);
    /* The header alone equals the front of the envelope. */
    CHECK_RC(sealwire_envelope_rewrap_header_bytes(rw, NULL, 0, &need), SEALWIRE_BUFFER_TOO_SMALL);
    CHECK(need == new_hlen);
    hdr = malloc(need);
    if (hdr == NULL) abort();
    CHECK_RC(sealwire_envelope_rewrap_header_bytes(rw, hdr, need, &n), SEALWIRE_OK);
    CHECK(n == new_hlen && memcmp(hdr, rewrapped, new_hlen) == 0);
    /* Another envelope is refused. */
    {
        size_t other_len = new_hlen + sealed_len - old_hlen;
        uint8_t *tmp = malloc(2 * other_len);
        if (tmp == NULL) abort();
        CHECK_RC(sealwire_envelope_rewrap_apply(rw, rewrapped, other_len, tmp, 2 * other_len, &need),
                 SEALWIRE_INVALID_PARAMETER);
        free(tmp);
    }

    /* Bob opens; the keyring no longer does. */
    CHECK_RC(open_alloc(rewrapped, new_hlen + sealed_len - old_hlen, ctx, as_bob, &got, &got_len), SEALWIRE_OK);
    CHECK(got_len == sizeof pt && memcmp(got, pt, sizeof pt) == 0);
    free(got);
    CHECK_RC(open_alloc(rewrapped, new_hlen + sealed_len - old_hlen, ctx, as_ring, &got, &got_len),
             SEALWIRE_NO_MATCHING_KEY);
    /* The original still opens with the keyring. */
    CHECK_RC(open_alloc(sealed, sealed_len, ctx, as_ring, &got, &got_len), SEALWIRE_OK);
    free(got);

    /* Removing every entry: the envelope cannot be written. */
    CHECK_RC(sealwire_envelope_rewrap_remove(rw, "hpke-x25519", str, &removed), SEALWIRE_OK);
    {
        char id[SEALWIRE_ENVELOPE_KEY_ID_BUFFER_LEN];
        CHECK_RC(sealwire_key_set_key_id_at(to_bob, 0, id, sizeof id, &n), SEALWIRE_OK);
        CHECK_RC(sealwire_envelope_rewrap_remove(rw, "hpke-x25519", id, &removed), SEALWIRE_OK);
        CHECK(removed == 1);
    }
    CHECK_RC(sealwire_envelope_rewrap_header_bytes(rw, hdr, new_hlen, &n), SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_envelope_rewrap_apply(rw, sealed, sealed_len, rewrapped, sealed_len + 1000, &n),
             SEALWIRE_INVALID_PARAMETER);
    sealwire_envelope_rewrap_free(rw);

    free(hdr);
    free(rewrapped);
    sealwire_bytes_free(sealed, sealed_len);
    sealwire_context_free(ctx);
    sealwire_key_set_free(as_ring);
    sealwire_key_set_free(to_bob);
    sealwire_key_set_free(as_bob);
    sealwire_public_identity_free(bob_pub);
    sealwire_identity_free(bob);
    sealwire_keyring_free(ring);
}

static void test_rotation(void)
{
    const uint64_t T = 1800000000u;
    sealwire_keyring *ring = NULL;
    sealwire_key_set *ks = key_set_new();
    sealwire_context *ctx = make_context(CTX_PAIRS, 2);
    sealwire_envelope_rewrap *rw = NULL;
    sealwire_envelope_header *h = NULL;
    sealwire_key_version_info infos[4];
    uint8_t pt[200], *e1 = NULL, *e2 = NULL, *e1b = NULL, *got = NULL;
    size_t e1_len = 0, e2_len = 0, e1b_len = 0, got_len = 0, count = 0, n = 0;
    uint32_t v = 0, new_v = 0;

    fill_pattern(pt, sizeof pt, 5);
    CHECK_RC(sealwire_keyring_new(&ring), SEALWIRE_OK);
    CHECK_RC(sealwire_keyring_set_time(ring, T), SEALWIRE_OK);
    CHECK_RC(sealwire_keyring_create_key(ring, "k", &v), SEALWIRE_OK);
    CHECK_RC(sealwire_key_set_add_keyring(ks, ring), SEALWIRE_OK);
    CHECK_RC(sealwire_envelope_seal(pt, sizeof pt, ctx, ks, 1, 64, &e1, &e1_len), SEALWIRE_OK);

    CHECK_RC(sealwire_keyring_rotate(ring, "k", T + 100, &new_v), SEALWIRE_OK);
    CHECK(new_v == 2);
    CHECK_RC(sealwire_keyring_rotate(ring, "nope", 0, &new_v), SEALWIRE_KEY_NOT_FOUND);
    CHECK_RC(sealwire_keyring_versions(ring, "k", NULL, 0, &count), SEALWIRE_BUFFER_TOO_SMALL);
    CHECK(count == 2);
    CHECK_RC(sealwire_keyring_versions(ring, "k", infos, 1, &count), SEALWIRE_BUFFER_TOO_SMALL);
    CHECK_RC(sealwire_keyring_versions(ring, "k", infos, 4, &count), SEALWIRE_OK);
    CHECK(count == 2);
    CHECK(infos[0].version == 1 && !infos[0].primary && infos[0].created_at == T && infos[0].retired_at == T &&
          infos[0].decrypt_until == T + 100);
    CHECK(infos[1].version == 2 && infos[1].primary && infos[1].retired_at == 0 && infos[1].decrypt_until == 0);
    CHECK_RC(sealwire_keyring_primary_version(ring, "k", &v), SEALWIRE_OK);
    CHECK(v == 2);
    CHECK_RC(sealwire_keyring_set_decrypt_until(ring, "k", 2, T + 5), SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_keyring_set_decrypt_until(ring, "k", 9, T + 5), SEALWIRE_KEY_NOT_FOUND);

    /* New envelopes use version 2. */
    CHECK_RC(sealwire_envelope_seal(pt, sizeof pt, ctx, ks, 1, 64, &e2, &e2_len), SEALWIRE_OK);
    CHECK_RC(sealwire_envelope_header_parse(e2, e2_len, &h), SEALWIRE_OK);
    CHECK_RC(sealwire_envelope_header_wrapped_key_version(h, 0, &v), SEALWIRE_OK);
    CHECK(v == 2);
    sealwire_envelope_header_free(h);

    /* Before the cutoff the retired version still opens; after it, it refuses. */
    CHECK_RC(sealwire_keyring_set_time(ring, T + 50), SEALWIRE_OK);
    CHECK_RC(open_alloc(e1, e1_len, ctx, ks, &got, &got_len), SEALWIRE_OK);
    free(got);
    CHECK_RC(sealwire_keyring_set_time(ring, T + 101), SEALWIRE_OK);
    CHECK_RC(open_alloc(e1, e1_len, ctx, ks, &got, &got_len), SEALWIRE_KEY_RETIRED);
    CHECK_RC(stream_open(e1, e1_len, 50, ctx, ks, &got, &got_len), SEALWIRE_KEY_RETIRED);
    free(got);
    CHECK_RC(open_alloc(e2, e2_len, ctx, ks, &got, &got_len), SEALWIRE_OK);
    free(got);
    /* Moving the cutoff (or clearing it with 0) is the keyring owner's decision. */
    CHECK_RC(sealwire_keyring_set_decrypt_until(ring, "k", 1, 0), SEALWIRE_OK);
    CHECK_RC(open_alloc(e1, e1_len, ctx, ks, &got, &got_len), SEALWIRE_OK);
    free(got);
    CHECK_RC(sealwire_keyring_set_decrypt_until(ring, "k", 1, T + 100), SEALWIRE_OK);

    /* Rewrap the old envelope under the new primary version before the cutoff. */
    CHECK_RC(sealwire_keyring_set_time(ring, T + 50), SEALWIRE_OK);
    CHECK_RC(sealwire_envelope_rewrap_open(e1, e1_len, ctx, ks, &rw), SEALWIRE_OK);
    CHECK_RC(sealwire_envelope_rewrap_rotate(rw, ks, &n), SEALWIRE_OK);
    CHECK(n == 1);
    CHECK_RC(sealwire_envelope_rewrap_apply(rw, e1, e1_len, NULL, 0, &e1b_len), SEALWIRE_BUFFER_TOO_SMALL);
    e1b = malloc(e1b_len);
    if (e1b == NULL) abort();
    CHECK_RC(sealwire_envelope_rewrap_apply(rw, e1, e1_len, e1b, e1b_len, &n), SEALWIRE_OK);
    sealwire_envelope_rewrap_free(rw);
    CHECK_RC(sealwire_envelope_header_parse(e1b, e1b_len, &h), SEALWIRE_OK);
    CHECK_RC(sealwire_envelope_header_wrapped_key_version(h, 0, &v), SEALWIRE_OK);
    CHECK(v == 2);
    sealwire_envelope_header_free(h);
    CHECK_RC(sealwire_keyring_set_time(ring, T + 101), SEALWIRE_OK);
    CHECK_RC(open_alloc(e1b, e1b_len, ctx, ks, &got, &got_len), SEALWIRE_OK);
    CHECK(got_len == sizeof pt && memcmp(got, pt, sizeof pt) == 0);
    free(got);
    /* After the cutoff a rewrap of the old envelope fails like open. */
    CHECK_RC(sealwire_envelope_rewrap_open(e1, e1_len, ctx, ks, &rw), SEALWIRE_KEY_RETIRED);

    /* Removing the retired version crypto-shreds what only it wrapped. */
    CHECK_RC(sealwire_keyring_remove_version(ring, "k", 2), SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_keyring_remove_version(ring, "k", 1), SEALWIRE_OK);
    CHECK_RC(sealwire_keyring_set_time(ring, 0), SEALWIRE_OK); /* system clock again */
    CHECK_RC(open_alloc(e1, e1_len, ctx, ks, &got, &got_len), SEALWIRE_KEY_NOT_FOUND);
    CHECK_RC(open_alloc(e2, e2_len, ctx, ks, &got, &got_len), SEALWIRE_OK);
    free(got);

    free(e1b);
    sealwire_bytes_free(e1, e1_len);
    sealwire_bytes_free(e2, e2_len);
    sealwire_context_free(ctx);
    sealwire_key_set_free(ks);
    sealwire_keyring_free(ring);
}

static void test_keyring_files(const char *tmpdir)
{
    sealwire_keyring *ring = NULL, *back = NULL, *out = SENTINEL;
    sealwire_key_set *ks = key_set_new(), *ks_back = key_set_new();
    sealwire_context *ctx = make_context(CTX_PAIRS, 2);
    uint8_t root[32], pt[100], *sealed = NULL, *blob = NULL, *got = NULL;
    size_t sealed_len = 0, blob_len = 0, got_len = 0, n = 0;
    uint64_t generation = 0;
    uint32_t v = 0;
    char path[512], str[256];
    const uint8_t pass[] = "correct horse";

    fill_pattern(root, sizeof root, 6);
    fill_pattern(pt, sizeof pt, 7);
    snprintf(path, sizeof path, "%s/ring.swkr", tmpdir);
    CHECK_RC(sealwire_keyring_new(&ring), SEALWIRE_OK);
    CHECK_RC(sealwire_keyring_default_key(ring, str, sizeof str, &n), SEALWIRE_KEY_NOT_FOUND);
    CHECK_RC(sealwire_keyring_create_key(ring, "a", &v), SEALWIRE_OK);
    CHECK_RC(sealwire_keyring_create_key(ring, "b", &v), SEALWIRE_OK);
    CHECK_RC(sealwire_keyring_set_default_key(ring, "b"), SEALWIRE_OK);
    CHECK_RC(sealwire_keyring_set_default_key(ring, "c"), SEALWIRE_KEY_NOT_FOUND);
    CHECK_RC(sealwire_key_set_add_keyring(ks, ring), SEALWIRE_OK);
    CHECK(string_is(sealwire_key_set_key_id_at(ks, 0, str, sizeof str, &n), str, "b"));
    CHECK_RC(sealwire_envelope_seal(pt, sizeof pt, ctx, ks, 1, 64, &sealed, &sealed_len), SEALWIRE_OK);

    /* Passphrase-sealed file (cheapest Argon2id cost). */
    CHECK_RC(sealwire_keyring_save_with_passphrase(ring, path, pass, sizeof pass - 1, 1024, 1, 1),
             SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_keyring_save_with_passphrase(ring, path, pass, sizeof pass - 1, SEALWIRE_KDF_MIN_MEMORY_KIB,
                                                   SEALWIRE_KDF_MIN_ITERATIONS, SEALWIRE_KDF_MIN_LANES),
             SEALWIRE_OK);
    CHECK_RC(sealwire_keyring_generation(ring, &generation), SEALWIRE_OK);
    CHECK(generation == 1);
    CHECK_RC(sealwire_keyring_load_with_passphrase(path, pass, sizeof pass - 2, &out), SEALWIRE_DECRYPTION_FAILED);
    CHECK_RC(sealwire_keyring_load_with_root_key(path, root, 32, &out), SEALWIRE_INVALID_PARAMETER);
    CHECK(out == SENTINEL);
    CHECK_RC(sealwire_keyring_load_with_passphrase(path, pass, sizeof pass - 1, &back), SEALWIRE_OK);
    CHECK_RC(sealwire_keyring_generation(back, &generation), SEALWIRE_OK);
    CHECK(generation == 1);
    CHECK(string_is(sealwire_keyring_default_key(back, str, sizeof str, &n), str, "b"));
    CHECK(n == 2);
    CHECK_RC(sealwire_key_set_add_keyring(ks_back, back), SEALWIRE_OK);
    CHECK_RC(open_alloc(sealed, sealed_len, ctx, ks_back, &got, &got_len), SEALWIRE_OK);
    CHECK(got_len == sizeof pt && memcmp(got, pt, sizeof pt) == 0);
    free(got);
    sealwire_keyring_free(back);
    back = NULL;

    /* Root-key-sealed file and bytes. */
    CHECK_RC(sealwire_keyring_save_with_root_key(ring, path, root, 31), SEALWIRE_INVALID_LENGTH);
    CHECK_RC(sealwire_keyring_save_with_root_key(ring, path, root, 32), SEALWIRE_OK);
    CHECK_RC(sealwire_keyring_load_with_root_key(path, root, 32, &back), SEALWIRE_OK);
    CHECK_RC(sealwire_keyring_key_count(back, &n), SEALWIRE_OK);
    CHECK(n == 2);
    CHECK(string_is(sealwire_keyring_key_id_at(back, 0, str, sizeof str, &n), str, "a"));
    CHECK_RC(sealwire_keyring_key_id_at(back, 2, str, sizeof str, &n), SEALWIRE_INVALID_PARAMETER);
    sealwire_keyring_free(back);
    back = NULL;
    CHECK_RC(sealwire_keyring_seal_with_root_key(ring, root, 32, &blob, &blob_len), SEALWIRE_OK);
    CHECK_RC(sealwire_keyring_open_with_root_key(blob, blob_len, root, 32, &back), SEALWIRE_OK);
    CHECK_RC(sealwire_keyring_generation(back, &generation), SEALWIRE_OK);
    CHECK(generation == 3);
    sealwire_keyring_free(back);
    back = NULL;
    sealwire_bytes_free(blob, blob_len);
    CHECK_RC(sealwire_keyring_seal_with_passphrase(ring, pass, 3, SEALWIRE_KDF_MIN_MEMORY_KIB, 2, 1, &blob,
                                                   &blob_len),
             SEALWIRE_OK);
    CHECK_RC(sealwire_keyring_open_with_passphrase(blob, blob_len, pass, 3, &back), SEALWIRE_OK);
    sealwire_keyring_free(back);
    sealwire_bytes_free(blob, blob_len);

    /* Missing files and directories are I/O errors. */
    CHECK_RC(sealwire_keyring_load_with_root_key("/nonexistent/sealwire/ring", root, 32, &out), SEALWIRE_IO);
    CHECK_RC(sealwire_keyring_save_with_root_key(ring, "/nonexistent/sealwire/ring", root, 32), SEALWIRE_IO);
    CHECK_RC(sealwire_keyring_load_with_root_key("", root, 32, &out), SEALWIRE_INVALID_PARAMETER);
    CHECK(out == SENTINEL);
    unlink(path);

    sealwire_bytes_free(sealed, sealed_len);
    sealwire_context_free(ctx);
    sealwire_key_set_free(ks);
    sealwire_key_set_free(ks_back);
    sealwire_keyring_free(ring);
}

/* ---- a key provider written in C ----------------------------------------------------- */

typedef struct {
    uint8_t secret[32];
    int wraps, unwraps, releases;
    uint32_t fail_with;
    size_t context_entries;
    uint32_t suite;
    int info_ok;
} toy_kms;

static uint64_t fnv1a(const uint8_t *p, size_t n, uint64_t h)
{
    size_t i;
    for (i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* Toy wrapping (NOT cryptography): dek XOR secret, then an 8-byte checksum over aad and dek
 * that stands in for an AEAD tag, so a wrapped key moved to another envelope is refused. */
static uint64_t toy_tag(const toy_kms *k, const sealwire_wrap_info *info, const uint8_t *dek)
{
    uint64_t h = fnv1a(k->secret, 32, 1469598103934665603ull);
    h = fnv1a(info->aad, info->aad_len, h);
    return fnv1a(dek, 32, h);
}

static void toy_note(toy_kms *k, const sealwire_wrap_info *info)
{
    size_t n = 0;
    k->info_ok = info != NULL && info->aad != NULL && info->aad_len > 0 && info->message_id != NULL &&
                 sealwire_context_count(info->context, &n) == SEALWIRE_OK;
    k->context_entries = n;
    k->suite = info->suite;
}

static uint32_t toy_wrap(void *user, const sealwire_wrap_info *info, const uint8_t *dek, size_t dek_len,
                         uint8_t *out, size_t out_len, size_t *written)
{
    toy_kms *k = user;
    uint64_t tag;
    size_t i;
    k->wraps++;
    toy_note(k, info);
    if (k->fail_with != 0) return k->fail_with;
    if (dek_len != SEALWIRE_ENVELOPE_DATA_KEY_LEN || out_len < 40) return SEALWIRE_PROVIDER_FAILED;
    for (i = 0; i < 32; i++) out[i] = dek[i] ^ k->secret[i];
    tag = toy_tag(k, info, dek);
    for (i = 0; i < 8; i++) out[32 + i] = (uint8_t)(tag >> (8 * i));
    *written = 40;
    return SEALWIRE_OK;
}

static uint32_t toy_unwrap(void *user, const sealwire_wrap_info *info, uint32_t key_version,
                           const uint8_t *wrapped, size_t wrapped_len, uint8_t *dek_out, size_t dek_len)
{
    toy_kms *k = user;
    uint8_t dek[32];
    uint64_t tag;
    size_t i;
    k->unwraps++;
    toy_note(k, info);
    if (k->fail_with != 0) return k->fail_with;
    if (key_version != 7 || wrapped_len != 40 || dek_len != 32) return SEALWIRE_HEADER_AUTH_FAILED;
    for (i = 0; i < 32; i++) dek[i] = wrapped[i] ^ k->secret[i];
    tag = toy_tag(k, info, dek);
    for (i = 0; i < 8; i++) {
        if (wrapped[32 + i] != (uint8_t)(tag >> (8 * i))) return SEALWIRE_HEADER_AUTH_FAILED;
    }
    memcpy(dek_out, dek, 32);
    return SEALWIRE_OK;
}

static void toy_release(void *user)
{
    ((toy_kms *)user)->releases++;
}

static void test_callback_provider(void)
{
    toy_kms kms;
    sealwire_kek_callbacks cb;
    sealwire_key_set *ks = key_set_new(), *ks2 = key_set_new();
    sealwire_context *ctx = make_context(CTX_PAIRS, 2);
    sealwire_envelope_reader *r = NULL;
    sealwire_envelope_header *h = NULL;
    uint8_t pt[300], *sealed = NULL, *got = NULL, buf[1024];
    size_t sealed_len = 0, got_len = 0, n = 0;
    uint32_t v = 0;
    char str[SEALWIRE_ENVELOPE_KEY_ID_BUFFER_LEN];

    memset(&kms, 0, sizeof kms);
    fill_pattern(kms.secret, 32, 8);
    fill_pattern(pt, sizeof pt, 9);
    cb.user_data = &kms;
    cb.wrap = toy_wrap;
    cb.unwrap = toy_unwrap;
    cb.release = toy_release;

    /* Validation: nothing kept, release not called. */
    cb.wrap = NULL;
    CHECK_RC(sealwire_key_set_add_callbacks(ks, "test-kms", "k1", 7, &cb), SEALWIRE_NULL_POINTER);
    cb.wrap = toy_wrap;
    CHECK_RC(sealwire_key_set_add_callbacks(ks, "", "k1", 7, &cb), SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_key_set_add_callbacks(ks, "test kms", "k1", 7, &cb), SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_key_set_add_callbacks(ks, "test-kms", "", 7, &cb), SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_key_set_add_callbacks(ks, "test-kms", "k1", 7, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_key_set_count(ks, &n), SEALWIRE_OK);
    CHECK(n == 0 && kms.releases == 0);

    CHECK_RC(sealwire_key_set_add_callbacks(ks, "test-kms", "k1", 7, &cb), SEALWIRE_OK);
    CHECK(string_is(sealwire_key_set_provider_id_at(ks, 0, str, sizeof str, &n), str, "test-kms"));
    CHECK(string_is(sealwire_key_set_key_id_at(ks, 0, str, sizeof str, &n), str, "k1"));

    CHECK_RC(sealwire_envelope_seal(pt, sizeof pt, ctx, ks, 2, 64, &sealed, &sealed_len), SEALWIRE_OK);
    CHECK(kms.wraps == 1 && kms.info_ok && kms.context_entries == 2 && kms.suite == 2);
    CHECK_RC(sealwire_envelope_header_parse(sealed, sealed_len, &h), SEALWIRE_OK);
    CHECK(string_is(sealwire_envelope_header_wrapped_key_provider(h, 0, str, sizeof str, &n), str, "test-kms"));
    CHECK(string_is(sealwire_envelope_header_wrapped_key_id(h, 0, str, sizeof str, &n), str, "k1"));
    CHECK_RC(sealwire_envelope_header_wrapped_key_version(h, 0, &v), SEALWIRE_OK);
    CHECK(v == 7);
    sealwire_envelope_header_free(h);

    CHECK_RC(open_alloc(sealed, sealed_len, ctx, ks, &got, &got_len), SEALWIRE_OK);
    CHECK(got_len == sizeof pt && memcmp(got, pt, sizeof pt) == 0);
    CHECK(kms.unwraps >= 1 && kms.info_ok);
    free(got);

    /* The callback's codes come through. */
    kms.fail_with = SEALWIRE_KEY_RETIRED;
    CHECK_RC(open_alloc(sealed, sealed_len, ctx, ks, &got, &got_len), SEALWIRE_KEY_RETIRED);
    kms.fail_with = SEALWIRE_IO;
    CHECK_RC(open_alloc(sealed, sealed_len, ctx, ks, &got, &got_len), SEALWIRE_IO);
    kms.fail_with = 424242; /* anything else */
    CHECK_RC(open_alloc(sealed, sealed_len, ctx, ks, &got, &got_len), SEALWIRE_PROVIDER_FAILED);
    kms.fail_with = SEALWIRE_PROVIDER_FAILED;
    {
        uint8_t *s2 = SENTINEL;
        size_t s2_len = 5;
        CHECK_RC(sealwire_envelope_seal(pt, 10, ctx, ks, 1, 64, &s2, &s2_len), SEALWIRE_PROVIDER_FAILED);
        CHECK(s2 == SENTINEL && s2_len == 5);
    }
    kms.fail_with = 0;
    /* A modified wrapped key is refused by the callback's own check (and the header tag). */
    sealed[header_len_of(sealed, sealed_len) - 32 - 3] ^= 1;
    CHECK_RC(open_alloc(sealed, sealed_len, ctx, ks, &got, &got_len), SEALWIRE_HEADER_AUTH_FAILED);
    sealed[header_len_of(sealed, sealed_len) - 32 - 3] ^= 1;

    /* Rewrap add with a failing provider leaves the entries unchanged (all or nothing). */
    {
        sealwire_envelope_rewrap *rw = NULL;
        sealwire_keyring *ring = NULL;
        sealwire_key_set *both = key_set_new();
        size_t count = 0;
        CHECK_RC(sealwire_keyring_new(&ring), SEALWIRE_OK);
        CHECK_RC(sealwire_keyring_create_key(ring, "x", &v), SEALWIRE_OK);
        CHECK_RC(sealwire_key_set_add_keyring(both, ring), SEALWIRE_OK);
        CHECK_RC(sealwire_key_set_add_callbacks(both, "test-kms", "k2", 7, &cb), SEALWIRE_OK);
        CHECK_RC(sealwire_envelope_rewrap_open(sealed, sealed_len, ctx, ks, &rw), SEALWIRE_OK);
        kms.fail_with = SEALWIRE_PROVIDER_FAILED;
        CHECK_RC(sealwire_envelope_rewrap_add(rw, both), SEALWIRE_PROVIDER_FAILED);
        kms.fail_with = 0;
        CHECK_RC(sealwire_envelope_rewrap_header(rw, &h), SEALWIRE_OK);
        CHECK_RC(sealwire_envelope_header_wrapped_key_count(h, &count), SEALWIRE_OK);
        CHECK(count == 1);
        sealwire_envelope_header_free(h);
        CHECK_RC(sealwire_envelope_rewrap_add(rw, both), SEALWIRE_OK);
        CHECK_RC(sealwire_envelope_rewrap_header(rw, &h), SEALWIRE_OK);
        CHECK_RC(sealwire_envelope_header_wrapped_key_count(h, &count), SEALWIRE_OK);
        CHECK(count == 3);
        sealwire_envelope_header_free(h);
        sealwire_envelope_rewrap_free(rw);
        sealwire_key_set_free(both);
        sealwire_keyring_free(ring);
        CHECK(kms.releases == 1); /* the second registration, released with `both` */
    }

    /* A reader keeps the provider alive after the key set is freed; release comes last. */
    CHECK_RC(sealwire_key_set_add_callbacks(ks2, "test-kms", "k1", 7, &cb), SEALWIRE_OK);
    CHECK_RC(sealwire_envelope_reader_new(ctx, ks2, &r), SEALWIRE_OK);
    sealwire_key_set_free(ks2);
    CHECK(kms.releases == 1);
    CHECK_RC(sealwire_envelope_reader_read(r, sealed, sealed_len, buf, sizeof buf, &n), SEALWIRE_OK);
    CHECK(n == 256);
    /* The header is authenticated: the reader has released the providers already. */
    CHECK(kms.releases == 2);
    CHECK_RC(sealwire_envelope_reader_finish(r, buf + n, sizeof buf - n, &got_len), SEALWIRE_OK);
    CHECK(n + got_len == sizeof pt && memcmp(buf, pt, sizeof pt) == 0);
    sealwire_envelope_reader_free(r);

    sealwire_bytes_free(sealed, sealed_len);
    sealwire_key_set_free(ks);
    CHECK(kms.releases == 3);
    sealwire_context_free(ctx);
}

/* ---- threads: a shared key set and a keyring rotated while in use --------------------- */

typedef struct {
    const sealwire_key_set *ks;
    const sealwire_context *ctx;
    int ok;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    uint8_t pt[500];
    int i;
    a->ok = 0;
    for (i = 0; i < 20; i++) {
        fill_pattern(pt, sizeof pt, (uint32_t)i);
        if (round_trip(pt, sizeof pt, a->ctx, a->ks, a->ks, 1, 64) == SEALWIRE_OK) a->ok++;
    }
    return NULL;
}

static void test_threads(void)
{
    sealwire_keyring *ring = NULL;
    sealwire_identity *id = NULL;
    sealwire_key_set *ks = key_set_new();
    sealwire_context *ctx = make_context(CTX_PAIRS, 2);
    pthread_t th[4];
    worker_arg args[4];
    uint32_t v = 0;
    int i, started = 0, total = 0;

    CHECK_RC(sealwire_keyring_new(&ring), SEALWIRE_OK);
    CHECK_RC(sealwire_keyring_create_key(ring, "shared", &v), SEALWIRE_OK);
    CHECK_RC(sealwire_identity_generate(&id), SEALWIRE_OK);
    CHECK_RC(sealwire_key_set_add_keyring(ks, ring), SEALWIRE_OK);
    CHECK_RC(sealwire_key_set_add_identity(ks, id), SEALWIRE_OK);
    for (i = 0; i < 4; i++) {
        args[i].ks = ks;
        args[i].ctx = ctx;
        args[i].ok = 0;
        if (pthread_create(&th[i], NULL, worker, &args[i]) == 0) started++;
    }
    CHECK(started == 4);
    /* The keyring is internally locked: rotate it while the workers seal and open. */
    for (i = 0; i < 10; i++) CHECK_RC(sealwire_keyring_rotate(ring, "shared", 0, &v), SEALWIRE_OK);
    for (i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        total += args[i].ok;
    }
    CHECK(total == 80);
    CHECK_RC(sealwire_keyring_primary_version(ring, "shared", &v), SEALWIRE_OK);
    CHECK(v == 11);
    sealwire_context_free(ctx);
    sealwire_key_set_free(ks);
    sealwire_identity_free(id);
    sealwire_keyring_free(ring);
}

/* ---- conventions --------------------------------------------------------------------- */

static void test_context(void)
{
    sealwire_context *ctx = NULL, *out = SENTINEL;
    uint8_t buf[64];
    size_t n = 0, written = 4242;

    CHECK_RC(sealwire_context_new(NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_context_new(&ctx), SEALWIRE_OK);
    CHECK_RC(sealwire_context_insert(ctx, (const uint8_t *)"b", 1, (const uint8_t *)"2", 1), SEALWIRE_OK);
    CHECK_RC(sealwire_context_insert(ctx, (const uint8_t *)"a", 1, NULL, 0), SEALWIRE_OK);
    CHECK_RC(sealwire_context_insert(ctx, (const uint8_t *)"b", 1, (const uint8_t *)"3", 1), SEALWIRE_OK);
    CHECK_RC(sealwire_context_insert(ctx, NULL, 0, (const uint8_t *)"x", 1), SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_context_insert(ctx, (const uint8_t *)"\xff", 1, NULL, 0), SEALWIRE_INVALID_UTF8);
    CHECK_RC(sealwire_context_insert(ctx, (const uint8_t *)"k", 1, (const uint8_t *)"\xc3", 1), SEALWIRE_INVALID_UTF8);
    CHECK_RC(sealwire_context_insert(ctx, NULL, 1, NULL, 0), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_context_insert(NULL, (const uint8_t *)"a", 1, NULL, 0), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_context_count(ctx, &n), SEALWIRE_OK);
    CHECK(n == 2);
    /* Canonical order: sorted by key bytes. */
    CHECK_RC(sealwire_context_key_at(ctx, 0, buf, sizeof buf, &n), SEALWIRE_OK);
    CHECK(n == 1 && buf[0] == 'a');
    CHECK_RC(sealwire_context_value_at(ctx, 0, buf, sizeof buf, &n), SEALWIRE_OK);
    CHECK(n == 0);
    CHECK_RC(sealwire_context_value_at(ctx, 1, NULL, 0, &n), SEALWIRE_BUFFER_TOO_SMALL);
    CHECK(n == 1);
    CHECK_RC(sealwire_context_value_at(ctx, 1, buf, sizeof buf, &n), SEALWIRE_OK);
    CHECK(n == 1 && buf[0] == '3');
    CHECK_RC(sealwire_context_key_at(ctx, 2, buf, sizeof buf, &written), SEALWIRE_INVALID_PARAMETER);
    CHECK(written == 4242);
    CHECK_RC(sealwire_context_get(ctx, (const uint8_t *)"b", 1, buf, sizeof buf, &n), SEALWIRE_OK);
    CHECK(n == 1 && buf[0] == '3');
    CHECK_RC(sealwire_context_get(ctx, (const uint8_t *)"zz", 2, buf, sizeof buf, &written), SEALWIRE_KEY_NOT_FOUND);
    CHECK(written == 4242);
    CHECK_RC(sealwire_context_count(NULL, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_context_count(ctx, NULL), SEALWIRE_NULL_POINTER);
    CHECK(sealwire_context_equal(ctx, ctx));
    CHECK(!sealwire_context_equal(ctx, NULL));
    CHECK(!sealwire_context_equal(NULL, NULL));
    {
        sealwire_context *empty = NULL;
        CHECK_RC(sealwire_context_new(&empty), SEALWIRE_OK);
        CHECK(!sealwire_context_equal(ctx, empty));
        sealwire_context_free(empty);
    }
    CHECK(out == SENTINEL);
    sealwire_context_free(ctx);
    sealwire_context_free(NULL);
}

static void test_null_pointers(void)
{
    sealwire_keyring *ring = NULL, *ring_out = SENTINEL;
    sealwire_key_set *ks = key_set_new(), *ks_out = SENTINEL;
    sealwire_context *ctx = make_context(CTX_PAIRS, 2), *ctx_out = SENTINEL;
    sealwire_envelope_writer *w_out = SENTINEL;
    sealwire_envelope_reader *r_out = SENTINEL;
    sealwire_envelope_rewrap *rw_out = SENTINEL;
    sealwire_envelope_header *h = NULL, *h_out = SENTINEL;
    sealwire_xwing_keypair *kp_out = SENTINEL;
    sealwire_xwing_public_key *pk_out = SENTINEL;
    uint8_t buf[256], *sealed = NULL, *blob = SENTINEL;
    size_t sealed_len = 0, blob_len = 999, n = 0, written = 999;
    uint32_t v = 0;
    uint64_t u64 = 0;
    sealwire_envelope_suite suite = 0;
    sealwire_key_version_info info;
    char str[64];

    memset(buf, 0x5A, sizeof buf);
    /* _free(NULL) is a no-op for every handle. */
    sealwire_keyring_free(NULL);
    sealwire_key_set_free(NULL);
    sealwire_context_free(NULL);
    sealwire_envelope_header_free(NULL);
    sealwire_envelope_writer_free(NULL);
    sealwire_envelope_reader_free(NULL);
    sealwire_envelope_rewrap_free(NULL);
    sealwire_xwing_keypair_free(NULL);
    sealwire_xwing_public_key_free(NULL);
    sealwire_bytes_free(NULL, 0);
    CHECK(1);

    CHECK_RC(sealwire_keyring_new(&ring), SEALWIRE_OK);
    CHECK_RC(sealwire_keyring_create_key(ring, "k", &v), SEALWIRE_OK);
    CHECK_RC(sealwire_key_set_add_keyring(ks, ring), SEALWIRE_OK);
    CHECK_RC(sealwire_envelope_seal(buf, 10, ctx, ks, 1, 64, &sealed, &sealed_len), SEALWIRE_OK);

    /* keyring */
    CHECK_RC(sealwire_keyring_new(NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_keyring_create_key(NULL, "x", &v), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_keyring_create_key(ring, NULL, &v), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_keyring_create_key(ring, "y", NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_keyring_create_key(ring, "\xff", &v), SEALWIRE_INVALID_UTF8);
    CHECK_RC(sealwire_keyring_rotate(NULL, "k", 0, &v), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_keyring_rotate(ring, "k", 0, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_keyring_set_decrypt_until(NULL, "k", 1, 0), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_keyring_remove_version(ring, NULL, 1), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_keyring_set_default_key(ring, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_keyring_default_key(ring, str, sizeof str, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_keyring_default_key(ring, str, 1, &written), SEALWIRE_BUFFER_TOO_SMALL);
    CHECK(written == 2);
    CHECK_RC(sealwire_keyring_key_count(ring, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_keyring_key_id_at(NULL, 0, str, sizeof str, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_keyring_primary_version(ring, "k", NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_keyring_primary_version(ring, "zz", &v), SEALWIRE_KEY_NOT_FOUND);
    CHECK_RC(sealwire_keyring_versions(ring, "k", &info, 1, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_keyring_versions(ring, "zz", &info, 1, &n), SEALWIRE_KEY_NOT_FOUND);
    CHECK_RC(sealwire_keyring_set_time(NULL, 5), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_keyring_generation(ring, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_keyring_generation(ring, &u64), SEALWIRE_OK);
    CHECK_RC(sealwire_keyring_seal_with_root_key(ring, buf, 32, NULL, &blob_len), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_keyring_seal_with_root_key(ring, buf, 32, &blob, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_keyring_seal_with_root_key(ring, NULL, 32, &blob, &blob_len), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_keyring_seal_with_passphrase(ring, NULL, 1, SEALWIRE_KDF_MIN_MEMORY_KIB, 2, 1, &blob,
                                                   &blob_len),
             SEALWIRE_NULL_POINTER);
    CHECK(blob == SENTINEL && blob_len == 999);
    CHECK_RC(sealwire_keyring_open_with_root_key(NULL, 5, buf, 32, &ring_out), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_keyring_open_with_root_key(buf, 0, buf, 32, &ring_out), SEALWIRE_TRUNCATED);
    CHECK_RC(sealwire_keyring_open_with_passphrase(buf, 5, buf, 1, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_keyring_load_with_root_key(NULL, buf, 32, &ring_out), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_keyring_load_with_passphrase("x", buf, 1, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_keyring_save_with_root_key(ring, NULL, buf, 32), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_keyring_save_with_passphrase(NULL, "x", buf, 1, SEALWIRE_KDF_MIN_MEMORY_KIB, 2, 1),
             SEALWIRE_NULL_POINTER);
    CHECK(ring_out == SENTINEL);
    CHECK(u64 == 0);

    /* key set */
    CHECK_RC(sealwire_key_set_new(NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_key_set_add_keyring(NULL, ring), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_key_set_add_keyring(ks, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_key_set_add_keyring_key(ks, ring, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_key_set_add_public_identity(ks, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_key_set_add_identity(ks, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_key_set_add_xwing_public_key(ks, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_key_set_add_xwing_keypair(ks, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_key_set_add_callbacks(ks, NULL, "k", 0, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_key_set_count(NULL, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_key_set_count(ks, &n), SEALWIRE_OK);
    CHECK(n == 1);
    CHECK_RC(sealwire_key_set_provider_id_at(ks, 1, str, sizeof str, &n), SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_key_set_key_id_at(ks, 0, str, sizeof str, NULL), SEALWIRE_NULL_POINTER);
    CHECK(ks_out == SENTINEL);

    /* seal / open */
    blob = SENTINEL;
    CHECK_RC(sealwire_envelope_seal(NULL, 1, ctx, ks, 1, 64, &blob, &blob_len), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_envelope_seal(buf, 1, NULL, ks, 1, 64, &blob, &blob_len), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_envelope_seal(buf, 1, ctx, NULL, 1, 64, &blob, &blob_len), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_envelope_seal(buf, 1, ctx, ks, 1, 64, NULL, &blob_len), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_envelope_seal(buf, 1, ctx, ks, 1, 64, &blob, NULL), SEALWIRE_NULL_POINTER);
    CHECK(blob == SENTINEL && blob_len == 999);
    CHECK_RC(sealwire_envelope_open(NULL, 5, ctx, ks, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_envelope_open(sealed, sealed_len, NULL, ks, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_envelope_open(sealed, sealed_len, ctx, NULL, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_envelope_open(sealed, sealed_len, ctx, ks, buf, sizeof buf, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_envelope_open(NULL, 0, ctx, ks, buf, sizeof buf, &n), SEALWIRE_TRUNCATED);
    CHECK_RC(sealwire_envelope_sealed_payload_len(1, 64, NULL), SEALWIRE_NULL_POINTER);

    /* header */
    CHECK_RC(sealwire_envelope_header_parse(NULL, 3, &h_out), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_envelope_header_parse(sealed, sealed_len, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_envelope_header_parse(sealed, 8, &h_out), SEALWIRE_TRUNCATED);
    CHECK(h_out == SENTINEL);
    CHECK_RC(sealwire_envelope_header_parse(sealed, sealed_len, &h), SEALWIRE_OK);
    CHECK_RC(sealwire_envelope_header_suite(NULL, &suite), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_envelope_header_suite(h, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_envelope_header_segment_size(h, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_envelope_header_len(NULL, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_envelope_header_message_id(h, buf, 31, &written), SEALWIRE_BUFFER_TOO_SMALL);
    CHECK(written == SEALWIRE_ENVELOPE_MESSAGE_ID_LEN);
    CHECK_RC(sealwire_envelope_header_context(h, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_envelope_header_context(NULL, &ctx_out), SEALWIRE_NULL_POINTER);
    CHECK(ctx_out == SENTINEL);
    CHECK_RC(sealwire_envelope_header_wrapped_key_count(h, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_envelope_header_wrapped_key_provider(h, 0, NULL, 0, &written), SEALWIRE_BUFFER_TOO_SMALL);
    CHECK(written == sizeof "keyring");
    CHECK_RC(sealwire_envelope_header_wrapped_key_id(h, 0, str, 1, &written), SEALWIRE_BUFFER_TOO_SMALL);
    CHECK(written == 2);
    CHECK_RC(sealwire_envelope_header_wrapped_key_id(h, 1, str, sizeof str, &written), SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_envelope_header_wrapped_key_version(h, 0, NULL), SEALWIRE_NULL_POINTER);
    sealwire_envelope_header_free(h);

    /* streaming */
    CHECK_RC(sealwire_envelope_writer_new(NULL, ks, 1, 64, &w_out), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_envelope_writer_new(ctx, NULL, 1, 64, &w_out), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_envelope_writer_new(ctx, ks, 1, 64, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_envelope_writer_new(ctx, ks, 9, 64, &w_out), SEALWIRE_INVALID_PARAMETER);
    CHECK(w_out == SENTINEL);
    CHECK_RC(sealwire_envelope_writer_write(NULL, buf, 1, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_envelope_writer_finish(NULL, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_envelope_reader_new(NULL, ks, &r_out), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_envelope_reader_new(ctx, NULL, &r_out), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_envelope_reader_new(ctx, ks, NULL), SEALWIRE_NULL_POINTER);
    CHECK(r_out == SENTINEL);
    CHECK_RC(sealwire_envelope_reader_read(NULL, buf, 1, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_envelope_reader_finish(NULL, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_envelope_reader_header(NULL, &h_out), SEALWIRE_NULL_POINTER);
    CHECK(!sealwire_envelope_reader_is_finished(NULL));
    {
        sealwire_envelope_writer *w = NULL;
        sealwire_envelope_reader *r = NULL;
        CHECK_RC(sealwire_envelope_writer_new(ctx, ks, 1, 64, &w), SEALWIRE_OK);
        CHECK_RC(sealwire_envelope_writer_write(w, NULL, 1, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
        CHECK_RC(sealwire_envelope_writer_write(w, buf, 1, buf + 100, 100, NULL), SEALWIRE_NULL_POINTER);
        CHECK_RC(sealwire_envelope_writer_finish(w, buf, sizeof buf, NULL), SEALWIRE_NULL_POINTER);
        sealwire_envelope_writer_free(w);
        CHECK_RC(sealwire_envelope_reader_new(ctx, ks, &r), SEALWIRE_OK);
        CHECK_RC(sealwire_envelope_reader_read(r, NULL, 1, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
        CHECK_RC(sealwire_envelope_reader_read(r, sealed, 1, buf, sizeof buf, NULL), SEALWIRE_NULL_POINTER);
        CHECK_RC(sealwire_envelope_reader_header(r, NULL), SEALWIRE_NULL_POINTER);
        CHECK_RC(sealwire_envelope_reader_header(r, &h_out), SEALWIRE_INVALID_STATE);
        CHECK(h_out == SENTINEL);
        /* Empty input: the header never arrived. */
        CHECK_RC(sealwire_envelope_reader_finish(r, buf, sizeof buf, &n), SEALWIRE_TRUNCATED);
        CHECK_RC(sealwire_envelope_reader_finish(r, buf, sizeof buf, &n), SEALWIRE_TRUNCATED);
        sealwire_envelope_reader_free(r);
    }

    /* rewrap */
    CHECK_RC(sealwire_envelope_rewrap_open(NULL, 5, ctx, ks, &rw_out), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_envelope_rewrap_open(sealed, sealed_len, NULL, ks, &rw_out), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_envelope_rewrap_open(sealed, sealed_len, ctx, NULL, &rw_out), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_envelope_rewrap_open(sealed, sealed_len, ctx, ks, NULL), SEALWIRE_NULL_POINTER);
    CHECK(rw_out == SENTINEL);
    {
        sealwire_envelope_rewrap *rw = NULL;
        sealwire_key_set *empty = key_set_new();
        CHECK_RC(sealwire_envelope_rewrap_open(sealed, sealed_len, ctx, ks, &rw), SEALWIRE_OK);
        CHECK_RC(sealwire_envelope_rewrap_add(NULL, ks), SEALWIRE_NULL_POINTER);
        CHECK_RC(sealwire_envelope_rewrap_add(rw, NULL), SEALWIRE_NULL_POINTER);
        CHECK_RC(sealwire_envelope_rewrap_add(rw, empty), SEALWIRE_INVALID_PARAMETER);
        CHECK_RC(sealwire_envelope_rewrap_remove(rw, NULL, "k", &n), SEALWIRE_NULL_POINTER);
        CHECK_RC(sealwire_envelope_rewrap_remove(rw, "keyring", NULL, &n), SEALWIRE_NULL_POINTER);
        CHECK_RC(sealwire_envelope_rewrap_remove(rw, "keyring", "k", NULL), SEALWIRE_NULL_POINTER);
        CHECK_RC(sealwire_envelope_rewrap_rotate(rw, NULL, &n), SEALWIRE_NULL_POINTER);
        CHECK_RC(sealwire_envelope_rewrap_rotate(rw, ks, NULL), SEALWIRE_NULL_POINTER);
        CHECK_RC(sealwire_envelope_rewrap_header(rw, NULL), SEALWIRE_NULL_POINTER);
        CHECK_RC(sealwire_envelope_rewrap_original_header_len(NULL, &n), SEALWIRE_NULL_POINTER);
        CHECK_RC(sealwire_envelope_rewrap_header_bytes(rw, buf, sizeof buf, NULL), SEALWIRE_NULL_POINTER);
        CHECK_RC(sealwire_envelope_rewrap_apply(rw, NULL, 5, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
        CHECK_RC(sealwire_envelope_rewrap_apply(rw, sealed, sealed_len, buf, sizeof buf, NULL), SEALWIRE_NULL_POINTER);
        sealwire_envelope_rewrap_free(rw);
        sealwire_key_set_free(empty);
    }

    /* X-Wing */
    CHECK_RC(sealwire_xwing_keypair_generate(NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_xwing_keypair_from_seed(NULL, 32, &kp_out), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_xwing_keypair_from_seed(buf, 31, &kp_out), SEALWIRE_INVALID_LENGTH);
    CHECK_RC(sealwire_xwing_keypair_seed(NULL, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_xwing_keypair_public_key(NULL, &pk_out), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_xwing_public_key_from_bytes(NULL, 3, &pk_out), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_xwing_public_key_from_bytes(buf, 3, &pk_out), SEALWIRE_TRUNCATED);
    CHECK_RC(sealwire_xwing_public_key_from_bytes(buf, 5, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_xwing_public_key_from_raw_bytes(buf, 100, &pk_out), SEALWIRE_INVALID_LENGTH);
    CHECK_RC(sealwire_xwing_public_key_to_bytes(NULL, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
    CHECK(!sealwire_xwing_public_key_equal(NULL, NULL));
    CHECK(kp_out == SENTINEL && pk_out == SENTINEL);
    {
        sealwire_xwing_keypair *kp = NULL;
        sealwire_xwing_public_key *pk = NULL, *raw = NULL;
        uint8_t enc[SEALWIRE_XWING_PUBLIC_KEY_ENCODED_LEN];
        CHECK_RC(sealwire_xwing_keypair_generate(&kp), SEALWIRE_OK);
        CHECK_RC(sealwire_xwing_keypair_seed(kp, buf, 31, &written), SEALWIRE_BUFFER_TOO_SMALL);
        CHECK(written == SEALWIRE_XWING_SEED_LEN);
        CHECK_RC(sealwire_xwing_keypair_public_key(kp, &pk), SEALWIRE_OK);
        CHECK_RC(sealwire_xwing_public_key_to_bytes(pk, NULL, 0, &written), SEALWIRE_BUFFER_TOO_SMALL);
        CHECK(written == SEALWIRE_XWING_PUBLIC_KEY_ENCODED_LEN);
        CHECK_RC(sealwire_xwing_public_key_to_bytes(pk, enc, sizeof enc, &written), SEALWIRE_OK);
        CHECK_RC(sealwire_xwing_public_key_from_raw_bytes(enc + 5, SEALWIRE_XWING_PUBLIC_KEY_LEN, &raw), SEALWIRE_OK);
        CHECK(sealwire_xwing_public_key_equal(pk, raw));
        enc[0] ^= 1;
        CHECK_RC(sealwire_xwing_public_key_from_bytes(enc, sizeof enc, &pk_out), SEALWIRE_BAD_MAGIC);
        CHECK(pk_out == SENTINEL);
        sealwire_xwing_public_key_free(raw);
        sealwire_xwing_public_key_free(pk);
        sealwire_xwing_keypair_free(kp);
    }

    sealwire_bytes_free(sealed, sealed_len);
    sealwire_context_free(ctx);
    sealwire_key_set_free(ks);
    sealwire_keyring_free(ring);
}

static void test_result_codes(void)
{
    static const struct {
        sealwire_result code;
        unsigned number;
        const char *string;
    } codes[] = {
        {SEALWIRE_INVALID_STATE, 1005, "ERR_SEALWIRE_INVALID_STATE"},
        {SEALWIRE_COMMITMENT_MISMATCH, 3007, "ERR_SEALWIRE_COMMITMENT_MISMATCH"},
        {SEALWIRE_HEADER_AUTH_FAILED, 3008, "ERR_SEALWIRE_HEADER_AUTH_FAILED"},
        {SEALWIRE_CONTEXT_MISMATCH, 3009, "ERR_SEALWIRE_CONTEXT_MISMATCH"},
        {SEALWIRE_IDENTITY_MISMATCH, 3010, "ERR_SEALWIRE_IDENTITY_MISMATCH"},
        {SEALWIRE_STALE_STATE, 3011, "ERR_SEALWIRE_STALE_STATE"},
        {SEALWIRE_PREKEY_ALREADY_USED, 3012, "ERR_SEALWIRE_PREKEY_ALREADY_USED"},
        {SEALWIRE_TOO_MANY_SKIPPED_MESSAGES, 4005, "ERR_SEALWIRE_TOO_MANY_SKIPPED_MESSAGES"},
        {SEALWIRE_SESSION_MISMATCH, 4006, "ERR_SEALWIRE_SESSION_MISMATCH"},
        {SEALWIRE_IO, 5000, "ERR_SEALWIRE_IO"},
        {SEALWIRE_NO_MATCHING_KEY, 5001, "ERR_SEALWIRE_NO_MATCHING_KEY"},
        {SEALWIRE_KEY_NOT_FOUND, 5002, "ERR_SEALWIRE_KEY_NOT_FOUND"},
        {SEALWIRE_KEY_RETIRED, 5003, "ERR_SEALWIRE_KEY_RETIRED"},
        {SEALWIRE_PROVIDER_FAILED, 5004, "ERR_SEALWIRE_PROVIDER_FAILED"},
        {SEALWIRE_UNKNOWN_PREKEY, 5005, "ERR_SEALWIRE_UNKNOWN_PREKEY"},
    };
    size_t k;
    for (k = 0; k < sizeof codes / sizeof codes[0]; k++) {
        const char *msg = sealwire_result_message(codes[k].code);
        CHECK((unsigned)codes[k].code == codes[k].number);
        CHECK(strcmp(sealwire_result_code_string(codes[k].code), codes[k].string) == 0);
        CHECK(msg != NULL && msg[0] != '\0' && strcmp(msg, "unknown result code") != 0);
    }
    CHECK(strcmp(sealwire_result_code_string(5099), "ERR_SEALWIRE_UNKNOWN_RESULT") == 0);
    CHECK(strcmp(sealwire_result_code_string(3013), "ERR_SEALWIRE_UNKNOWN_RESULT") == 0);
}

int main(int argc, char **argv)
{
    const char *vectors = argc > 1 ? argv[1] : "tests/vectors/envelope.json";
    char tmpdir[] = "/tmp/sealwire-c-envelope-XXXXXX";
    printf("sealwire %s C API envelope tests\n", sealwire_version());
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_result_codes();
    test_context();
    test_vectors(vectors, tmpdir);
    test_keyring_round_trip();
    test_recipients();
    test_streaming();
    test_rewrap();
    test_rotation();
    test_keyring_files(tmpdir);
    test_callback_provider();
    test_threads();
    test_null_pointers();
    rmdir(tmpdir);
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 && g_passed > 0 ? 0 : 1;
}
