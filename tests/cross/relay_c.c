/*
 * Cross-language relay test, C's agent program (Python and Node have the same program with
 * the same contract). One invocation = one agent online for one action, then offline.
 *
 *   relay_c RELAY_URL HOME_DIR STORAGE_KEY_HEX ACTION [ARGS...]
 *
 *   RELAY_URL        the relay, e.g. http://127.0.0.1:8790 (plain http on loopback only)
 *   HOME_DIR         the agent's existing directory: HOME_DIR/messenger.db is its SQLite
 *                    messenger store; HOME_DIR/counter holds the messenger counter (decimal)
 *                    after the last action, passed as min_counter when the store is opened
 *                    (a missing file means 0: no rollback check)
 *   STORAGE_KEY_HEX  the 32-byte storage key, 64 hex digits
 *
 * Actions:
 *   init                      create HOME_DIR/messenger.db for a fresh identity (100 one-time
 *                             X25519 and 100 one-time ML-KEM prekeys, post-quantum) and
 *                             publish it on the relay. stdout: one line, the encoded public
 *                             identity in lower-case hex (SEALWIRE_PUBLIC_IDENTITY_LEN bytes).
 *   send PEER_IDENTITY_HEX TEXT...
 *                             open; if there is no session with the peer (its public identity
 *                             in hex, as printed by init), connect through the relay (claims
 *                             its bundle); send each TEXT as one message, in order.
 *                             stdout: nothing.
 *   receive N                 open; first the messages committed but not acknowledged by an
 *                             earlier run (pending inbox), then receive from the relay until
 *                             N messages in all or 10 s. stdout: one line per message,
 *                             "FROM_PEER_ID_HEX TEXT" (the sender's 32-byte peer id, its
 *                             Ed25519 key, in lower-case hex; one space; the plaintext as is),
 *                             each acknowledged after it is printed. Fewer than N: exit 1.
 *
 * Exit status: 0 success; 1 failure (stderr names the step and the result code); 2 usage.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sealwire.h"

#define PID_LEN SEALWIRE_MESSENGER_PEER_ID_LEN
#define DEADLINE_SECS 10

static char g_db[4096], g_counter_path[4096];
static uint8_t g_key[32];

static void fail(const char *what, sealwire_result r)
{
    fprintf(stderr, "relay_c: %s failed: %s\n", what, sealwire_result_code_string(r));
    exit(1);
}

static void ok(sealwire_result r, const char *what)
{
    if (r != SEALWIRE_OK) fail(what, r);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decode hex into a malloc'd buffer; exits on malformed input. */
static uint8_t *from_hex(const char *hex, size_t *len)
{
    size_t n = strlen(hex), i;
    uint8_t *out;
    if (n % 2 != 0) {
        fprintf(stderr, "relay_c: odd-length hex\n");
        exit(2);
    }
    out = malloc(n / 2 + 1);
    if (out == NULL) exit(1);
    for (i = 0; i < n / 2; i++) {
        int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            fprintf(stderr, "relay_c: malformed hex\n");
            exit(2);
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    *len = n / 2;
    return out;
}

static void print_hex(FILE *f, const uint8_t *b, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) fprintf(f, "%02x", b[i]);
}

static uint64_t read_counter(void)
{
    FILE *f = fopen(g_counter_path, "r");
    unsigned long long c = 0;
    if (f == NULL) return 0;
    if (fscanf(f, "%llu", &c) != 1) c = 0;
    fclose(f);
    return (uint64_t)c;
}

/* Save the counter after the action (write a temporary file, then rename over). */
static void save_counter(const sealwire_messenger *m)
{
    char tmp[4200];
    uint64_t c = 0;
    FILE *f;
    ok(sealwire_messenger_counter(m, &c), "counter");
    snprintf(tmp, sizeof tmp, "%s.tmp", g_counter_path);
    f = fopen(tmp, "w");
    if (f == NULL || fprintf(f, "%llu\n", (unsigned long long)c) < 0 || fclose(f) != 0 ||
        rename(tmp, g_counter_path) != 0) {
        fprintf(stderr, "relay_c: cannot write %s\n", g_counter_path);
        exit(1);
    }
}

/* Open the store and make it a relay agent (the messenger moves into the agent). */
static sealwire_relay_agent *open_agent(const sealwire_relay_client *client)
{
    sealwire_messenger *m = NULL;
    sealwire_relay_agent *a = NULL;
    ok(sealwire_messenger_open(g_db, g_key, sizeof g_key, read_counter(), &m), "open the store");
    ok(sealwire_relay_agent_new(&m, client, &a), "relay agent");
    return a;
}

static void finish(sealwire_relay_agent *a)
{
    save_counter(sealwire_relay_agent_messenger(a));
    sealwire_relay_agent_free(a);
}

static int do_init(const sealwire_relay_client *client)
{
    sealwire_identity *id = NULL;
    sealwire_public_identity *pub = NULL;
    sealwire_messenger *m = NULL;
    sealwire_relay_agent *a = NULL;
    sealwire_relay_prekey_status st;
    uint8_t bytes[SEALWIRE_PUBLIC_IDENTITY_LEN];
    size_t n = 0;
    ok(sealwire_identity_generate(&id), "identity");
    ok(sealwire_messenger_create(g_db, id, g_key, sizeof g_key,
                                 SEALWIRE_RATCHET_DEFAULT_ONE_TIME_PREKEYS,
                                 SEALWIRE_RATCHET_DEFAULT_KEM_ONE_TIME_PREKEYS, true,
                                 (uint64_t)time(NULL), &m),
       "create the store");
    ok(sealwire_identity_public(id, &pub), "public identity");
    ok(sealwire_public_identity_to_bytes(pub, bytes, sizeof bytes, &n), "encode the identity");
    ok(sealwire_relay_agent_new(&m, client, &a), "relay agent");
    ok(sealwire_relay_agent_publish(a, &st), "publish");
    finish(a);
    print_hex(stdout, bytes, n);
    printf("\n");
    sealwire_public_identity_free(pub);
    sealwire_identity_free(id);
    return 0;
}

static int do_send(const sealwire_relay_client *client, const char *peer_hex, int count, char **texts)
{
    size_t len = 0, n = 0;
    uint8_t *bytes = from_hex(peer_hex, &len), pid[PID_LEN];
    sealwire_public_identity *peer = NULL;
    sealwire_relay_agent *a;
    bool has = false;
    int i;
    ok(sealwire_public_identity_from_bytes(bytes, len, &peer), "decode the peer identity");
    free(bytes);
    ok(sealwire_public_identity_peer_id(peer, pid, sizeof pid, &n), "peer id");
    a = open_agent(client);
    ok(sealwire_messenger_has_session(sealwire_relay_agent_messenger(a), pid, sizeof pid, &has),
       "has_session");
    if (!has) ok(sealwire_relay_agent_connect(a, peer), "connect");
    for (i = 0; i < count; i++) {
        uint64_t id = 0;
        sealwire_result r = sealwire_relay_agent_send(a, pid, sizeof pid, (const uint8_t *)texts[i],
                                                      strlen(texts[i]), &id);
        if (r != SEALWIRE_OK) {
            save_counter(sealwire_relay_agent_messenger(a)); /* the message is committed */
            fail("send", r);
        }
    }
    finish(a);
    sealwire_public_identity_free(peer);
    return 0;
}

/* Print and acknowledge every message of `l`; returns how many. */
static size_t print_all(sealwire_relay_agent *a, const sealwire_received_list *l)
{
    size_t count = 0, i;
    ok(sealwire_received_list_count(l, &count), "list count");
    for (i = 0; i < count; i++) {
        sealwire_received *r = NULL;
        uint8_t pid[PID_LEN], *text;
        size_t n = 0, need = 0;
        uint64_t id = 0;
        ok(sealwire_received_list_get(l, i, &r), "list get");
        ok(sealwire_received_peer_id(r, pid, sizeof pid, &n), "sender");
        if (sealwire_received_plaintext(r, NULL, 0, &need) != SEALWIRE_BUFFER_TOO_SMALL) exit(1);
        text = malloc(need + 1);
        if (text == NULL) exit(1);
        ok(sealwire_received_plaintext(r, text, need + 1, &n), "plaintext");
        print_hex(stdout, pid, sizeof pid);
        printf(" %.*s\n", (int)n, (const char *)text);
        fflush(stdout);
        free(text);
        ok(sealwire_received_id(r, &id), "inbox id");
        ok(sealwire_messenger_ack(sealwire_relay_agent_messenger(a), id), "ack");
        sealwire_received_free(r);
    }
    return count;
}

static int do_receive(const sealwire_relay_client *client, long want)
{
    sealwire_relay_agent *a = open_agent(client);
    sealwire_received_list *l = NULL;
    time_t deadline = time(NULL) + DEADLINE_SECS;
    long got = 0;
    ok(sealwire_messenger_pending_inbox(sealwire_relay_agent_messenger(a), &l), "pending inbox");
    got += (long)print_all(a, l);
    sealwire_received_list_free(l);
    while (got < want) {
        sealwire_relay_receive_report rep;
        time_t now = time(NULL);
        uint32_t wait;
        if (now >= deadline) break;
        /* A long poll, shorter than the request timeout (15 s) and the deadline. */
        wait = (uint32_t)(deadline - now > 5 ? 5 : deadline - now);
        l = NULL;
        ok(sealwire_relay_agent_receive(a, 100, wait, &l, &rep), "receive");
        got += (long)print_all(a, l);
        sealwire_received_list_free(l);
    }
    finish(a);
    if (got < want) {
        fprintf(stderr, "relay_c: %ld of %ld messages within %d s\n", got, want, DEADLINE_SECS);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *usage = "usage: relay_c RELAY_URL HOME_DIR STORAGE_KEY_HEX "
                        "(init | send PEER_IDENTITY_HEX TEXT... | receive N)\n";
    sealwire_relay_client *client = NULL;
    uint8_t *key;
    size_t key_len = 0;
    int rc;
    if (argc < 5) {
        fputs(usage, stderr);
        return 2;
    }
    snprintf(g_db, sizeof g_db, "%s/messenger.db", argv[2]);
    snprintf(g_counter_path, sizeof g_counter_path, "%s/counter", argv[2]);
    key = from_hex(argv[3], &key_len);
    if (key_len != sizeof g_key) {
        fprintf(stderr, "relay_c: the storage key must be 32 bytes (64 hex digits)\n");
        return 2;
    }
    memcpy(g_key, key, sizeof g_key);
    free(key);
    ok(sealwire_relay_client_new(argv[1], &client), "relay client");
    if (strcmp(argv[4], "init") == 0 && argc == 5) {
        rc = do_init(client);
    } else if (strcmp(argv[4], "send") == 0 && argc >= 7) {
        rc = do_send(client, argv[5], argc - 6, argv + 6);
    } else if (strcmp(argv[4], "receive") == 0 && argc == 6 && atol(argv[5]) > 0) {
        rc = do_receive(client, atol(argv[5]));
    } else {
        fputs(usage, stderr);
        rc = 2;
    }
    sealwire_relay_client_free(client);
    return rc;
}
