/*
 * C11 tests of the relay client of include/sealwire.h (sealwire_relay_client,
 * sealwire_relay_agent) against libsealwire (shared or static) and a REAL relay
 * (`sealwire relay serve`, SQLite) whose URL is in SEALWIRE_RELAY_URL (tests/c/run-relay.sh
 * starts one on 127.0.0.1 and stops it afterwards).
 *
 * Covered: result codes; client URL / option checks; two agents on SQLite files that are
 * never online at the same time (publish, connect + send 3, reopen, receive in order, reply
 * through the mailbox lookup); a re-deposit after a "crash" between deposit and mark-sent
 * stored once by the relay; acknowledgements that fail after the commit (a proxy in this
 * process answers 503 to them): the messages are reported with `interrupted`, come back and
 * are counted as duplicates, never handed over twice; a forged deposit counted as rejected;
 * maintain/replenish after claims; an unreachable relay (SEALWIRE_RELAY_UNAVAILABLE, the
 * message kept in the outbox and flushed later through a working relay) and a silent one
 * (SEALWIRE_RELAY_TIMEOUT within the bound); NULL pointers and misuse, out-parameters left
 * untouched on failure, the ownership transfer of the messenger (caller's pointer NULLed,
 * lent pointer usable and not freeable, turned back with _into_messenger).
 *
 * Usage: SEALWIRE_RELAY_URL=http://127.0.0.1:PORT test_relay
 * Prints "N passed, M failed" as its last line; exits non-zero on any failure.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sealwire.h"
#include "test_support.h"

#define PID_LEN SEALWIRE_MESSENGER_PEER_ID_LEN
#define NOW 1700000000u

static const uint8_t KEY[32] = {
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
};

static const char *g_url; /* the real relay, http://127.0.0.1:PORT */
static int g_port;
static char g_tmp[] = "/tmp/sealwire-c-relay-XXXXXX";

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void path_in_tmp(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", g_tmp, name);
}

/* ---- small helpers over the API ---------------------------------------------------- */

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

static void pid_of(const sealwire_public_identity *p, uint8_t out[PID_LEN])
{
    size_t n = 0;
    CHECK_RC(sealwire_public_identity_peer_id(p, out, PID_LEN, &n), SEALWIRE_OK);
    CHECK(n == PID_LEN);
}

static sealwire_relay_client *client_of(const char *url)
{
    sealwire_relay_client *c = NULL;
    CHECK_RC(sealwire_relay_client_new(url, &c), SEALWIRE_OK);
    return c;
}

static uint64_t counter_of(const sealwire_messenger *m)
{
    uint64_t c = UINT64_MAX;
    CHECK_RC(sealwire_messenger_counter(m, &c), SEALWIRE_OK);
    return c;
}

/* Take `m` over into a new agent; the caller's pointer must come back NULL. */
static sealwire_relay_agent *agent_of(sealwire_messenger *m, const sealwire_relay_client *c)
{
    sealwire_relay_agent *a = NULL;
    sealwire_messenger *before = m;
    CHECK_RC(sealwire_relay_agent_new(&m, c, &a), SEALWIRE_OK);
    CHECK(m == NULL);
    CHECK(a != NULL && sealwire_relay_agent_messenger(a) == before);
    return a;
}

static sealwire_relay_agent *create_agent(const char *file, const sealwire_identity *id,
                                          uint32_t prekeys, const sealwire_relay_client *c)
{
    char path[512];
    sealwire_messenger *m = NULL;
    path_in_tmp(path, sizeof path, file);
    CHECK_RC(sealwire_messenger_create(path, id, KEY, sizeof KEY, prekeys, prekeys, true, NOW, &m),
             SEALWIRE_OK);
    return agent_of(m, c);
}

static sealwire_relay_agent *open_agent(const char *file, uint64_t counter,
                                        const sealwire_relay_client *c)
{
    char path[512];
    sealwire_messenger *m = NULL;
    path_in_tmp(path, sizeof path, file);
    CHECK_RC(sealwire_messenger_open(path, KEY, sizeof KEY, counter, &m), SEALWIRE_OK);
    return agent_of(m, c);
}

/* Save the counter (as an application would), then go offline. */
static uint64_t close_agent(sealwire_relay_agent *a)
{
    uint64_t c = counter_of(sealwire_relay_agent_messenger(a));
    sealwire_relay_agent_free(a);
    return c;
}

static void send_text(sealwire_relay_agent *a, const uint8_t *peer, const char *text)
{
    uint64_t id = 0;
    CHECK_RC(sealwire_relay_agent_send(a, peer, PID_LEN, (const uint8_t *)text, strlen(text), &id),
             SEALWIRE_OK);
    CHECK(id > 0);
}

static size_t list_count(const sealwire_received_list *l)
{
    size_t n = SIZE_MAX;
    CHECK_RC(sealwire_received_list_count(l, &n), SEALWIRE_OK);
    return n;
}

/* Message `i` of `l` must be `text` from `sender`; acknowledge it in the messenger. */
static void expect_message(sealwire_relay_agent *a, const sealwire_received_list *l, size_t i,
                           const char *text, const uint8_t *sender)
{
    sealwire_received *r = NULL;
    uint8_t buf[256], pid[PID_LEN];
    size_t n = 0;
    uint64_t id = 0;
    CHECK_RC(sealwire_received_list_get(l, i, &r), SEALWIRE_OK);
    if (r == NULL) return;
    CHECK_RC(sealwire_received_plaintext(r, buf, sizeof buf, &n), SEALWIRE_OK);
    if (!(n == strlen(text) && memcmp(buf, text, n) == 0)) {
        fprintf(stderr, "  message %zu: expected \"%s\", got \"%.*s\"\n", i, text, (int)n, buf);
        CHECK(!"plaintext in order");
    } else {
        CHECK(1);
    }
    CHECK_RC(sealwire_received_peer_id(r, pid, sizeof pid, &n), SEALWIRE_OK);
    CHECK(n == PID_LEN && memcmp(pid, sender, PID_LEN) == 0);
    CHECK_RC(sealwire_received_id(r, &id), SEALWIRE_OK);
    CHECK_RC(sealwire_messenger_ack(sealwire_relay_agent_messenger(a), id), SEALWIRE_OK);
    sealwire_received_free(r);
}

/* One receive call that must give exactly `texts` (in order, from `sender`) and the counts;
 * every message is acknowledged in the messenger. */
static void receive_expect(sealwire_relay_agent *a, const char *const *texts, size_t n,
                           const uint8_t *sender, size_t duplicates, size_t rejected,
                           sealwire_result interrupted)
{
    sealwire_received_list *l = NULL;
    sealwire_relay_receive_report rep;
    size_t i;
    memset(&rep, 0xAB, sizeof rep);
    CHECK_RC(sealwire_relay_agent_receive(a, 100, 0, &l, &rep), SEALWIRE_OK);
    if (l == NULL) return;
    CHECK(list_count(l) == n);
    CHECK(rep.received == n);
    CHECK(rep.duplicates == duplicates);
    CHECK(rep.rejected == rejected);
    CHECK_RC(rep.interrupted, interrupted);
    for (i = 0; i < n && i < list_count(l); i++) expect_message(a, l, i, texts[i], sender);
    sealwire_received_list_free(l);
}

static size_t pending_outbox(const sealwire_messenger *m)
{
    sealwire_outbox_list *l = NULL;
    size_t n = SIZE_MAX;
    CHECK_RC(sealwire_messenger_pending_outbox(m, &l), SEALWIRE_OK);
    CHECK_RC(sealwire_outbox_list_count(l, &n), SEALWIRE_OK);
    sealwire_outbox_list_free(l);
    return n;
}

static size_t pending_inbox(const sealwire_messenger *m)
{
    sealwire_received_list *l = NULL;
    size_t n;
    CHECK_RC(sealwire_messenger_pending_inbox(m, &l), SEALWIRE_OK);
    n = list_count(l);
    sealwire_received_list_free(l);
    return n;
}

/* ---- sockets: closed port, silent listener, raw HTTP, a proxy -------------------------- */

static int listen_loopback(int *port_out)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 16) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    *port_out = ntohs(a.sin_port);
    return fd;
}

/* A port on 127.0.0.1 with nothing listening (bound, then closed). */
static int closed_port(void)
{
    int port = 0, fd = listen_loopback(&port);
    if (fd >= 0) close(fd);
    return port;
}

static int connect_loopback(int port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w <= 0) return -1;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* A raw, unauthenticated PUT of `body` to the real relay; returns the HTTP status. */
static int raw_put(const char *path, const uint8_t *body, size_t len)
{
    char head[512], resp[512];
    size_t got = 0;
    int fd = connect_loopback(g_port), status = -1, n;
    if (fd < 0) return -1;
    n = snprintf(head, sizeof head,
                 "PUT %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
                 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                 path, len);
    if (write_all(fd, head, (size_t)n) == 0 && write_all(fd, body, len) == 0) {
        for (;;) {
            ssize_t r = read(fd, resp + got, sizeof resp - 1 - got);
            if (r <= 0) break;
            got += (size_t)r;
            if (got == sizeof resp - 1) break;
        }
        resp[got] = '\0';
        if (sscanf(resp, "HTTP/1.1 %d", &status) != 1) status = -1;
    }
    close(fd);
    return status;
}

/* A forwarding proxy in front of the real relay, one request per connection. With
 * `fail_acks` set it answers every batch acknowledgement (POST .../ack) itself with 503
 * {"error":"unavailable"} instead of forwarding it: the relay keeps the messages. It
 * remembers the mailbox address the agent lists. */
typedef struct {
    int listen_fd;
    int port;
    atomic_int stop;
    atomic_int fail_acks;
    atomic_int acks_failed;
    atomic_int forwarded;
    char address[65];
} proxy;

/* Read one request (head and Content-Length body) into a malloc'd buffer. */
static char *read_request(int fd, size_t *len_out, size_t *head_len_out)
{
    size_t cap = 8192, got = 0, head_len = 0, body_len = 0;
    char *buf = malloc(cap), *end;
    if (buf == NULL) return NULL;
    for (;;) {
        ssize_t r;
        if (got + 1 >= cap) {
            char *bigger;
            if (cap >= (size_t)16 << 20) break;
            bigger = realloc(buf, cap * 2);
            if (bigger == NULL) break;
            buf = bigger;
            cap *= 2;
        }
        r = read(fd, buf + got, cap - 1 - got);
        if (r <= 0) break;
        got += (size_t)r;
        buf[got] = '\0';
        if (head_len == 0 && (end = strstr(buf, "\r\n\r\n")) != NULL) {
            const char *p = buf;
            head_len = (size_t)(end - buf) + 4;
            while ((p = strchr(p, '\n')) != NULL && p < buf + head_len) {
                p++;
                if (strncasecmp(p, "content-length:", 15) == 0) body_len = strtoul(p + 15, NULL, 10);
            }
        }
        if (head_len > 0 && got >= head_len + body_len) {
            *len_out = got;
            *head_len_out = head_len;
            return buf;
        }
    }
    free(buf);
    return NULL;
}

static void proxy_handle(proxy *px, int fd)
{
    size_t len = 0, head_len = 0;
    char *req = read_request(fd, &len, &head_len), *line_end, *p;
    char out_head[16384], chunk[65536];
    size_t o = 0;
    int up;
    if (req == NULL) return;
    if (strncmp(req, "GET /v1/mailboxes/", 18) == 0 && px->address[0] == '\0') {
        memcpy(px->address, req + 18, 64);
        px->address[64] = '\0';
    }
    line_end = strstr(req, "\r\n");
    if (atomic_load(&px->fail_acks) && strncmp(req, "POST ", 5) == 0 && line_end != NULL &&
        line_end - req > 14 && memcmp(line_end - 13, "/ack HTTP/1.1", 13) == 0) {
        static const char body[] = "{\"error\":\"unavailable\",\"message\":\"proxy\"}";
        char resp[256];
        int n = snprintf(resp, sizeof resp,
                         "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                         sizeof body - 1, body);
        (void)write_all(fd, resp, (size_t)n);
        atomic_fetch_add(&px->acks_failed, 1);
        free(req);
        return;
    }
    /* Forward the head without its Connection header, asking the relay to close after. */
    for (p = req; p < req + head_len - 2 && o + 64 < sizeof out_head;) {
        char *eol = strstr(p, "\r\n");
        size_t l = (size_t)(eol - p) + 2;
        if (strncasecmp(p, "connection:", 11) != 0 && o + l < sizeof out_head) {
            memcpy(out_head + o, p, l);
            o += l;
        }
        p = eol + 2;
    }
    memcpy(out_head + o, "Connection: close\r\n\r\n", 21);
    o += 21;
    up = connect_loopback(g_port);
    if (up >= 0 && write_all(up, out_head, o) == 0 &&
        write_all(up, req + head_len, len - head_len) == 0) {
        for (;;) {
            ssize_t r = read(up, chunk, sizeof chunk);
            if (r <= 0 || write_all(fd, chunk, (size_t)r) != 0) break;
        }
        atomic_fetch_add(&px->forwarded, 1);
    }
    if (up >= 0) close(up);
    free(req);
}

static void *proxy_main(void *arg)
{
    proxy *px = arg;
    while (!atomic_load(&px->stop)) {
        struct pollfd p;
        int fd;
        p.fd = px->listen_fd;
        p.events = POLLIN;
        p.revents = 0;
        if (poll(&p, 1, 100) <= 0) continue;
        fd = accept(px->listen_fd, NULL, NULL);
        if (fd < 0) continue;
        proxy_handle(px, fd);
        close(fd);
    }
    return NULL;
}

static int proxy_start(proxy *px, pthread_t *thread)
{
    memset(px, 0, sizeof *px);
    atomic_init(&px->stop, 0);
    atomic_init(&px->fail_acks, 0);
    atomic_init(&px->acks_failed, 0);
    atomic_init(&px->forwarded, 0);
    px->listen_fd = listen_loopback(&px->port);
    if (px->listen_fd < 0) return -1;
    if (pthread_create(thread, NULL, proxy_main, px) != 0) {
        close(px->listen_fd);
        return -1;
    }
    return 0;
}

static void proxy_stop(proxy *px, pthread_t thread)
{
    atomic_store(&px->stop, 1);
    pthread_join(thread, NULL);
    close(px->listen_fd);
}

/* ---- the tests ------------------------------------------------------------------------ */

static void test_result_codes(void)
{
    static const struct {
        sealwire_result code;
        unsigned number;
        const char *name;
    } codes[] = {
        {SEALWIRE_RELAY_REJECTED, 5014, "ERR_SEALWIRE_RELAY_REJECTED"},
        {SEALWIRE_RELAY_AUTH_FAILED, 5015, "ERR_SEALWIRE_RELAY_AUTH_FAILED"},
        {SEALWIRE_RELAY_NOT_FOUND, 5016, "ERR_SEALWIRE_RELAY_NOT_FOUND"},
        {SEALWIRE_RELAY_MAILBOX_FULL, 5017, "ERR_SEALWIRE_RELAY_MAILBOX_FULL"},
        {SEALWIRE_RELAY_UNAVAILABLE, 5018, "ERR_SEALWIRE_RELAY_UNAVAILABLE"},
        {SEALWIRE_RELAY_TIMEOUT, 5019, "ERR_SEALWIRE_RELAY_TIMEOUT"},
    };
    size_t i;
    for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        CHECK((unsigned)codes[i].code == codes[i].number);
        CHECK(strcmp(sealwire_result_code_string(codes[i].code), codes[i].name) == 0);
    }
    CHECK(SEALWIRE_RELAY_DEFAULT_CONNECT_TIMEOUT_MS == 2000);
    CHECK(SEALWIRE_RELAY_DEFAULT_REQUEST_TIMEOUT_MS == 15000);
}

static void test_client_options(void)
{
    sealwire_relay_client *c = SENTINEL;
    CHECK_RC(sealwire_relay_client_new(NULL, &c), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_relay_client_new(g_url, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_relay_client_new("ftp://127.0.0.1:1", &c), SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_relay_client_new("127.0.0.1:1", &c), SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_relay_client_new("http://127.0.0.1:1/v1", &c), SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_relay_client_new("http://127.0.0.1:1?x=1", &c), SEALWIRE_INVALID_PARAMETER);
    /* Plain http only to loopback, unless allowed explicitly. */
    CHECK_RC(sealwire_relay_client_new("http://relay.example:8790", &c), SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_relay_client_new("http://\xff", &c), SEALWIRE_INVALID_UTF8);
    CHECK_RC(sealwire_relay_client_new_with_options("http://127.0.0.1:1", 0, 1000, false, &c),
             SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_relay_client_new_with_options("http://127.0.0.1:1", 1000, 0, false, &c),
             SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_relay_client_new_with_options("http://127.0.0.1:1", 1000,
                                                    SEALWIRE_RELAY_MAX_TIMEOUT_MS + 1, false, &c),
             SEALWIRE_INVALID_PARAMETER);
    CHECK(c == SENTINEL); /* untouched by every failure */
    CHECK_RC(sealwire_relay_client_new_with_options("http://relay.example:8790", 1000,
                                                    SEALWIRE_RELAY_MAX_TIMEOUT_MS, true, &c),
             SEALWIRE_OK);
    CHECK(c != SENTINEL && c != NULL);
    sealwire_relay_client_free(c);
    c = NULL;
    CHECK_RC(sealwire_relay_client_new("https://relay.example", &c), SEALWIRE_OK);
    sealwire_relay_client_free(c);
    CHECK_RC(sealwire_relay_client_health(NULL), SEALWIRE_NULL_POINTER);
    c = client_of(g_url);
    CHECK_RC(sealwire_relay_client_health(c), SEALWIRE_OK);
    sealwire_relay_client_free(c);
    sealwire_relay_client_free(NULL);
}

/* The state the later tests continue from. */
static sealwire_identity *g_alice_id, *g_bob_id;
static sealwire_public_identity *g_alice_pub, *g_bob_pub;
static uint8_t g_alice_pid[PID_LEN], g_bob_pid[PID_LEN];
static uint64_t g_alice_counter, g_bob_counter;

/* Alice and Bob, each on its own SQLite file, never online at the same time. */
static void test_offline_exchange(sealwire_relay_client *c)
{
    static const char *const three[] = {"one", "two", "three"};
    static const char *const pong[] = {"pong"};
    sealwire_relay_agent *a;
    sealwire_relay_prekey_status st;
    uint64_t sent = 0, received = 0;

    g_alice_id = new_identity();
    g_bob_id = new_identity();
    g_alice_pub = public_of(g_alice_id);
    g_bob_pub = public_of(g_bob_id);
    pid_of(g_alice_pub, g_alice_pid);
    pid_of(g_bob_pub, g_bob_pid);

    /* Alice alone: a new home, published (3 + 3 prekeys: below the relay's threshold of 10). */
    a = create_agent("alice.db", g_alice_id, 3, c);
    memset(&st, 0, sizeof st);
    CHECK_RC(sealwire_relay_agent_publish(a, &st), SEALWIRE_OK);
    CHECK(st.one_time == 3 && st.kem_one_time == 3 && st.post_quantum && st.replenish);
    g_alice_counter = close_agent(a);

    /* Bob alone. */
    a = create_agent("bob.db", g_bob_id, 3, c);
    CHECK_RC(sealwire_relay_agent_publish(a, &st), SEALWIRE_OK);
    CHECK(st.one_time == 3 && st.kem_one_time == 3);
    /* Nothing waiting yet. */
    receive_expect(a, NULL, 0, g_alice_pid, 0, 0, SEALWIRE_OK);
    g_bob_counter = close_agent(a);

    /* Alice alone: claims Bob's bundle and sends three messages while Bob is offline. */
    a = open_agent("alice.db", g_alice_counter, c);
    CHECK_RC(sealwire_relay_agent_connect(a, g_bob_pub), SEALWIRE_OK);
    send_text(a, g_bob_pid, "one");
    send_text(a, g_bob_pid, "two");
    send_text(a, g_bob_pid, "three");
    CHECK(pending_outbox(sealwire_relay_agent_messenger(a)) == 0); /* all marked sent */
    CHECK_RC(sealwire_messenger_sent_count(sealwire_relay_agent_messenger(a), g_bob_pid, PID_LEN, &sent),
             SEALWIRE_OK);
    CHECK(sent == 3);
    g_alice_counter = close_agent(a);

    /* Bob alone, reopened: the three in order, from Alice; then nothing more. */
    a = open_agent("bob.db", g_bob_counter, c);
    receive_expect(a, three, 3, g_alice_pid, 0, 0, SEALWIRE_OK);
    CHECK(pending_inbox(sealwire_relay_agent_messenger(a)) == 0);
    CHECK_RC(sealwire_messenger_received_count(sealwire_relay_agent_messenger(a), g_alice_pid, PID_LEN,
                                               &received),
             SEALWIRE_OK);
    CHECK(received == 3);
    receive_expect(a, NULL, 0, g_alice_pid, 0, 0, SEALWIRE_OK);
    /* Alice's claim used one prekey of each kind; maintain tops the relay up again. */
    CHECK_RC(sealwire_relay_agent_maintain(a, &st), SEALWIRE_OK);
    CHECK(st.one_time == 3 && st.kem_one_time == 3);
    /* The reply goes through the mailbox lookup (Bob never claimed Alice's bundle). */
    send_text(a, g_alice_pid, "pong");
    g_bob_counter = close_agent(a);

    /* Alice alone again. */
    a = open_agent("alice.db", g_alice_counter, c);
    receive_expect(a, pong, 1, g_bob_pid, 0, 0, SEALWIRE_OK);
    g_alice_counter = close_agent(a);
}

static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out;
    char buf[65536];
    size_t n;
    int ok = 0;
    if (in == NULL) return -1;
    out = fopen(to, "wb");
    if (out == NULL) {
        fclose(in);
        return -1;
    }
    while ((n = fread(buf, 1, sizeof buf, in)) > 0) {
        if (fwrite(buf, 1, n, out) != n) ok = -1;
    }
    fclose(in);
    if (fclose(out) != 0) ok = -1;
    return ok;
}

/* A crash between the deposit and mark-sent, simulated with a copy of the store taken
 * before the deposit: the copy deposits the same message again (same bytes, same deposit
 * id); the relay stores it once. Also: flush_outbox for records committed by the lent
 * messenger's plain send. */
static void test_redeposit_is_stored_once(sealwire_relay_client *c)
{
    static const char *const crash[] = {"crash", "again"};
    char path[512], copy[512], aux[600], aux_copy[600];
    sealwire_relay_agent *a;
    sealwire_outbox_record *r1 = NULL, *r2 = NULL;
    size_t n = SIZE_MAX;
    uint64_t counter;

    a = open_agent("alice.db", g_alice_counter, c);
    CHECK_RC(sealwire_messenger_send(sealwire_relay_agent_messenger(a), g_bob_pid, PID_LEN,
                                     (const uint8_t *)"crash", 5, &r1),
             SEALWIRE_OK);
    CHECK_RC(sealwire_messenger_send(sealwire_relay_agent_messenger(a), g_bob_pid, PID_LEN,
                                     (const uint8_t *)"again", 5, &r2),
             SEALWIRE_OK);
    sealwire_outbox_record_free(r1);
    sealwire_outbox_record_free(r2);
    counter = close_agent(a);

    path_in_tmp(path, sizeof path, "alice.db");
    path_in_tmp(copy, sizeof copy, "alice-copy.db");
    CHECK(copy_file(path, copy) == 0);
    snprintf(aux, sizeof aux, "%s-wal", path);
    snprintf(aux_copy, sizeof aux_copy, "%s-wal", copy);
    if (access(aux, F_OK) == 0) CHECK(copy_file(aux, aux_copy) == 0);

    a = open_agent("alice.db", counter, c);
    CHECK(pending_outbox(sealwire_relay_agent_messenger(a)) == 2);
    CHECK_RC(sealwire_relay_agent_flush_outbox(a, &n), SEALWIRE_OK);
    CHECK(n == 2);
    CHECK_RC(sealwire_relay_agent_flush_outbox(a, &n), SEALWIRE_OK);
    CHECK(n == 0);
    g_alice_counter = close_agent(a);

    /* The "crashed" copy has both records still pending and deposits them again. */
    a = open_agent("alice-copy.db", counter, c);
    CHECK_RC(sealwire_relay_agent_flush_outbox(a, &n), SEALWIRE_OK);
    CHECK(n == 2);
    sealwire_relay_agent_free(a);

    a = open_agent("bob.db", g_bob_counter, c);
    receive_expect(a, crash, 2, g_alice_pid, 0, 0, SEALWIRE_OK); /* once each, not twice */
    receive_expect(a, NULL, 0, g_alice_pid, 0, 0, SEALWIRE_OK);
    g_bob_counter = close_agent(a);
}

/* Acknowledgements that never reach the relay: the committed messages are returned with
 * `interrupted` set, come back on the next receive and are only counted as duplicates. A
 * forged deposit (anyone may deposit) is counted as rejected and dropped. */
static void test_failed_acks_and_forgeries(sealwire_relay_client *c)
{
    static const char *const two[] = {"d1", "d2"};
    char url[64], path[200];
    proxy px;
    pthread_t thread;
    sealwire_relay_client *via_proxy;
    sealwire_relay_agent *a;
    uint8_t forged[5 + 32 + 40];
    uint64_t counter_before;

    a = open_agent("alice.db", g_alice_counter, c);
    send_text(a, g_bob_pid, "d1");
    send_text(a, g_bob_pid, "d2");
    g_alice_counter = close_agent(a);

    if (proxy_start(&px, &thread) != 0) {
        CHECK(!"proxy started");
        return;
    }
    snprintf(url, sizeof url, "http://127.0.0.1:%d", px.port);
    via_proxy = client_of(url);
    atomic_store(&px.fail_acks, 1);
    a = open_agent("bob.db", g_bob_counter, via_proxy);
    receive_expect(a, two, 2, g_alice_pid, 0, 0, SEALWIRE_RELAY_UNAVAILABLE);
    CHECK(atomic_load(&px.acks_failed) == 1);
    /* Re-delivered, recognized, not handed over again, and nothing committed for them. */
    atomic_store(&px.fail_acks, 0);
    counter_before = counter_of(sealwire_relay_agent_messenger(a));
    receive_expect(a, NULL, 0, g_alice_pid, 2, 0, SEALWIRE_OK);
    CHECK(counter_of(sealwire_relay_agent_messenger(a)) == counter_before);
    receive_expect(a, NULL, 0, g_alice_pid, 0, 0, SEALWIRE_OK);

    /* A forged deposit into Bob's mailbox (address seen by the proxy). */
    CHECK(strlen(px.address) == 64);
    memset(forged, 0x5A, sizeof forged);
    memcpy(forged, "SWMM\x01", 5);
    snprintf(path, sizeof path, "/v1/mailboxes/%s/messages/%064d", px.address, 7);
    CHECK(raw_put(path, forged, sizeof forged) == 201);
    receive_expect(a, NULL, 0, g_alice_pid, 0, 1, SEALWIRE_OK);
    receive_expect(a, NULL, 0, g_alice_pid, 0, 0, SEALWIRE_OK); /* dropped for good */
    g_bob_counter = close_agent(a);

    sealwire_relay_client_free(via_proxy);
    proxy_stop(&px, thread);
}

/* Claims use up one-time prekeys; maintain replenishes only when the relay asks, with new
 * prekeys, keeping the claimed ones until their initial messages arrive. */
static void test_maintain_after_claims(sealwire_relay_client *c)
{
    sealwire_identity *carol_id = new_identity(), *dave_id = new_identity();
    sealwire_public_identity *carol_pub = public_of(carol_id);
    sealwire_relay_agent *carol, *dave;
    sealwire_relay_prekey_status st;
    size_t local = 0;
    int i;

    carol = create_agent("carol.db", carol_id, 12, c);
    CHECK_RC(sealwire_relay_agent_publish(carol, &st), SEALWIRE_OK);
    CHECK(st.one_time == 12 && st.kem_one_time == 12 && !st.replenish);
    CHECK_RC(sealwire_relay_agent_maintain(carol, &st), SEALWIRE_OK); /* nothing to do */
    CHECK(st.one_time == 12 && st.kem_one_time == 12 && !st.replenish);

    dave = create_agent("dave.db", dave_id, 3, c);
    for (i = 0; i < 3; i++) CHECK_RC(sealwire_relay_agent_connect(dave, carol_pub), SEALWIRE_OK);
    sealwire_relay_agent_free(dave);

    /* 9 of each left: below the relay's threshold (10). */
    CHECK_RC(sealwire_relay_agent_maintain(carol, &st), SEALWIRE_OK);
    CHECK(st.one_time == 12 && st.kem_one_time == 12 && !st.replenish);
    /* The messenger keeps the 3 claimed prekeys (no initial message arrived yet). */
    CHECK_RC(sealwire_messenger_one_time_prekey_count(sealwire_relay_agent_messenger(carol), &local),
             SEALWIRE_OK);
    CHECK(local == 15);
    sealwire_relay_agent_free(carol);
    sealwire_public_identity_free(carol_pub);
    sealwire_identity_free(carol_id);
    sealwire_identity_free(dave_id);
}

/* An unreachable relay fails fast with SEALWIRE_RELAY_UNAVAILABLE; a message that could not
 * be deposited stays committed in the outbox and is flushed through a working relay. */
static void test_unreachable_relay(sealwire_relay_client *c)
{
    static const char *const late[] = {"late"};
    char url[64];
    sealwire_relay_client *down;
    sealwire_relay_agent *a;
    sealwire_messenger *m = NULL;
    sealwire_received_list *l = SENTINEL;
    sealwire_relay_receive_report rep;
    sealwire_relay_prekey_status st = {7, 7, false, false};
    uint64_t id = 42;
    size_t n = 0;
    double t0;

    snprintf(url, sizeof url, "http://127.0.0.1:%d", closed_port());
    down = client_of(url);
    t0 = now_seconds();
    CHECK_RC(sealwire_relay_client_health(down), SEALWIRE_RELAY_UNAVAILABLE);
    CHECK(now_seconds() - t0 < 2.0);

    a = open_agent("alice.db", g_alice_counter, down);
    CHECK_RC(sealwire_relay_agent_publish(a, &st), SEALWIRE_RELAY_UNAVAILABLE);
    CHECK(st.one_time == 7 && st.kem_one_time == 7); /* untouched */
    CHECK_RC(sealwire_relay_agent_maintain(a, &st), SEALWIRE_RELAY_UNAVAILABLE);
    CHECK_RC(sealwire_relay_agent_connect(a, g_bob_pub), SEALWIRE_RELAY_UNAVAILABLE);
    CHECK_RC(sealwire_relay_agent_receive(a, 10, 0, &l, &rep), SEALWIRE_RELAY_UNAVAILABLE);
    CHECK(l == SENTINEL);
    CHECK_RC(sealwire_relay_agent_send(a, g_bob_pid, PID_LEN, (const uint8_t *)"late", 4, &id),
             SEALWIRE_RELAY_UNAVAILABLE);
    CHECK(id == 42);
    CHECK(pending_outbox(sealwire_relay_agent_messenger(a)) == 1); /* committed, kept */
    CHECK_RC(sealwire_relay_agent_flush_outbox(a, &n), SEALWIRE_RELAY_UNAVAILABLE);

    /* Back to a plain messenger, then an agent on the working relay. */
    CHECK_RC(sealwire_relay_agent_into_messenger(&a, &m), SEALWIRE_OK);
    CHECK(a == NULL && m != NULL);
    CHECK(pending_outbox(m) == 1);
    a = agent_of(m, c);
    CHECK_RC(sealwire_relay_agent_flush_outbox(a, &n), SEALWIRE_OK);
    CHECK(n == 1);
    g_alice_counter = close_agent(a);
    sealwire_relay_client_free(down);

    a = open_agent("bob.db", g_bob_counter, c);
    receive_expect(a, late, 1, g_alice_pid, 0, 0, SEALWIRE_OK);
    g_bob_counter = close_agent(a);
}

/* A relay that accepts connections but never answers: SEALWIRE_RELAY_TIMEOUT after the
 * request timeout. */
static void test_silent_relay(void)
{
    char url[64];
    int port = 0, fd = listen_loopback(&port);
    sealwire_relay_client *c = NULL;
    double t0, dt;
    CHECK(fd >= 0);
    if (fd < 0) return;
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    CHECK_RC(sealwire_relay_client_new_with_options(url, 1000, 500, false, &c), SEALWIRE_OK);
    t0 = now_seconds();
    CHECK_RC(sealwire_relay_client_health(c), SEALWIRE_RELAY_TIMEOUT);
    dt = now_seconds() - t0;
    CHECK(dt >= 0.4 && dt < 3.0);
    sealwire_relay_client_free(c);
    close(fd);
}

/* NULL pointers, misuse, and the ownership transfer of the messenger. */
static void test_misuse(sealwire_relay_client *c)
{
    char path[512];
    sealwire_identity *id = new_identity(), *stranger = new_identity();
    sealwire_public_identity *stranger_pub = public_of(stranger);
    sealwire_messenger *m = NULL, *none = NULL, *view, *copy, *back = SENTINEL;
    sealwire_relay_agent *a = SENTINEL, *other = SENTINEL;
    sealwire_relay_prekey_status st = {7, 7, false, false};
    sealwire_received_list *l = SENTINEL;
    sealwire_relay_receive_report rep;
    uint64_t out_id = 42;
    size_t n = 42;

    path_in_tmp(path, sizeof path, "erin.db");
    CHECK_RC(sealwire_messenger_create(path, id, KEY, sizeof KEY, 3, 3, true, NOW, &m), SEALWIRE_OK);

    /* Failed takeovers move nothing. */
    CHECK_RC(sealwire_relay_agent_new(NULL, c, &a), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_relay_agent_new(&none, c, &a), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_relay_agent_new(&m, NULL, &a), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_relay_agent_new(&m, c, NULL), SEALWIRE_NULL_POINTER);
    CHECK(a == SENTINEL && m != NULL);
    CHECK(counter_of(m) > 0); /* still the caller's, still usable */

    /* The takeover: the caller's pointer is NULLed; the lent pointer is the same handle. */
    copy = m;
    CHECK_RC(sealwire_relay_agent_new(&m, c, &a), SEALWIRE_OK);
    CHECK(m == NULL && a != SENTINEL && a != NULL);
    view = sealwire_relay_agent_messenger(a);
    CHECK(view == copy);
    CHECK_RC(sealwire_messenger_counter(m, &out_id), SEALWIRE_NULL_POINTER);
    sealwire_messenger_free(m);    /* NULL: no-op */
    sealwire_messenger_free(view); /* lent: no-op (ASan would see a double free) */
    CHECK(counter_of(view) > 0);
    /* A lent messenger cannot be taken over by a second agent. */
    CHECK_RC(sealwire_relay_agent_new(&copy, c, &other), SEALWIRE_INVALID_STATE);
    CHECK(copy == view && other == SENTINEL);
    CHECK(sealwire_relay_agent_messenger(NULL) == NULL);

    /* NULL handles and out-parameters. */
    CHECK_RC(sealwire_relay_agent_publish(NULL, &st), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_relay_agent_publish(a, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_relay_agent_publish_reset(NULL, &st), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_relay_agent_maintain(NULL, &st), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_relay_agent_maintain(a, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_relay_agent_connect(NULL, stranger_pub), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_relay_agent_connect(a, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_relay_agent_send(NULL, g_bob_pid, PID_LEN, (const uint8_t *)"x", 1, &out_id),
             SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_relay_agent_send(a, NULL, PID_LEN, (const uint8_t *)"x", 1, &out_id),
             SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_relay_agent_send(a, g_bob_pid, PID_LEN, NULL, 1, &out_id), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_relay_agent_send(a, g_bob_pid, PID_LEN, (const uint8_t *)"x", 1, NULL),
             SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_relay_agent_flush_outbox(NULL, &n), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_relay_agent_flush_outbox(a, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_relay_agent_receive(NULL, 10, 0, &l, &rep), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_relay_agent_receive(a, 10, 0, NULL, &rep), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_relay_agent_receive(a, 10, 0, &l, NULL), SEALWIRE_NULL_POINTER);

    /* Parameters checked before any network call. */
    CHECK_RC(sealwire_relay_agent_send(a, g_bob_pid, PID_LEN - 1, (const uint8_t *)"x", 1, &out_id),
             SEALWIRE_INVALID_LENGTH);
    CHECK_RC(sealwire_relay_agent_send(a, g_bob_pid, PID_LEN, (const uint8_t *)"x", 1, &out_id),
             SEALWIRE_NO_SESSION);
    CHECK_RC(sealwire_relay_agent_receive(a, 0, 0, &l, &rep), SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_relay_agent_receive(a, SEALWIRE_RELAY_MAX_RECEIVE_LIMIT + 1, 0, &l, &rep),
             SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_relay_agent_receive(a, 10, SEALWIRE_RELAY_MAX_WAIT_SECS + 1, &l, &rep),
             SEALWIRE_INVALID_PARAMETER);
    /* A long poll must end before the request timeout (15 s by default). */
    CHECK_RC(sealwire_relay_agent_receive(a, 10, 15, &l, &rep), SEALWIRE_INVALID_PARAMETER);
    CHECK(l == SENTINEL && out_id == 42 && n == 42 && st.one_time == 7);

    /* The relay's answers: not published yet; a peer that published nothing. */
    CHECK_RC(sealwire_relay_agent_maintain(a, &st), SEALWIRE_RELAY_NOT_FOUND);
    CHECK_RC(sealwire_relay_agent_receive(a, 10, 0, &l, &rep), SEALWIRE_RELAY_NOT_FOUND);
    CHECK_RC(sealwire_relay_agent_connect(a, stranger_pub), SEALWIRE_RELAY_NOT_FOUND);
    CHECK(l == SENTINEL && st.one_time == 7);
    CHECK_RC(sealwire_relay_agent_publish(a, &st), SEALWIRE_OK);
    CHECK(st.one_time == 3);
    /* publish_reset forgets what the relay held: the same 3 prekeys again. */
    CHECK_RC(sealwire_relay_agent_publish_reset(a, &st), SEALWIRE_OK);
    CHECK(st.one_time == 3 && st.kem_one_time == 3);
    /* A short long poll on an empty mailbox returns empty after about the wait. */
    {
        double t0 = now_seconds(), dt;
        CHECK_RC(sealwire_relay_agent_receive(a, 10, 1, &l, &rep), SEALWIRE_OK);
        dt = now_seconds() - t0;
        CHECK(dt >= 0.8 && dt < 5.0);
        CHECK(l != SENTINEL && list_count(l) == 0 && rep.received == 0);
        sealwire_received_list_free(l);
        l = SENTINEL;
    }

    /* Back to a plain messenger. */
    CHECK_RC(sealwire_relay_agent_into_messenger(NULL, &back), SEALWIRE_NULL_POINTER);
    other = NULL;
    CHECK_RC(sealwire_relay_agent_into_messenger(&other, &back), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_relay_agent_into_messenger(&a, NULL), SEALWIRE_NULL_POINTER);
    CHECK(back == SENTINEL && a != NULL);
    CHECK_RC(sealwire_relay_agent_into_messenger(&a, &back), SEALWIRE_OK);
    CHECK(a == NULL && back == view);
    CHECK(counter_of(back) > 0);
    sealwire_relay_agent_free(a);    /* NULL: no-op */
    sealwire_relay_agent_free(NULL);
    sealwire_messenger_free(back);   /* owned again: really freed (ASan: no leak) */

    sealwire_public_identity_free(stranger_pub);
    sealwire_identity_free(stranger);
    sealwire_identity_free(id);
}

static void remove_db(const char *file)
{
    char path[512], aux[600];
    path_in_tmp(path, sizeof path, file);
    unlink(path);
    snprintf(aux, sizeof aux, "%s-wal", path);
    unlink(aux);
    snprintf(aux, sizeof aux, "%s-shm", path);
    unlink(aux);
    snprintf(aux, sizeof aux, "%s-journal", path);
    unlink(aux);
}

int main(void)
{
    static const char *const files[] = {"alice.db", "alice-copy.db", "bob.db", "carol.db",
                                        "dave.db", "erin.db"};
    sealwire_relay_client *c;
    size_t i;

    printf("sealwire %s C API relay tests\n", sealwire_version());
    g_url = getenv("SEALWIRE_RELAY_URL");
    if (g_url == NULL || sscanf(g_url, "http://127.0.0.1:%d", &g_port) != 1 || g_port <= 0) {
        fprintf(stderr, "FAIL: SEALWIRE_RELAY_URL must be http://127.0.0.1:PORT of a running relay "
                        "(tests/c/run-relay.sh starts one)\n");
        printf("0 passed, 1 failed\n");
        return 1;
    }
    if (mkdtemp(g_tmp) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_result_codes();
    test_client_options();
    test_silent_relay();
    c = client_of(g_url);
    test_offline_exchange(c);
    test_redeposit_is_stored_once(c);
    test_failed_acks_and_forgeries(c);
    test_maintain_after_claims(c);
    test_unreachable_relay(c);
    test_misuse(c);
    sealwire_relay_client_free(c);

    sealwire_public_identity_free(g_alice_pub);
    sealwire_public_identity_free(g_bob_pub);
    sealwire_identity_free(g_alice_id);
    sealwire_identity_free(g_bob_id);
    for (i = 0; i < sizeof files / sizeof files[0]; i++) remove_db(files[i]);
    if (rmdir(g_tmp) != 0) {
        perror("rmdir (files left in the temporary directory)");
        g_failed++;
    }
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 && g_passed > 0 ? 0 : 1;
}
