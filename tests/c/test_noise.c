/*
 * C11 tests of the Noise part of include/sealwire.h against libsealwire (shared or static).
 *
 * Part 1: live handshakes between two C peers built from sealwire identities -- IK and XX with
 *   identity payloads verified, XXhfs (hybrid ML-KEM-768), psk -- then ordered transport both
 *   ways, framing of a payload larger than 64 KiB, rekeying, and the unordered transport with
 *   out-of-order delivery, replays and epoch rekeying.
 * Part 2: bad input and API rules -- truncated and corrupted handshake messages (the genuine
 *   message still succeeds afterwards), a wrong remote static key, messages out of turn, one-way
 *   patterns used backwards, builder validation, NULL pointers, and length queries that never
 *   advance a handshake or use a nonce.
 * Part 3: vectors -- every vector of tests/vectors/noise-hfs.json (XXhfs and IKhfs, fixed
 *   ephemerals and ML-KEM randomness through the sealwire_noise_builder_fixed_*_for_vectors
 *   hooks) and every supported vector of tests/vectors/cacophony.json, byte for byte.
 *
 * Usage: test_noise [noise-hfs.json [cacophony.json]]
 * Prints "N passed, M failed" as its last line; exits non-zero on any failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sealwire.h"
#include "test_support.h"


static const char IK[] = "Noise_IK_25519_ChaChaPoly_BLAKE2s";
static const char XX[] = "Noise_XX_25519_AESGCM_BLAKE2b";
static const char XXHFS[] = "Noise_XXhfs_25519+MLKEM768_ChaChaPoly_SHA256";
static const uint8_t PROLOGUE[] = "sealwire C noise tests";

/* ---- helpers --------------------------------------------------------------------------- */

static void *xmalloc(size_t n)
{
    void *p = malloc(n == 0 ? 1 : n);
    if (p == NULL) {
        fprintf(stderr, "out of memory\n");
        abort();
    }
    return p;
}

/* Write the next handshake message: length query, then the call. Returns a malloc'd message. */
static uint8_t *hs_write(sealwire_noise_handshake *h, const uint8_t *payload, size_t payload_len,
                         size_t *len, int line)
{
    size_t need = 0, written = 0;
    uint8_t *m;
    check_rc(sealwire_noise_handshake_write_message(h, payload, payload_len, NULL, 0, &need),
             SEALWIRE_BUFFER_TOO_SMALL, "write_message length query", line);
    m = xmalloc(need);
    check_rc(sealwire_noise_handshake_write_message(h, payload, payload_len, m, need, &written),
             SEALWIRE_OK, "write_message", line);
    check(written == need, "written == queried message length", line);
    *len = written;
    return m;
}

/* Read a handshake message: length query, then the call. Returns the malloc'd payload (never
 * NULL) and the result of the real call in *rc. */
static uint8_t *hs_read(sealwire_noise_handshake *h, const uint8_t *m, size_t m_len, size_t *len,
                        sealwire_result *rc)
{
    size_t need = 0, written = 0;
    uint8_t *p;
    sealwire_result q = sealwire_noise_handshake_read_message(h, m, m_len, NULL, 0, &need);
    if (q != SEALWIRE_BUFFER_TOO_SMALL) {
        *rc = q;
        *len = 0;
        return xmalloc(1);
    }
    p = xmalloc(need);
    *rc = sealwire_noise_handshake_read_message(h, m, m_len, p, need, &written);
    *len = *rc == SEALWIRE_OK ? written : 0;
    return p;
}

/* Send one handshake message from w to r and check the payload arrives. */
static void hs_pass(sealwire_noise_handshake *w, sealwire_noise_handshake *r,
                    const uint8_t *payload, size_t payload_len, int line)
{
    size_t m_len = 0, p_len = 0;
    sealwire_result rc;
    uint8_t *m = hs_write(w, payload, payload_len, &m_len, line);
    uint8_t *p = hs_read(r, m, m_len, &p_len, &rc);
    check_rc(rc, SEALWIRE_OK, "read_message", line);
    check(p_len == payload_len && (payload_len == 0 || memcmp(p, payload, p_len) == 0),
          "handshake payload round trip", line);
    free(m);
    free(p);
}

/* Run the rest of a handshake with empty payloads. */
static void hs_complete(sealwire_noise_handshake *i, sealwire_noise_handshake *r, int line)
{
    int guard = 0;
    while ((!sealwire_noise_handshake_is_finished(i) || !sealwire_noise_handshake_is_finished(r)) &&
           guard++ < 10) {
        if (sealwire_noise_handshake_is_my_turn(i)) {
            hs_pass(i, r, NULL, 0, line);
        } else {
            hs_pass(r, i, NULL, 0, line);
        }
    }
    check(sealwire_noise_handshake_is_finished(i) && sealwire_noise_handshake_is_finished(r),
          "handshake completed", line);
}

static sealwire_noise_builder *builder(const char *name, const sealwire_identity *local,
                                       const sealwire_public_identity *remote, int line)
{
    sealwire_noise_builder *b = NULL;
    check_rc(sealwire_noise_builder_new(name, &b), SEALWIRE_OK, "builder_new", line);
    if (b == NULL) abort();
    check_rc(sealwire_noise_builder_set_prologue(b, PROLOGUE, sizeof PROLOGUE), SEALWIRE_OK,
             "set_prologue", line);
    if (local != NULL) {
        check_rc(sealwire_noise_builder_set_local_identity(b, local), SEALWIRE_OK,
                 "set_local_identity", line);
    }
    if (remote != NULL) {
        check_rc(sealwire_noise_builder_set_remote_identity(b, remote), SEALWIRE_OK,
                 "set_remote_identity", line);
    }
    return b;
}

static sealwire_noise_handshake *build(const char *name, sealwire_noise_role role,
                                       const sealwire_identity *local,
                                       const sealwire_public_identity *remote, int line)
{
    sealwire_noise_handshake *h = NULL;
    sealwire_noise_builder *b = builder(name, local, remote, line);
    check_rc(sealwire_noise_builder_build(b, role, &h), SEALWIRE_OK, "build", line);
    sealwire_noise_builder_free(b);
    if (h == NULL) abort();
    return h;
}

static size_t hs_hash(const sealwire_noise_handshake *h, uint8_t out[SEALWIRE_NOISE_MAX_HASH_LEN])
{
    size_t n = 0;
    if (sealwire_noise_handshake_hash(h, out, SEALWIRE_NOISE_MAX_HASH_LEN, &n) != SEALWIRE_OK) return 0;
    return n;
}

/* Encrypt with t and decrypt with u (ordered transports); checks the round trip. */
static void tr_pass(sealwire_noise_transport *t, sealwire_noise_transport *u, const uint8_t *pt,
                    size_t pt_len, int line)
{
    size_t need = 0, n = 0, back_len = 0;
    uint8_t *c, *back;
    check_rc(sealwire_noise_transport_encrypt(t, pt, pt_len, NULL, 0, &need),
             SEALWIRE_BUFFER_TOO_SMALL, "encrypt query", line);
    check(need == pt_len + SEALWIRE_NOISE_TAG_LEN, "ciphertext length", line);
    c = xmalloc(need);
    check_rc(sealwire_noise_transport_encrypt(t, pt, pt_len, c, need, &n), SEALWIRE_OK, "encrypt", line);
    check_rc(sealwire_noise_transport_decrypt(u, c, n, NULL, 0, &back_len),
             SEALWIRE_BUFFER_TOO_SMALL, "decrypt query", line);
    check(back_len == pt_len, "decrypt query gives the plaintext length", line);
    back = xmalloc(back_len);
    check_rc(sealwire_noise_transport_decrypt(u, c, n, back, back_len, &back_len), SEALWIRE_OK,
             "decrypt", line);
    check(back_len == pt_len && (pt_len == 0 || memcmp(back, pt, pt_len) == 0),
          "transport round trip", line);
    free(c);
    free(back);
}

typedef struct {
    sealwire_identity *id;
    sealwire_public_identity *pub;
    uint8_t payload[SEALWIRE_PUBLIC_IDENTITY_LEN];
} agent;

static void agent_new(agent *a)
{
    size_t n = 0;
    memset(a, 0, sizeof *a);
    CHECK_RC(sealwire_identity_generate(&a->id), SEALWIRE_OK);
    CHECK_RC(sealwire_identity_public(a->id, &a->pub), SEALWIRE_OK);
    CHECK_RC(sealwire_noise_identity_payload(a->id, a->payload, sizeof a->payload, &n), SEALWIRE_OK);
    CHECK(n == SEALWIRE_PUBLIC_IDENTITY_LEN);
    if (a->id == NULL || a->pub == NULL) abort();
}

static void agent_free(agent *a)
{
    sealwire_public_identity_free(a->pub);
    sealwire_identity_free(a->id);
}

/* Read a message that carries an identity payload, verify it, and check who it is. */
static void read_identity(sealwire_noise_handshake *r, const uint8_t *m, size_t m_len,
                          const agent *expected, const agent *other, int line)
{
    size_t p_len = 0;
    sealwire_result rc;
    sealwire_public_identity *seen = NULL, *tmp = SENTINEL;
    uint8_t *p = hs_read(r, m, m_len, &p_len, &rc);
    check_rc(rc, SEALWIRE_OK, "read identity message", line);
    check(p_len == SEALWIRE_PUBLIC_IDENTITY_LEN, "identity payload length", line);
    check_rc(sealwire_noise_handshake_verify_identity_payload(r, p, p_len, &seen), SEALWIRE_OK,
             "verify_identity_payload", line);
    check(sealwire_public_identity_equal(seen, expected->pub), "verified identity is the peer", line);
    check_rc(sealwire_noise_handshake_expect_remote_identity(r, expected->pub), SEALWIRE_OK,
             "expect_remote_identity(peer)", line);
    check_rc(sealwire_noise_handshake_expect_remote_identity(r, other->pub),
             SEALWIRE_REMOTE_KEY_MISMATCH, "expect_remote_identity(other)", line);
    /* A valid identity that is not the one proven in the handshake is refused. */
    check_rc(sealwire_noise_handshake_verify_identity_payload(r, other->payload,
                                                              sizeof other->payload, &tmp),
             SEALWIRE_REMOTE_KEY_MISMATCH, "verify_identity_payload(other)", line);
    check_rc(sealwire_noise_handshake_verify_identity_payload(r, p, p_len - 1, &tmp),
             SEALWIRE_TRUNCATED, "verify_identity_payload(truncated)", line);
    check(tmp == SENTINEL, "no handle on failure", line);
    sealwire_public_identity_free(seen);
    free(p);
}

/* Turn two finished handshakes into transports and check the channel binding. */
static void into_transports(sealwire_noise_handshake *i, sealwire_noise_handshake *r,
                            sealwire_noise_transport **ti, sealwire_noise_transport **tr, int line)
{
    uint8_t hi[SEALWIRE_NOISE_MAX_HASH_LEN], hr[SEALWIRE_NOISE_MAX_HASH_LEN];
    uint8_t t1[SEALWIRE_NOISE_MAX_HASH_LEN], t2[SEALWIRE_NOISE_MAX_HASH_LEN];
    size_t ni = hs_hash(i, hi), nr = hs_hash(r, hr), n1 = 0, n2 = 0;
    check(ni > 0 && ni == nr && memcmp(hi, hr, ni) == 0, "handshake hashes agree", line);
    check_rc(sealwire_noise_handshake_into_transport(i, ti), SEALWIRE_OK, "into_transport(i)", line);
    check_rc(sealwire_noise_handshake_into_transport(r, tr), SEALWIRE_OK, "into_transport(r)", line);
    if (*ti == NULL || *tr == NULL) abort();
    check_rc(sealwire_noise_transport_handshake_hash(*ti, t1, sizeof t1, &n1), SEALWIRE_OK, "hash", line);
    check_rc(sealwire_noise_transport_handshake_hash(*tr, t2, sizeof t2, &n2), SEALWIRE_OK, "hash", line);
    check(n1 == ni && n2 == ni && memcmp(t1, hi, ni) == 0 && memcmp(t2, hi, ni) == 0,
          "transport hash is the final handshake hash", line);
}

/* ---- part 1: live sessions ------------------------------------------------------------- */

static void test_ik_with_identities(void)
{
    agent alice, bob, carol;
    sealwire_noise_handshake *i, *r;
    sealwire_noise_transport *ti = NULL, *tr = NULL;
    uint8_t *m;
    size_t m_len = 0, n = 0, k;
    uint8_t key[SEALWIRE_PUBLIC_KEY_LEN], hash[SEALWIRE_NOISE_MAX_HASH_LEN];
    agent_new(&alice);
    agent_new(&bob);
    agent_new(&carol);

    i = build(IK, SEALWIRE_NOISE_INITIATOR, alice.id, bob.pub, __LINE__);
    r = build(IK, SEALWIRE_NOISE_RESPONDER, bob.id, NULL, __LINE__);
    CHECK(sealwire_noise_handshake_is_my_turn(i) && !sealwire_noise_handshake_is_my_turn(r));
    /* IK pre-shares bob's key: the initiator knows it from the start, bob does not know alice. */
    CHECK_RC(sealwire_noise_handshake_remote_static(i, key, sizeof key, &n), SEALWIRE_OK);
    CHECK(n == SEALWIRE_PUBLIC_KEY_LEN);
    CHECK_RC(sealwire_noise_handshake_remote_static(r, key, sizeof key, &n), SEALWIRE_HANDSHAKE_INCOMPLETE);
    CHECK_RC(sealwire_noise_handshake_expect_remote_identity(i, bob.pub), SEALWIRE_OK);
    CHECK_RC(sealwire_noise_handshake_expect_remote_identity(r, alice.pub), SEALWIRE_HANDSHAKE_INCOMPLETE);

    /* Message 1 (encrypted under es): alice presents her identity. */
    m = hs_write(i, alice.payload, sizeof alice.payload, &m_len, __LINE__);
    CHECK(m_len == 32 + (32 + 16) + SEALWIRE_PUBLIC_IDENTITY_LEN + 16);
    read_identity(r, m, m_len, &alice, &carol, __LINE__);
    free(m);
    CHECK_RC(sealwire_noise_handshake_remote_static(r, key, sizeof key, &n), SEALWIRE_OK);
    /* Message 2: bob presents his. */
    m = hs_write(r, bob.payload, sizeof bob.payload, &m_len, __LINE__);
    read_identity(i, m, m_len, &bob, &carol, __LINE__);
    free(m);
    CHECK(sealwire_noise_handshake_is_finished(i) && sealwire_noise_handshake_is_finished(r));
    CHECK(!sealwire_noise_handshake_is_my_turn(i) && !sealwire_noise_handshake_is_my_turn(r));

    into_transports(i, r, &ti, &tr, __LINE__);
    /* The emptied handshakes: valid handles, every call HANDSHAKE_COMPLETE, still freed. */
    CHECK(sealwire_noise_handshake_is_finished(i) && !sealwire_noise_handshake_is_my_turn(i));
    CHECK_RC(sealwire_noise_handshake_hash(i, hash, sizeof hash, &n), SEALWIRE_HANDSHAKE_COMPLETE);
    CHECK_RC(sealwire_noise_handshake_write_message(i, NULL, 0, hash, sizeof hash, &n),
             SEALWIRE_HANDSHAKE_COMPLETE);
    {
        sealwire_noise_transport *again = SENTINEL;
        CHECK_RC(sealwire_noise_handshake_into_transport(i, &again), SEALWIRE_HANDSHAKE_COMPLETE);
        CHECK(again == SENTINEL);
    }
    sealwire_noise_handshake_free(i);
    sealwire_noise_handshake_free(r);

    for (k = 0; k < 20; k++) {
        uint8_t msg[64];
        memset(msg, (int)k, sizeof msg);
        tr_pass(ti, tr, msg, k * 3, __LINE__);
        tr_pass(tr, ti, msg, sizeof msg - k, __LINE__);
    }
    sealwire_noise_transport_free(ti);
    sealwire_noise_transport_free(tr);
    agent_free(&alice);
    agent_free(&bob);
    agent_free(&carol);
}

/* XX first contact: nobody knows anybody; identities travel in messages 2 and 3. Also the
 * hybrid XXhfs variant. */
static void test_xx_with_identities(const char *name, size_t first_len)
{
    agent alice, bob, carol;
    sealwire_noise_handshake *i, *r;
    sealwire_noise_transport *ti = NULL, *tr = NULL;
    uint8_t *m, big[3000], key[SEALWIRE_PUBLIC_KEY_LEN];
    size_t m_len = 0, n = 0;
    agent_new(&alice);
    agent_new(&bob);
    agent_new(&carol);

    i = build(name, SEALWIRE_NOISE_INITIATOR, alice.id, NULL, __LINE__);
    r = build(name, SEALWIRE_NOISE_RESPONDER, bob.id, NULL, __LINE__);
    m = hs_write(i, NULL, 0, &m_len, __LINE__);
    CHECK(m_len == first_len);
    {
        size_t p_len = 0;
        sealwire_result rc;
        uint8_t *p = hs_read(r, m, m_len, &p_len, &rc);
        CHECK_RC(rc, SEALWIRE_OK);
        CHECK(p_len == 0);
        free(p);
    }
    free(m);
    /* Nobody's static key is known yet. */
    CHECK_RC(sealwire_noise_handshake_remote_static(i, key, sizeof key, &n), SEALWIRE_HANDSHAKE_INCOMPLETE);
    CHECK_RC(sealwire_noise_handshake_verify_identity_payload(i, bob.payload, sizeof bob.payload,
                                                              &carol.pub),
             SEALWIRE_HANDSHAKE_INCOMPLETE);
    m = hs_write(r, bob.payload, sizeof bob.payload, &m_len, __LINE__);
    read_identity(i, m, m_len, &bob, &carol, __LINE__);
    free(m);
    m = hs_write(i, alice.payload, sizeof alice.payload, &m_len, __LINE__);
    read_identity(r, m, m_len, &alice, &carol, __LINE__);
    free(m);
    into_transports(i, r, &ti, &tr, __LINE__);
    sealwire_noise_handshake_free(i);
    sealwire_noise_handshake_free(r);
    memset(big, 0x5A, sizeof big);
    tr_pass(ti, tr, big, sizeof big, __LINE__);
    tr_pass(tr, ti, big, 1, __LINE__);
    tr_pass(ti, tr, NULL, 0, __LINE__);
    sealwire_noise_transport_free(ti);
    sealwire_noise_transport_free(tr);
    agent_free(&alice);
    agent_free(&bob);
    agent_free(&carol);
}

static void transports(const char *name, sealwire_noise_transport **ti, sealwire_noise_transport **tr)
{
    agent alice, bob;
    sealwire_noise_handshake *i, *r;
    agent_new(&alice);
    agent_new(&bob);
    i = build(name, SEALWIRE_NOISE_INITIATOR, alice.id, NULL, __LINE__);
    r = build(name, SEALWIRE_NOISE_RESPONDER, bob.id, NULL, __LINE__);
    hs_complete(i, r, __LINE__);
    into_transports(i, r, ti, tr, __LINE__);
    sealwire_noise_handshake_free(i);
    sealwire_noise_handshake_free(r);
    agent_free(&alice);
    agent_free(&bob);
}

static void test_ordered_transport(void)
{
    sealwire_noise_transport *a = NULL, *b = NULL;
    uint8_t c[256], c2[256], p[256], small[4];
    size_t n = 0, n2 = 0, k, i;
    static const uint8_t hello[] = "hello over noise";
    transports("Noise_XX_25519_ChaChaPoly_SHA256", &a, &b);

    /* Queries (NULL and too small) use no nonce: the next real message still decrypts. */
    for (k = 0; k < 3; k++) {
        CHECK_RC(sealwire_noise_transport_encrypt(a, hello, sizeof hello, NULL, 0, &n),
                 SEALWIRE_BUFFER_TOO_SMALL);
        memset(small, 0xEE, sizeof small);
        CHECK_RC(sealwire_noise_transport_encrypt(a, hello, sizeof hello, small, sizeof small, &n),
                 SEALWIRE_BUFFER_TOO_SMALL);
        CHECK(small[0] == 0xEE && small[3] == 0xEE);
    }
    CHECK(n == sizeof hello + SEALWIRE_NOISE_TAG_LEN);
    CHECK_RC(sealwire_noise_transport_encrypt(a, hello, sizeof hello, c, sizeof c, &n), SEALWIRE_OK);
    CHECK_RC(sealwire_noise_transport_decrypt(b, c, n, small, sizeof small, &n2), SEALWIRE_BUFFER_TOO_SMALL);
    CHECK(n2 == sizeof hello);
    /* Failures change nothing: tampered, truncated, then the genuine message. */
    memcpy(c2, c, n);
    c2[3] ^= 0x40;
    CHECK_RC(sealwire_noise_transport_decrypt(b, c2, n, p, sizeof p, &n2), SEALWIRE_DECRYPTION_FAILED);
    CHECK_RC(sealwire_noise_transport_decrypt(b, c, 15, p, sizeof p, &n2), SEALWIRE_TRUNCATED);
    CHECK_RC(sealwire_noise_transport_decrypt(b, c, n - 1, p, sizeof p, &n2), SEALWIRE_DECRYPTION_FAILED);
    CHECK_RC(sealwire_noise_transport_decrypt(b, c, n, p, sizeof p, &n2), SEALWIRE_OK);
    CHECK(n2 == sizeof hello && memcmp(p, hello, n2) == 0);
    /* Replay in the ordered transport fails. */
    CHECK_RC(sealwire_noise_transport_decrypt(b, c, n, p, sizeof p, &n2), SEALWIRE_DECRYPTION_FAILED);
    /* Empty plaintext: NULL out is a query even when 0 bytes are needed. */
    CHECK_RC(sealwire_noise_transport_encrypt(a, NULL, 0, c, sizeof c, &n), SEALWIRE_OK);
    CHECK(n == SEALWIRE_NOISE_TAG_LEN);
    CHECK_RC(sealwire_noise_transport_decrypt(b, c, n, NULL, 0, &n2), SEALWIRE_BUFFER_TOO_SMALL);
    CHECK(n2 == 0);
    CHECK_RC(sealwire_noise_transport_decrypt(b, c, n, small, 0, &n2), SEALWIRE_OK);
    CHECK(n2 == 0);

    /* Size limits. */
    {
        uint8_t *max = xmalloc(SEALWIRE_NOISE_MAX_MESSAGE_LEN + 1);
        uint8_t *out = xmalloc(SEALWIRE_NOISE_MAX_MESSAGE_LEN + 1);
        memset(max, 1, SEALWIRE_NOISE_MAX_MESSAGE_LEN + 1);
        CHECK_RC(sealwire_noise_transport_encrypt(a, max, SEALWIRE_NOISE_MAX_PLAINTEXT_LEN + 1, NULL, 0, &n),
                 SEALWIRE_MESSAGE_TOO_LARGE);
        CHECK_RC(sealwire_noise_transport_encrypt(a, max, SEALWIRE_NOISE_MAX_PLAINTEXT_LEN, out,
                                                  SEALWIRE_NOISE_MAX_MESSAGE_LEN, &n),
                 SEALWIRE_OK);
        CHECK(n == SEALWIRE_NOISE_MAX_MESSAGE_LEN);
        CHECK_RC(sealwire_noise_transport_decrypt(b, out, n, max, SEALWIRE_NOISE_MAX_MESSAGE_LEN, &n2), SEALWIRE_OK);
        CHECK(n2 == SEALWIRE_NOISE_MAX_PLAINTEXT_LEN);
        CHECK_RC(sealwire_noise_transport_decrypt(b, out, SEALWIRE_NOISE_MAX_MESSAGE_LEN + 1, max,
                                                  SEALWIRE_NOISE_MAX_MESSAGE_LEN + 1, &n2),
                 SEALWIRE_MESSAGE_TOO_LARGE);
        free(max);
        free(out);
    }

    /* Framing: a payload well over 64 KiB. */
    {
        size_t len = 200000, need = 0, got = 0, frames;
        uint8_t *payload = xmalloc(len), *framed, *back;
        for (i = 0; i < len; i++) payload[i] = (uint8_t)(i * 7 + 3);
        CHECK_RC(sealwire_noise_transport_encrypt_framed(a, payload, len, NULL, 0, &need),
                 SEALWIRE_BUFFER_TOO_SMALL);
        frames = (len + SEALWIRE_NOISE_MAX_FRAME_CHUNK - 1) / SEALWIRE_NOISE_MAX_FRAME_CHUNK;
        CHECK(frames == 4 && need == len + frames * 19);
        framed = xmalloc(need);
        CHECK_RC(sealwire_noise_transport_encrypt_framed(a, payload, len, framed, need - 1, &got),
                 SEALWIRE_BUFFER_TOO_SMALL);
        CHECK_RC(sealwire_noise_transport_encrypt_framed(a, payload, len, framed, need, &got), SEALWIRE_OK);
        CHECK(got == need);
        back = xmalloc(need);
        CHECK_RC(sealwire_noise_transport_decrypt_framed(b, framed, need, NULL, 0, &got),
                 SEALWIRE_BUFFER_TOO_SMALL);
        CHECK(got == len);
        /* Cut at a frame boundary and inside a frame; trailing bytes; all change nothing. */
        CHECK_RC(sealwire_noise_transport_decrypt_framed(b, framed, 2 + SEALWIRE_NOISE_MAX_MESSAGE_LEN, back, need, &got),
                 SEALWIRE_TRUNCATED);
        CHECK_RC(sealwire_noise_transport_decrypt_framed(b, framed, need - 1, back, need, &got),
                 SEALWIRE_TRUNCATED);
        CHECK_RC(sealwire_noise_transport_decrypt_framed(b, framed, 0, back, need, &got), SEALWIRE_TRUNCATED);
        framed[need / 2] ^= 1;
        CHECK_RC(sealwire_noise_transport_decrypt_framed(b, framed, need, back, need, &got),
                 SEALWIRE_DECRYPTION_FAILED);
        framed[need / 2] ^= 1;
        CHECK_RC(sealwire_noise_transport_decrypt_framed(b, framed, need, back, len, &got), SEALWIRE_OK);
        CHECK(got == len && memcmp(back, payload, len) == 0);
        /* An empty framed payload is one final frame. */
        CHECK_RC(sealwire_noise_transport_encrypt_framed(a, NULL, 0, framed, need, &got), SEALWIRE_OK);
        CHECK(got == 19);
        CHECK_RC(sealwire_noise_transport_decrypt_framed(b, framed, got, back, 0, &got), SEALWIRE_OK);
        CHECK(got == 0);
        free(payload);
        free(framed);
        free(back);
    }

    /* Explicit rekey: one side alone breaks the stream (state unchanged), both sides fix it. */
    CHECK_RC(sealwire_noise_transport_rekey_outgoing(a), SEALWIRE_OK);
    CHECK_RC(sealwire_noise_transport_encrypt(a, hello, sizeof hello, c, sizeof c, &n), SEALWIRE_OK);
    CHECK_RC(sealwire_noise_transport_decrypt(b, c, n, p, sizeof p, &n2), SEALWIRE_DECRYPTION_FAILED);
    CHECK_RC(sealwire_noise_transport_rekey_incoming(b), SEALWIRE_OK);
    CHECK_RC(sealwire_noise_transport_decrypt(b, c, n, p, sizeof p, &n2), SEALWIRE_OK);
    CHECK(n2 == sizeof hello && memcmp(p, hello, n2) == 0);
    /* Automatic rekey every 3 messages, on both sides. */
    CHECK_RC(sealwire_noise_transport_set_rekey_interval(a, 3), SEALWIRE_OK);
    CHECK_RC(sealwire_noise_transport_set_rekey_interval(b, 3), SEALWIRE_OK);
    for (k = 0; k < 20; k++) {
        uint8_t msg[8];
        memset(msg, (int)k, sizeof msg);
        tr_pass(a, b, msg, sizeof msg, __LINE__);
        tr_pass(b, a, msg, k % 8, __LINE__);
    }
    sealwire_noise_transport_free(a);
    sealwire_noise_transport_free(b);
}

static void unordered_pair(const char *name, sealwire_noise_unordered_transport **ua,
                           sealwire_noise_unordered_transport **ub)
{
    agent alice, bob;
    sealwire_noise_handshake *i, *r;
    uint8_t h1[SEALWIRE_NOISE_MAX_HASH_LEN], h2[SEALWIRE_NOISE_MAX_HASH_LEN], hh[SEALWIRE_NOISE_MAX_HASH_LEN];
    size_t n1 = 0, n2 = 0, nh;
    agent_new(&alice);
    agent_new(&bob);
    i = build(name, SEALWIRE_NOISE_INITIATOR, alice.id, bob.pub, __LINE__);
    r = build(name, SEALWIRE_NOISE_RESPONDER, bob.id, NULL, __LINE__);
    hs_complete(i, r, __LINE__);
    nh = hs_hash(i, hh);
    CHECK_RC(sealwire_noise_handshake_into_unordered_transport(i, ua), SEALWIRE_OK);
    CHECK_RC(sealwire_noise_handshake_into_unordered_transport(r, ub), SEALWIRE_OK);
    if (*ua == NULL || *ub == NULL) abort();
    CHECK_RC(sealwire_noise_unordered_transport_handshake_hash(*ua, h1, sizeof h1, &n1), SEALWIRE_OK);
    CHECK_RC(sealwire_noise_unordered_transport_handshake_hash(*ub, h2, sizeof h2, &n2), SEALWIRE_OK);
    CHECK(n1 == nh && n2 == nh && memcmp(h1, hh, nh) == 0 && memcmp(h2, hh, nh) == 0);
    sealwire_noise_handshake_free(i);
    sealwire_noise_handshake_free(r);
    agent_free(&alice);
    agent_free(&bob);
}

#define UMSG_CAP 64

static void test_unordered_transport(void)
{
    sealwire_noise_unordered_transport *a = NULL, *b = NULL;
    uint8_t msgs[6][UMSG_CAP], bad[UMSG_CAP], p[UMSG_CAP];
    size_t lens[6], n = 0, k;
    static const size_t order[6] = {3, 0, 5, 1, 4, 2};
    unordered_pair(IK, &a, &b);

    for (k = 0; k < 6; k++) {
        uint8_t pt[8];
        memset(pt, (int)(k + 1), sizeof pt);
        CHECK_RC(sealwire_noise_unordered_transport_encrypt(a, pt, sizeof pt, NULL, 0, &lens[k]),
                 SEALWIRE_BUFFER_TOO_SMALL);
        CHECK(lens[k] == sizeof pt + SEALWIRE_NOISE_EXPLICIT_NONCE_LEN + SEALWIRE_NOISE_TAG_LEN);
        CHECK_RC(sealwire_noise_unordered_transport_encrypt(a, pt, sizeof pt, msgs[k], UMSG_CAP, &lens[k]),
                 SEALWIRE_OK);
        /* The explicit nonce: the queries used none, so message k carries nonce k. */
        CHECK(msgs[k][7] == k && msgs[k][0] == 0);
    }
    /* Out-of-order delivery. */
    for (k = 0; k < 6; k++) {
        size_t m = order[k];
        CHECK_RC(sealwire_noise_unordered_transport_decrypt(b, msgs[m], lens[m], NULL, 0, &n),
                 SEALWIRE_BUFFER_TOO_SMALL);
        CHECK(n == 8);
        CHECK_RC(sealwire_noise_unordered_transport_decrypt(b, msgs[m], lens[m], p, sizeof p, &n), SEALWIRE_OK);
        CHECK(n == 8 && p[0] == m + 1 && p[7] == m + 1);
        if (k == 2) {
            /* A tampered message is refused and does not mark its nonce as seen. */
            memcpy(bad, msgs[4], lens[4]);
            bad[lens[4] - 1] ^= 1;
            CHECK_RC(sealwire_noise_unordered_transport_decrypt(b, bad, lens[4], p, sizeof p, &n),
                     SEALWIRE_DECRYPTION_FAILED);
            memcpy(bad, msgs[4], lens[4]);
            bad[7] ^= 0x10; /* a different nonce in clear: authentication fails */
            CHECK_RC(sealwire_noise_unordered_transport_decrypt(b, bad, lens[4], p, sizeof p, &n),
                     SEALWIRE_DECRYPTION_FAILED);
        }
    }
    /* Replays. */
    CHECK_RC(sealwire_noise_unordered_transport_decrypt(b, msgs[2], lens[2], p, sizeof p, &n), SEALWIRE_REPLAY);
    CHECK_RC(sealwire_noise_unordered_transport_decrypt(b, msgs[5], lens[5], p, sizeof p, &n), SEALWIRE_REPLAY);
    CHECK(strcmp(sealwire_result_code_string(SEALWIRE_REPLAY), "ERR_SEALWIRE_REPLAY") == 0);
    CHECK_RC(sealwire_noise_unordered_transport_decrypt(b, msgs[2], 23, p, sizeof p, &n), SEALWIRE_TRUNCATED);
    /* The other direction. */
    CHECK_RC(sealwire_noise_unordered_transport_encrypt(b, (const uint8_t *)"back", 4, bad, sizeof bad, &n),
             SEALWIRE_OK);
    CHECK_RC(sealwire_noise_unordered_transport_decrypt(a, bad, n, p, sizeof p, &n), SEALWIRE_OK);
    CHECK(n == 4 && memcmp(p, "back", 4) == 0);
    /* Rekey interval: too small, and too late (messages were exchanged). */
    CHECK_RC(sealwire_noise_unordered_transport_set_rekey_interval(a, 100), SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_noise_unordered_transport_set_rekey_interval(a, SEALWIRE_NOISE_REPLAY_WINDOW),
             SEALWIRE_INVALID_PARAMETER);
    sealwire_noise_unordered_transport_free(a);
    sealwire_noise_unordered_transport_free(b);

    /* Epoch rekeying across two epoch boundaries with reordering. */
    unordered_pair("Noise_IK_25519_AESGCM_SHA256", &a, &b);
    CHECK_RC(sealwire_noise_unordered_transport_set_rekey_interval(a, SEALWIRE_NOISE_REPLAY_WINDOW), SEALWIRE_OK);
    CHECK_RC(sealwire_noise_unordered_transport_set_rekey_interval(b, SEALWIRE_NOISE_REPLAY_WINDOW), SEALWIRE_OK);
    {
        size_t count = 2 * SEALWIRE_NOISE_REPLAY_WINDOW + 10, m;
        uint8_t(*all)[32] = xmalloc(count * sizeof *all);
        static const size_t deliver[] = {1030, 1020, 10, 2050, 2049, 2047, 1500};
        int ok = 1;
        for (k = 0; k < count; k++) {
            uint8_t pt[8];
            memcpy(pt, &k, sizeof pt < sizeof k ? sizeof pt : sizeof k);
            if (sealwire_noise_unordered_transport_encrypt(a, pt, sizeof pt, all[k], 32, &n) != SEALWIRE_OK ||
                n != 32) {
                ok = 0;
            }
        }
        CHECK(ok);
        for (k = 0; k < sizeof deliver / sizeof deliver[0]; k++) {
            m = deliver[k];
            CHECK_RC(sealwire_noise_unordered_transport_decrypt(b, all[m], 32, p, sizeof p, &n), SEALWIRE_OK);
        }
        /* 5 and 1030 are older than the window now; 2049 is a duplicate. */
        CHECK_RC(sealwire_noise_unordered_transport_decrypt(b, all[5], 32, p, sizeof p, &n), SEALWIRE_REPLAY);
        CHECK_RC(sealwire_noise_unordered_transport_decrypt(b, all[2049], 32, p, sizeof p, &n), SEALWIRE_REPLAY);
        CHECK_RC(sealwire_noise_unordered_transport_decrypt(b, all[1030], 32, p, sizeof p, &n), SEALWIRE_REPLAY);
        CHECK_RC(sealwire_noise_unordered_transport_decrypt(b, all[2048], 32, p, sizeof p, &n), SEALWIRE_OK);
        free(all);
    }
    sealwire_noise_unordered_transport_free(a);
    sealwire_noise_unordered_transport_free(b);
}

static void test_psk_and_one_way(void)
{
    static const uint8_t psk[SEALWIRE_NOISE_PSK_LEN] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                                        17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
    uint8_t other[SEALWIRE_NOISE_PSK_LEN];
    sealwire_noise_builder *bi, *br;
    sealwire_noise_handshake *i = NULL, *r = NULL;
    sealwire_noise_transport *ti = NULL, *tr = NULL;
    uint8_t *m, p[64], c[64];
    size_t m_len = 0, n = 0;
    agent bob;
    agent_new(&bob);

    /* NNpsk0: matching psks work, a different psk fails the first message. */
    bi = builder("Noise_NNpsk0_25519_ChaChaPoly_SHA512", NULL, NULL, __LINE__);
    br = builder("Noise_NNpsk0_25519_ChaChaPoly_SHA512", NULL, NULL, __LINE__);
    CHECK_RC(sealwire_noise_builder_add_psk(bi, 0, psk, sizeof psk), SEALWIRE_OK);
    memcpy(other, psk, sizeof other);
    other[31] ^= 1;
    CHECK_RC(sealwire_noise_builder_add_psk(br, 0, other, sizeof other), SEALWIRE_OK);
    CHECK_RC(sealwire_noise_builder_build(bi, SEALWIRE_NOISE_INITIATOR, &i), SEALWIRE_OK);
    CHECK_RC(sealwire_noise_builder_build(br, SEALWIRE_NOISE_RESPONDER, &r), SEALWIRE_OK);
    m = hs_write(i, (const uint8_t *)"x", 1, &m_len, __LINE__);
    CHECK_RC(sealwire_noise_handshake_read_message(r, m, m_len, p, sizeof p, &n), SEALWIRE_DECRYPTION_FAILED);
    sealwire_noise_handshake_free(r);
    r = NULL;
    /* Setting the location again replaces the key; the builder builds again. */
    CHECK_RC(sealwire_noise_builder_add_psk(br, 0, psk, sizeof psk), SEALWIRE_OK);
    CHECK_RC(sealwire_noise_builder_build(br, SEALWIRE_NOISE_RESPONDER, &r), SEALWIRE_OK);
    CHECK_RC(sealwire_noise_handshake_read_message(r, m, m_len, p, sizeof p, &n), SEALWIRE_OK);
    CHECK(n == 1 && p[0] == 'x');
    free(m);
    hs_complete(i, r, __LINE__);
    into_transports(i, r, &ti, &tr, __LINE__);
    tr_pass(ti, tr, psk, sizeof psk, __LINE__);
    tr_pass(tr, ti, psk, 3, __LINE__);
    sealwire_noise_transport_free(ti);
    sealwire_noise_transport_free(tr);
    sealwire_noise_handshake_free(i);
    sealwire_noise_handshake_free(r);
    sealwire_noise_builder_free(bi);
    sealwire_noise_builder_free(br);

    /* One-way N: one message, then the initiator only sends and the responder only receives. */
    i = build("Noise_N_25519_ChaChaPoly_BLAKE2s", SEALWIRE_NOISE_INITIATOR, NULL, bob.pub, __LINE__);
    r = build("Noise_N_25519_ChaChaPoly_BLAKE2s", SEALWIRE_NOISE_RESPONDER, bob.id, NULL, __LINE__);
    hs_complete(i, r, __LINE__);
    ti = tr = NULL;
    into_transports(i, r, &ti, &tr, __LINE__);
    tr_pass(ti, tr, (const uint8_t *)"one way", 7, __LINE__);
    CHECK_RC(sealwire_noise_transport_encrypt(tr, c, 1, c, sizeof c, &n), SEALWIRE_OUT_OF_TURN);
    CHECK_RC(sealwire_noise_transport_encrypt(tr, p, 1, NULL, 0, &n), SEALWIRE_OUT_OF_TURN);
    CHECK_RC(sealwire_noise_transport_encrypt_framed(tr, p, 1, NULL, 0, &n), SEALWIRE_OUT_OF_TURN);
    CHECK_RC(sealwire_noise_transport_decrypt(ti, c, 20, p, sizeof p, &n), SEALWIRE_OUT_OF_TURN);
    CHECK_RC(sealwire_noise_transport_rekey_outgoing(tr), SEALWIRE_OUT_OF_TURN);
    CHECK_RC(sealwire_noise_transport_rekey_incoming(ti), SEALWIRE_OUT_OF_TURN);
    tr_pass(ti, tr, (const uint8_t *)"still fine", 10, __LINE__);
    sealwire_noise_transport_free(ti);
    sealwire_noise_transport_free(tr);
    sealwire_noise_handshake_free(i);
    sealwire_noise_handshake_free(r);
    agent_free(&bob);
}

/* ---- part 2: bad input and API rules --------------------------------------------------- */

static void test_truncated_and_corrupted(void)
{
    agent alice, bob;
    sealwire_noise_handshake *i, *r;
    uint8_t *m, *bad, hash_before[SEALWIRE_NOISE_MAX_HASH_LEN], hash_after[SEALWIRE_NOISE_MAX_HASH_LEN];
    uint8_t p[256];
    size_t m_len = 0, n = 0, k, hb, ha;
    static const uint8_t payload[] = "first payload";
    agent_new(&alice);
    agent_new(&bob);

    /* IK message 1: every byte is authenticated, so every cut fails. */
    i = build(IK, SEALWIRE_NOISE_INITIATOR, alice.id, bob.pub, __LINE__);
    r = build(IK, SEALWIRE_NOISE_RESPONDER, bob.id, NULL, __LINE__);
    m = hs_write(i, payload, sizeof payload, &m_len, __LINE__);
    hb = hs_hash(r, hash_before);
    {
        const size_t cuts[] = {0, 1, 16, 31, 32, 33, 63, 64, 79, 80, 95, m_len / 2, m_len - 17, m_len - 1};
        for (k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
            sealwire_result rc = sealwire_noise_handshake_read_message(r, m, cuts[k], p, sizeof p, &n);
            CHECK(rc == SEALWIRE_TRUNCATED || rc == SEALWIRE_DECRYPTION_FAILED);
            /* The length query reports the same truncation without a buffer. */
            if (cuts[k] < 32 + 48 + 16) {
                CHECK_RC(sealwire_noise_handshake_read_message(r, m, cuts[k], NULL, 0, &n), SEALWIRE_TRUNCATED);
            }
        }
    }
    bad = xmalloc(m_len + 1);
    for (k = 0; k < m_len; k += 7) {
        memcpy(bad, m, m_len);
        bad[k] ^= 0x01;
        CHECK_RC(sealwire_noise_handshake_read_message(r, bad, m_len, p, sizeof p, &n), SEALWIRE_DECRYPTION_FAILED);
    }
    memcpy(bad, m, m_len);
    bad[m_len] = 0;
    CHECK_RC(sealwire_noise_handshake_read_message(r, bad, m_len + 1, p, sizeof p, &n), SEALWIRE_DECRYPTION_FAILED);
    /* A non-canonical ephemeral key (top bit set) is refused as such. */
    memcpy(bad, m, m_len);
    bad[31] |= 0x80;
    CHECK_RC(sealwire_noise_handshake_read_message(r, bad, m_len, p, sizeof p, &n), SEALWIRE_INVALID_PUBLIC_KEY);
    free(bad);
    ha = hs_hash(r, hash_after);
    CHECK(hb == ha && memcmp(hash_before, hash_after, ha) == 0);
    CHECK(!sealwire_noise_handshake_is_my_turn(r));
    /* The genuine message is still accepted. */
    CHECK_RC(sealwire_noise_handshake_read_message(r, m, m_len, p, sizeof p, &n), SEALWIRE_OK);
    CHECK(n == sizeof payload && memcmp(p, payload, n) == 0);
    CHECK(sealwire_noise_handshake_is_my_turn(r));
    free(m);

    /* Message 2 as well. */
    m = hs_write(r, NULL, 0, &m_len, __LINE__);
    CHECK(m_len == 32 + 16);
    for (k = 0; k < m_len; k += 5) {
        CHECK(sealwire_noise_handshake_read_message(i, m, k, p, sizeof p, &n) != SEALWIRE_OK);
    }
    CHECK_RC(sealwire_noise_handshake_read_message(i, m, m_len, p, sizeof p, &n), SEALWIRE_OK);
    CHECK(n == 0);
    CHECK(sealwire_noise_handshake_is_finished(i));
    free(m);
    sealwire_noise_handshake_free(i);
    sealwire_noise_handshake_free(r);
    agent_free(&alice);
    agent_free(&bob);
}

static void test_wrong_remote_static(void)
{
    agent alice, bob, carol;
    sealwire_noise_handshake *i, *r;
    uint8_t *m, p[512], key[SEALWIRE_PUBLIC_KEY_LEN];
    size_t m_len = 0, n = 0;
    agent_new(&alice);
    agent_new(&bob);
    agent_new(&carol);

    /* IK: alice believes carol's key is bob's; bob cannot decrypt her first message. */
    i = build(IK, SEALWIRE_NOISE_INITIATOR, alice.id, carol.pub, __LINE__);
    r = build(IK, SEALWIRE_NOISE_RESPONDER, bob.id, NULL, __LINE__);
    m = hs_write(i, (const uint8_t *)"hi", 2, &m_len, __LINE__);
    CHECK_RC(sealwire_noise_handshake_read_message(r, m, m_len, p, sizeof p, &n), SEALWIRE_DECRYPTION_FAILED);
    free(m);
    sealwire_noise_handshake_free(i);
    sealwire_noise_handshake_free(r);

    /* XX: alice insists on talking to carol, bob answers: the typed mismatch, and alice's
     * handshake is unchanged (she still waits for message 2, knows no remote key). */
    i = build(XX, SEALWIRE_NOISE_INITIATOR, alice.id, carol.pub, __LINE__);
    r = build(XX, SEALWIRE_NOISE_RESPONDER, bob.id, NULL, __LINE__);
    hs_pass(i, r, NULL, 0, __LINE__);
    m = hs_write(r, bob.payload, sizeof bob.payload, &m_len, __LINE__);
    CHECK_RC(sealwire_noise_handshake_read_message(i, m, m_len, p, sizeof p, &n), SEALWIRE_REMOTE_KEY_MISMATCH);
    CHECK(!sealwire_noise_handshake_is_my_turn(i));
    CHECK_RC(sealwire_noise_handshake_remote_static(i, key, sizeof key, &n), SEALWIRE_HANDSHAKE_INCOMPLETE);
    CHECK(strcmp(sealwire_result_code_string(SEALWIRE_REMOTE_KEY_MISMATCH), "ERR_SEALWIRE_REMOTE_KEY_MISMATCH") == 0);
    free(m);
    sealwire_noise_handshake_free(i);
    sealwire_noise_handshake_free(r);

    /* A prologue mismatch fails the first encrypted payload. */
    {
        sealwire_noise_builder *b = builder(XX, bob.id, NULL, __LINE__);
        CHECK_RC(sealwire_noise_builder_set_prologue(b, (const uint8_t *)"other", 5), SEALWIRE_OK);
        i = build(XX, SEALWIRE_NOISE_INITIATOR, alice.id, NULL, __LINE__);
        r = NULL;
        CHECK_RC(sealwire_noise_builder_build(b, SEALWIRE_NOISE_RESPONDER, &r), SEALWIRE_OK);
        sealwire_noise_builder_free(b);
        hs_pass(i, r, NULL, 0, __LINE__);
        m = hs_write(r, NULL, 0, &m_len, __LINE__);
        CHECK_RC(sealwire_noise_handshake_read_message(i, m, m_len, p, sizeof p, &n), SEALWIRE_DECRYPTION_FAILED);
        free(m);
        sealwire_noise_handshake_free(i);
        sealwire_noise_handshake_free(r);
    }
    agent_free(&alice);
    agent_free(&bob);
    agent_free(&carol);
}

static void test_turns_and_lifecycle(void)
{
    agent alice, bob;
    sealwire_noise_handshake *i, *r;
    sealwire_noise_transport *t = SENTINEL;
    sealwire_noise_unordered_transport *u = SENTINEL;
    uint8_t *m1, *m2, *m3, p[512], buf[512];
    size_t l1 = 0, l2 = 0, l3 = 0, n = 0;
    agent_new(&alice);
    agent_new(&bob);
    i = build(XX, SEALWIRE_NOISE_INITIATOR, alice.id, NULL, __LINE__);
    r = build(XX, SEALWIRE_NOISE_RESPONDER, bob.id, NULL, __LINE__);

    /* Out of turn, both directions; a length query reports it too. */
    CHECK_RC(sealwire_noise_handshake_write_message(r, NULL, 0, buf, sizeof buf, &n), SEALWIRE_OUT_OF_TURN);
    CHECK_RC(sealwire_noise_handshake_write_message(r, NULL, 0, NULL, 0, &n), SEALWIRE_OUT_OF_TURN);
    CHECK_RC(sealwire_noise_handshake_read_message(i, buf, 48, p, sizeof p, &n), SEALWIRE_OUT_OF_TURN);
    CHECK_RC(sealwire_noise_handshake_into_transport(i, &t), SEALWIRE_HANDSHAKE_INCOMPLETE);
    CHECK_RC(sealwire_noise_handshake_into_unordered_transport(r, &u), SEALWIRE_HANDSHAKE_INCOMPLETE);
    CHECK(t == SENTINEL && u == SENTINEL);

    /* Length queries never advance the handshake: query, too-small buffer, query again. */
    {
        uint8_t h0[SEALWIRE_NOISE_MAX_HASH_LEN], h1[SEALWIRE_NOISE_MAX_HASH_LEN];
        size_t need = 0, k0 = hs_hash(i, h0), k1;
        CHECK_RC(sealwire_noise_handshake_write_message(i, (const uint8_t *)"q", 1, NULL, 0, &need),
                 SEALWIRE_BUFFER_TOO_SMALL);
        CHECK(need == 33);
        memset(buf, 0xCC, sizeof buf);
        CHECK_RC(sealwire_noise_handshake_write_message(i, (const uint8_t *)"q", 1, buf, need - 1, &n),
                 SEALWIRE_BUFFER_TOO_SMALL);
        CHECK(n == need && buf[0] == 0xCC && buf[need - 2] == 0xCC);
        CHECK_RC(sealwire_noise_handshake_write_message(i, (const uint8_t *)"q", 1, NULL, 0, &n),
                 SEALWIRE_BUFFER_TOO_SMALL);
        k1 = hs_hash(i, h1);
        CHECK(k0 == k1 && memcmp(h0, h1, k0) == 0 && sealwire_noise_handshake_is_my_turn(i));
    }
    m1 = hs_write(i, (const uint8_t *)"q", 1, &l1, __LINE__);
    CHECK_RC(sealwire_noise_handshake_write_message(i, NULL, 0, buf, sizeof buf, &n), SEALWIRE_OUT_OF_TURN);
    /* The reader's query: exact payload length, nothing consumed, repeatable. */
    CHECK_RC(sealwire_noise_handshake_read_message(r, m1, l1, NULL, 0, &n), SEALWIRE_BUFFER_TOO_SMALL);
    CHECK(n == 1);
    CHECK_RC(sealwire_noise_handshake_read_message(r, m1, l1, p, 0, &n), SEALWIRE_BUFFER_TOO_SMALL);
    CHECK_RC(sealwire_noise_handshake_read_message(r, m1, l1, p, 1, &n), SEALWIRE_OK);
    CHECK(n == 1 && p[0] == 'q');
    /* Replaying message 1 is now out of turn. */
    CHECK_RC(sealwire_noise_handshake_read_message(r, m1, l1, p, sizeof p, &n), SEALWIRE_OUT_OF_TURN);
    m2 = hs_write(r, NULL, 0, &l2, __LINE__);
    CHECK_RC(sealwire_noise_handshake_read_message(i, m2, l2, p, sizeof p, &n), SEALWIRE_OK);
    /* Not finished yet: the handshake survives a refused into_transport and goes on. */
    CHECK_RC(sealwire_noise_handshake_into_transport(i, &t), SEALWIRE_HANDSHAKE_INCOMPLETE);
    CHECK(t == SENTINEL && sealwire_noise_handshake_is_my_turn(i));
    m3 = hs_write(i, NULL, 0, &l3, __LINE__);
    CHECK_RC(sealwire_noise_handshake_read_message(r, m3, l3, p, sizeof p, &n), SEALWIRE_OK);
    CHECK(sealwire_noise_handshake_is_finished(i) && sealwire_noise_handshake_is_finished(r));
    CHECK_RC(sealwire_noise_handshake_write_message(i, NULL, 0, buf, sizeof buf, &n), SEALWIRE_HANDSHAKE_COMPLETE);
    CHECK_RC(sealwire_noise_handshake_write_message(r, NULL, 0, NULL, 0, &n), SEALWIRE_HANDSHAKE_COMPLETE);
    CHECK_RC(sealwire_noise_handshake_read_message(r, m3, l3, p, sizeof p, &n), SEALWIRE_HANDSHAKE_COMPLETE);
    /* Oversized handshake payload. */
    {
        sealwire_noise_handshake *i2 = build("Noise_NN_25519_ChaChaPoly_SHA256", SEALWIRE_NOISE_INITIATOR, NULL, NULL, __LINE__);
        uint8_t *big = xmalloc(SEALWIRE_NOISE_MAX_MESSAGE_LEN);
        memset(big, 0, SEALWIRE_NOISE_MAX_MESSAGE_LEN);
        CHECK_RC(sealwire_noise_handshake_write_message(i2, big, SEALWIRE_NOISE_MAX_MESSAGE_LEN - 31, NULL, 0, &n),
                 SEALWIRE_MESSAGE_TOO_LARGE);
        CHECK_RC(sealwire_noise_handshake_write_message(i2, big, SEALWIRE_NOISE_MAX_MESSAGE_LEN - 32, NULL, 0, &n),
                 SEALWIRE_BUFFER_TOO_SMALL);
        CHECK(n == SEALWIRE_NOISE_MAX_MESSAGE_LEN);
        free(big);
        sealwire_noise_handshake_free(i2);
    }
    free(m1);
    free(m2);
    free(m3);
    sealwire_noise_handshake_free(i);
    sealwire_noise_handshake_free(r);
    agent_free(&alice);
    agent_free(&bob);
}

static void test_builder_validation(void)
{
    sealwire_noise_builder *b = SENTINEL;
    sealwire_noise_handshake *h = SENTINEL;
    static const uint8_t key32[32] = {9};
    static const uint8_t zero32[32] = {0};
    uint8_t seed[64] = {0};
    agent alice;
    agent_new(&alice);

    CHECK_RC(sealwire_noise_builder_new("Noise_XX_25519_ChaChaPoly", &b), SEALWIRE_MALFORMED);
    CHECK_RC(sealwire_noise_builder_new("", &b), SEALWIRE_MALFORMED);
    CHECK_RC(sealwire_noise_builder_new("Noise_XX_448_ChaChaPoly_SHA256", &b), SEALWIRE_UNSUPPORTED_ALGORITHM);
    CHECK_RC(sealwire_noise_builder_new("Noise_XX_25519_ChaChaPoly_\xff", &b), SEALWIRE_INVALID_UTF8);
    CHECK(b == SENTINEL);

    /* IK initiator without the responder's key; then with a bad key; then valid. */
    b = builder(IK, alice.id, NULL, __LINE__);
    CHECK_RC(sealwire_noise_builder_build(b, SEALWIRE_NOISE_INITIATOR, &h), SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_noise_builder_build(b, 2, &h), SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_noise_builder_build(b, 0xFFFFFFFFu, &h), SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_noise_builder_set_remote_static(b, zero32, sizeof zero32), SEALWIRE_INVALID_PUBLIC_KEY);
    CHECK_RC(sealwire_noise_builder_set_remote_static(b, key32, 31), SEALWIRE_INVALID_LENGTH);
    CHECK_RC(sealwire_noise_builder_add_psk(b, 0, key32, sizeof key32), SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_noise_builder_set_local_static_secret(b, key32, 33), SEALWIRE_INVALID_LENGTH);
    CHECK_RC(sealwire_noise_builder_fixed_ephemeral_for_vectors(b, key32, 16), SEALWIRE_INVALID_LENGTH);
    CHECK_RC(sealwire_noise_builder_fixed_kem_seed_for_vectors(b, seed, 32), SEALWIRE_INVALID_LENGTH);
    CHECK_RC(sealwire_noise_builder_fixed_kem_encapsulation_for_vectors(b, seed, 64), SEALWIRE_INVALID_LENGTH);
    CHECK(h == SENTINEL);
    /* The failed setters changed nothing: still missing only the remote key. */
    CHECK_RC(sealwire_noise_builder_build(b, SEALWIRE_NOISE_INITIATOR, &h), SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_noise_builder_set_remote_identity(b, alice.pub), SEALWIRE_OK);
    CHECK_RC(sealwire_noise_builder_build(b, SEALWIRE_NOISE_INITIATOR, &h), SEALWIRE_OK);
    CHECK(h != SENTINEL);
    sealwire_noise_handshake_free(h);
    /* KEM randomness on a pattern without hfs is refused at build time. */
    CHECK_RC(sealwire_noise_builder_fixed_kem_seed_for_vectors(b, seed, sizeof seed), SEALWIRE_OK);
    h = SENTINEL;
    CHECK_RC(sealwire_noise_builder_build(b, SEALWIRE_NOISE_INITIATOR, &h), SEALWIRE_INVALID_PARAMETER);
    CHECK(h == SENTINEL);
    sealwire_noise_builder_free(b);

    /* A responder in NN has no static key: giving one is an error. */
    b = builder("Noise_NN_25519_ChaChaPoly_SHA256", alice.id, NULL, __LINE__);
    CHECK_RC(sealwire_noise_builder_build(b, SEALWIRE_NOISE_RESPONDER, &h), SEALWIRE_INVALID_PARAMETER);
    sealwire_noise_builder_free(b);
    /* A psk pattern needs its psk. */
    b = builder("Noise_XXpsk3_25519_ChaChaPoly_SHA256", alice.id, NULL, __LINE__);
    CHECK_RC(sealwire_noise_builder_build(b, SEALWIRE_NOISE_INITIATOR, &h), SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_noise_builder_add_psk(b, 3, key32, 31), SEALWIRE_INVALID_LENGTH);
    CHECK_RC(sealwire_noise_builder_add_psk(b, 2, key32, 32), SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_noise_builder_add_psk(b, 3, key32, 32), SEALWIRE_OK);
    CHECK_RC(sealwire_noise_builder_build(b, SEALWIRE_NOISE_INITIATOR, &h), SEALWIRE_OK);
    sealwire_noise_handshake_free(h);
    sealwire_noise_builder_free(b);
    agent_free(&alice);
}

static void test_null_pointers(void)
{
    agent alice;
    sealwire_noise_builder *b = NULL, *b_out = SENTINEL;
    sealwire_noise_handshake *h = NULL, *h_out = SENTINEL;
    sealwire_noise_transport *t = NULL, *t_out = SENTINEL;
    sealwire_noise_unordered_transport *u = NULL, *u_out = SENTINEL;
    sealwire_public_identity *pub_out = SENTINEL;
    uint8_t buf[256], k32[32] = {1};
    size_t n = 777;
    agent_new(&alice);

    sealwire_noise_builder_free(NULL);
    sealwire_noise_handshake_free(NULL);
    sealwire_noise_transport_free(NULL);
    sealwire_noise_unordered_transport_free(NULL);
    CHECK(!sealwire_noise_handshake_is_finished(NULL));
    CHECK(!sealwire_noise_handshake_is_my_turn(NULL));

    CHECK_RC(sealwire_noise_builder_new(NULL, &b_out), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_builder_new(XX, NULL), SEALWIRE_NULL_POINTER);
    CHECK(b_out == SENTINEL);
    CHECK_RC(sealwire_noise_builder_new(XX, &b), SEALWIRE_OK);
    CHECK_RC(sealwire_noise_builder_set_local_identity(NULL, alice.id), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_builder_set_local_identity(b, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_builder_set_local_static_secret(NULL, k32, 32), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_builder_set_local_static_secret(b, NULL, 32), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_builder_set_remote_static(NULL, k32, 32), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_builder_set_remote_static(b, NULL, 32), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_builder_set_remote_identity(NULL, alice.pub), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_builder_set_remote_identity(b, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_builder_add_psk(NULL, 0, k32, 32), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_builder_add_psk(b, 0, NULL, 32), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_builder_set_prologue(NULL, k32, 32), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_builder_set_prologue(b, NULL, 32), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_builder_set_prologue(b, NULL, 0), SEALWIRE_OK); /* empty prologue */
    CHECK_RC(sealwire_noise_builder_fixed_ephemeral_for_vectors(NULL, k32, 32), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_builder_fixed_ephemeral_for_vectors(b, NULL, 32), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_builder_fixed_kem_seed_for_vectors(NULL, buf, 64), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_builder_fixed_kem_seed_for_vectors(b, NULL, 64), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_builder_fixed_kem_encapsulation_for_vectors(NULL, k32, 32), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_builder_fixed_kem_encapsulation_for_vectors(b, NULL, 32), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_builder_build(NULL, SEALWIRE_NOISE_INITIATOR, &h_out), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_builder_set_local_identity(b, alice.id), SEALWIRE_OK);
    CHECK_RC(sealwire_noise_builder_build(b, SEALWIRE_NOISE_INITIATOR, NULL), SEALWIRE_NULL_POINTER);
    CHECK(h_out == SENTINEL);
    CHECK_RC(sealwire_noise_builder_build(b, SEALWIRE_NOISE_INITIATOR, &h), SEALWIRE_OK);

    CHECK_RC(sealwire_noise_identity_payload(NULL, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_identity_payload(alice.id, buf, sizeof buf, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_identity_payload(alice.id, NULL, 0, &n), SEALWIRE_BUFFER_TOO_SMALL);
    CHECK(n == SEALWIRE_PUBLIC_IDENTITY_LEN);

    n = 777;
    CHECK_RC(sealwire_noise_handshake_write_message(NULL, NULL, 0, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_handshake_write_message(h, NULL, 1, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_handshake_write_message(h, NULL, 0, buf, sizeof buf, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_handshake_read_message(NULL, buf, 1, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_handshake_read_message(h, NULL, 1, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_handshake_read_message(h, buf, 1, buf, sizeof buf, NULL), SEALWIRE_NULL_POINTER);
    CHECK(n == 777);
    CHECK(sealwire_noise_handshake_is_my_turn(h)); /* none of the above consumed the first message */
    CHECK_RC(sealwire_noise_handshake_hash(NULL, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_handshake_hash(h, buf, sizeof buf, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_handshake_hash(h, NULL, 0, &n), SEALWIRE_BUFFER_TOO_SMALL);
    CHECK(n == 64); /* BLAKE2b */
    CHECK_RC(sealwire_noise_handshake_remote_static(NULL, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_handshake_remote_static(h, buf, sizeof buf, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_handshake_expect_remote_identity(NULL, alice.pub), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_handshake_expect_remote_identity(h, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_handshake_verify_identity_payload(NULL, alice.payload, sizeof alice.payload, &pub_out),
             SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_handshake_verify_identity_payload(h, NULL, 10, &pub_out), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_handshake_verify_identity_payload(h, alice.payload, sizeof alice.payload, NULL),
             SEALWIRE_NULL_POINTER);
    CHECK(pub_out == SENTINEL);
    CHECK_RC(sealwire_noise_handshake_into_transport(NULL, &t_out), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_handshake_into_transport(h, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_handshake_into_unordered_transport(NULL, &u_out), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_handshake_into_unordered_transport(h, NULL), SEALWIRE_NULL_POINTER);
    CHECK(t_out == SENTINEL && u_out == SENTINEL);

    /* Transports (from a finished NN handshake). */
    {
        sealwire_noise_handshake *i2 = build("Noise_NN_25519_ChaChaPoly_SHA256", SEALWIRE_NOISE_INITIATOR, NULL, NULL, __LINE__);
        sealwire_noise_handshake *r2 = build("Noise_NN_25519_ChaChaPoly_SHA256", SEALWIRE_NOISE_RESPONDER, NULL, NULL, __LINE__);
        sealwire_noise_handshake *i3 = build("Noise_NN_25519_ChaChaPoly_SHA256", SEALWIRE_NOISE_INITIATOR, NULL, NULL, __LINE__);
        sealwire_noise_handshake *r3 = build("Noise_NN_25519_ChaChaPoly_SHA256", SEALWIRE_NOISE_RESPONDER, NULL, NULL, __LINE__);
        hs_complete(i2, r2, __LINE__);
        hs_complete(i3, r3, __LINE__);
        CHECK_RC(sealwire_noise_handshake_into_transport(i2, &t), SEALWIRE_OK);
        CHECK_RC(sealwire_noise_handshake_into_unordered_transport(i3, &u), SEALWIRE_OK);
        sealwire_noise_handshake_free(i2);
        sealwire_noise_handshake_free(r2);
        sealwire_noise_handshake_free(i3);
        sealwire_noise_handshake_free(r3);
    }
    CHECK_RC(sealwire_noise_transport_encrypt(NULL, buf, 1, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_transport_encrypt(t, NULL, 1, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_transport_encrypt(t, buf, 1, buf + 128, 64, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_transport_decrypt(NULL, buf, 20, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_transport_decrypt(t, NULL, 20, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_transport_decrypt(t, buf, 20, buf + 128, 64, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_transport_decrypt(t, NULL, 0, buf, sizeof buf, &n), SEALWIRE_TRUNCATED);
    CHECK_RC(sealwire_noise_transport_encrypt_framed(NULL, buf, 1, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_transport_encrypt_framed(t, NULL, 1, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_transport_encrypt_framed(t, buf, 1, buf + 128, 64, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_transport_decrypt_framed(NULL, buf, 20, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_transport_decrypt_framed(t, NULL, 20, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_transport_decrypt_framed(t, buf, 20, buf + 128, 64, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_transport_rekey_outgoing(NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_transport_rekey_incoming(NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_transport_set_rekey_interval(NULL, 5), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_transport_handshake_hash(NULL, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_transport_handshake_hash(t, buf, sizeof buf, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_unordered_transport_encrypt(NULL, buf, 1, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_unordered_transport_encrypt(u, NULL, 1, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_unordered_transport_encrypt(u, buf, 1, buf + 128, 64, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_unordered_transport_decrypt(NULL, buf, 30, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_unordered_transport_decrypt(u, NULL, 30, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_unordered_transport_decrypt(u, buf, 30, buf + 128, 64, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_unordered_transport_set_rekey_interval(NULL, 0), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_unordered_transport_handshake_hash(NULL, buf, sizeof buf, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_noise_unordered_transport_handshake_hash(u, buf, sizeof buf, NULL), SEALWIRE_NULL_POINTER);
    /* After all those NULL calls the transports still start at nonce 0. */
    CHECK_RC(sealwire_noise_unordered_transport_encrypt(u, buf, 1, buf + 128, 64, &n), SEALWIRE_OK);
    CHECK(n == 25 && buf[128 + 7] == 0);
    CHECK_RC(sealwire_noise_unordered_transport_set_rekey_interval(u, 0), SEALWIRE_INVALID_PARAMETER);

    sealwire_noise_transport_free(t);
    sealwire_noise_unordered_transport_free(u);
    sealwire_noise_handshake_free(h);
    sealwire_noise_builder_free(b);
    agent_free(&alice);
}

static void test_result_codes(void)
{
    static const struct {
        sealwire_result code;
        unsigned number;
        const char *string;
    } noise_codes[] = {
        {SEALWIRE_REMOTE_KEY_MISMATCH, 3005, "ERR_SEALWIRE_REMOTE_KEY_MISMATCH"},
        {SEALWIRE_REPLAY, 3006, "ERR_SEALWIRE_REPLAY"},
        {SEALWIRE_MESSAGE_TOO_LARGE, 4000, "ERR_SEALWIRE_MESSAGE_TOO_LARGE"},
        {SEALWIRE_OUT_OF_TURN, 4001, "ERR_SEALWIRE_OUT_OF_TURN"},
        {SEALWIRE_HANDSHAKE_COMPLETE, 4002, "ERR_SEALWIRE_HANDSHAKE_COMPLETE"},
        {SEALWIRE_HANDSHAKE_INCOMPLETE, 4003, "ERR_SEALWIRE_HANDSHAKE_INCOMPLETE"},
        {SEALWIRE_NONCE_EXHAUSTED, 4004, "ERR_SEALWIRE_NONCE_EXHAUSTED"},
    };
    size_t k;
    for (k = 0; k < sizeof noise_codes / sizeof noise_codes[0]; k++) {
        const char *msg = sealwire_result_message(noise_codes[k].code);
        CHECK((unsigned)noise_codes[k].code == noise_codes[k].number);
        CHECK(strcmp(sealwire_result_code_string(noise_codes[k].code), noise_codes[k].string) == 0);
        CHECK(msg != NULL && msg[0] != '\0' && strcmp(msg, "unknown result code") != 0);
    }
    CHECK(strcmp(sealwire_result_code_string(4999), "ERR_SEALWIRE_UNKNOWN_RESULT") == 0); /* 4005+ are ratchet codes */
}

/* ---- part 3: vectors ------------------------------------------------------------------- */

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

static int hex_nibble(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decode hex into a fresh malloc'd buffer (aborts on bad hex: the vector files are ours). */
static uint8_t *hex_decode(const char *hex, size_t *len)
{
    size_t n = strlen(hex), i;
    uint8_t *out;
    if (n % 2 != 0) abort();
    out = xmalloc(n / 2);
    for (i = 0; i < n / 2; i++) {
        int hi = hex_nibble(hex[2 * i]), lo = hex_nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) abort();
        out[i] = (uint8_t)(hi * 16 + lo);
    }
    *len = n / 2;
    return out;
}

/* Decode an optional hex field; NULL if the field is absent. */
static uint8_t *jhex_opt(const cJSON *obj, const char *key, size_t *len)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    *len = 0;
    if (!cJSON_IsString(item) || item->valuestring == NULL) return NULL;
    return hex_decode(item->valuestring, len);
}

/* Apply an optional hex field with a builder setter; returns the setter's result. */
static sealwire_result apply(sealwire_noise_builder *b, const cJSON *v, const char *key,
                             sealwire_result (*setter)(sealwire_noise_builder *, const uint8_t *, size_t))
{
    size_t len;
    uint8_t *bytes = jhex_opt(v, key, &len);
    sealwire_result rc = SEALWIRE_OK;
    if (bytes != NULL) {
        rc = setter(b, bytes, len);
        free(bytes);
    }
    return rc;
}

/* The pattern part of a protocol name ("XXpsk3"), written to `out`. */
static void pattern_of(const char *name, char *out, size_t cap)
{
    const char *start = strchr(name, '_'), *end;
    size_t n;
    out[0] = '\0';
    if (start == NULL) return;
    start++;
    end = strchr(start, '_');
    if (end == NULL) return;
    n = (size_t)(end - start);
    if (n >= cap) n = cap - 1;
    memcpy(out, start, n);
    out[n] = '\0';
}

/* One side of a vector. Returns SEALWIRE_OK and *out, or the first failing result. */
static sealwire_result vector_side(const cJSON *v, int initiator, sealwire_noise_handshake **out)
{
    const char *p = initiator ? "init_" : "resp_";
    const char *name = cJSON_GetObjectItemCaseSensitive(v, "protocol_name")->valuestring;
    char key[64], pattern[64];
    sealwire_noise_builder *b = NULL;
    sealwire_result rc = sealwire_noise_builder_new(name, &b);
    const cJSON *psks, *psk;
    if (rc != SEALWIRE_OK) return rc;
#define FIELD(suffix) (snprintf(key, sizeof key, "%s%s", p, suffix), key)
    if (rc == SEALWIRE_OK) rc = apply(b, v, FIELD("prologue"), sealwire_noise_builder_set_prologue);
    if (rc == SEALWIRE_OK) rc = apply(b, v, FIELD("static"), sealwire_noise_builder_set_local_static_secret);
    if (rc == SEALWIRE_OK) rc = apply(b, v, FIELD("ephemeral"), sealwire_noise_builder_fixed_ephemeral_for_vectors);
    if (rc == SEALWIRE_OK) rc = apply(b, v, FIELD("remote_static"), sealwire_noise_builder_set_remote_static);
    if (rc == SEALWIRE_OK) rc = apply(b, v, FIELD("kem_seed"), sealwire_noise_builder_fixed_kem_seed_for_vectors);
    if (rc == SEALWIRE_OK) {
        rc = apply(b, v, FIELD("kem_encaps_m"), sealwire_noise_builder_fixed_kem_encapsulation_for_vectors);
    }
    /* psks are listed in the order the handshake uses them: increasing location numbers, as
     * named in the pattern ("psk0+psk2"). */
    psks = cJSON_GetObjectItemCaseSensitive(v, FIELD("psks"));
#undef FIELD
    pattern_of(name, pattern, sizeof pattern);
    if (rc == SEALWIRE_OK && psks != NULL) {
        const char *cursor = pattern;
        cJSON_ArrayForEach(psk, psks)
        {
            const char *at = strstr(cursor, "psk");
            uint8_t *bytes;
            size_t len;
            unsigned location;
            if (at == NULL || !cJSON_IsString(psk)) {
                rc = SEALWIRE_INVALID_PARAMETER;
                break;
            }
            location = (unsigned)strtoul(at + 3, NULL, 10);
            cursor = at + 3;
            bytes = hex_decode(psk->valuestring, &len);
            rc = sealwire_noise_builder_add_psk(b, (uint8_t)location, bytes, len);
            free(bytes);
            if (rc != SEALWIRE_OK) break;
        }
    }
    if (rc == SEALWIRE_OK) {
        rc = sealwire_noise_builder_build(b, initiator ? SEALWIRE_NOISE_INITIATOR : SEALWIRE_NOISE_RESPONDER, out);
    }
    sealwire_noise_builder_free(b);
    return rc;
}

static int one_way(const char *name)
{
    char pattern[64];
    size_t k = 0;
    pattern_of(name, pattern, sizeof pattern);
    while (pattern[k] >= 'A' && pattern[k] <= 'Z') k++;
    return k == 1;
}

/* Run a vector between two builders configured from it; every ciphertext and the handshake
 * hash must match byte for byte. Returns 1 on success; prints the first difference. */
static int run_vector(const cJSON *v)
{
    const char *name = cJSON_GetObjectItemCaseSensitive(v, "protocol_name")->valuestring;
    const cJSON *messages = cJSON_GetObjectItemCaseSensitive(v, "messages"), *msg;
    sealwire_noise_handshake *init = NULL, *resp = NULL;
    sealwire_noise_transport *ti = NULL, *tr = NULL;
    uint8_t out[SEALWIRE_NOISE_MAX_MESSAGE_LEN], back[SEALWIRE_NOISE_MAX_MESSAGE_LEN];
    uint8_t hash[SEALWIRE_NOISE_MAX_HASH_LEN];
    size_t index = 0, n = 0, m = 0;
    int ok = 1, oneway = one_way(name);
    sealwire_result rc;

    if (vector_side(v, 1, &init) != SEALWIRE_OK || vector_side(v, 0, &resp) != SEALWIRE_OK) {
        fprintf(stderr, "%s: cannot build the handshakes\n", name);
        ok = 0;
        goto out;
    }
    cJSON_ArrayForEach(msg, messages)
    {
        size_t payload_len, want_len;
        uint8_t *payload = jhex_opt(msg, "payload", &payload_len);
        uint8_t *want = jhex_opt(msg, "ciphertext", &want_len);
        int in_handshake = !sealwire_noise_handshake_is_finished(init);
        if (payload == NULL || want == NULL) abort();
        if (in_handshake) {
            sealwire_noise_handshake *w = index % 2 == 0 ? init : resp;
            sealwire_noise_handshake *r = index % 2 == 0 ? resp : init;
            rc = sealwire_noise_handshake_write_message(w, payload, payload_len, out, sizeof out, &n);
            if (rc == SEALWIRE_OK) rc = sealwire_noise_handshake_read_message(r, out, n, back, sizeof back, &m);
        } else {
            sealwire_noise_transport *w, *r;
            if (ti == NULL) {
                if (!sealwire_noise_handshake_is_finished(resp) ||
                    sealwire_noise_handshake_hash(init, hash, sizeof hash, &n) != SEALWIRE_OK) {
                    ok = 0;
                }
                {
                    uint8_t *want_hash = jhex_opt(v, "handshake_hash", &m);
                    uint8_t other[SEALWIRE_NOISE_MAX_HASH_LEN];
                    size_t n2 = 0;
                    if (want_hash == NULL || m != n || memcmp(want_hash, hash, n) != 0 ||
                        sealwire_noise_handshake_hash(resp, other, sizeof other, &n2) != SEALWIRE_OK ||
                        n2 != n || memcmp(other, hash, n) != 0) {
                        fprintf(stderr, "%s: handshake hash differs\n", name);
                        ok = 0;
                    }
                    free(want_hash);
                }
                if (sealwire_noise_handshake_into_transport(init, &ti) != SEALWIRE_OK ||
                    sealwire_noise_handshake_into_transport(resp, &tr) != SEALWIRE_OK) {
                    ok = 0;
                    free(payload);
                    free(want);
                    break;
                }
            }
            w = oneway || index % 2 == 0 ? ti : tr;
            r = w == ti ? tr : ti;
            rc = sealwire_noise_transport_encrypt(w, payload, payload_len, out, sizeof out, &n);
            if (rc == SEALWIRE_OK) rc = sealwire_noise_transport_decrypt(r, out, n, back, sizeof back, &m);
        }
        if (rc != SEALWIRE_OK) {
            fprintf(stderr, "%s: message %zu: %s\n", name, index, sealwire_result_code_string(rc));
            ok = 0;
        } else if (n != want_len || memcmp(out, want, n) != 0) {
            fprintf(stderr, "%s: message %zu differs from the vector\n", name, index);
            ok = 0;
        } else if (m != payload_len || (m > 0 && memcmp(back, payload, m) != 0)) {
            fprintf(stderr, "%s: payload %zu did not round-trip\n", name, index);
            ok = 0;
        }
        free(payload);
        free(want);
        index++;
        if (!ok) break;
    }
    if (ok && ti == NULL) {
        fprintf(stderr, "%s: vector has no transport messages\n", name);
        ok = 0;
    }
out:
    sealwire_noise_transport_free(ti);
    sealwire_noise_transport_free(tr);
    sealwire_noise_handshake_free(init);
    sealwire_noise_handshake_free(resp);
    return ok;
}

static cJSON *load_json(const char *path)
{
    char *text = read_file(path);
    cJSON *root;
    if (text == NULL) {
        fprintf(stderr, "FAIL: cannot read %s\n", path);
        g_failed++;
        return NULL;
    }
    root = cJSON_Parse(text);
    free(text);
    if (root == NULL) {
        fprintf(stderr, "FAIL: %s is not JSON\n", path);
        g_failed++;
    }
    return root;
}

static void test_hfs_vectors(const char *path)
{
    cJSON *root = load_json(path);
    const cJSON *v;
    int ran = 0, ik = 0, xx = 0;
    if (root == NULL) return;
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(root, "vectors"))
    {
        const char *name = cJSON_GetObjectItemCaseSensitive(v, "protocol_name")->valuestring;
        int ok = run_vector(v);
        check(ok, name, __LINE__);
        ran++;
        if (strncmp(name, "Noise_IKhfs_", 12) == 0) ik += ok;
        if (strncmp(name, "Noise_XXhfs_", 12) == 0) xx += ok;
    }
    CHECK(ran >= 16 && ik >= 8 && xx >= 8);
    printf("noise-hfs.json: %d vectors replayed (%d IKhfs, %d XXhfs)\n", ran, ik, xx);
    cJSON_Delete(root);
}

static void test_cacophony_vectors(const char *path)
{
    cJSON *root = load_json(path);
    const cJSON *v;
    int passed = 0, failed = 0, skipped = 0;
    if (root == NULL) return;
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(root, "vectors"))
    {
        const char *name = cJSON_GetObjectItemCaseSensitive(v, "protocol_name")->valuestring;
        sealwire_noise_builder *b = NULL;
        sealwire_result rc = sealwire_noise_builder_new(name, &b);
        sealwire_noise_builder_free(b);
        if (rc == SEALWIRE_UNSUPPORTED_ALGORITHM) {
            /* X448 and the deferred patterns (X1K, ...) are deliberately unsupported. */
            char pattern[64];
            pattern_of(name, pattern, sizeof pattern);
            if (strstr(name, "_448_") == NULL && strpbrk(pattern, "0123456789") == NULL) {
                fprintf(stderr, "unexpectedly unsupported: %s\n", name);
                failed++;
            }
            skipped++;
            continue;
        }
        if (rc == SEALWIRE_OK && run_vector(v)) {
            passed++;
        } else {
            failed++;
        }
    }
    /* 36 pattern/modifier combinations x 2 ciphers x 4 hashes, as in the Rust test. */
    CHECK(passed == 288);
    CHECK(failed == 0);
    printf("cacophony.json: %d vectors passed, %d skipped (X448 or deferred patterns)\n", passed, skipped);
    cJSON_Delete(root);
}

int main(int argc, char **argv)
{
    const char *hfs = argc > 1 ? argv[1] : "tests/vectors/noise-hfs.json";
    const char *cacophony = argc > 2 ? argv[2] : "tests/vectors/cacophony.json";
    printf("sealwire %s C API Noise tests\n", sealwire_version());
    test_result_codes();
    test_ik_with_identities();
    test_xx_with_identities(XX, 32);
    test_xx_with_identities(XXHFS, 32 + 1184);
    test_ordered_transport();
    test_unordered_transport();
    test_psk_and_one_way();
    test_truncated_and_corrupted();
    test_wrong_remote_static();
    test_turns_and_lifecycle();
    test_builder_validation();
    test_null_pointers();
    test_hfs_vectors(hfs);
    test_cacophony_vectors(cacophony);
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 && g_passed > 0 ? 0 : 1;
}
