/*
 * Cross-language agent test, C's program (tests/cross/agent_driver.py; Python and Node have
 * the same contract for the commands they share). One invocation = one agent process for one
 * step, then closed.
 *
 *   agent_c HOME CONFIG_FILE PASSPHRASE RELAY_URL CMD [ARGS...]
 *
 * Commands (every byte string in hex, lower case):
 *   init                       open (create) the home and run maintain (publishes on the relay).
 *                              stdout: "ID <public identity bytes>", "PEER <peer id>",
 *                              "PUBLISHED <0|1>".
 *   send PEER_IDENTITY MSG...  send each MSG to the peer, in order. stdout per message:
 *                              "SENT <live|relay|queued> <id>".
 *   receive N WAIT_MS          receive until N messages or WAIT_MS passed, acknowledging each,
 *                              then one more receive of 500 ms (must bring nothing).
 *                              stdout per message (the extra receive included):
 *                              "MSG <sender peer id> <inbox id> <plaintext>".
 *
 * Exit status: 0 success; 1 failure (stderr: the call and its result code); 2 usage.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sealwire.h"

static int check(sealwire_result rc, const char *what)
{
    if (rc != SEALWIRE_OK) {
        fprintf(stderr, "agent_c: %s: %s\n", what, sealwire_result_code_string(rc));
        return 1;
    }
    return 0;
}
#define TRY(call)                                                                                                      \
    do {                                                                                                               \
        if (check((call), #call)) goto fail;                                                                           \
    } while (0)

static void print_hex(const uint8_t *b, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) printf("%02x", b[i]);
}

/* Hex text to a NEW buffer (*out, *len); NULL on bad hex. */
static uint8_t *from_hex(const char *hex, size_t *len)
{
    size_t n = strlen(hex), i;
    uint8_t *out;
    if (n % 2 != 0) return NULL;
    out = malloc(n / 2 + 1);
    if (out == NULL) return NULL;
    for (i = 0; i < n / 2; i++) {
        unsigned v = 0;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
            free(out);
            return NULL;
        }
        out[i] = (uint8_t)v;
    }
    *len = n / 2;
    return out;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long size;
    if (f == NULL) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = malloc((size_t)size + 1);
        if (buf != NULL && fread(buf, 1, (size_t)size, f) != (size_t)size) {
            free(buf);
            buf = NULL;
        }
        *len = (size_t)size;
    }
    fclose(f);
    return buf;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One receive call: print and acknowledge each message; returns how many, or -1. */
static long receive_once(sealwire_agent *a, uint32_t wait_ms, uint8_t *text)
{
    sealwire_received_list *list = NULL;
    size_t count = 0, i;
    long got = -1;
    TRY(sealwire_agent_receive(a, wait_ms, &list));
    TRY(sealwire_received_list_count(list, &count));
    for (i = 0; i < count; i++) {
        sealwire_received *r = NULL;
        uint8_t peer[32];
        size_t n = 0, len = 0;
        uint64_t id = 0;
        TRY(sealwire_received_list_get(list, i, &r));
        if (check(sealwire_received_peer_id(r, peer, sizeof peer, &n), "received_peer_id") ||
            check(sealwire_received_plaintext(r, text, SEALWIRE_AGENT_MAX_MESSAGE_LEN, &len), "received_plaintext") ||
            check(sealwire_received_id(r, &id), "received_id")) {
            sealwire_received_free(r);
            goto fail;
        }
        sealwire_received_free(r);
        printf("MSG ");
        print_hex(peer, n);
        printf(" %llu ", (unsigned long long)id);
        print_hex(text, len);
        printf("\n");
        TRY(sealwire_agent_ack(a, id));
    }
    got = (long)count;
fail:
    sealwire_received_list_free(list);
    return got;
}

int main(int argc, char **argv)
{
    sealwire_agent_options *o = NULL;
    sealwire_agent *a = NULL;
    uint8_t *config = NULL;
    size_t config_len = 0;
    const char *cmd;
    int status = 1;

    if (argc < 6) {
        fprintf(stderr, "usage: agent_c HOME CONFIG_FILE PASSPHRASE RELAY_URL init|send|receive ...\n");
        return 2;
    }
    cmd = argv[5];
    config = read_file(argv[2], &config_len);
    if (config == NULL) {
        fprintf(stderr, "agent_c: cannot read %s\n", argv[2]);
        return 1;
    }
    TRY(sealwire_agent_options_new(&o));
    TRY(sealwire_agent_options_set_relay_url(o, argv[4]));
    TRY(sealwire_agent_options_set_relay_timeouts(o, 2000, 10000, false));
    TRY(sealwire_agent_options_set_timeouts(o, 2000, 5000, 5000, 100));
    TRY(sealwire_agent_open(argv[1], config, config_len, SEALWIRE_AGENT_UNLOCK_PASSPHRASE, (const uint8_t *)argv[3],
                            strlen(argv[3]), o, &a));

    if (strcmp(cmd, "init") == 0 && argc == 6) {
        sealwire_public_identity *pub = NULL;
        sealwire_agent_maintain_report r;
        uint8_t buf[4096], pid[32];
        size_t n = 0, m = 0;
        memset(&r, 0, sizeof r);
        TRY(sealwire_agent_maintain(a, 0, &r));
        TRY(sealwire_agent_public(a, &pub));
        if (check(sealwire_public_identity_to_bytes(pub, buf, sizeof buf, &n), "public_identity_to_bytes")) {
            sealwire_public_identity_free(pub);
            goto fail;
        }
        sealwire_public_identity_free(pub);
        TRY(sealwire_agent_peer_id(a, pid, sizeof pid, &m));
        printf("ID ");
        print_hex(buf, n);
        printf("\nPEER ");
        print_hex(pid, m);
        printf("\nPUBLISHED %d\n", r.published ? 1 : 0);
    } else if (strcmp(cmd, "send") == 0 && argc >= 7) {
        sealwire_public_identity *peer = NULL;
        size_t n = 0;
        uint8_t *bytes = from_hex(argv[6], &n);
        int i;
        if (bytes == NULL) goto usage;
        if (check(sealwire_public_identity_from_bytes(bytes, n, &peer), "public_identity_from_bytes")) {
            free(bytes);
            goto fail;
        }
        free(bytes);
        for (i = 7; i < argc; i++) {
            sealwire_agent_send_report r = {0, 0};
            size_t len = 0;
            uint8_t *msg = from_hex(argv[i], &len);
            sealwire_result rc;
            if (msg == NULL) {
                sealwire_public_identity_free(peer);
                goto usage;
            }
            rc = sealwire_agent_send(a, peer, msg, len, &r);
            free(msg);
            if (check(rc, "sealwire_agent_send")) {
                sealwire_public_identity_free(peer);
                goto fail;
            }
            printf("SENT %s %llu\n",
                   r.delivery == SEALWIRE_DELIVERY_LIVE    ? "live"
                   : r.delivery == SEALWIRE_DELIVERY_RELAY ? "relay"
                   : r.delivery == SEALWIRE_DELIVERY_QUEUED ? "queued"
                                                            : "?",
                   (unsigned long long)r.id);
        }
        sealwire_public_identity_free(peer);
    } else if (strcmp(cmd, "receive") == 0 && argc == 8) {
        long want = strtol(argv[6], NULL, 10), got = 0, k;
        double deadline = now_s() + (double)strtol(argv[7], NULL, 10) / 1000.0;
        uint8_t *text = malloc(SEALWIRE_AGENT_MAX_MESSAGE_LEN);
        if (text == NULL) goto fail;
        while (got < want && now_s() < deadline) {
            if ((k = receive_once(a, 200, text)) < 0) {
                free(text);
                goto fail;
            }
            got += k;
        }
        k = receive_once(a, 500, text); /* must bring nothing: the driver counts the lines */
        free(text);
        if (k < 0) goto fail;
    } else {
        goto usage;
    }
    TRY(sealwire_agent_close(a));
    status = 0;
    goto fail;
usage:
    fprintf(stderr, "agent_c: bad arguments for %s\n", cmd);
    status = 2;
fail:
    fflush(stdout);
    sealwire_agent_free(a);
    sealwire_agent_options_free(o);
    free(config);
    return status;
}
