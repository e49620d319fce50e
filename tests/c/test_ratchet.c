/*
 * C11 tests of the asynchronous-session API of include/sealwire.h (prekey bundles, prekey
 * stores, Double Ratchet sessions, the persistent Messenger) against libsealwire (shared or
 * static).
 *
 * Part 1 replays tests/vectors/ratchet.json exactly like core/tests/ratchet_vectors.rs: every
 * recorded random input goes through the `_for_vectors` hooks, and every output (published
 * bundle, initial and ratchet messages, plaintexts, session ids, sealed session and prekey
 * store) must match byte for byte; every rejection must give its listed code. Each step is
 * first tried with a tape one byte too long (and, when it uses randomness, one byte too short):
 * that must fail with SEALWIRE_INVALID_PARAMETER and change nothing, which the exact call that
 * follows proves by still reproducing the vector. The "kdf" section is not replayed: its
 * known-answer functions (sealwire::ratchet::kat) are Rust-only and not part of the C API.
 * Part 2: strict decoding of bundles, sealed states and messages (specific codes).
 * Part 3: live sessions with OS randomness (X3DH and PQXDH, with and without header
 * encryption): a failed decrypt changes nothing, replays, prekey reuse, prekey store rotation
 * and replenishment, sealing with rollback detection, wrong storage keys.
 * Part 4: Messenger round trips Alice <-> Bob on SQLite files in a temporary directory,
 * including close + reopen mid-conversation, crash-style redelivery from the outbox and the
 * inbox, duplicate receive (NULL record), wrong storage key, rollback detection, two threads
 * sending on one messenger, and an in-memory messenger.
 * Part 5: conventions: NULL pointers, lengths, out-parameters untouched on failure,
 * _free(NULL), buffer queries.
 *
 * Usage: test_ratchet [path/to/ratchet.json]
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

static bool jbool(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsBool(item)) {
        fprintf(stderr, "vector field \"%s\" missing\n", key);
        return false;
    }
    return cJSON_IsTrue(item) ? true : false;
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

static void check_bytes(const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len,
                        const char *what, const char *ctx, int line)
{
    if (got_len == want_len && (want_len == 0 || memcmp(got, want, want_len) == 0)) {
        g_passed++;
    } else {
        g_failed++;
        fprintf(stderr, "FAIL (line %d): %s [%s]: %zu bytes, expected %zu%s\n", line, what, ctx,
                got_len, want_len, got_len == want_len ? " (contents differ)" : "");
    }
}
#define CHECK_BYTES(g, gl, w, wl, ctx) check_bytes((g), (gl), (w), (wl), #g, (ctx), __LINE__)

static void check_code(sealwire_result got, const char *want_code, const char *what, const char *ctx)
{
    const char *got_code = sealwire_result_code_string(got);
    if (strcmp(got_code, want_code) == 0) {
        g_passed++;
    } else {
        g_failed++;
        fprintf(stderr, "FAIL: %s [%s]: got %s, expected %s\n", what, ctx, got_code, want_code);
    }
}

/* A malloc'd copy of `data` with one extra byte (a tape that is one byte too long). */
static uint8_t *plus_one(const uint8_t *data, size_t len)
{
    uint8_t *p = malloc(len + 1);
    if (p == NULL) abort();
    if (len > 0) memcpy(p, data, len);
    p[len] = 0xa5;
    return p;
}

static sealwire_identity *identity_from_json(const cJSON *doc, const char *name)
{
    const cJSON *v;
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(doc, "identities"))
    {
        if (strcmp(jstr(v, "name"), name) == 0) {
            size_t ed_len, x_len, pub_len, n = 0;
            uint8_t *ed = jhex(v, "ed25519_seed", &ed_len), *x = jhex(v, "x25519_secret", &x_len);
            uint8_t *pub = jhex(v, "public_identity", &pub_len);
            uint8_t got[SEALWIRE_PUBLIC_IDENTITY_LEN];
            sealwire_identity *id = NULL;
            sealwire_public_identity *p = NULL;
            CHECK_RC(sealwire_identity_from_secret_bytes(ed, ed_len, x, x_len, &id), SEALWIRE_OK);
            CHECK_RC(sealwire_identity_public(id, &p), SEALWIRE_OK);
            CHECK_RC(sealwire_public_identity_to_bytes(p, got, sizeof got, &n), SEALWIRE_OK);
            CHECK_BYTES(got, n, pub, pub_len, name);
            sealwire_public_identity_free(p);
            free(ed);
            free(x);
            free(pub);
            return id;
        }
    }
    fprintf(stderr, "identity %s missing from the vectors\n", name);
    abort();
}

/* A bundle's encoding, malloc'd. */
static uint8_t *bundle_bytes(const sealwire_prekey_bundle *b, size_t *len)
{
    size_t need = 0, n = 0;
    uint8_t *out;
    CHECK_RC(sealwire_prekey_bundle_to_bytes(b, NULL, 0, &need), SEALWIRE_BUFFER_TOO_SMALL);
    out = malloc(need + 1);
    if (out == NULL) abort();
    CHECK_RC(sealwire_prekey_bundle_to_bytes(b, out, need, &n), SEALWIRE_OK);
    CHECK(n == need);
    *len = n;
    return out;
}

static uint64_t session_generation(const sealwire_ratchet_session *s)
{
    uint64_t g = UINT64_MAX;
    CHECK_RC(sealwire_ratchet_session_generation(s, &g), SEALWIRE_OK);
    return g;
}

static uint64_t store_generation(const sealwire_prekey_store *s)
{
    uint64_t g = UINT64_MAX;
    CHECK_RC(sealwire_prekey_store_generation(s, &g), SEALWIRE_OK);
    return g;
}

static size_t store_one_time_count(const sealwire_prekey_store *s)
{
    size_t n = SIZE_MAX;
    CHECK_RC(sealwire_prekey_store_one_time_prekey_count(s, &n), SEALWIRE_OK);
    return n;
}


/* ---- part 1: tests/vectors/ratchet.json ----------------------------------------------- */

struct replay_counts {
    int encrypt, decrypt, decrypt_error, accept, accept_error, seal_session, seal_store;
};

/* One step of a case. `a` is Alice's session; `*b` Bob's (NULL before "accept"). */
static void replay_step(const cJSON *c, const cJSON *step, const char *ctx, sealwire_identity *bob,
                        sealwire_prekey_store *store, sealwire_ratchet_session *a,
                        sealwire_ratchet_session **b, const uint8_t *key, size_t key_len,
                        struct replay_counts *counts)
{
    const char *op = jstr(step, "op");
    const char *party = jstr(step, "party");
    uint8_t *out = SENTINEL, *random = NULL, *longer = NULL;
    size_t out_len = 0, random_len = 0;
    sealwire_ratchet_session *s;

    if (cJSON_GetObjectItemCaseSensitive(step, "random") != NULL) {
        random = jhex(step, "random", &random_len);
        longer = plus_one(random, random_len);
    }

    if (strcmp(op, "accept") == 0) {
        size_t msg_len, pt_len, sid_len, n = 0;
        uint8_t *msg = jhex(step, "message", &msg_len), *pt = jhex(step, "plaintext", &pt_len);
        uint8_t *sid = jhex(c, "session_id", &sid_len), got_sid[SEALWIRE_RATCHET_SESSION_ID_LEN];
        uint64_t gen = store_generation(store);
        size_t otp = store_one_time_count(store);
        sealwire_ratchet_session *session = SENTINEL;
        /* Too long, then too short: refused, and the store keeps its one-time prekeys. */
        CHECK_RC(sealwire_ratchet_session_accept_for_vectors(bob, store, msg, msg_len, longer,
                                                             random_len + 1, &session, &out,
                                                             &out_len),
                 SEALWIRE_INVALID_PARAMETER);
        CHECK_RC(sealwire_ratchet_session_accept_for_vectors(bob, store, msg, msg_len, random,
                                                             random_len - 1, &session, &out,
                                                             &out_len),
                 SEALWIRE_INVALID_PARAMETER);
        CHECK(session == SENTINEL && out == SENTINEL);
        CHECK(store_generation(store) == gen && store_one_time_count(store) == otp);
        CHECK_RC(sealwire_ratchet_session_accept_for_vectors(bob, store, msg, msg_len, random,
                                                             random_len, &session, &out, &out_len),
                 SEALWIRE_OK);
        CHECK_BYTES(out, out_len, pt, pt_len, ctx);
        CHECK_RC(sealwire_ratchet_session_session_id(session, got_sid, sizeof got_sid, &n),
                 SEALWIRE_OK);
        CHECK_BYTES(got_sid, n, sid, sid_len, ctx);
        CHECK_RC(sealwire_ratchet_session_session_id(a, got_sid, sizeof got_sid, &n), SEALWIRE_OK);
        CHECK_BYTES(got_sid, n, sid, sid_len, ctx);
        CHECK(!sealwire_ratchet_session_is_initiator(session));
        CHECK(store_generation(store) == gen + 1);
        sealwire_bytes_free(out, out_len);
        sealwire_ratchet_session_free(*b);
        *b = session;
        counts->accept++;
        free(msg);
        free(pt);
        free(sid);
    } else if (strcmp(op, "accept_error") == 0) {
        size_t msg_len;
        uint8_t *msg = jhex(step, "message", &msg_len);
        uint64_t gen = store_generation(store);
        sealwire_ratchet_session *session = SENTINEL;
        check_code(sealwire_ratchet_session_accept(bob, store, msg, msg_len, &session, &out,
                                                   &out_len),
                   jstr(step, "error"), "accept", ctx);
        CHECK(session == SENTINEL && out == SENTINEL);
        CHECK(store_generation(store) == gen);
        counts->accept_error++;
        free(msg);
    } else if (strcmp(op, "seal_store") == 0) {
        size_t blob_len;
        uint8_t *blob = jhex(step, "blob", &blob_len);
        uint64_t gen = jnum(step, "generation");
        sealwire_prekey_store *back = NULL;
        sealwire_prekey_bundle *b1 = NULL, *b2 = NULL;
        CHECK(store_generation(store) == gen);
        CHECK_RC(sealwire_prekey_store_seal_for_vectors(store, key, key_len, longer, random_len + 1,
                                                        &out, &out_len),
                 SEALWIRE_INVALID_PARAMETER);
        CHECK(out == SENTINEL);
        CHECK_RC(sealwire_prekey_store_seal_for_vectors(store, key, key_len, random, random_len,
                                                        &out, &out_len),
                 SEALWIRE_OK);
        CHECK_BYTES(out, out_len, blob, blob_len, ctx);
        CHECK_RC(sealwire_prekey_store_open_checked(out, out_len, key, key_len, gen, &back),
                 SEALWIRE_OK);
        CHECK_RC(sealwire_prekey_store_bundle(back, &b1), SEALWIRE_OK);
        CHECK_RC(sealwire_prekey_store_bundle(store, &b2), SEALWIRE_OK);
        CHECK(sealwire_prekey_bundle_equal(b1, b2));
        CHECK(store_generation(back) == gen);
        sealwire_prekey_store_free(back);
        back = SENTINEL;
        CHECK_RC(sealwire_prekey_store_open_checked(out, out_len, key, key_len, gen + 1, &back),
                 SEALWIRE_STALE_STATE);
        CHECK(back == SENTINEL);
        sealwire_prekey_bundle_free(b1);
        sealwire_prekey_bundle_free(b2);
        sealwire_bytes_free(out, out_len);
        counts->seal_store++;
        free(blob);
    } else {
        s = strcmp(party, "alice") == 0 ? a : *b;
        if (s == NULL) {
            CHECK(!"a step for bob before accept");
        } else if (strcmp(op, "encrypt") == 0) {
            size_t pt_len, msg_len;
            uint8_t *pt = jhex(step, "plaintext", &pt_len), *msg = jhex(step, "message", &msg_len);
            uint64_t gen = session_generation(s);
            CHECK_RC(sealwire_ratchet_session_encrypt_for_vectors(s, pt, pt_len, longer,
                                                                  random_len + 1, &out, &out_len),
                     SEALWIRE_INVALID_PARAMETER);
            if (random_len > 0) {
                CHECK_RC(sealwire_ratchet_session_encrypt_for_vectors(
                             s, pt, pt_len, random, random_len - 1, &out, &out_len),
                         SEALWIRE_INVALID_PARAMETER);
            }
            CHECK(out == SENTINEL && session_generation(s) == gen);
            CHECK_RC(sealwire_ratchet_session_encrypt_for_vectors(s, pt, pt_len, random,
                                                                  random_len, &out, &out_len),
                     SEALWIRE_OK);
            CHECK_BYTES(out, out_len, msg, msg_len, ctx);
            CHECK(session_generation(s) == gen + 1);
            sealwire_bytes_free(out, out_len);
            counts->encrypt++;
            free(pt);
            free(msg);
        } else if (strcmp(op, "decrypt") == 0) {
            size_t pt_len, msg_len;
            uint8_t *pt = jhex(step, "plaintext", &pt_len), *msg = jhex(step, "message", &msg_len);
            uint64_t gen = session_generation(s);
            CHECK_RC(sealwire_ratchet_session_decrypt_for_vectors(s, msg, msg_len, longer,
                                                                  random_len + 1, &out, &out_len),
                     SEALWIRE_INVALID_PARAMETER);
            if (random_len > 0) {
                CHECK_RC(sealwire_ratchet_session_decrypt_for_vectors(
                             s, msg, msg_len, random, random_len - 1, &out, &out_len),
                         SEALWIRE_INVALID_PARAMETER);
            }
            CHECK(out == SENTINEL && session_generation(s) == gen);
            CHECK_RC(sealwire_ratchet_session_decrypt_for_vectors(s, msg, msg_len, random,
                                                                  random_len, &out, &out_len),
                     SEALWIRE_OK);
            CHECK_BYTES(out, out_len, pt, pt_len, ctx);
            CHECK(session_generation(s) == gen + 1);
            sealwire_bytes_free(out, out_len);
            counts->decrypt++;
            free(pt);
            free(msg);
        } else if (strcmp(op, "decrypt_error") == 0) {
            size_t msg_len;
            uint8_t *msg = jhex(step, "message", &msg_len);
            uint64_t gen = session_generation(s);
            size_t skipped = SIZE_MAX, skipped_after = 0;
            CHECK_RC(sealwire_ratchet_session_skipped_message_keys(s, &skipped), SEALWIRE_OK);
            /* A rejected message uses no randomness: an empty tape. */
            check_code(sealwire_ratchet_session_decrypt_for_vectors(s, msg, msg_len, NULL, 0, &out,
                                                                    &out_len),
                       jstr(step, "error"), "decrypt", ctx);
            CHECK(out == SENTINEL);
            CHECK(session_generation(s) == gen);
            CHECK_RC(sealwire_ratchet_session_skipped_message_keys(s, &skipped_after), SEALWIRE_OK);
            CHECK(skipped_after == skipped);
            counts->decrypt_error++;
            free(msg);
        } else if (strcmp(op, "seal_session") == 0) {
            size_t blob_len, n = 0, n2 = 0;
            uint8_t *blob = jhex(step, "blob", &blob_len);
            uint8_t sid1[SEALWIRE_RATCHET_SESSION_ID_LEN], sid2[SEALWIRE_RATCHET_SESSION_ID_LEN];
            uint64_t gen = jnum(step, "generation");
            sealwire_ratchet_session *back = NULL;
            CHECK(session_generation(s) == gen);
            CHECK_RC(sealwire_ratchet_session_seal_for_vectors(s, key, key_len, longer,
                                                               random_len + 1, &out, &out_len),
                     SEALWIRE_INVALID_PARAMETER);
            CHECK(out == SENTINEL);
            CHECK_RC(sealwire_ratchet_session_seal_for_vectors(s, key, key_len, random, random_len,
                                                               &out, &out_len),
                     SEALWIRE_OK);
            CHECK_BYTES(out, out_len, blob, blob_len, ctx);
            CHECK_RC(sealwire_ratchet_session_open_checked(out, out_len, key, key_len, gen, &back),
                     SEALWIRE_OK);
            CHECK_RC(sealwire_ratchet_session_session_id(back, sid1, sizeof sid1, &n), SEALWIRE_OK);
            CHECK_RC(sealwire_ratchet_session_session_id(s, sid2, sizeof sid2, &n2), SEALWIRE_OK);
            CHECK_BYTES(sid1, n, sid2, n2, ctx);
            CHECK(session_generation(back) == gen);
            sealwire_ratchet_session_free(back);
            back = SENTINEL;
            CHECK_RC(sealwire_ratchet_session_open_checked(out, out_len, key, key_len, gen + 1,
                                                           &back),
                     SEALWIRE_STALE_STATE);
            CHECK(back == SENTINEL);
            sealwire_bytes_free(out, out_len);
            counts->seal_session++;
            free(blob);
        } else {
            fprintf(stderr, "FAIL: %s: unknown op %s\n", ctx, op);
            g_failed++;
        }
    }
    free(random);
    free(longer);
}

static void test_vectors(const char *path)
{
    char *text = read_file(path);
    cJSON *doc;
    const cJSON *cases, *c;
    sealwire_identity *alice, *bob;
    sealwire_public_identity *bob_pub = NULL;
    uint8_t *key;
    size_t key_len;
    int n_cases = 0, steps_in_file = 0, steps_replayed = 0;
    struct replay_counts counts = {0, 0, 0, 0, 0, 0, 0};

    if (text == NULL) {
        fprintf(stderr, "cannot read %s\n", path);
        g_failed++;
        return;
    }
    doc = cJSON_Parse(text);
    free(text);
    if (doc == NULL) {
        fprintf(stderr, "cannot parse %s\n", path);
        g_failed++;
        return;
    }
    key = jhex(doc, "storage_key", &key_len);
    CHECK(key_len == SEALWIRE_RATCHET_STORAGE_KEY_LEN);
    alice = identity_from_json(doc, "alice");
    bob = identity_from_json(doc, "bob");
    CHECK_RC(sealwire_identity_public(bob, &bob_pub), SEALWIRE_OK);
    printf("ratchet.json: the \"kdf\" section (%d groups of known answers) is Rust-only "
           "(sealwire::ratchet::kat is not in the C API): not replayed here\n",
           cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "kdf")));

    cases = cJSON_GetObjectItemCaseSensitive(doc, "cases");
    cJSON_ArrayForEach(c, cases)
    {
        const char *name = jstr(c, "name");
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(c, "prekey_options");
        const cJSON *step;
        size_t store_random_len, init_random_len, published_len, bundle_len, got_len;
        uint8_t *store_random = jhex(c, "store_random", &store_random_len);
        uint8_t *init_random = jhex(c, "initiate_random", &init_random_len);
        uint8_t *published = jhex(c, "published_bundle", &published_len);
        uint8_t *bundle_raw = jhex(c, "bundle", &bundle_len);
        uint8_t *longer, *got;
        uint32_t otp = (uint32_t)jnum(o, "one_time_prekeys");
        uint32_t kem_otp = (uint32_t)jnum(o, "kem_one_time_prekeys");
        bool pq = jbool(o, "post_quantum"), he = jbool(c, "header_encryption");
        uint64_t now = jnum(c, "now_unix");
        sealwire_prekey_store *store = SENTINEL;
        sealwire_prekey_bundle *published_bundle = NULL, *own_bundle = NULL, *bundle = NULL;
        sealwire_ratchet_session *a = SENTINEL, *b = NULL;
        sealwire_key_agreement agreement = 0;
        int i = 0;
        char ctx[160];

        n_cases++;
        /* The prekey store: tape too long / too short refused, exact reproduces the bundle. */
        longer = plus_one(store_random, store_random_len);
        CHECK_RC(sealwire_prekey_store_generate_for_vectors(bob, otp, kem_otp, pq, now, longer,
                                                            store_random_len + 1, &store),
                 SEALWIRE_INVALID_PARAMETER);
        CHECK_RC(sealwire_prekey_store_generate_for_vectors(bob, otp, kem_otp, pq, now,
                                                            store_random, store_random_len - 1,
                                                            &store),
                 SEALWIRE_INVALID_PARAMETER);
        CHECK(store == SENTINEL);
        free(longer);
        CHECK_RC(sealwire_prekey_store_generate_for_vectors(bob, otp, kem_otp, pq, now,
                                                            store_random, store_random_len, &store),
                 SEALWIRE_OK);
        CHECK_RC(sealwire_prekey_store_bundle(store, &own_bundle), SEALWIRE_OK);
        got = bundle_bytes(own_bundle, &got_len);
        CHECK_BYTES(got, got_len, published, published_len, name);
        free(got);
        CHECK(sealwire_prekey_bundle_is_post_quantum(own_bundle) == pq);
        CHECK_RC(sealwire_prekey_bundle_from_bytes(published, published_len, &published_bundle),
                 SEALWIRE_OK);
        CHECK(sealwire_prekey_bundle_equal(published_bundle, own_bundle));

        /* The bundle the initiator used; a directory's selection reproduces it. */
        CHECK_RC(sealwire_prekey_bundle_from_bytes(bundle_raw, bundle_len, &bundle), SEALWIRE_OK);
        if (!jbool(c, "one_time_prekeys_used")) {
            sealwire_prekey_bundle *sel = NULL;
            CHECK_RC(sealwire_prekey_bundle_select(published_bundle, false, 0, false, 0, &sel),
                     SEALWIRE_OK);
            CHECK(sealwire_prekey_bundle_equal(sel, bundle));
            sealwire_prekey_bundle_free(sel);
        } else {
            CHECK(sealwire_prekey_bundle_equal(published_bundle, bundle));
        }

        longer = plus_one(init_random, init_random_len);
        CHECK_RC(sealwire_ratchet_session_initiate_for_vectors(alice, bob_pub, bundle, he, longer,
                                                               init_random_len + 1, &a),
                 SEALWIRE_INVALID_PARAMETER);
        CHECK(a == SENTINEL);
        free(longer);
        CHECK_RC(sealwire_ratchet_session_initiate_for_vectors(alice, bob_pub, bundle, he,
                                                               init_random, init_random_len, &a),
                 SEALWIRE_OK);
        CHECK_RC(sealwire_ratchet_session_key_agreement(a, &agreement), SEALWIRE_OK);
        CHECK(agreement == (strcmp(jstr(c, "key_agreement"), "Pqxdh") == 0
                                ? SEALWIRE_KEY_AGREEMENT_PQXDH
                                : SEALWIRE_KEY_AGREEMENT_X3DH));
        CHECK(sealwire_ratchet_session_header_encryption(a) == he);
        CHECK(sealwire_ratchet_session_is_initiator(a));
        CHECK(sealwire_ratchet_session_awaiting_reply(a));

        cJSON_ArrayForEach(step, cJSON_GetObjectItemCaseSensitive(c, "steps"))
        {
            int before = g_failed;
            snprintf(ctx, sizeof ctx, "%s step %d (%s %s)", name, i, jstr(step, "party"),
                     jstr(step, "op"));
            steps_in_file++;
            replay_step(c, step, ctx, bob, store, a, &b, key, key_len, &counts);
            if (g_failed == before) steps_replayed++;
            i++;
        }
        CHECK(!sealwire_ratchet_session_awaiting_reply(a));

        sealwire_ratchet_session_free(a);
        sealwire_ratchet_session_free(b);
        sealwire_prekey_bundle_free(bundle);
        sealwire_prekey_bundle_free(published_bundle);
        sealwire_prekey_bundle_free(own_bundle);
        sealwire_prekey_store_free(store);
        free(store_random);
        free(init_random);
        free(published);
        free(bundle_raw);
    }
    /* Every case and every step, as in core/tests/ratchet_vectors.rs. */
    CHECK(n_cases == 5);
    CHECK(steps_in_file == 118);
    CHECK(steps_replayed == steps_in_file);
    CHECK(counts.encrypt + counts.decrypt + counts.decrypt_error + counts.accept +
              counts.accept_error + counts.seal_session + counts.seal_store ==
          steps_in_file);
    CHECK(counts.accept == 5 && counts.seal_session == 5 && counts.seal_store == 5);
    CHECK(counts.accept_error == 3 && counts.decrypt_error == 15);
    printf("ratchet.json: %d cases, %d of %d steps replayed byte for byte (encrypt %d, decrypt %d, "
           "decrypt_error %d, accept %d, accept_error %d, seal_session %d, seal_store %d)\n",
           n_cases, steps_replayed, steps_in_file, counts.encrypt, counts.decrypt,
           counts.decrypt_error, counts.accept, counts.accept_error, counts.seal_session,
           counts.seal_store);

    sealwire_public_identity_free(bob_pub);
    sealwire_identity_free(alice);
    sealwire_identity_free(bob);
    free(key);
    cJSON_Delete(doc);
}


/* ---- fixtures for parts 2-5 --------------------------------------------------------- */

static const uint8_t KEY[SEALWIRE_RATCHET_STORAGE_KEY_LEN] = {
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
    0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f};
static const uint8_t OTHER_KEY[SEALWIRE_RATCHET_STORAGE_KEY_LEN] = {0x99};
static const uint64_t NOW = 1750000000u;

static sealwire_identity *new_identity(void)
{
    sealwire_identity *id = NULL;
    CHECK_RC(sealwire_identity_generate(&id), SEALWIRE_OK);
    return id;
}

static sealwire_public_identity *public_of(const sealwire_identity *id)
{
    sealwire_public_identity *p = NULL;
    CHECK_RC(sealwire_identity_public(id, &p), SEALWIRE_OK);
    return p;
}

/* Encrypt and return the library-allocated message (caller frees with sealwire_bytes_free). */
static uint8_t *encrypt_str(sealwire_ratchet_session *s, const char *text, size_t *len)
{
    uint8_t *m = NULL;
    *len = 0;
    CHECK_RC(sealwire_ratchet_session_encrypt(s, (const uint8_t *)text, strlen(text), &m, len),
             SEALWIRE_OK);
    return m;
}

/* Decrypt and compare with `text`. */
static void decrypt_expect(sealwire_ratchet_session *s, const uint8_t *m, size_t m_len,
                           const char *text)
{
    uint8_t *pt = NULL;
    size_t pt_len = 0;
    CHECK_RC(sealwire_ratchet_session_decrypt(s, m, m_len, &pt, &pt_len), SEALWIRE_OK);
    CHECK_BYTES(pt, pt_len, (const uint8_t *)text, strlen(text), text);
    sealwire_bytes_free(pt, pt_len);
}


/* ---- part 2: strict decoding ---------------------------------------------------------- */

static void test_strict_decoding(void)
{
    sealwire_identity *bob = new_identity();
    sealwire_prekey_store *store = NULL;
    sealwire_prekey_bundle *bundle = NULL, *parsed = SENTINEL;
    uint8_t *bytes, *copy, *blob = NULL;
    size_t len, blob_len = 0, cut;
    sealwire_ratchet_message_type kind = 0;
    sealwire_prekey_store *opened = SENTINEL;
    sealwire_ratchet_session *session = SENTINEL;

    CHECK_RC(sealwire_prekey_store_generate(bob, 2, 1, true, NOW, &store), SEALWIRE_OK);
    CHECK_RC(sealwire_prekey_store_bundle(store, &bundle), SEALWIRE_OK);
    bytes = bundle_bytes(bundle, &len);
    copy = malloc(len + 1);
    if (copy == NULL) abort();

    /* Every proper prefix is truncated. */
    for (cut = 0; cut < len; cut += (cut < 300 ? 1 : 97)) {
        sealwire_result rc = sealwire_prekey_bundle_from_bytes(bytes, cut, &parsed);
        if (rc != SEALWIRE_TRUNCATED) {
            fprintf(stderr, "prefix %zu: %s\n", cut, sealwire_result_code_string(rc));
        }
        CHECK(rc == SEALWIRE_TRUNCATED);
    }
    CHECK_RC(sealwire_prekey_bundle_from_bytes(bytes, len - 1, &parsed), SEALWIRE_TRUNCATED);
    /* One trailing byte. */
    memcpy(copy, bytes, len);
    copy[len] = 0;
    CHECK_RC(sealwire_prekey_bundle_from_bytes(copy, len + 1, &parsed), SEALWIRE_TRAILING_BYTES);
    /* Magic, version. */
    copy[0] ^= 0x01;
    CHECK_RC(sealwire_prekey_bundle_from_bytes(copy, len, &parsed), SEALWIRE_BAD_MAGIC);
    memcpy(copy, bytes, len);
    copy[4] = 2;
    CHECK_RC(sealwire_prekey_bundle_from_bytes(copy, len, &parsed), SEALWIRE_UNSUPPORTED_VERSION);
    /* Layout: magic 4, version 1, identity length 2, identity 134, then the signed prekey:
     * id 4, key 32, flags 1, signature 64. */
    memcpy(copy, bytes, len);
    copy[4 + 1 + 2 + SEALWIRE_PUBLIC_IDENTITY_LEN + 4 + 32 + 10] ^= 0x40; /* signature */
    CHECK_RC(sealwire_prekey_bundle_from_bytes(copy, len, &parsed), SEALWIRE_BAD_SIGNATURE);
    memcpy(copy, bytes, len);
    copy[4 + 1 + 2 + SEALWIRE_PUBLIC_IDENTITY_LEN + 4 + 5] ^= 0x01; /* signed prekey itself */
    {
        sealwire_result rc = sealwire_prekey_bundle_from_bytes(copy, len, &parsed);
        CHECK(rc == SEALWIRE_BAD_SIGNATURE || rc == SEALWIRE_INVALID_PUBLIC_KEY);
    }
    memcpy(copy, bytes, len);
    copy[4 + 1 + 2 + SEALWIRE_PUBLIC_IDENTITY_LEN + 4 + 32] = 0x80; /* unknown flag */
    CHECK_RC(sealwire_prekey_bundle_from_bytes(copy, len, &parsed), SEALWIRE_MALFORMED);
    memcpy(copy, bytes, len);
    copy[len - 1] ^= 0x01; /* the last KEM prekey's signature */
    CHECK_RC(sealwire_prekey_bundle_from_bytes(copy, len, &parsed), SEALWIRE_BAD_SIGNATURE);
    CHECK_RC(sealwire_prekey_bundle_from_bytes(NULL, 0, &parsed), SEALWIRE_TRUNCATED);
    CHECK(parsed == SENTINEL);
    CHECK_RC(sealwire_prekey_bundle_from_bytes(bytes, len, &parsed), SEALWIRE_OK);
    CHECK(sealwire_prekey_bundle_equal(parsed, bundle));
    sealwire_prekey_bundle_free(parsed);

    /* Sealed prekey store: wrong key, wrong key length, truncation, modification. */
    CHECK_RC(sealwire_prekey_store_seal(store, KEY, sizeof KEY, &blob, &blob_len), SEALWIRE_OK);
    CHECK(blob_len > 37 + 16 && memcmp(blob, "SWPS", 4) == 0);
    CHECK_RC(sealwire_prekey_store_open(blob, blob_len, OTHER_KEY, sizeof OTHER_KEY, &opened),
             SEALWIRE_DECRYPTION_FAILED);
    CHECK_RC(sealwire_prekey_store_open(blob, blob_len, KEY, 31, &opened), SEALWIRE_INVALID_LENGTH);
    CHECK_RC(sealwire_prekey_store_open(blob, 20, KEY, sizeof KEY, &opened), SEALWIRE_TRUNCATED);
    blob[blob_len - 1] ^= 1;
    CHECK_RC(sealwire_prekey_store_open(blob, blob_len, KEY, sizeof KEY, &opened),
             SEALWIRE_DECRYPTION_FAILED);
    blob[blob_len - 1] ^= 1;
    blob[8] ^= 1; /* the generation is authenticated */
    CHECK_RC(sealwire_prekey_store_open(blob, blob_len, KEY, sizeof KEY, &opened),
             SEALWIRE_DECRYPTION_FAILED);
    blob[8] ^= 1;
    /* A prekey store blob is not a session blob. */
    CHECK_RC(sealwire_ratchet_session_open(blob, blob_len, KEY, sizeof KEY, &session),
             SEALWIRE_BAD_MAGIC);
    CHECK(opened == SENTINEL && session == SENTINEL);
    CHECK_RC(sealwire_prekey_store_open(blob, blob_len, KEY, sizeof KEY, &opened), SEALWIRE_OK);
    sealwire_prekey_store_free(opened);
    sealwire_bytes_free(blob, blob_len);

    /* Message classification. */
    CHECK_RC(sealwire_ratchet_message_kind((const uint8_t *)"SWRM\x01", 5, &kind), SEALWIRE_OK);
    CHECK(kind == SEALWIRE_RATCHET_MESSAGE_RATCHET);
    CHECK_RC(sealwire_ratchet_message_kind((const uint8_t *)"SWRI\x01", 5, &kind), SEALWIRE_OK);
    CHECK(kind == SEALWIRE_RATCHET_MESSAGE_INITIAL);
    kind = 77;
    CHECK_RC(sealwire_ratchet_message_kind((const uint8_t *)"SWRI\x02", 5, &kind),
             SEALWIRE_UNSUPPORTED_VERSION);
    CHECK_RC(sealwire_ratchet_message_kind((const uint8_t *)"XXXX\x01", 5, &kind),
             SEALWIRE_BAD_MAGIC);
    CHECK_RC(sealwire_ratchet_message_kind((const uint8_t *)"SWR", 3, &kind), SEALWIRE_TRUNCATED);
    CHECK_RC(sealwire_ratchet_message_kind(NULL, 0, &kind), SEALWIRE_TRUNCATED);
    CHECK(kind == 77);

    free(copy);
    free(bytes);
    sealwire_prekey_bundle_free(bundle);
    sealwire_prekey_store_free(store);
    sealwire_identity_free(bob);
}


/* ---- part 3: live sessions ------------------------------------------------------------ */

static void live_session(bool post_quantum, bool header_encryption)
{
    sealwire_identity *alice = new_identity(), *bob = new_identity(), *eve = new_identity();
    sealwire_public_identity *alice_pub = public_of(alice), *bob_pub = public_of(bob);
    sealwire_public_identity *eve_pub = public_of(eve), *peer = NULL, *sender = NULL;
    sealwire_prekey_store *store = NULL;
    sealwire_prekey_bundle *bundle = NULL;
    sealwire_ratchet_session *a = NULL, *b = NULL, *b2 = SENTINEL, *reopened = NULL;
    uint8_t *m1, *m2, *m3, *m4, *tampered, *out = SENTINEL, *pt = NULL, *blob = NULL;
    size_t m1_len, m2_len, m3_len, m4_len, out_len = 0, pt_len = 0, blob_len = 0, otp = 0;
    sealwire_ratchet_message_type kind = 0;
    sealwire_key_agreement agreement = 0;
    uint64_t gen, bgen;

    CHECK_RC(sealwire_prekey_store_generate(bob, 3, 2, post_quantum, NOW, &store), SEALWIRE_OK);
    CHECK_RC(sealwire_prekey_store_bundle(store, &bundle), SEALWIRE_OK);
    CHECK(sealwire_prekey_bundle_is_post_quantum(bundle) == post_quantum);

    /* The bundle is Bob's, not Eve's. */
    a = SENTINEL;
    CHECK_RC(sealwire_ratchet_session_initiate(alice, eve_pub, bundle, header_encryption, &a),
             SEALWIRE_IDENTITY_MISMATCH);
    CHECK(a == SENTINEL);
    CHECK_RC(sealwire_ratchet_session_initiate(alice, bob_pub, bundle, header_encryption, &a),
             SEALWIRE_OK);
    CHECK_RC(sealwire_ratchet_session_key_agreement(a, &agreement), SEALWIRE_OK);
    CHECK(agreement ==
          (post_quantum ? SEALWIRE_KEY_AGREEMENT_PQXDH : SEALWIRE_KEY_AGREEMENT_X3DH));

    m1 = encrypt_str(a, "first", &m1_len);
    m2 = encrypt_str(a, "second", &m2_len);
    CHECK_RC(sealwire_ratchet_message_kind(m1, m1_len, &kind), SEALWIRE_OK);
    CHECK(kind == SEALWIRE_RATCHET_MESSAGE_INITIAL);
    CHECK_RC(sealwire_ratchet_initial_message_sender(m1, m1_len, &sender), SEALWIRE_OK);
    CHECK(sealwire_public_identity_equal(sender, alice_pub));
    sealwire_public_identity_free(sender);

    /* Eve does not own Bob's store. */
    CHECK_RC(sealwire_ratchet_session_accept(eve, store, m1, m1_len, &b2, &out, &out_len),
             SEALWIRE_IDENTITY_MISMATCH);
    /* A modified initial message is refused and consumes nothing. */
    otp = store_one_time_count(store);
    gen = store_generation(store);
    tampered = malloc(m1_len);
    if (tampered == NULL) abort();
    memcpy(tampered, m1, m1_len);
    tampered[m1_len - 1] ^= 0x01;
    CHECK_RC(sealwire_ratchet_session_accept(bob, store, tampered, m1_len, &b2, &out, &out_len),
             SEALWIRE_DECRYPTION_FAILED);
    CHECK(b2 == SENTINEL && out == SENTINEL);
    CHECK(store_one_time_count(store) == otp && store_generation(store) == gen);

    /* Bob accepts the second message first (out of order). */
    CHECK_RC(sealwire_ratchet_session_accept(bob, store, m2, m2_len, &b, &pt, &pt_len),
             SEALWIRE_OK);
    CHECK_BYTES(pt, pt_len, (const uint8_t *)"second", 6, "accept");
    sealwire_bytes_free(pt, pt_len);
    CHECK(store_one_time_count(store) == otp - 1);
    CHECK_RC(sealwire_ratchet_session_peer_identity(b, &peer), SEALWIRE_OK);
    CHECK(sealwire_public_identity_equal(peer, alice_pub));
    sealwire_public_identity_free(peer);
    CHECK_RC(sealwire_ratchet_session_local_identity(b, &peer), SEALWIRE_OK);
    CHECK(sealwire_public_identity_equal(peer, bob_pub));
    sealwire_public_identity_free(peer);
    /* The same one-time prekey again: refused. */
    CHECK_RC(sealwire_ratchet_session_accept(bob, store, m2, m2_len, &b2, &out, &out_len),
             SEALWIRE_PREKEY_ALREADY_USED);
    CHECK(b2 == SENTINEL && out == SENTINEL);
    /* The first initial message belongs to Bob's session: it decrypts there. */
    decrypt_expect(b, m1, m1_len, "first");
    CHECK_RC(sealwire_ratchet_session_decrypt(b, m1, m1_len, &out, &out_len), SEALWIRE_REPLAY);
    CHECK(out == SENTINEL);

    /* Replies, out of order, and a failed decrypt that changes nothing. */
    m3 = encrypt_str(b, "reply one", &m3_len);
    m4 = encrypt_str(b, "reply two", &m4_len);
    CHECK_RC(sealwire_ratchet_message_kind(m3, m3_len, &kind), SEALWIRE_OK);
    CHECK(kind == SEALWIRE_RATCHET_MESSAGE_RATCHET);
    gen = session_generation(a);
    CHECK_RC(sealwire_ratchet_session_seal(a, KEY, sizeof KEY, &blob, &blob_len), SEALWIRE_OK);
    free(tampered);
    tampered = malloc(m4_len);
    if (tampered == NULL) abort();
    memcpy(tampered, m4, m4_len);
    tampered[m4_len - 1] ^= 0x20; /* the body's tag */
    CHECK_RC(sealwire_ratchet_session_decrypt(a, tampered, m4_len, &out, &out_len),
             SEALWIRE_DECRYPTION_FAILED);
    CHECK_RC(sealwire_ratchet_session_decrypt(a, m4, m4_len - 1, &out, &out_len),
             SEALWIRE_TRUNCATED);
    CHECK(out == SENTINEL);
    CHECK(session_generation(a) == gen);
    CHECK(sealwire_ratchet_session_awaiting_reply(a));
    /* Another session's message: refused, nothing changes. */
    CHECK_RC(sealwire_ratchet_session_decrypt(a, m1, m1_len, &out, &out_len),
             SEALWIRE_SESSION_MISMATCH);
    CHECK(session_generation(a) == gen);
    /* The genuine messages still decrypt, in either order, from the live handle and from the
     * state sealed before the failures. */
    CHECK_RC(sealwire_ratchet_session_open_checked(blob, blob_len, KEY, sizeof KEY, gen, &reopened),
             SEALWIRE_OK);
    decrypt_expect(a, m4, m4_len, "reply two");
    decrypt_expect(a, m3, m3_len, "reply one");
    decrypt_expect(reopened, m3, m3_len, "reply one");
    decrypt_expect(reopened, m4, m4_len, "reply two");
    CHECK(session_generation(a) == gen + 2 && session_generation(reopened) == gen + 2);
    CHECK(!sealwire_ratchet_session_awaiting_reply(a));
    CHECK_RC(sealwire_ratchet_session_decrypt(a, m4, m4_len, &out, &out_len), SEALWIRE_REPLAY);
    sealwire_ratchet_session_free(reopened);
    reopened = SENTINEL;
    /* Wrong storage key; a state older than the last committed generation. */
    CHECK_RC(sealwire_ratchet_session_open(blob, blob_len, OTHER_KEY, sizeof OTHER_KEY, &reopened),
             SEALWIRE_DECRYPTION_FAILED);
    CHECK_RC(sealwire_ratchet_session_open(blob, blob_len, KEY, 16, &reopened),
             SEALWIRE_INVALID_LENGTH);
    CHECK_RC(sealwire_ratchet_session_open_checked(blob, blob_len, KEY, sizeof KEY, gen + 2,
                                                   &reopened),
             SEALWIRE_STALE_STATE);
    CHECK(reopened == SENTINEL);
    sealwire_bytes_free(blob, blob_len);

    /* Both directions keep working; an empty plaintext is a valid message. */
    bgen = session_generation(b);
    sealwire_bytes_free(m1, m1_len);
    m1 = encrypt_str(a, "", &m1_len);
    CHECK_RC(sealwire_ratchet_session_decrypt(b, m1, m1_len, &pt, &pt_len), SEALWIRE_OK);
    CHECK(pt != NULL && pt_len == 0);
    sealwire_bytes_free(pt, pt_len);
    CHECK(session_generation(b) == bgen + 1);

    sealwire_bytes_free(m1, m1_len);
    sealwire_bytes_free(m2, m2_len);
    sealwire_bytes_free(m3, m3_len);
    sealwire_bytes_free(m4, m4_len);
    free(tampered);
    sealwire_ratchet_session_free(a);
    sealwire_ratchet_session_free(b);
    sealwire_prekey_bundle_free(bundle);
    sealwire_prekey_store_free(store);
    sealwire_public_identity_free(alice_pub);
    sealwire_public_identity_free(bob_pub);
    sealwire_public_identity_free(eve_pub);
    sealwire_identity_free(alice);
    sealwire_identity_free(bob);
    sealwire_identity_free(eve);
}

static void test_prekey_store_maintenance(void)
{
    sealwire_identity *bob = new_identity(), *eve = new_identity();
    sealwire_prekey_store *store = NULL, *stale = SENTINEL;
    sealwire_prekey_bundle *bundle = NULL;
    uint8_t *blob = NULL;
    size_t blob_len = 0, n = 0, removed = 99, written = 0;
    uint32_t spk = 0, spk2 = 0, ids[8], last_resort = 0;
    uint64_t created = 0, gen;
    sealwire_public_identity *owner = NULL, *bob_pub = public_of(bob);

    CHECK_RC(sealwire_prekey_store_generate(bob, 4, 3, true, NOW, &store), SEALWIRE_OK);
    CHECK_RC(sealwire_prekey_store_identity(store, &owner), SEALWIRE_OK);
    CHECK(sealwire_public_identity_equal(owner, bob_pub));
    sealwire_public_identity_free(owner);
    CHECK(store_one_time_count(store) == 4);
    CHECK_RC(sealwire_prekey_store_kem_one_time_prekey_count(store, &n), SEALWIRE_OK);
    CHECK(n == 3);
    CHECK_RC(sealwire_prekey_store_signed_prekey_id(store, &spk), SEALWIRE_OK);
    CHECK_RC(sealwire_prekey_store_signed_prekey_created_at(store, &created), SEALWIRE_OK);
    CHECK(created == NOW);
    CHECK(store_generation(store) == 0);

    /* The bundle's accessors. */
    CHECK_RC(sealwire_prekey_store_bundle(store, &bundle), SEALWIRE_OK);
    CHECK_RC(sealwire_prekey_bundle_signed_prekey_id(bundle, &spk2), SEALWIRE_OK);
    CHECK(spk2 == spk);
    CHECK_RC(sealwire_prekey_bundle_one_time_prekey_count(bundle, &n), SEALWIRE_OK);
    CHECK(n == 4);
    CHECK_RC(sealwire_prekey_bundle_one_time_prekey_ids(bundle, NULL, 0, &written),
             SEALWIRE_BUFFER_TOO_SMALL);
    CHECK(written == 4);
    CHECK_RC(sealwire_prekey_bundle_one_time_prekey_ids(bundle, ids, 3, &written),
             SEALWIRE_BUFFER_TOO_SMALL);
    CHECK_RC(sealwire_prekey_bundle_one_time_prekey_ids(bundle, ids, 8, &written), SEALWIRE_OK);
    CHECK(written == 4 && ids[0] < ids[1] && ids[1] < ids[2] && ids[2] < ids[3]);
    CHECK_RC(sealwire_prekey_bundle_kem_one_time_prekey_count(bundle, &n), SEALWIRE_OK);
    CHECK(n == 3);
    CHECK_RC(sealwire_prekey_bundle_kem_one_time_prekey_ids(bundle, ids, 8, &written),
             SEALWIRE_OK);
    CHECK(written == 3);
    CHECK_RC(sealwire_prekey_bundle_kem_last_resort_prekey_id(bundle, &last_resort), SEALWIRE_OK);
    CHECK(last_resort != ids[0] && last_resort != ids[1] && last_resort != ids[2]);
    {
        /* A directory's selection: one named one-time prekey and one named KEM prekey. */
        sealwire_prekey_bundle *sel = NULL, *bad = SENTINEL;
        uint32_t one_time_ids[4];
        CHECK_RC(sealwire_prekey_bundle_one_time_prekey_ids(bundle, one_time_ids, 4, &written),
                 SEALWIRE_OK);
        CHECK_RC(sealwire_prekey_bundle_select(bundle, true, one_time_ids[2], true, ids[1], &sel),
                 SEALWIRE_OK);
        CHECK_RC(sealwire_prekey_bundle_one_time_prekey_ids(sel, one_time_ids, 4, &written),
                 SEALWIRE_OK);
        CHECK(written == 1);
        CHECK_RC(sealwire_prekey_bundle_kem_last_resort_prekey_id(sel, &last_resort),
                 SEALWIRE_KEY_NOT_FOUND);
        CHECK_RC(sealwire_prekey_bundle_select(bundle, true, 999999, false, 0, &bad),
                 SEALWIRE_UNKNOWN_PREKEY);
        CHECK(bad == SENTINEL);
        sealwire_prekey_bundle_free(sel);
    }
    sealwire_prekey_bundle_free(bundle);

    CHECK_RC(sealwire_prekey_store_seal(store, KEY, sizeof KEY, &blob, &blob_len), SEALWIRE_OK);

    /* Only the owner may change it; a failed call changes nothing. */
    CHECK_RC(sealwire_prekey_store_rotate_signed_prekey(store, eve, NOW + 10),
             SEALWIRE_IDENTITY_MISMATCH);
    CHECK_RC(sealwire_prekey_store_replenish(store, eve), SEALWIRE_IDENTITY_MISMATCH);
    CHECK(store_generation(store) == 0);

    CHECK_RC(sealwire_prekey_store_rotate_signed_prekey(store, bob, NOW + 10), SEALWIRE_OK);
    CHECK_RC(sealwire_prekey_store_signed_prekey_id(store, &spk2), SEALWIRE_OK);
    CHECK(spk2 != spk);
    CHECK_RC(sealwire_prekey_store_signed_prekey_created_at(store, &created), SEALWIRE_OK);
    CHECK(created == NOW + 10);
    gen = store_generation(store);
    CHECK(gen == 1);
    /* Within the grace period nothing expires; after it the old signed prekey goes. */
    CHECK_RC(sealwire_prekey_store_remove_expired_signed_prekeys(store, NOW + 20, 100, &removed),
             SEALWIRE_OK);
    CHECK(removed == 0 && store_generation(store) == gen);
    CHECK_RC(sealwire_prekey_store_remove_expired_signed_prekeys(
                 store, NOW + 10 + SEALWIRE_RATCHET_DEFAULT_SIGNED_PREKEY_GRACE_SECS + 1,
                 SEALWIRE_RATCHET_DEFAULT_SIGNED_PREKEY_GRACE_SECS, &removed),
             SEALWIRE_OK);
    CHECK(removed == 1 && store_generation(store) == gen + 1);
    /* Replenishing a full store changes nothing. */
    CHECK_RC(sealwire_prekey_store_replenish(store, bob), SEALWIRE_OK);
    CHECK(store_generation(store) == gen + 1 && store_one_time_count(store) == 4);

    /* The sealed copy from before is now stale. */
    CHECK_RC(sealwire_prekey_store_open_checked(blob, blob_len, KEY, sizeof KEY, gen + 1, &stale),
             SEALWIRE_STALE_STATE);
    CHECK(stale == SENTINEL);
    CHECK_RC(sealwire_prekey_store_open_checked(blob, blob_len, KEY, sizeof KEY, 0, &stale),
             SEALWIRE_OK);
    CHECK(store_generation(stale) == 0);
    sealwire_prekey_store_free(stale);
    sealwire_bytes_free(blob, blob_len);

    /* Counts out of range. */
    stale = SENTINEL;
    CHECK_RC(sealwire_prekey_store_generate(bob, 1001, 0, false, NOW, &stale),
             SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_prekey_store_generate(bob, 65536 + 5, 0, false, NOW, &stale),
             SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_prekey_store_generate(bob, 0, 1001, true, NOW, &stale),
             SEALWIRE_INVALID_PARAMETER);
    CHECK(stale == SENTINEL);
    /* No one-time prekeys at all: sessions still start (X3DH without OPK). */
    CHECK_RC(sealwire_prekey_store_generate(bob, 0, 0, false, NOW, &stale), SEALWIRE_OK);
    CHECK(store_one_time_count(stale) == 0);
    sealwire_prekey_store_free(stale);

    sealwire_public_identity_free(bob_pub);
    sealwire_prekey_store_free(store);
    sealwire_identity_free(bob);
    sealwire_identity_free(eve);
}


/* ---- part 4: Messenger ---------------------------------------------------------------- */

static sealwire_messenger *messenger_create(const char *path, const sealwire_identity *id)
{
    sealwire_messenger *m = NULL;
    CHECK_RC(sealwire_messenger_create(path, id, KEY, sizeof KEY, 3, 3, true, NOW, &m),
             SEALWIRE_OK);
    return m;
}

static sealwire_messenger *messenger_open(const char *path, uint64_t min_counter)
{
    sealwire_messenger *m = NULL;
    CHECK_RC(sealwire_messenger_open(path, KEY, sizeof KEY, min_counter, &m), SEALWIRE_OK);
    return m;
}

static uint64_t messenger_counter(const sealwire_messenger *m)
{
    uint64_t c = UINT64_MAX;
    CHECK_RC(sealwire_messenger_counter(m, &c), SEALWIRE_OK);
    return c;
}

static void peer_id_of(const sealwire_messenger *m, uint8_t id[SEALWIRE_MESSENGER_PEER_ID_LEN])
{
    size_t n = 0;
    CHECK_RC(sealwire_messenger_peer_id(m, id, SEALWIRE_MESSENGER_PEER_ID_LEN, &n), SEALWIRE_OK);
    CHECK(n == SEALWIRE_MESSENGER_PEER_ID_LEN);
}

/* `from` connects to `to` through the published bundle bytes. */
static void connect_via_bytes(sealwire_messenger *from, const sealwire_messenger *to)
{
    sealwire_prekey_bundle *published = NULL, *fetched = NULL;
    sealwire_public_identity *to_pub = NULL;
    uint8_t *bytes;
    size_t len;
    CHECK_RC(sealwire_messenger_bundle(to, &published), SEALWIRE_OK);
    bytes = bundle_bytes(published, &len);
    CHECK_RC(sealwire_prekey_bundle_from_bytes(bytes, len, &fetched), SEALWIRE_OK);
    CHECK_RC(sealwire_messenger_identity(to, &to_pub), SEALWIRE_OK);
    CHECK_RC(sealwire_messenger_connect(from, to_pub, fetched), SEALWIRE_OK);
    free(bytes);
    sealwire_public_identity_free(to_pub);
    sealwire_prekey_bundle_free(fetched);
    sealwire_prekey_bundle_free(published);
}

/* Send `text` to `peer`; returns the record (caller frees). */
static sealwire_outbox_record *send_str(sealwire_messenger *m, const uint8_t *peer, const char *text)
{
    sealwire_outbox_record *r = NULL;
    CHECK_RC(sealwire_messenger_send(m, peer, SEALWIRE_MESSENGER_PEER_ID_LEN,
                                     (const uint8_t *)text, strlen(text), &r),
             SEALWIRE_OK);
    return r;
}

/* A record's ciphertext, malloc'd (via the length query). */
static uint8_t *ciphertext_of(const sealwire_outbox_record *r, size_t *len)
{
    size_t need = 0, n = 0;
    uint8_t *out;
    CHECK_RC(sealwire_outbox_record_ciphertext(r, NULL, 0, &need), SEALWIRE_BUFFER_TOO_SMALL);
    out = malloc(need + 1);
    if (out == NULL) abort();
    CHECK_RC(sealwire_outbox_record_ciphertext(r, out, need, &n), SEALWIRE_OK);
    CHECK(n == need);
    *len = n;
    return out;
}

/* Receive `ct` and expect `text` from `sender`; acks unless `keep`. Returns the inbox id. */
static uint64_t receive_expect(sealwire_messenger *m, const uint8_t *ct, size_t ct_len,
                               const char *text, const uint8_t *sender, bool keep)
{
    sealwire_received *r = SENTINEL;
    uint8_t buf[256], pid[SEALWIRE_MESSENGER_PEER_ID_LEN];
    size_t n = 0;
    uint64_t id = 0;
    CHECK_RC(sealwire_messenger_receive(m, ct, ct_len, &r), SEALWIRE_OK);
    if (r == NULL || r == SENTINEL) {
        CHECK(!"receive returned no record");
        return 0;
    }
    CHECK_RC(sealwire_received_plaintext(r, buf, sizeof buf, &n), SEALWIRE_OK);
    CHECK_BYTES(buf, n, (const uint8_t *)text, strlen(text), text);
    CHECK_RC(sealwire_received_peer_id(r, pid, sizeof pid, &n), SEALWIRE_OK);
    CHECK_BYTES(pid, n, sender, SEALWIRE_MESSENGER_PEER_ID_LEN, text);
    CHECK_RC(sealwire_received_id(r, &id), SEALWIRE_OK);
    if (!keep) CHECK_RC(sealwire_messenger_ack(m, id), SEALWIRE_OK);
    sealwire_received_free(r);
    return id;
}

static void expect_duplicate(sealwire_messenger *m, const uint8_t *ct, size_t ct_len)
{
    sealwire_received *r = SENTINEL;
    uint64_t before = messenger_counter(m);
    CHECK_RC(sealwire_messenger_receive(m, ct, ct_len, &r), SEALWIRE_OK);
    CHECK(r == NULL);
    CHECK(messenger_counter(m) == before);
}

static void remove_db(const char *path)
{
    char aux[600];
    unlink(path);
    snprintf(aux, sizeof aux, "%s-wal", path);
    unlink(aux);
    snprintf(aux, sizeof aux, "%s-shm", path);
    unlink(aux);
}

static void test_messenger_files(const char *tmpdir)
{
    char alice_path[512], bob_path[512], missing_path[512];
    sealwire_identity *alice_id = new_identity(), *bob_id = new_identity();
    sealwire_public_identity *alice_pub = public_of(alice_id), *seen = NULL;
    sealwire_messenger *alice, *bob, *again = SENTINEL;
    uint8_t alice_pid[SEALWIRE_MESSENGER_PEER_ID_LEN], bob_pid[SEALWIRE_MESSENGER_PEER_ID_LEN];
    uint8_t pid[SEALWIRE_MESSENGER_PEER_ID_LEN], mid[SEALWIRE_MESSENGER_MESSAGE_ID_LEN];
    uint8_t rmid[SEALWIRE_MESSENGER_MESSAGE_ID_LEN];
    sealwire_outbox_record *rec;
    sealwire_outbox_list *outbox = NULL;
    sealwire_received_list *inbox = NULL;
    sealwire_received *got = SENTINEL;
    uint8_t *ct1, *ct2, *ct3, *ct4, *tampered;
    size_t ct1_len, ct2_len, ct3_len, ct4_len, n = 0, count = 99;
    uint64_t id = 0, alice_counter, bob_counter, inbox_id, sent = 0;
    bool has = true;

    snprintf(alice_path, sizeof alice_path, "%s/alice.db", tmpdir);
    snprintf(bob_path, sizeof bob_path, "%s/bob.db", tmpdir);
    snprintf(missing_path, sizeof missing_path, "%s/missing.db", tmpdir);

    alice = messenger_create(alice_path, alice_id);
    bob = messenger_create(bob_path, bob_id);
    peer_id_of(alice, alice_pid);
    peer_id_of(bob, bob_pid);
    CHECK_RC(sealwire_public_identity_peer_id(alice_pub, pid, sizeof pid, &n), SEALWIRE_OK);
    CHECK_BYTES(pid, n, alice_pid, sizeof alice_pid, "peer id of the public identity");
    /* A file that already holds a store cannot be created again. */
    CHECK_RC(sealwire_messenger_create(alice_path, alice_id, KEY, sizeof KEY, 3, 3, true, NOW,
                                       &again),
             SEALWIRE_STORE_CONFLICT);
    CHECK(again == SENTINEL);
    /* No session yet. */
    CHECK_RC(sealwire_messenger_has_session(alice, bob_pid, sizeof bob_pid, &has), SEALWIRE_OK);
    CHECK(!has);
    rec = SENTINEL;
    CHECK_RC(sealwire_messenger_send(alice, bob_pid, sizeof bob_pid, (const uint8_t *)"x", 1, &rec),
             SEALWIRE_NO_SESSION);
    CHECK(rec == SENTINEL);
    CHECK_RC(sealwire_messenger_peer_identity(alice, bob_pid, sizeof bob_pid, &seen),
             SEALWIRE_NO_SESSION);
    CHECK_RC(sealwire_messenger_one_time_prekey_count(bob, &count), SEALWIRE_OK);
    CHECK(count == 3);

    /* Alice starts a session from Bob's published bundle and sends. */
    connect_via_bytes(alice, bob);
    CHECK_RC(sealwire_messenger_has_session(alice, bob_pid, sizeof bob_pid, &has), SEALWIRE_OK);
    CHECK(has);
    rec = send_str(alice, bob_pid, "hello bob");
    ct1 = ciphertext_of(rec, &ct1_len);
    CHECK_RC(sealwire_outbox_record_id(rec, &id), SEALWIRE_OK);
    CHECK(id == messenger_counter(alice));
    CHECK_RC(sealwire_outbox_record_peer_id(rec, pid, sizeof pid, &n), SEALWIRE_OK);
    CHECK_BYTES(pid, n, bob_pid, sizeof bob_pid, "recipient");
    CHECK_RC(sealwire_outbox_record_message_id(rec, mid, sizeof mid, &n), SEALWIRE_OK);
    CHECK(n == SEALWIRE_MESSENGER_MESSAGE_ID_LEN);
    CHECK_RC(sealwire_messenger_pending_outbox(alice, &outbox), SEALWIRE_OK);
    CHECK_RC(sealwire_outbox_list_count(outbox, &count), SEALWIRE_OK);
    CHECK(count == 1);
    sealwire_outbox_list_free(outbox);
    CHECK_RC(sealwire_messenger_mark_sent(alice, id), SEALWIRE_OK);
    CHECK_RC(sealwire_messenger_mark_sent(alice, id), SEALWIRE_OK); /* idempotent */
    CHECK_RC(sealwire_messenger_pending_outbox(alice, &outbox), SEALWIRE_OK);
    CHECK_RC(sealwire_outbox_list_count(outbox, &count), SEALWIRE_OK);
    CHECK(count == 0);
    sealwire_outbox_list_free(outbox);
    sealwire_outbox_record_free(rec);

    /* Bob receives; a duplicate gives no record and changes nothing. */
    CHECK_RC(sealwire_messenger_receive(bob, ct1, ct1_len, &got), SEALWIRE_OK);
    CHECK(got != NULL && got != SENTINEL);
    CHECK_RC(sealwire_received_message_id(got, rmid, sizeof rmid, &n), SEALWIRE_OK);
    CHECK_BYTES(rmid, n, mid, sizeof mid, "message id on both sides");
    CHECK_RC(sealwire_received_id(got, &inbox_id), SEALWIRE_OK);
    CHECK_RC(sealwire_messenger_pending_inbox(bob, &inbox), SEALWIRE_OK);
    CHECK_RC(sealwire_received_list_count(inbox, &count), SEALWIRE_OK);
    CHECK(count == 1);
    sealwire_received_list_free(inbox);
    CHECK_RC(sealwire_messenger_ack(bob, inbox_id), SEALWIRE_OK);
    sealwire_received_free(got);
    expect_duplicate(bob, ct1, ct1_len);
    CHECK_RC(sealwire_messenger_one_time_prekey_count(bob, &count), SEALWIRE_OK);
    CHECK(count == 2); /* the accepted session consumed one */
    CHECK_RC(sealwire_messenger_peer_identity(bob, alice_pid, sizeof alice_pid, &seen),
             SEALWIRE_OK);
    CHECK(sealwire_public_identity_equal(seen, alice_pub));
    sealwire_public_identity_free(seen);

    /* Bob replies. */
    rec = send_str(bob, alice_pid, "hi alice");
    ct2 = ciphertext_of(rec, &ct2_len);
    CHECK_RC(sealwire_outbox_record_id(rec, &id), SEALWIRE_OK);
    CHECK_RC(sealwire_messenger_mark_sent(bob, id), SEALWIRE_OK);
    sealwire_outbox_record_free(rec);
    receive_expect(alice, ct2, ct2_len, "hi alice", bob_pid, false);

    /* A modified message is refused and commits nothing. */
    rec = send_str(bob, alice_pid, "third");
    ct3 = ciphertext_of(rec, &ct3_len);
    sealwire_outbox_record_free(rec);
    tampered = malloc(ct3_len);
    if (tampered == NULL) abort();
    memcpy(tampered, ct3, ct3_len);
    tampered[ct3_len - 3] ^= 0x10;
    alice_counter = messenger_counter(alice);
    got = SENTINEL;
    CHECK_RC(sealwire_messenger_receive(alice, tampered, ct3_len, &got),
             SEALWIRE_DECRYPTION_FAILED);
    CHECK(got == SENTINEL && messenger_counter(alice) == alice_counter);
    free(tampered);

    /* Close both mid-conversation (Bob's "third" is in his outbox, not marked sent; Alice
     * will receive it without acking) and reopen with the counters saved outside. */
    alice_counter = messenger_counter(alice);
    bob_counter = messenger_counter(bob);
    sealwire_messenger_free(alice);
    sealwire_messenger_free(bob);
    again = SENTINEL;
    CHECK_RC(sealwire_messenger_open(alice_path, OTHER_KEY, sizeof OTHER_KEY, alice_counter,
                                     &again),
             SEALWIRE_DECRYPTION_FAILED);
    CHECK_RC(sealwire_messenger_open(alice_path, KEY, 31, 0, &again), SEALWIRE_INVALID_LENGTH);
    CHECK_RC(sealwire_messenger_open(alice_path, KEY, sizeof KEY, alice_counter + 1, &again),
             SEALWIRE_STALE_STATE);
    CHECK_RC(sealwire_messenger_open(missing_path, KEY, sizeof KEY, 0, &again), SEALWIRE_STORAGE);
    CHECK(again == SENTINEL);
    alice = messenger_open(alice_path, alice_counter);
    bob = messenger_open(bob_path, bob_counter);
    CHECK(messenger_counter(alice) == alice_counter && messenger_counter(bob) == bob_counter);
    peer_id_of(alice, pid);
    CHECK_BYTES(pid, sizeof pid, alice_pid, sizeof alice_pid, "identity survives reopen");

    /* Bob's unsent record comes back byte for byte. */
    CHECK_RC(sealwire_messenger_pending_outbox(bob, &outbox), SEALWIRE_OK);
    CHECK_RC(sealwire_outbox_list_count(outbox, &count), SEALWIRE_OK);
    CHECK(count == 1);
    rec = NULL;
    CHECK_RC(sealwire_outbox_list_get(outbox, 0, &rec), SEALWIRE_OK);
    sealwire_outbox_list_free(outbox); /* the record outlives its list */
    ct4 = ciphertext_of(rec, &ct4_len);
    CHECK_BYTES(ct4, ct4_len, ct3, ct3_len, "outbox after reopen");
    CHECK_RC(sealwire_outbox_record_id(rec, &id), SEALWIRE_OK);
    CHECK_RC(sealwire_messenger_mark_sent(bob, id), SEALWIRE_OK);
    sealwire_outbox_record_free(rec);
    free(ct4);
    ct4 = NULL;
    /* Alice receives it but crashes before acking: the inbox re-delivers it. */
    inbox_id = receive_expect(alice, ct3, ct3_len, "third", bob_pid, true);
    expect_duplicate(alice, ct3, ct3_len);
    expect_duplicate(bob, ct1, ct1_len); /* dedupe survived the reopen */
    alice_counter = messenger_counter(alice);
    sealwire_messenger_free(alice);
    alice = messenger_open(alice_path, alice_counter);
    CHECK_RC(sealwire_messenger_pending_inbox(alice, &inbox), SEALWIRE_OK);
    CHECK_RC(sealwire_received_list_count(inbox, &count), SEALWIRE_OK);
    CHECK(count == 1);
    got = NULL;
    CHECK_RC(sealwire_received_list_get(inbox, 0, &got), SEALWIRE_OK);
    {
        uint8_t buf[32];
        CHECK_RC(sealwire_received_id(got, &id), SEALWIRE_OK);
        CHECK(id == inbox_id);
        CHECK_RC(sealwire_received_plaintext(got, NULL, 0, &n), SEALWIRE_BUFFER_TOO_SMALL);
        CHECK(n == 5);
        CHECK_RC(sealwire_received_plaintext(got, buf, sizeof buf, &n), SEALWIRE_OK);
        CHECK_BYTES(buf, n, (const uint8_t *)"third", 5, "inbox after reopen");
    }
    sealwire_received_free(got);
    got = SENTINEL;
    CHECK_RC(sealwire_received_list_get(inbox, 1, &got), SEALWIRE_INVALID_PARAMETER);
    CHECK(got == SENTINEL);
    sealwire_received_list_free(inbox);
    CHECK_RC(sealwire_messenger_ack(alice, inbox_id), SEALWIRE_OK);
    CHECK_RC(sealwire_messenger_pending_inbox(alice, &inbox), SEALWIRE_OK);
    CHECK_RC(sealwire_received_list_count(inbox, &count), SEALWIRE_OK);
    CHECK(count == 0);
    sealwire_received_list_free(inbox);

    /* The conversation goes on after the reopen, both ways. */
    rec = send_str(alice, bob_pid, "after reopen");
    free(ct4);
    ct4 = ciphertext_of(rec, &ct4_len);
    sealwire_outbox_record_free(rec);
    receive_expect(bob, ct4, ct4_len, "after reopen", alice_pid, false);
    free(ct4);
    rec = send_str(bob, alice_pid, "and back");
    ct4 = ciphertext_of(rec, &ct4_len);
    sealwire_outbox_record_free(rec);
    receive_expect(alice, ct4, ct4_len, "and back", bob_pid, false);
    CHECK_RC(sealwire_messenger_sent_count(alice, bob_pid, sizeof bob_pid, &sent), SEALWIRE_OK);
    CHECK(sent == 2);
    CHECK_RC(sealwire_messenger_received_count(alice, bob_pid, sizeof bob_pid, &sent), SEALWIRE_OK);
    CHECK(sent == 3);

    /* Prekey maintenance commits (the counter moves). */
    bob_counter = messenger_counter(bob);
    CHECK_RC(sealwire_messenger_replenish_prekeys(bob), SEALWIRE_OK);
    CHECK_RC(sealwire_messenger_one_time_prekey_count(bob, &count), SEALWIRE_OK);
    CHECK(count == 3 && messenger_counter(bob) == bob_counter + 1);
    CHECK_RC(sealwire_messenger_rotate_signed_prekey(bob, NOW + 100), SEALWIRE_OK);
    CHECK_RC(sealwire_messenger_remove_expired_signed_prekeys(bob, NOW + 200, 1000, &n),
             SEALWIRE_OK);
    CHECK(n == 0 && messenger_counter(bob) == bob_counter + 2);

    sealwire_messenger_free(alice);
    sealwire_messenger_free(bob);
    free(ct1);
    free(ct2);
    free(ct3);
    free(ct4);
    sealwire_public_identity_free(alice_pub);
    sealwire_identity_free(alice_id);
    sealwire_identity_free(bob_id);
    remove_db(alice_path);
    remove_db(bob_path);
    remove_db(missing_path);
}

struct sender_arg {
    sealwire_messenger *m;
    const uint8_t *peer;
    int failures;
};

static void *sender_thread(void *p)
{
    struct sender_arg *arg = p;
    int i;
    for (i = 0; i < 10; i++) {
        sealwire_outbox_record *r = NULL;
        if (sealwire_messenger_send(arg->m, arg->peer, SEALWIRE_MESSENGER_PEER_ID_LEN,
                                    (const uint8_t *)"concurrent", 10, &r) != SEALWIRE_OK) {
            arg->failures++;
        }
        sealwire_outbox_record_free(r);
    }
    return NULL;
}

static void test_messenger_in_memory_and_threads(void)
{
    sealwire_identity *alice_id = new_identity(), *bob_id = new_identity();
    sealwire_messenger *alice = NULL, *bob = NULL;
    uint8_t alice_pid[SEALWIRE_MESSENGER_PEER_ID_LEN], bob_pid[SEALWIRE_MESSENGER_PEER_ID_LEN];
    sealwire_outbox_record *rec;
    sealwire_outbox_list *outbox = NULL;
    uint8_t *ct;
    size_t ct_len, count = 0, i;
    uint64_t start, prev = 0;
    pthread_t t1, t2;
    struct sender_arg a1, a2;

    CHECK_RC(sealwire_messenger_create_in_memory(alice_id, KEY, sizeof KEY, 2, 2, false, NOW,
                                                 &alice),
             SEALWIRE_OK);
    CHECK_RC(sealwire_messenger_create_in_memory(bob_id, KEY, sizeof KEY, 2, 0, false, NOW, &bob),
             SEALWIRE_OK);
    peer_id_of(alice, alice_pid);
    peer_id_of(bob, bob_pid);
    connect_via_bytes(alice, bob);
    rec = send_str(alice, bob_pid, "in memory");
    ct = ciphertext_of(rec, &ct_len);
    sealwire_outbox_record_free(rec);
    receive_expect(bob, ct, ct_len, "in memory", alice_pid, false);
    free(ct);
    rec = send_str(bob, alice_pid, "ok");
    ct = ciphertext_of(rec, &ct_len);
    sealwire_outbox_record_free(rec);
    receive_expect(alice, ct, ct_len, "ok", bob_pid, false);
    free(ct);
    /* Clear Alice's outbox, then two threads send on one messenger. */
    CHECK_RC(sealwire_messenger_pending_outbox(alice, &outbox), SEALWIRE_OK);
    CHECK_RC(sealwire_outbox_list_count(outbox, &count), SEALWIRE_OK);
    for (i = 0; i < count; i++) {
        uint64_t id = 0;
        rec = NULL;
        CHECK_RC(sealwire_outbox_list_get(outbox, i, &rec), SEALWIRE_OK);
        CHECK_RC(sealwire_outbox_record_id(rec, &id), SEALWIRE_OK);
        CHECK_RC(sealwire_messenger_mark_sent(alice, id), SEALWIRE_OK);
        sealwire_outbox_record_free(rec);
    }
    sealwire_outbox_list_free(outbox);

    start = messenger_counter(alice);
    a1.m = alice;
    a1.peer = bob_pid;
    a1.failures = 0;
    a2 = a1;
    CHECK(pthread_create(&t1, NULL, sender_thread, &a1) == 0);
    CHECK(pthread_create(&t2, NULL, sender_thread, &a2) == 0);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    CHECK(a1.failures == 0 && a2.failures == 0);
    CHECK(messenger_counter(alice) == start + 20);
    /* Every message was committed once, in one order that Bob can follow. */
    CHECK_RC(sealwire_messenger_pending_outbox(alice, &outbox), SEALWIRE_OK);
    CHECK_RC(sealwire_outbox_list_count(outbox, &count), SEALWIRE_OK);
    CHECK(count == 20);
    for (i = 0; i < count; i++) {
        uint64_t id = 0;
        rec = NULL;
        CHECK_RC(sealwire_outbox_list_get(outbox, i, &rec), SEALWIRE_OK);
        CHECK_RC(sealwire_outbox_record_id(rec, &id), SEALWIRE_OK);
        CHECK(id > prev);
        prev = id;
        ct = ciphertext_of(rec, &ct_len);
        receive_expect(bob, ct, ct_len, "concurrent", alice_pid, false);
        free(ct);
        sealwire_outbox_record_free(rec);
    }
    sealwire_outbox_list_free(outbox);

    sealwire_messenger_free(alice);
    sealwire_messenger_free(bob);
    sealwire_identity_free(alice_id);
    sealwire_identity_free(bob_id);
}


/* ---- part 5: conventions -------------------------------------------------------------- */

static void test_conventions(const char *tmpdir)
{
    sealwire_identity *id = new_identity();
    sealwire_public_identity *pub = public_of(id), *pout = SENTINEL;
    sealwire_prekey_store *store = NULL, *sout = SENTINEL;
    sealwire_prekey_bundle *bundle = NULL, *bout = SENTINEL;
    sealwire_ratchet_session *session = NULL, *rout = SENTINEL;
    sealwire_messenger *m = NULL, *mout = SENTINEL;
    sealwire_outbox_record *rec = SENTINEL;
    sealwire_outbox_list *ol = SENTINEL;
    sealwire_received *rcv = SENTINEL;
    sealwire_received_list *rl = SENTINEL;
    uint8_t *bytes = SENTINEL, buf[64], pid[SEALWIRE_MESSENGER_PEER_ID_LEN];
    size_t len = 0, n = 0;
    uint64_t u64 = 7;
    uint32_t u32 = 7;
    bool flag = true;
    char path[512];

    memset(buf, 0, sizeof buf);
    CHECK_RC(sealwire_prekey_store_generate(id, 1, 1, true, NOW, &store), SEALWIRE_OK);
    CHECK_RC(sealwire_prekey_store_bundle(store, &bundle), SEALWIRE_OK);
    {
        /* A session with oneself is fine for testing accessors. */
        sealwire_public_identity *self = public_of(id);
        CHECK_RC(sealwire_ratchet_session_initiate(id, self, bundle, true, &session), SEALWIRE_OK);
        sealwire_public_identity_free(self);
    }
    CHECK_RC(sealwire_messenger_create_in_memory(id, KEY, sizeof KEY, 1, 1, false, NOW, &m),
             SEALWIRE_OK);
    peer_id_of(m, pid);

    /* NULL handles and NULL out-pointers. */
    CHECK_RC(sealwire_prekey_bundle_from_bytes(NULL, 5, &bout), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_prekey_bundle_from_bytes(buf, 5, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_prekey_bundle_to_bytes(NULL, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_prekey_bundle_to_bytes(bundle, buf, sizeof buf, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_prekey_bundle_identity(NULL, &pout), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_prekey_bundle_signed_prekey_id(NULL, &u32), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_prekey_bundle_signed_prekey_id(bundle, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_prekey_bundle_one_time_prekey_ids(bundle, &u32, 1, NULL),
             SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_prekey_bundle_select(NULL, false, 0, false, 0, &bout), SEALWIRE_NULL_POINTER);
    CHECK(!sealwire_prekey_bundle_is_post_quantum(NULL));
    CHECK(!sealwire_prekey_bundle_equal(bundle, NULL));
    CHECK_RC(sealwire_prekey_store_generate(NULL, 1, 1, true, NOW, &sout), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_prekey_store_generate(id, 1, 1, true, NOW, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_prekey_store_generate_for_vectors(id, 0, 0, false, NOW, NULL, 32, &sout),
             SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_prekey_store_bundle(NULL, &bout), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_prekey_store_generation(store, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_prekey_store_rotate_signed_prekey(NULL, id, NOW), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_prekey_store_rotate_signed_prekey(store, NULL, NOW), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_prekey_store_replenish(store, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_prekey_store_remove_expired_signed_prekeys(store, NOW, 0, NULL),
             SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_prekey_store_seal(store, KEY, sizeof KEY, NULL, &len), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_prekey_store_seal(store, KEY, sizeof KEY, &bytes, NULL),
             SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_prekey_store_seal(store, NULL, 32, &bytes, &len), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_prekey_store_seal(store, KEY, 31, &bytes, &len), SEALWIRE_INVALID_LENGTH);
    CHECK_RC(sealwire_prekey_store_open(NULL, 0, KEY, sizeof KEY, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_ratchet_session_initiate(NULL, pub, bundle, true, &rout),
             SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_ratchet_session_initiate(id, NULL, bundle, true, &rout),
             SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_ratchet_session_initiate(id, pub, NULL, true, &rout), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_ratchet_session_initiate(id, pub, bundle, true, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_ratchet_session_accept(id, NULL, buf, 8, &rout, &bytes, &len),
             SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_ratchet_session_accept(id, store, buf, 8, &rout, &bytes, NULL),
             SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_ratchet_session_accept(id, store, NULL, 8, &rout, &bytes, &len),
             SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_ratchet_session_encrypt(NULL, buf, 1, &bytes, &len), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_ratchet_session_encrypt(session, NULL, 1, &bytes, &len),
             SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_ratchet_session_encrypt(session, buf, 1, NULL, &len), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_ratchet_session_decrypt(session, buf, 1, &bytes, NULL),
             SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_ratchet_session_decrypt(NULL, buf, 1, &bytes, &len), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_ratchet_session_encrypt_for_vectors(session, buf, 1, NULL, 24, &bytes, &len),
             SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_ratchet_session_seal(NULL, KEY, sizeof KEY, &bytes, &len),
             SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_ratchet_session_seal(session, KEY, 33, &bytes, &len), SEALWIRE_INVALID_LENGTH);
    CHECK_RC(sealwire_ratchet_session_open(NULL, 3, KEY, sizeof KEY, &rout), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_ratchet_session_generation(NULL, &u64), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_ratchet_session_generation(session, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_ratchet_session_peer_identity(NULL, &pout), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_ratchet_session_session_id(session, buf, sizeof buf, NULL),
             SEALWIRE_NULL_POINTER);
    CHECK(!sealwire_ratchet_session_is_initiator(NULL));
    CHECK(!sealwire_ratchet_session_header_encryption(NULL));
    CHECK(!sealwire_ratchet_session_awaiting_reply(NULL));
    CHECK_RC(sealwire_ratchet_message_kind(buf, 5, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_ratchet_initial_message_sender(NULL, 1, &pout), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_messenger_create(NULL, id, KEY, sizeof KEY, 1, 1, true, NOW, &mout),
             SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_messenger_create("", id, KEY, sizeof KEY, 1, 1, true, NOW, &mout),
             SEALWIRE_INVALID_PARAMETER);
    snprintf(path, sizeof path, "%s/never.db", tmpdir);
    CHECK_RC(sealwire_messenger_create(path, NULL, KEY, sizeof KEY, 1, 1, true, NOW, &mout),
             SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_messenger_create(path, id, KEY, 16, 1, 1, true, NOW, &mout),
             SEALWIRE_INVALID_LENGTH);
    CHECK_RC(sealwire_messenger_create(path, id, KEY, sizeof KEY, 5000, 1, true, NOW, &mout),
             SEALWIRE_INVALID_PARAMETER);
    CHECK(access(path, F_OK) != 0); /* argument errors touch no file */
    CHECK_RC(sealwire_messenger_create_in_memory(id, KEY, sizeof KEY, 1, 1, true, NOW, NULL),
             SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_messenger_open(NULL, KEY, sizeof KEY, 0, &mout), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_messenger_identity(NULL, &pout), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_messenger_counter(NULL, &u64), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_messenger_counter(m, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_messenger_bundle(NULL, &bout), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_messenger_connect(m, NULL, bundle), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_messenger_connect(NULL, pub, bundle), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_messenger_has_session(m, pid, 31, &flag), SEALWIRE_INVALID_LENGTH);
    CHECK_RC(sealwire_messenger_has_session(m, pid, sizeof pid, NULL), SEALWIRE_NULL_POINTER);
    CHECK(flag);
    CHECK_RC(sealwire_messenger_send(m, pid, 33, buf, 1, &rec), SEALWIRE_INVALID_LENGTH);
    CHECK_RC(sealwire_messenger_send(m, NULL, 32, buf, 1, &rec), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_messenger_send(m, pid, sizeof pid, buf, 1, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_messenger_receive(m, buf, 8, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_messenger_receive(NULL, buf, 8, &rcv), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_messenger_receive(m, (const uint8_t *)"garbage!", 8, &rcv),
             SEALWIRE_BAD_MAGIC);
    CHECK_RC(sealwire_messenger_pending_outbox(m, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_messenger_pending_inbox(NULL, &rl), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_messenger_mark_sent(NULL, 1), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_messenger_ack(NULL, 1), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_messenger_replenish_prekeys(NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_messenger_peer_id(m, buf, sizeof buf, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_public_identity_peer_id(NULL, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_outbox_record_id(NULL, &u64), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_outbox_record_ciphertext(NULL, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_received_plaintext(NULL, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_outbox_list_count(NULL, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_outbox_list_get(NULL, 0, &rec), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_received_list_count(NULL, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_received_list_get(NULL, 0, &rcv), SEALWIRE_NULL_POINTER);
    /* Nothing was written by any failed call. */
    CHECK(bout == SENTINEL && sout == SENTINEL && rout == SENTINEL && mout == SENTINEL);
    CHECK(pout == SENTINEL && rec == SENTINEL && ol == SENTINEL && rcv == SENTINEL);
    CHECK(rl == SENTINEL && bytes == SENTINEL && u64 == 7 && u32 == 7);

    /* Output-buffer convention: query, too small, exact. */
    n = 0;
    CHECK_RC(sealwire_ratchet_session_session_id(session, NULL, 0, &n), SEALWIRE_BUFFER_TOO_SMALL);
    CHECK(n == SEALWIRE_RATCHET_SESSION_ID_LEN);
    n = 0;
    CHECK_RC(sealwire_ratchet_session_session_id(session, buf, 31, &n), SEALWIRE_BUFFER_TOO_SMALL);
    CHECK(n == SEALWIRE_RATCHET_SESSION_ID_LEN);
    CHECK_RC(sealwire_ratchet_session_session_id(session, buf, 32, &n), SEALWIRE_OK);
    CHECK_RC(sealwire_messenger_peer_id(m, NULL, 0, &n), SEALWIRE_BUFFER_TOO_SMALL);
    CHECK(n == SEALWIRE_MESSENGER_PEER_ID_LEN);
    CHECK_RC(sealwire_prekey_bundle_kem_one_time_prekey_ids(bundle, NULL, 0, &n),
             SEALWIRE_BUFFER_TOO_SMALL);
    CHECK(n == 1);

    /* _free(NULL) is a no-op for every new handle type. */
    sealwire_prekey_bundle_free(NULL);
    sealwire_prekey_store_free(NULL);
    sealwire_ratchet_session_free(NULL);
    sealwire_messenger_free(NULL);
    sealwire_outbox_record_free(NULL);
    sealwire_outbox_list_free(NULL);
    sealwire_received_free(NULL);
    sealwire_received_list_free(NULL);
    sealwire_bytes_free(NULL, 0);

    sealwire_messenger_free(m);
    sealwire_ratchet_session_free(session);
    sealwire_prekey_bundle_free(bundle);
    sealwire_prekey_store_free(store);
    sealwire_public_identity_free(pub);
    sealwire_identity_free(id);
}

/* The ratchet and store codes: numbers and strings as in every binding. */
static void test_result_codes(void)
{
    static const struct {
        sealwire_result code;
        unsigned number;
        const char *string;
    } codes[] = {
        {SEALWIRE_IDENTITY_MISMATCH, 3010, "ERR_SEALWIRE_IDENTITY_MISMATCH"},
        {SEALWIRE_STALE_STATE, 3011, "ERR_SEALWIRE_STALE_STATE"},
        {SEALWIRE_PREKEY_ALREADY_USED, 3012, "ERR_SEALWIRE_PREKEY_ALREADY_USED"},
        {SEALWIRE_TOO_MANY_SKIPPED_MESSAGES, 4005, "ERR_SEALWIRE_TOO_MANY_SKIPPED_MESSAGES"},
        {SEALWIRE_SESSION_MISMATCH, 4006, "ERR_SEALWIRE_SESSION_MISMATCH"},
        {SEALWIRE_NO_SESSION, 4007, "ERR_SEALWIRE_NO_SESSION"},
        {SEALWIRE_UNKNOWN_PREKEY, 5005, "ERR_SEALWIRE_UNKNOWN_PREKEY"},
        {SEALWIRE_STORAGE, 5006, "ERR_SEALWIRE_STORAGE"},
        {SEALWIRE_STORE_CONFLICT, 5007, "ERR_SEALWIRE_STORE_CONFLICT"},
    };
    size_t i;
    for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        CHECK((unsigned)codes[i].code == codes[i].number);
        CHECK(strcmp(sealwire_result_code_string(codes[i].code), codes[i].string) == 0);
    }
}

int main(int argc, char **argv)
{
    const char *vectors = argc > 1 ? argv[1] : "tests/vectors/ratchet.json";
    char tmpdir[] = "/tmp/sealwire-c-ratchet-XXXXXX";
    printf("sealwire %s C API ratchet tests\n", sealwire_version());
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_result_codes();
    test_vectors(vectors);
    test_strict_decoding();
    live_session(true, true);
    live_session(true, false);
    live_session(false, true);
    live_session(false, false);
    test_prekey_store_maintenance();
    test_messenger_files(tmpdir);
    test_messenger_in_memory_and_threads();
    test_conventions(tmpdir);
    if (rmdir(tmpdir) != 0) {
        perror("rmdir (files left in the temporary directory)");
        g_failed++;
    }
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 && g_passed > 0 ? 0 : 1;
}
