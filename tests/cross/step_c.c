/* Cross-language identity round trip, C's turn: import both exports (made in Python and
 * Node), check them against the published identities, verify signatures, re-sign msg3. */
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

static sealwire_identity *import_and_check(const char *swk, const char *pub, const char *pass) {
    size_t blen, plen, written;
    unsigned char *blob = slurp(swk, &blen), *published = slurp(pub, &plen);
    sealwire_identity *id = NULL;
    sealwire_public_identity *p = NULL;
    unsigned char bytes[SEALWIRE_PUBLIC_IDENTITY_LEN];
    ok(sealwire_identity_import(blob, blen, (const uint8_t *)pass, strlen(pass), &id), "import");
    ok(sealwire_identity_public(id, &p), "public");
    ok(sealwire_public_identity_to_bytes(p, bytes, sizeof bytes, &written), "to_bytes");
    if (written != plen || memcmp(bytes, published, plen) != 0) { fprintf(stderr, "c: %s differs\n", pub); exit(1); }
    sealwire_public_identity_free(p);
    free(blob);
    free(published);
    return id;
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    snprintf(dir, sizeof dir, "%s", argv[1]);
    size_t n, mlen, slen;
    sealwire_identity *alice = import_and_check("alice.swk", "alice.pub", "p\xc3\xa4ssw\xc3\xb6rd-\xce\xb1");
    sealwire_identity *bob = import_and_check("bob.swk", "bob.pub", "bob-\xce\xb2");

    sealwire_public_identity *bob_pub = NULL, *alice_pub = NULL;
    unsigned char *buf = slurp("bob.pub", &n);
    ok(sealwire_public_identity_from_bytes(buf, n, &bob_pub), "bob from_bytes");
    free(buf);
    unsigned char *msg = slurp("msg2", &mlen), *sig = slurp("bob.msg2.sig", &slen);
    ok(sealwire_public_identity_verify(bob_pub, msg, mlen, sig, slen), "verify bob's Node signature");
    if (sealwire_public_identity_verify(bob_pub, msg, mlen - 1, sig, slen) != SEALWIRE_BAD_SIGNATURE) {
        fprintf(stderr, "c: truncated message verified\n");
        return 1;
    }
    free(msg);
    free(sig);

    buf = slurp("alice.pub", &n);
    ok(sealwire_public_identity_from_bytes(buf, n, &alice_pub), "alice from_bytes");
    free(buf);
    char text[SEALWIRE_FINGERPRINT_BUFFER_LEN > SEALWIRE_DID_BUFFER_LEN ? SEALWIRE_FINGERPRINT_BUFFER_LEN : SEALWIRE_DID_BUFFER_LEN];
    ok(sealwire_public_identity_did(alice_pub, text, sizeof text, &n), "did");
    spit("alice.did.c", text, n - 1);
    ok(sealwire_public_identity_fingerprint(alice_pub, text, sizeof text, &n), "fingerprint");
    spit("alice.fp.c", text, n - 1);
    ok(sealwire_public_identity_did(bob_pub, text, sizeof text, &n), "did");
    spit("bob.did.c", text, n - 1);

    unsigned char out[SEALWIRE_SIGNATURE_LEN];
    msg = slurp("msg3", &mlen);
    ok(sealwire_identity_sign(alice, msg, mlen, out, sizeof out, &n), "sign");
    spit("alice.msg3.sig.c", out, n);
    free(msg);

    sealwire_public_identity_free(alice_pub);
    sealwire_public_identity_free(bob_pub);
    sealwire_identity_free(alice);
    sealwire_identity_free(bob);
    puts("c: imported Python's Alice and Node's Bob, verified Bob's signature, re-signed msg3");
    return 0;
}
