/* Cross-language ratchet steps, C's program (contract: notes RATCHET_CROSS.md).
 *
 * Usage: ratchet_step IN.json OUT.json
 *
 * IN.json names an "action" (prekeys, initiate, accept, continue) and carries a 32-byte
 * "storage_key"; every byte string is lowercase hex; identities are
 * {"ed25519_seed", "x25519_secret"}. OUT.json holds sealed state (SWPS / SWSS blobs under the
 * storage key), generations and per-op results. Only the public C API is used (no test-only
 * hooks).
 *
 * On any error: a message on stderr, exit status 1, and no OUT file (it is written to a
 * temporary name and renamed when complete).
 *
 * Build: cc -std=c11 -Wall -Wextra -Werror -pedantic -I include ratchet_step.c \
 *            -L$lib -lsealwire -lcjson
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "sealwire.h"

static const char *g_out_tmp; /* removed on failure */

static _Noreturn void die(const char *fmt, const char *arg)
{
    fprintf(stderr, "ratchet_step.c: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    if (g_out_tmp != NULL) unlink(g_out_tmp);
    exit(1);
}

static void ok(sealwire_result r, const char *what)
{
    if (r != SEALWIRE_OK) {
        fprintf(stderr, "ratchet_step.c: %s failed: %s (%s)\n", what,
                sealwire_result_code_string(r), sealwire_result_message(r));
        if (g_out_tmp != NULL) unlink(g_out_tmp);
        exit(1);
    }
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long size;
    if (f == NULL) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)size + 1);
        if (buf != NULL) {
            if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
                free(buf);
                buf = NULL;
            } else {
                buf[size] = '\0';
            }
        }
    }
    fclose(f);
    return buf;
}

static int nibble(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1; /* lowercase only */
}

/* A field that must be a lowercase hex string, decoded into a fresh buffer (never NULL). */
static uint8_t *unhex(const cJSON *obj, const char *key, size_t *len)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    const char *hex;
    size_t n, i;
    uint8_t *out;
    if (!cJSON_IsString(item) || item->valuestring == NULL) die("'%s' must be a lowercase hex string", key);
    hex = item->valuestring;
    n = strlen(hex);
    if (n % 2 != 0) die("'%s' must be a lowercase hex string", key);
    out = malloc(n / 2 + 1);
    if (out == NULL) die("out of memory (%s)", key);
    for (i = 0; i < n / 2; i++) {
        int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) die("'%s' must be a lowercase hex string", key);
        out[i] = (uint8_t)(hi * 16 + lo);
    }
    *len = n / 2;
    return out;
}

/* A field that must be a non-negative integer (exactly representable). */
static uint64_t integer(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    double v;
    if (!cJSON_IsNumber(item)) die("'%s' must be a non-negative integer", key);
    v = item->valuedouble;
    if (!(v >= 0) || v > 9007199254740991.0 || (double)(uint64_t)v != v) {
        die("'%s' must be a non-negative integer", key);
    }
    return (uint64_t)v;
}

static bool boolean(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsBool(item)) die("'%s' must be true or false", key);
    return cJSON_IsTrue(item) ? true : false;
}

static char *to_hex(const uint8_t *data, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    char *out = malloc(2 * len + 1);
    size_t i;
    if (out == NULL) die("out of memory%s", "");
    for (i = 0; i < len; i++) {
        out[2 * i] = digits[data[i] >> 4];
        out[2 * i + 1] = digits[data[i] & 15];
    }
    out[2 * len] = '\0';
    return out;
}

static void add_hex(cJSON *obj, const char *key, const uint8_t *data, size_t len)
{
    char *h = to_hex(data, len);
    if (cJSON_AddStringToObject(obj, key, h) == NULL) die("cannot build '%s'", key);
    free(h);
}

static void add_int(cJSON *obj, const char *key, uint64_t v)
{
    if (cJSON_AddNumberToObject(obj, key, (double)v) == NULL) die("cannot build '%s'", key);
}

static sealwire_identity *identity(const cJSON *doc)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "identity");
    uint8_t *ed, *x;
    size_t ed_len, x_len;
    sealwire_identity *id = NULL;
    if (!cJSON_IsObject(v)) die("'%s' must be an object", "identity");
    ed = unhex(v, "ed25519_seed", &ed_len);
    x = unhex(v, "x25519_secret", &x_len);
    ok(sealwire_identity_from_secret_bytes(ed, ed_len, x, x_len, &id), "identity");
    memset(ed, 0, ed_len);
    memset(x, 0, x_len);
    free(ed);
    free(x);
    return id;
}

/* Apply "ops" to `session`, appending one result object per op to `results`. */
static void apply_ops(sealwire_ratchet_session *session, const cJSON *doc, cJSON *results)
{
    const cJSON *ops = cJSON_GetObjectItemCaseSensitive(doc, "ops"), *op;
    if (!cJSON_IsArray(ops)) die("'%s' must be a list", "ops");
    cJSON_ArrayForEach(op, ops)
    {
        const cJSON *kind = cJSON_GetObjectItemCaseSensitive(op, "op");
        cJSON *result = cJSON_CreateObject();
        uint8_t *in, *out = NULL;
        size_t in_len, out_len = 0;
        if (!cJSON_IsObject(op) || !cJSON_IsString(kind) || result == NULL) die("bad op%s", "");
        if (strcmp(kind->valuestring, "encrypt") == 0) {
            in = unhex(op, "plaintext", &in_len);
            ok(sealwire_ratchet_session_encrypt(session, in, in_len, &out, &out_len), "encrypt");
            add_hex(result, "message", out, out_len);
        } else if (strcmp(kind->valuestring, "decrypt") == 0) {
            in = unhex(op, "message", &in_len);
            ok(sealwire_ratchet_session_decrypt(session, in, in_len, &out, &out_len), "decrypt");
            add_hex(result, "plaintext", out, out_len);
        } else {
            die("unknown op '%s'", kind->valuestring);
        }
        sealwire_bytes_free(out, out_len);
        free(in);
        cJSON_AddItemToArray(results, result);
    }
}

/* "session" and "generation" of `session`, sealed under `key`. */
static void add_session(cJSON *out, const sealwire_ratchet_session *session, const uint8_t *key)
{
    uint8_t *blob = NULL;
    size_t blob_len = 0;
    uint64_t generation = 0;
    ok(sealwire_ratchet_session_seal(session, key, SEALWIRE_RATCHET_STORAGE_KEY_LEN, &blob,
                                     &blob_len),
       "seal session");
    ok(sealwire_ratchet_session_generation(session, &generation), "generation");
    add_hex(out, "session", blob, blob_len);
    add_int(out, "generation", generation);
    sealwire_bytes_free(blob, blob_len);
}

static cJSON *run(const cJSON *doc)
{
    size_t key_len;
    uint8_t *key = unhex(doc, "storage_key", &key_len);
    const cJSON *action_item = cJSON_GetObjectItemCaseSensitive(doc, "action");
    const char *action;
    cJSON *out = cJSON_CreateObject(), *results = NULL;
    if (out == NULL) die("out of memory%s", "");
    if (key_len != SEALWIRE_RATCHET_STORAGE_KEY_LEN) die("'%s' must be 32 bytes", "storage_key");
    if (!cJSON_IsString(action_item)) die("'%s' must be a string", "action");
    action = action_item->valuestring;

    if (strcmp(action, "prekeys") == 0) {
        sealwire_identity *id = identity(doc);
        uint64_t n = integer(doc, "one_time_prekeys"), now = integer(doc, "now");
        sealwire_prekey_store *store = NULL;
        sealwire_prekey_bundle *bundle = NULL;
        uint8_t *blob = NULL, *bytes;
        size_t blob_len = 0, need = 0, written = 0;
        if (n > UINT32_MAX) die("'%s' is too large", "one_time_prekeys");
        /* As in the Python and Node programs: as many one-time ML-KEM prekeys as X25519. */
        ok(sealwire_prekey_store_generate(id, (uint32_t)n, (uint32_t)n,
                                          boolean(doc, "post_quantum"), now, &store),
           "generate prekeys");
        ok(sealwire_prekey_store_seal(store, key, key_len, &blob, &blob_len), "seal prekeys");
        add_hex(out, "prekey_store", blob, blob_len);
        sealwire_bytes_free(blob, blob_len);
        ok(sealwire_prekey_store_bundle(store, &bundle), "bundle");
        if (sealwire_prekey_bundle_to_bytes(bundle, NULL, 0, &need) != SEALWIRE_BUFFER_TOO_SMALL) {
            die("bundle length query failed%s", "");
        }
        bytes = malloc(need);
        if (bytes == NULL) die("out of memory%s", "");
        ok(sealwire_prekey_bundle_to_bytes(bundle, bytes, need, &written), "bundle bytes");
        add_hex(out, "bundle", bytes, written);
        free(bytes);
        sealwire_prekey_bundle_free(bundle);
        sealwire_prekey_store_free(store);
        sealwire_identity_free(id);
    } else if (strcmp(action, "initiate") == 0) {
        sealwire_identity *id = identity(doc);
        size_t len;
        uint8_t *raw = unhex(doc, "peer_bundle", &len);
        sealwire_prekey_bundle *bundle = NULL;
        sealwire_public_identity *peer = NULL;
        sealwire_ratchet_session *session = NULL;
        ok(sealwire_prekey_bundle_from_bytes(raw, len, &bundle), "peer bundle");
        ok(sealwire_prekey_bundle_identity(bundle, &peer), "bundle identity");
        ok(sealwire_ratchet_session_initiate(id, peer, bundle, boolean(doc, "header_encryption"),
                                             &session),
           "initiate");
        results = cJSON_CreateArray();
        if (results == NULL) die("out of memory%s", "");
        apply_ops(session, doc, results);
        add_session(out, session, key);
        cJSON_AddItemToObject(out, "results", results);
        sealwire_ratchet_session_free(session);
        sealwire_public_identity_free(peer);
        sealwire_prekey_bundle_free(bundle);
        sealwire_identity_free(id);
        free(raw);
    } else if (strcmp(action, "accept") == 0) {
        sealwire_identity *id = identity(doc);
        size_t store_len, msg_len, pt_len = 0, blob_len = 0;
        uint8_t *store_raw = unhex(doc, "prekey_store", &store_len);
        uint8_t *msg = unhex(doc, "initial_message", &msg_len), *pt = NULL, *blob = NULL;
        sealwire_prekey_store *store = NULL;
        sealwire_ratchet_session *session = NULL;
        uint64_t store_generation = 0;
        cJSON *first;
        ok(sealwire_prekey_store_open_checked(store_raw, store_len, key, key_len,
                                              integer(doc, "prekey_generation"), &store),
           "open prekeys");
        ok(sealwire_ratchet_session_accept(id, store, msg, msg_len, &session, &pt, &pt_len),
           "accept");
        results = cJSON_CreateArray();
        first = cJSON_CreateObject();
        if (results == NULL || first == NULL) die("out of memory%s", "");
        add_hex(first, "plaintext", pt, pt_len);
        cJSON_AddItemToArray(results, first);
        sealwire_bytes_free(pt, pt_len);
        apply_ops(session, doc, results);
        add_session(out, session, key);
        ok(sealwire_prekey_store_seal(store, key, key_len, &blob, &blob_len), "seal prekeys");
        ok(sealwire_prekey_store_generation(store, &store_generation), "prekey generation");
        add_hex(out, "prekey_store", blob, blob_len);
        add_int(out, "prekey_generation", store_generation);
        cJSON_AddItemToObject(out, "results", results);
        sealwire_bytes_free(blob, blob_len);
        sealwire_ratchet_session_free(session);
        sealwire_prekey_store_free(store);
        sealwire_identity_free(id);
        free(store_raw);
        free(msg);
    } else if (strcmp(action, "continue") == 0) {
        size_t len;
        uint8_t *raw = unhex(doc, "session", &len);
        sealwire_ratchet_session *session = NULL;
        ok(sealwire_ratchet_session_open_checked(raw, len, key, key_len,
                                                 integer(doc, "generation"), &session),
           "open session");
        results = cJSON_CreateArray();
        if (results == NULL) die("out of memory%s", "");
        apply_ops(session, doc, results);
        add_session(out, session, key);
        cJSON_AddItemToObject(out, "results", results);
        sealwire_ratchet_session_free(session);
        free(raw);
    } else {
        die("unknown action '%s'", action);
    }
    memset(key, 0, key_len);
    free(key);
    return out;
}

int main(int argc, char **argv)
{
    char *text, *json, tmp[4200];
    cJSON *doc, *out;
    FILE *f;
    size_t n;
    if (argc != 3) {
        fprintf(stderr, "usage: ratchet_step IN.json OUT.json\n");
        return 1;
    }
    text = read_file(argv[1]);
    if (text == NULL) die("cannot read %s", argv[1]);
    doc = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(doc)) die("%s must hold a JSON object", argv[1]);
    out = run(doc);
    cJSON_Delete(doc);
    json = cJSON_PrintUnformatted(out);
    cJSON_Delete(out);
    if (json == NULL) die("cannot serialize the output%s", "");
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp-%ld", argv[2], (long)getpid()) >= sizeof tmp) {
        die("output path too long: %s", argv[2]);
    }
    g_out_tmp = tmp;
    f = fopen(tmp, "wb");
    if (f == NULL) die("cannot write %s", tmp);
    n = strlen(json);
    if (fwrite(json, 1, n, f) != n || fclose(f) != 0) die("cannot write %s", tmp);
    cJSON_free(json);
    if (rename(tmp, argv[2]) != 0) die("cannot rename to %s", argv[2]);
    return 0;
}
