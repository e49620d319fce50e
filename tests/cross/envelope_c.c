/* Cross-language envelope round trip, C's turn: open obj1 (Python) and obj2 (Node) with C's
 * identity, obj3 (Node stream) with the keyring; seal obj4 to the keyring. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sealwire.h"

static char dir[4096];

static unsigned char *slurp(const char *name, size_t *len) {
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "c: cannot open %s\n", path); exit(1); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(n > 0 ? (size_t)n : 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) { fprintf(stderr, "c: read %s\n", path); exit(1); }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void spit(const char *name, const void *data, size_t len) {
    char path[8192];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len) { fprintf(stderr, "c: write %s\n", path); exit(1); }
    fclose(f);
}

static void ok(sealwire_result r, const char *what) {
    if (r != SEALWIRE_OK) {
        fprintf(stderr, "c: %s failed: %s\n", what, sealwire_result_code_string(r));
        exit(1);
    }
}

static void expect_opens(const char *name, const sealwire_context *ctx, const sealwire_key_set *keys) {
    char file[256];
    size_t slen, plen, n;
    snprintf(file, sizeof file, "%s.swev", name);
    unsigned char *sealed = slurp(file, &slen);
    snprintf(file, sizeof file, "%s.plain", name);
    unsigned char *plain = slurp(file, &plen);
    unsigned char *out = malloc(slen);
    if (!out) exit(1);
    ok(sealwire_envelope_open(sealed, slen, ctx, keys, out, slen, &n), name);
    if (n != plen || memcmp(out, plain, n) != 0) { fprintf(stderr, "c: %s plaintext differs\n", name); exit(1); }
    free(sealed);
    free(plain);
    free(out);
}

static int hexval(char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; }

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    snprintf(dir, sizeof dir, "%s", argv[1]);
    size_t n;
    unsigned char *hex = slurp("root.hex", &n), root[32];
    for (int i = 0; i < 32; i++) root[i] = (unsigned char)(hexval((char)hex[2 * i]) << 4 | hexval((char)hex[2 * i + 1]));
    free(hex);

    char path[8192];
    snprintf(path, sizeof path, "%s/ring.swkr", dir);
    sealwire_keyring *ring = NULL;
    ok(sealwire_keyring_load_with_root_key(path, root, sizeof root, &ring), "keyring load");
    unsigned char *blob = slurp("c.swk", &n);
    sealwire_identity *me = NULL;
    ok(sealwire_identity_import(blob, n, (const uint8_t *)"c-pass", 6, &me), "identity import");
    free(blob);

    sealwire_context *ctx = NULL;
    ok(sealwire_context_new(&ctx), "context");
    const char *kv[][2] = {{"agent", "alice"}, {"kind", "memory"}, {"object", "cross/1"}};
    for (int i = 0; i < 3; i++)
        ok(sealwire_context_insert(ctx, (const uint8_t *)kv[i][0], strlen(kv[i][0]), (const uint8_t *)kv[i][1], strlen(kv[i][1])), "insert");

    sealwire_key_set *by_identity = NULL, *by_ring = NULL;
    ok(sealwire_key_set_new(&by_identity), "key set");
    ok(sealwire_key_set_add_identity(by_identity, me), "add identity");
    ok(sealwire_key_set_new(&by_ring), "key set");
    ok(sealwire_key_set_add_keyring(by_ring, ring), "add keyring");

    expect_opens("obj1", ctx, by_identity);
    expect_opens("obj2", ctx, by_identity);
    expect_opens("obj3", ctx, by_ring);

    unsigned char obj4[100000];
    for (size_t i = 0; i < sizeof obj4; i++) obj4[i] = (unsigned char)(i % 251);
    spit("obj4.plain", obj4, sizeof obj4);
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    ok(sealwire_envelope_seal(obj4, sizeof obj4, ctx, by_ring, SEALWIRE_ENVELOPE_SUITE_CHACHA20_POLY1305,
                              SEALWIRE_ENVELOPE_DEFAULT_SEGMENT_SIZE, &sealed, &sealed_len), "seal obj4");
    spit("obj4.swev", sealed, sealed_len);
    sealwire_bytes_free(sealed, sealed_len);

    sealwire_key_set_free(by_identity);
    sealwire_key_set_free(by_ring);
    sealwire_context_free(ctx);
    sealwire_identity_free(me);
    sealwire_keyring_free(ring);
    puts("c: opened obj1 (Python) and obj2 (Node) with its identity, obj3 (Node stream) with the keyring; sealed obj4");
    return 0;
}
