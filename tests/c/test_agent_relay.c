/*
 * C11 tests of the agent facade of include/sealwire.h with a REAL relay (`sealwire relay
 * serve`, SQLite) whose URL is in SEALWIRE_RELAY_URL (tests/c/run-relay.sh starts one on
 * 127.0.0.1 and stops it afterwards).
 *
 * Covered: maintenance publishes each agent's bundle once (a second run changes nothing and
 * reports the relay's prekey status); Bob offline (closed): Alice's messages go to his
 * mailbox (delivery relay, nothing left in her outbox); Bob reopens later and receives them,
 * each once, from Alice, and answers through Alice's mailbox; an agent whose relay does not
 * answer: the send to a peer without a session fails with a relay code and commits nothing,
 * while a message to a peer with a session is committed and queued, then delivered by a
 * flush through a working relay after a reopen.
 *
 * Usage: SEALWIRE_RELAY_URL=http://127.0.0.1:PORT test_agent_relay
 * Prints "N passed, M failed" as its last line; exits non-zero on any failure.
 */
#define _XOPEN_SOURCE 700

#include <arpa/inet.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sealwire.h"
#include "test_support.h"

static const char CONFIG[] = "version = 1\n"
                             "[identity.kdf]\nmemory_kib = 19456\niterations = 2\nlanes = 1\n"
                             "[prekeys]\nbatch_size = 10\nkem_batch_size = 10\n"
                             "[overrides]\nallow_weak_kdf = true\n";
static const char PASS[] = "correct horse battery staple";

static const char *g_url;
static char g_tmp[] = "/tmp/sealwire-c-agent-relay-XXXXXX";

/* Open the home `name` with the relay `url` (NULL: none). */
static sealwire_agent *open_agent(const char *name, const char *url)
{
    char home[256];
    sealwire_agent_options *o = NULL;
    sealwire_agent *a = NULL;
    snprintf(home, sizeof home, "%s/%s", g_tmp, name);
    CHECK_RC(sealwire_agent_options_new(&o), SEALWIRE_OK);
    if (url != NULL) CHECK_RC(sealwire_agent_options_set_relay_url(o, url), SEALWIRE_OK);
    CHECK_RC(sealwire_agent_options_set_relay_timeouts(o, 1000, 5000, false), SEALWIRE_OK);
    CHECK_RC(sealwire_agent_options_set_timeouts(o, 2000, 3000, 400, 100), SEALWIRE_OK);
    CHECK_RC(sealwire_agent_open(home, (const uint8_t *)CONFIG, strlen(CONFIG), SEALWIRE_AGENT_UNLOCK_PASSPHRASE,
                                 (const uint8_t *)PASS, strlen(PASS), o, &a),
             SEALWIRE_OK);
    sealwire_agent_options_free(o);
    return a;
}

static void close_agent(sealwire_agent **a)
{
    CHECK_RC(sealwire_agent_close(*a), SEALWIRE_OK);
    sealwire_agent_free(*a);
    *a = NULL;
}

/* Receive until `want` messages came (bounded), acknowledging each; texts joined by '|'. */
static size_t receive_all(sealwire_agent *a, size_t want, const uint8_t from[32], char *joined, size_t cap)
{
    size_t got = 0;
    int round;
    joined[0] = '\0';
    for (round = 0; round < 20 && got < want; round++) {
        sealwire_received_list *list = NULL;
        size_t count = 0, i;
        CHECK_RC(sealwire_agent_receive(a, 500, &list), SEALWIRE_OK);
        if (list == NULL) return got;
        CHECK_RC(sealwire_received_list_count(list, &count), SEALWIRE_OK);
        for (i = 0; i < count; i++) {
            sealwire_received *r = NULL;
            uint8_t peer[32], text[64];
            size_t n = 0, len = 0;
            uint64_t id = 0;
            CHECK_RC(sealwire_received_list_get(list, i, &r), SEALWIRE_OK);
            CHECK_RC(sealwire_received_peer_id(r, peer, sizeof peer, &n), SEALWIRE_OK);
            CHECK(memcmp(peer, from, 32) == 0);
            CHECK_RC(sealwire_received_plaintext(r, text, sizeof text - 1, &len), SEALWIRE_OK);
            text[len] = '\0';
            if (joined[0] != '\0') strncat(joined, "|", cap - strlen(joined) - 1);
            strncat(joined, (const char *)text, cap - strlen(joined) - 1);
            CHECK_RC(sealwire_received_id(r, &id), SEALWIRE_OK);
            CHECK_RC(sealwire_agent_ack(a, id), SEALWIRE_OK);
            sealwire_received_free(r);
            got++;
        }
        sealwire_received_list_free(list);
    }
    return got;
}

static void send_expect(sealwire_agent *a, const sealwire_public_identity *to, const char *text, sealwire_delivery want)
{
    sealwire_agent_send_report r = {0, 0};
    CHECK_RC(sealwire_agent_send(a, to, (const uint8_t *)text, strlen(text), &r), SEALWIRE_OK);
    CHECK(r.delivery == want);
}

/* A loopback port nobody listens on (bound, then closed). */
static int closed_port(void)
{
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = 1;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&addr, sizeof addr) == 0 &&
        getsockname(fd, (struct sockaddr *)&addr, &len) == 0)
        port = ntohs(addr.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

static void test_offline_delivery(void)
{
    sealwire_agent *alice = open_agent("alice", g_url), *bob = open_agent("bob", g_url), *carol = NULL;
    sealwire_public_identity *alice_pub = NULL, *bob_pub = NULL, *carol_pub = NULL;
    sealwire_agent_maintain_report r;
    uint8_t alice_pid[32], bob_pid[32];
    size_t n = 0, pending = 99;
    char joined[256], dead_url[64];

    if (alice == NULL || bob == NULL) return;
    CHECK_RC(sealwire_agent_public(alice, &alice_pub), SEALWIRE_OK);
    CHECK_RC(sealwire_agent_public(bob, &bob_pub), SEALWIRE_OK);
    CHECK_RC(sealwire_agent_peer_id(alice, alice_pid, sizeof alice_pid, &n), SEALWIRE_OK);
    CHECK_RC(sealwire_agent_peer_id(bob, bob_pid, sizeof bob_pid, &n), SEALWIRE_OK);

    /* Publication: once; the second run changes nothing and still reports the status. */
    memset(&r, 0, sizeof r);
    CHECK_RC(sealwire_agent_maintain(alice, 0, &r), SEALWIRE_OK);
    CHECK(r.published && r.changed_anything && r.has_prekey_status);
    CHECK(r.prekey_status.one_time == 10 && r.prekey_status.kem_one_time == 10 && r.prekey_status.post_quantum);
    memset(&r, 0xff, sizeof r);
    CHECK_RC(sealwire_agent_maintain(alice, 0, &r), SEALWIRE_OK);
    CHECK(!r.published && !r.changed_anything && r.has_prekey_status);
    CHECK_RC(sealwire_agent_maintain(bob, 0, &r), SEALWIRE_OK);
    CHECK(r.published);

    /* Bob goes offline; Alice writes to his mailbox. */
    close_agent(&bob);
    send_expect(alice, bob_pub, "offline 1", SEALWIRE_DELIVERY_RELAY);
    send_expect(alice, bob_pub, "offline 2", SEALWIRE_DELIVERY_RELAY);
    CHECK_RC(sealwire_agent_pending_outbox_len(alice, &pending), SEALWIRE_OK);
    CHECK(pending == 0);

    /* Bob back: both messages, once each, from Alice. */
    bob = open_agent("bob", g_url);
    if (bob == NULL) goto done;
    CHECK(receive_all(bob, 2, alice_pid, joined, sizeof joined) == 2);
    CHECK(strcmp(joined, "offline 1|offline 2") == 0);
    CHECK(receive_all(bob, 1, alice_pid, joined, sizeof joined) == 0);
    {
        sealwire_agent_counters s;
        CHECK_RC(sealwire_agent_stats(bob, &s), SEALWIRE_OK);
        CHECK(s.received_relay == 2 && s.received_live == 0);
    }
    /* Bob answers through Alice's mailbox (she is open but has no live channel). */
    send_expect(bob, alice_pub, "reply", SEALWIRE_DELIVERY_RELAY);
    CHECK(receive_all(alice, 1, bob_pid, joined, sizeof joined) == 1);
    CHECK(strcmp(joined, "reply") == 0);

    /* A relay that does not answer: a message needing a new session fails (nothing is
     * committed); one on an existing session is committed and queued, then delivered after a
     * reopen with a working relay. */
    carol = open_agent("carol", g_url);
    if (carol == NULL) goto done;
    CHECK_RC(sealwire_agent_maintain(carol, 0, &r), SEALWIRE_OK);
    CHECK_RC(sealwire_agent_public(carol, &carol_pub), SEALWIRE_OK);
    close_agent(&alice);
    snprintf(dead_url, sizeof dead_url, "http://127.0.0.1:%d", closed_port());
    alice = open_agent("alice", dead_url);
    if (alice == NULL) goto done;
    {
        sealwire_agent_send_report sr = {7, 7};
        sealwire_result last = SEALWIRE_OK;
        CHECK_RC(sealwire_agent_send(alice, carol_pub, (const uint8_t *)"x", 1, &sr), SEALWIRE_RELAY_UNAVAILABLE);
        CHECK(sr.id == 7 && sr.delivery == 7);
        send_expect(alice, bob_pub, "queued", SEALWIRE_DELIVERY_QUEUED);
        CHECK_RC(sealwire_agent_take_last_error(alice, &last), SEALWIRE_OK);
        CHECK(last == SEALWIRE_RELAY_UNAVAILABLE);
        CHECK_RC(sealwire_agent_pending_outbox_len(alice, &pending), SEALWIRE_OK);
        CHECK(pending == 1);
        /* Receiving absorbs the relay failure (reported, not returned). */
        {
            sealwire_received_list *list = SENTINEL;
            size_t count = 9;
            CHECK_RC(sealwire_agent_receive(alice, SEALWIRE_AGENT_MAX_TIMEOUT_MS + 1, &list),
                     SEALWIRE_INVALID_PARAMETER);
            CHECK(list == SENTINEL);
            CHECK_RC(sealwire_agent_receive(alice, 0, &list), SEALWIRE_OK);
            CHECK_RC(sealwire_received_list_count(list, &count), SEALWIRE_OK);
            CHECK(count == 0);
            sealwire_received_list_free(list);
            CHECK_RC(sealwire_agent_take_last_error(alice, &last), SEALWIRE_OK);
            CHECK(last == SEALWIRE_RELAY_UNAVAILABLE);
            CHECK_RC(sealwire_agent_pending_outbox_len(alice, &pending), SEALWIRE_OK);
            CHECK(pending == 1);
        }
    }
    close_agent(&alice);
    alice = open_agent("alice", g_url);
    if (alice == NULL) goto done;
    {
        sealwire_agent_flush_report fr;
        memset(&fr, 0xff, sizeof fr);
        CHECK_RC(sealwire_agent_flush(alice, &fr), SEALWIRE_OK);
        CHECK(fr.relayed == 1 && fr.failed == 0 && fr.live == 0 && fr.error == SEALWIRE_OK);
        CHECK_RC(sealwire_agent_pending_outbox_len(alice, &pending), SEALWIRE_OK);
        CHECK(pending == 0);
    }
    CHECK(receive_all(bob, 1, alice_pid, joined, sizeof joined) == 1);
    CHECK(strcmp(joined, "queued") == 0);

done:
    sealwire_public_identity_free(alice_pub);
    sealwire_public_identity_free(bob_pub);
    sealwire_public_identity_free(carol_pub);
    sealwire_agent_free(alice);
    sealwire_agent_free(bob);
    sealwire_agent_free(carol);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(void)
{
    int port = 0;
    printf("sealwire %s C API agent tests with a relay\n", sealwire_version());
    g_url = getenv("SEALWIRE_RELAY_URL");
    if (g_url == NULL || sscanf(g_url, "http://127.0.0.1:%d", &port) != 1 || port <= 0) {
        fprintf(stderr, "FAIL: SEALWIRE_RELAY_URL must be http://127.0.0.1:PORT of a running relay "
                        "(tests/c/run-relay.sh starts one)\n");
        printf("0 passed, 1 failed\n");
        return 1;
    }
    if (mkdtemp(g_tmp) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_offline_delivery();
    if (nftw(g_tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
        perror("removing the temporary directory");
        g_failed++;
    }
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}
