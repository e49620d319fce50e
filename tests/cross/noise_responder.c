/* Noise responder in C for tests/cross/noise_driver.py: length-prefixed frames on
 * stdin/stdout; see the driver for the conversation. Exits non-zero on any failure. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sealwire.h"

#define MAX_FRAME (1u << 20)

static void die(const char *what, sealwire_result r) {
    fprintf(stderr, "c responder: %s: %s\n", what, sealwire_result_code_string(r));
    exit(1);
}

static void check(sealwire_result r, const char *what) {
    if (r != SEALWIRE_OK) die(what, r);
}

/* Returns the frame length, or -1 at end of input. */
static long recv_frame(uint8_t *buf) {
    uint8_t head[4];
    if (fread(head, 1, 4, stdin) != 4) return -1;
    uint32_t n = (uint32_t)head[0] << 24 | (uint32_t)head[1] << 16 | (uint32_t)head[2] << 8 | head[3];
    if (n > MAX_FRAME || fread(buf, 1, n, stdin) != n) die("short frame", SEALWIRE_TRUNCATED);
    return (long)n;
}

static void send_frame(const uint8_t *data, size_t n) {
    uint8_t head[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    if (fwrite(head, 1, 4, stdout) != 4 || fwrite(data, 1, n, stdout) != n || fflush(stdout) != 0) exit(1);
}

int main(int argc, char **argv) {
    if (argc != 2) return 2;
    uint8_t *in = malloc(MAX_FRAME), *out = malloc(MAX_FRAME), *tmp = malloc(MAX_FRAME);
    if (!in || !out || !tmp) return 1;
    size_t n;
    long len;

    sealwire_identity *me = NULL;
    sealwire_public_identity *mine = NULL;
    check(sealwire_identity_generate(&me), "generate");
    check(sealwire_identity_public(me, &mine), "public");
    check(sealwire_public_identity_to_bytes(mine, out, MAX_FRAME, &n), "to_bytes");
    send_frame(out, n);

    sealwire_noise_builder *b = NULL;
    sealwire_noise_handshake *hs = NULL;
    check(sealwire_noise_builder_new(argv[1], &b), "builder");
    check(sealwire_noise_builder_set_local_identity(b, me), "local identity");
    check(sealwire_noise_builder_build(b, SEALWIRE_NOISE_RESPONDER, &hs), "build");
    sealwire_noise_builder_free(b);

    uint8_t payload[SEALWIRE_PUBLIC_IDENTITY_LEN];
    size_t payload_len;
    check(sealwire_noise_identity_payload(me, payload, sizeof payload, &payload_len), "identity payload");
    sealwire_public_identity *peer = NULL;
    while (!sealwire_noise_handshake_is_finished(hs)) {
        if (sealwire_noise_handshake_is_my_turn(hs)) {
            check(sealwire_noise_handshake_write_message(hs, payload, payload_len, out, MAX_FRAME, &n), "write_message");
            send_frame(out, n);
        } else {
            if ((len = recv_frame(in)) < 0) die("eof in handshake", SEALWIRE_TRUNCATED);
            check(sealwire_noise_handshake_read_message(hs, in, (size_t)len, tmp, MAX_FRAME, &n), "read_message");
            if (n > 0) check(sealwire_noise_handshake_verify_identity_payload(hs, tmp, n, &peer), "verify identity");
        }
    }
    if (peer == NULL) die("initiator never presented its identity", SEALWIRE_INVALID_PARAMETER);
    check(sealwire_noise_handshake_hash(hs, out, MAX_FRAME, &n), "hash");
    send_frame(out, n);
    sealwire_noise_transport *t = NULL;
    check(sealwire_noise_handshake_into_transport(hs, &t), "into_transport");
    sealwire_noise_handshake_free(hs);

    char did[SEALWIRE_DID_BUFFER_LEN];
    check(sealwire_public_identity_did(peer, did, sizeof did, &n), "did");
    check(sealwire_noise_transport_encrypt(t, (const uint8_t *)did, n - 1, out, MAX_FRAME, &n), "encrypt did");
    send_frame(out, n);

    for (int i = 0; i < 3; i++) {
        if ((len = recv_frame(in)) < 0) die("eof", SEALWIRE_TRUNCATED);
        check(sealwire_noise_transport_decrypt(t, in, (size_t)len, tmp + 5, MAX_FRAME - 5, &n), "decrypt");
        memcpy(tmp, "echo:", 5);
        for (size_t a = 5, z = 5 + n - 1; a < z; a++, z--) { uint8_t c = tmp[a]; tmp[a] = tmp[z]; tmp[z] = c; }
        check(sealwire_noise_transport_encrypt(t, tmp, n + 5, out, MAX_FRAME, &n), "encrypt");
        send_frame(out, n);
    }

    if ((len = recv_frame(in)) < 0) die("eof", SEALWIRE_TRUNCATED);
    check(sealwire_noise_transport_decrypt_framed(t, in, (size_t)len, tmp, MAX_FRAME, &n), "decrypt_framed");
    for (size_t a = 0, z = n - 1; n > 0 && a < z; a++, z--) { uint8_t c = tmp[a]; tmp[a] = tmp[z]; tmp[z] = c; }
    check(sealwire_noise_transport_encrypt_framed(t, tmp, n, out, MAX_FRAME, &n), "encrypt_framed");
    send_frame(out, n);

    if ((len = recv_frame(in)) < 0) die("eof", SEALWIRE_TRUNCATED);
    sealwire_result r = sealwire_noise_transport_decrypt(t, in, (size_t)len, tmp, MAX_FRAME, &n);
    char verdict[96];
    snprintf(verdict, sizeof verdict, r == SEALWIRE_OK ? "accepted" : "refused:%s", sealwire_result_code_string(r));
    send_frame((const uint8_t *)verdict, strlen(verdict));
    if (recv_frame(in) != -1) die("unexpected trailing frame", SEALWIRE_TRAILING_BYTES);

    sealwire_noise_transport_free(t);
    sealwire_public_identity_free(peer);
    sealwire_public_identity_free(mine);
    sealwire_identity_free(me);
    free(in);
    free(out);
    free(tmp);
    return 0;
}
