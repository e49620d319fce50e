/*
 * C11 tests of the agent facade and the security configuration of include/sealwire.h
 * (sealwire_agent_*, sealwire_channel_info_*, sealwire_config_*) against libsealwire (shared or
 * static), without a relay.
 *
 * Covered: every example of tests/vectors/config/cases.json through sealwire_config_check()
 * (verdict and exactly the expected findings: path, code, severity, allow flag) and the
 * commented default; two agents in one process on 127.0.0.1 (pthreads): first contact over
 * XX, messages both ways delivered live exactly once with acknowledgements, the peer table
 * making the next connection IK (by address and by identity), a connection accepted by the
 * application and handed over as a file descriptor; an unacknowledged message returned again
 * with the same id after close and reopen, gone after ack; reopen with the wrong passphrase
 * (SEALWIRE_DECRYPTION_FAILED) and a second open of a home in use (SEALWIRE_STORAGE); the same
 * identity after reopen; a home under a keyring root key (kek-envelope identity); seal /
 * open_sealed (length query without decrypting, wrong context, another agent's KEK),
 * seal_for opened only by the recipient, rewrap after a KEK rotation; maintenance (a run
 * 100 days later rotates the signed prekey and the KEK, a second run changes nothing, single
 * steps); a session store restored from an older copy (open: SEALWIRE_STALE_STATE; recover:
 * the old store's peers, ids above the anchor, a new session with the peer); a remote KEK
 * addressed through the options' KMS settings; two threads on one agent (the second waits);
 * closed agents, NULL pointers, short buffers and out-of-range arguments give typed result
 * codes and leave out-parameters alone.
 *
 * Usage: test_agent VECTORS_DIR   (tests/vectors/config)
 * Prints "N passed, M failed" as its last line; exits non-zero on any failure.
 */
#define _XOPEN_SOURCE 700

#include <arpa/inet.h>
#include <dirent.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sealwire.h"
#include "test_support.h"
#include "test_vectors.h"

/* The fast test configuration of core/src/agent/tests.rs: a weak KDF (accepted by the
 * override) and small prekey batches. */
static const char CONFIG[] = "version = 1\n"
                             "[identity.kdf]\nmemory_kib = 19456\niterations = 2\nlanes = 1\n"
                             "[prekeys]\nbatch_size = 10\nkem_batch_size = 10\n"
                             "[overrides]\nallow_weak_kdf = true\n";
/* The same in JSON, identity sealed under a keyring protected by a root key. */
static const char CONFIG_ROOT_KEY[] =
    "{\"version\": 1, \"identity\": {\"storage\": \"kek-envelope\", "
    "\"kdf\": {\"memory_kib\": 19456, \"iterations\": 2, \"lanes\": 1}}, "
    "\"prekeys\": {\"batch_size\": 10, \"kem_batch_size\": 10}, "
    "\"storage\": {\"kek\": {\"keyring_protection\": \"root-key\"}}, "
    "\"overrides\": {\"allow_weak_kdf\": true}}";
static const char PASS[] = "correct horse battery staple";
static const uint8_t ROOT_KEY[32] = {
    9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 11, 12, 13, 14, 15, 16,
    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
};
#define DAY 86400u

static char g_tmp[] = "/tmp/sealwire-c-agent-XXXXXX";

static void home_of(const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", g_tmp, name);
}

static sealwire_result open_with(const char *name, const char *config, sealwire_agent_unlock unlock,
                                 const void *secret, size_t secret_len, sealwire_agent **out)
{
    char home[256];
    home_of(name, home, sizeof home);
    return sealwire_agent_open(home, (const uint8_t *)config, strlen(config), unlock,
                               (const uint8_t *)secret, secret_len, NULL, out);
}

static sealwire_agent *open_agent(const char *name)
{
    sealwire_agent *a = NULL;
    CHECK_RC(open_with(name, CONFIG, SEALWIRE_AGENT_UNLOCK_PASSPHRASE, PASS, strlen(PASS), &a),
             SEALWIRE_OK);
    return a;
}

/* The encoded public identity of an agent (SEALWIRE_PUBLIC_IDENTITY_LEN bytes). */
static void public_bytes(const sealwire_agent *a, uint8_t out[SEALWIRE_PUBLIC_IDENTITY_LEN])
{
    sealwire_public_identity *p = NULL;
    size_t n = 0;
    memset(out, 0, SEALWIRE_PUBLIC_IDENTITY_LEN);
    CHECK_RC(sealwire_agent_public(a, &p), SEALWIRE_OK);
    CHECK_RC(sealwire_public_identity_to_bytes(p, out, SEALWIRE_PUBLIC_IDENTITY_LEN, &n), SEALWIRE_OK);
    CHECK(n == SEALWIRE_PUBLIC_IDENTITY_LEN);
    sealwire_public_identity_free(p);
}

static bool same_identity(const sealwire_public_identity *p, const sealwire_agent *a)
{
    uint8_t x[SEALWIRE_PUBLIC_IDENTITY_LEN], y[SEALWIRE_PUBLIC_IDENTITY_LEN];
    size_t n = 0;
    if (sealwire_public_identity_to_bytes(p, x, sizeof x, &n) != SEALWIRE_OK) return false;
    public_bytes(a, y);
    return n == sizeof x && memcmp(x, y, sizeof x) == 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ configuration */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "path|code|severity|allow" for one finding object. */
static char *finding_key(const cJSON *f)
{
    const cJSON *allow = cJSON_GetObjectItemCaseSensitive(f, "allow");
    const char *a = cJSON_IsString(allow) ? allow->valuestring : "-";
    const char *path = jstr(f, "path"), *code = jstr(f, "code"), *sev = jstr(f, "severity");
    size_t n = strlen(path) + strlen(code) + strlen(sev) + strlen(a) + 4;
    char *s = malloc(n);
    if (s != NULL) snprintf(s, n, "%s|%s|%s|%s", path, code, sev, a);
    return s;
}

/* The sorted keys of an array of findings; *count receives its length. */
static char **finding_keys(const cJSON *arr, size_t *count)
{
    size_t n = (size_t)cJSON_GetArraySize(arr), i = 0;
    char **keys = calloc(n + 1, sizeof *keys);
    const cJSON *f;
    if (keys == NULL) return NULL;
    cJSON_ArrayForEach(f, arr) keys[i++] = finding_key(f);
    qsort(keys, n, sizeof *keys, cmp_str);
    *count = n;
    return keys;
}

static void free_keys(char **keys, size_t n)
{
    size_t i;
    for (i = 0; i < n && keys != NULL; i++) free(keys[i]);
    free(keys);
}

/* Check `text` and return the parsed report (NULL on failure); *accepted gets the verdict. */
static cJSON *check_config(const char *text, size_t len, sealwire_config_format format, bool *accepted)
{
    size_t need = 0, written = 0;
    char *buf;
    cJSON *report = NULL;
    bool acc = !*accepted;
    /* Length query: nothing but *written. */
    CHECK_RC(sealwire_config_check((const uint8_t *)text, len, format, NULL, 0, &need, &acc),
             SEALWIRE_BUFFER_TOO_SMALL);
    CHECK(acc == !*accepted);
    CHECK(need > 2);
    buf = malloc(need);
    if (buf == NULL) return NULL;
    if (sealwire_config_check((const uint8_t *)text, len, format, buf, need, &written, &acc) ==
        SEALWIRE_OK) {
        CHECK(written == need && buf[need - 1] == '\0' && strlen(buf) == need - 1);
        report = cJSON_Parse(buf);
        *accepted = acc;
    } else {
        CHECK(!"sealwire_config_check failed");
    }
    free(buf);
    return report;
}

static void test_config_vectors(const char *dir)
{
    char path[1024];
    char *manifest_text;
    cJSON *manifest, *cases, *c;
    int n = 0;

    snprintf(path, sizeof path, "%s/cases.json", dir);
    manifest_text = read_file(path);
    CHECK(manifest_text != NULL);
    if (manifest_text == NULL) return;
    manifest = cJSON_Parse(manifest_text);
    cases = cJSON_GetObjectItemCaseSensitive(manifest, "cases");
    CHECK(cJSON_IsArray(cases));
    cJSON_ArrayForEach(c, cases) {
        const char *file = jstr(c, "file");
        const cJSON *ok = cJSON_GetObjectItemCaseSensitive(c, "ok");
        size_t flen = strlen(file), want_n = 0, got_n = 0, i;
        sealwire_config_format fmt = (flen > 5 && strcmp(file + flen - 5, ".json") == 0)
                                         ? SEALWIRE_CONFIG_FORMAT_JSON
                                         : SEALWIRE_CONFIG_FORMAT_TOML;
        char *text, **want, **got;
        cJSON *report;
        bool accepted = false, same;

        snprintf(path, sizeof path, "%s/%s", dir, file);
        text = read_file(path);
        CHECK(text != NULL);
        if (text == NULL) continue;
        report = check_config(text, strlen(text), fmt, &accepted);
        CHECK(report != NULL);
        if (report == NULL) {
            free(text);
            continue;
        }
        /* The verdict, twice: the out-parameter and the report's "ok". */
        CHECK(accepted == cJSON_IsTrue(ok));
        CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(report, "ok")) == cJSON_IsTrue(ok));
        want = finding_keys(cJSON_GetObjectItemCaseSensitive(c, "findings"), &want_n);
        got = finding_keys(cJSON_GetObjectItemCaseSensitive(report, "findings"), &got_n);
        same = want != NULL && got != NULL && want_n == got_n;
        for (i = 0; same && i < want_n; i++) same = strcmp(want[i], got[i]) == 0;
        if (!same) {
            fprintf(stderr, "%s: findings differ (%zu expected, %zu reported)\n", file, want_n, got_n);
            for (i = 0; got != NULL && i < got_n; i++) fprintf(stderr, "  got  %s\n", got[i]);
            for (i = 0; want != NULL && i < want_n; i++) fprintf(stderr, "  want %s\n", want[i]);
        }
        CHECK(same);
        /* Automatic detection agrees with the extension for every example. */
        {
            bool auto_acc = !accepted;
            cJSON *r2 = check_config(text, strlen(text), SEALWIRE_CONFIG_FORMAT_AUTO, &auto_acc);
            CHECK(r2 != NULL && auto_acc == accepted);
            cJSON_Delete(r2);
        }
        free_keys(want, want_n);
        free_keys(got, got_n);
        cJSON_Delete(report);
        free(text);
        n++;
    }
    CHECK(n >= 40);
    printf("  config: %d examples of cases.json replayed\n", n);
    cJSON_Delete(manifest);
    free(manifest_text);
}

static void test_config_api(void)
{
    size_t need = 0, written = 0;
    char *toml;
    bool accepted = false;
    cJSON *report;
    static const uint8_t bad_utf8[] = {'v', 0xff, '=', '1'};
    char small[4] = "xyz";

    /* The commented default: a length query, then the text; it is accepted without findings. */
    CHECK_RC(sealwire_config_default_toml(NULL, 0, &need), SEALWIRE_BUFFER_TOO_SMALL);
    CHECK(need > 100);
    CHECK_RC(sealwire_config_default_toml(small, sizeof small, &written), SEALWIRE_BUFFER_TOO_SMALL);
    CHECK(written == need && strcmp(small, "xyz") == 0);
    toml = malloc(need);
    if (toml == NULL) return;
    CHECK_RC(sealwire_config_default_toml(toml, need, &written), SEALWIRE_OK);
    CHECK(written == need && strlen(toml) == need - 1 && strstr(toml, "version = 1") != NULL);
    CHECK(toml[0] == '#');
    report = check_config(toml, strlen(toml), SEALWIRE_CONFIG_FORMAT_TOML, &accepted);
    CHECK(accepted);
    CHECK(report != NULL && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(report, "findings")) == 0);
    cJSON_Delete(report);
    free(toml);

    /* The weak test KDF is an error without its override, accepted with it. */
    accepted = true;
    {
        static const char weak[] = "version = 1\n[identity.kdf]\nmemory_kib = 19456\niterations = 2\n";
        report = check_config(weak, strlen(weak), SEALWIRE_CONFIG_FORMAT_TOML, &accepted);
    }
    CHECK(!accepted);
    cJSON_Delete(report);
    accepted = false;
    report = check_config(CONFIG, strlen(CONFIG), SEALWIRE_CONFIG_FORMAT_AUTO, &accepted);
    CHECK(accepted);
    cJSON_Delete(report);
    accepted = false;
    report = check_config(CONFIG_ROOT_KEY, strlen(CONFIG_ROOT_KEY), SEALWIRE_CONFIG_FORMAT_AUTO, &accepted);
    CHECK(accepted);
    cJSON_Delete(report);

    /* Bad arguments: typed codes, outputs untouched. */
    accepted = true;
    written = 7;
    CHECK_RC(sealwire_config_check(bad_utf8, sizeof bad_utf8, SEALWIRE_CONFIG_FORMAT_TOML, NULL, 0,
                                   &written, &accepted),
             SEALWIRE_INVALID_UTF8);
    CHECK(written == 7 && accepted);
    CHECK_RC(sealwire_config_check((const uint8_t *)"version = 1", 11, 3, NULL, 0, &written, &accepted),
             SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_config_check(NULL, 5, SEALWIRE_CONFIG_FORMAT_TOML, NULL, 0, &written, &accepted),
             SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_config_check((const uint8_t *)"version = 1", 11, 0, NULL, 0, NULL, &accepted),
             SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_config_check((const uint8_t *)"version = 1", 11, 0, NULL, 0, &written, NULL),
             SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_config_default_toml(NULL, 0, NULL), SEALWIRE_NULL_POINTER);
    /* Empty text: a check (missing version), not an argument error. */
    accepted = true;
    report = check_config("", 0, SEALWIRE_CONFIG_FORMAT_AUTO, &accepted);
    CHECK(!accepted);
    cJSON_Delete(report);
}

/* ------------------------------------------------------------------ two agents */

struct accept_job {
    sealwire_agent *agent;
    uint32_t wait_ms;
    int fd; /* >= 0: sealwire_agent_accept_fd() after accept() on this listening socket */
    sealwire_result rc;
    sealwire_channel_info *info;
};

static void *accept_thread(void *arg)
{
    struct accept_job *job = arg;
    if (job->fd >= 0) {
        int conn = accept(job->fd, NULL, NULL);
        job->rc = conn < 0 ? SEALWIRE_IO : sealwire_agent_accept_fd(job->agent, conn, &job->info);
    } else {
        job->rc = sealwire_agent_accept_incoming(job->agent, job->wait_ms, &job->info);
    }
    return NULL;
}

static bool protocol_starts(const sealwire_channel_info *info, const char *prefix)
{
    char buf[128];
    size_t n = 0;
    if (info == NULL || sealwire_channel_info_protocol(info, buf, sizeof buf, &n) != SEALWIRE_OK) return false;
    return n == strlen(buf) + 1 && strncmp(buf, prefix, strlen(prefix)) == 0;
}

static bool initiator_of(const sealwire_channel_info *info)
{
    bool b = false;
    CHECK_RC(sealwire_channel_info_initiator(info, &b), SEALWIRE_OK);
    return b;
}

/* `from` connects to `to` (listening on `address`, or through `fd` when >= 0) with
 * `address` / `peer`; checks both channel infos. */
static void link_up(sealwire_agent *from, sealwire_agent *to, const char *address,
                    const sealwire_public_identity *peer, int fd, const char *want)
{
    pthread_t t;
    struct accept_job job = {to, 5000, fd, SEALWIRE_PANIC, NULL};
    sealwire_channel_info *mine = NULL;
    sealwire_public_identity *p = NULL;
    sealwire_result rc;

    CHECK(pthread_create(&t, NULL, accept_thread, &job) == 0);
    rc = sealwire_agent_connect(from, address, peer, &mine);
    pthread_join(t, NULL);
    CHECK_RC(rc, SEALWIRE_OK);
    CHECK_RC(job.rc, SEALWIRE_OK);
    CHECK(protocol_starts(mine, want));
    CHECK(protocol_starts(job.info, want));
    if (mine != NULL && job.info != NULL) {
        char x[128], y[128];
        size_t n = 0;
        CHECK_RC(sealwire_channel_info_protocol(mine, x, sizeof x, &n), SEALWIRE_OK);
        CHECK_RC(sealwire_channel_info_protocol(job.info, y, sizeof y, &n), SEALWIRE_OK);
        CHECK(strcmp(x, y) == 0);
        CHECK(initiator_of(mine) && !initiator_of(job.info));
        /* Each side sees the other's identity, authenticated by the handshake. */
        CHECK_RC(sealwire_channel_info_peer(mine, &p), SEALWIRE_OK);
        CHECK(same_identity(p, to));
        sealwire_public_identity_free(p);
        p = NULL;
        CHECK_RC(sealwire_channel_info_peer(job.info, &p), SEALWIRE_OK);
        CHECK(same_identity(p, from));
        sealwire_public_identity_free(p);
    }
    sealwire_channel_info_free(mine);
    sealwire_channel_info_free(job.info);
}

#define MAX_GOT 16
struct got {
    size_t n;
    uint64_t id[MAX_GOT];
    char text[MAX_GOT][64];
    uint8_t peer[MAX_GOT][SEALWIRE_MESSENGER_PEER_ID_LEN];
};

/* Receive until `want` messages came (bounded to about 5 s); acknowledges them if `ack`. */
static void receive_n(sealwire_agent *a, size_t want, bool ack, struct got *got)
{
    int round;
    memset(got, 0, sizeof *got);
    for (round = 0; round < 50 && got->n < want; round++) {
        sealwire_received_list *list = NULL;
        size_t count = 0, i;
        if (sealwire_agent_receive(a, 100, &list) != SEALWIRE_OK) {
            CHECK(!"sealwire_agent_receive failed");
            return;
        }
        CHECK_RC(sealwire_received_list_count(list, &count), SEALWIRE_OK);
        for (i = 0; i < count && got->n < MAX_GOT; i++) {
            sealwire_received *r = NULL;
            size_t len = 0, plen = 0;
            CHECK_RC(sealwire_received_list_get(list, i, &r), SEALWIRE_OK);
            CHECK_RC(sealwire_received_id(r, &got->id[got->n]), SEALWIRE_OK);
            CHECK_RC(sealwire_received_peer_id(r, got->peer[got->n], SEALWIRE_MESSENGER_PEER_ID_LEN, &len),
                     SEALWIRE_OK);
            CHECK_RC(sealwire_received_plaintext(r, (uint8_t *)got->text[got->n], 63, &plen), SEALWIRE_OK);
            got->text[got->n][plen < 63 ? plen : 63] = '\0';
            if (ack) CHECK_RC(sealwire_agent_ack(a, got->id[got->n]), SEALWIRE_OK);
            sealwire_received_free(r);
            got->n++;
        }
        sealwire_received_list_free(list);
    }
}

/* Nothing more arrives within `ms`. */
static size_t receive_nothing(sealwire_agent *a, uint32_t ms)
{
    sealwire_received_list *list = NULL;
    size_t count = 99;
    CHECK_RC(sealwire_agent_receive(a, ms, &list), SEALWIRE_OK);
    CHECK_RC(sealwire_received_list_count(list, &count), SEALWIRE_OK);
    sealwire_received_list_free(list);
    return count;
}

static void send_text(sealwire_agent *a, const sealwire_public_identity *to, const char *text,
                      sealwire_delivery want, uint64_t *id)
{
    sealwire_agent_send_report r = {0, 0};
    CHECK_RC(sealwire_agent_send(a, to, (const uint8_t *)text, strlen(text), &r), SEALWIRE_OK);
    CHECK(r.delivery == want);
    CHECK(r.id > 0);
    if (id != NULL) {
        if (*id != 0) CHECK(r.id > *id); /* outbox ids increase */
        *id = r.id;
    }
}

struct receive_job {
    sealwire_agent *agent;
    sealwire_result rc;
    atomic_int started;
    double ended;
};

static void *receive_thread(void *arg)
{
    struct receive_job *job = arg;
    sealwire_received_list *list = NULL;
    atomic_store(&job->started, 1);
    job->rc = sealwire_agent_receive(job->agent, 400, &list);
    job->ended = now_seconds();
    sealwire_received_list_free(list);
    return NULL;
}

/* A listening socket on 127.0.0.1 (any port) and its port. */
static int listen_socket(int *port)
{
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 4) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        perror("listen socket");
        if (fd >= 0) close(fd);
        return -1;
    }
    *port = ntohs(addr.sin_port);
    return fd;
}

static void test_two_agents(void)
{
    sealwire_agent *alice = open_agent("alice"), *bob = open_agent("bob"), *again = SENTINEL;
    sealwire_public_identity *alice_pub = NULL, *bob_pub = NULL;
    uint8_t alice_pid[32], bob_pid[32], alice_bytes[SEALWIRE_PUBLIC_IDENTITY_LEN], before[SEALWIRE_PUBLIC_IDENTITY_LEN];
    char addr[SEALWIRE_AGENT_ADDRESS_BUFFER_LEN], addr2[SEALWIRE_AGENT_ADDRESS_BUFFER_LEN], tiny[8];
    size_t n = 0, pending = 99;
    uint64_t out_id = 0, kept_id = 0;
    struct got got;
    bool flag = false;
    int fd, port = 0;

    if (alice == NULL || bob == NULL) return;
    CHECK_RC(sealwire_agent_public(alice, &alice_pub), SEALWIRE_OK);
    CHECK_RC(sealwire_agent_public(bob, &bob_pub), SEALWIRE_OK);
    CHECK_RC(sealwire_agent_peer_id(alice, alice_pid, sizeof alice_pid, &n), SEALWIRE_OK);
    CHECK(n == 32);
    CHECK_RC(sealwire_agent_peer_id(bob, bob_pid, sizeof bob_pid, &n), SEALWIRE_OK);
    CHECK(memcmp(alice_pid, bob_pid, 32) != 0);
    public_bytes(alice, alice_bytes);
    /* The peer id is the Ed25519 key inside the encoded identity ("SWPI", version, key). */
    CHECK(memcmp(alice_bytes + 5, alice_pid, 32) == 0);

    /* Listening: the buffer is checked before binding. */
    n = 0;
    CHECK_RC(sealwire_agent_listening_on(bob, addr, sizeof addr, &n), SEALWIRE_INVALID_STATE);
    CHECK_RC(sealwire_agent_listen(bob, "127.0.0.1:0", tiny, sizeof tiny, &n), SEALWIRE_BUFFER_TOO_SMALL);
    CHECK(n == SEALWIRE_AGENT_ADDRESS_BUFFER_LEN);
    CHECK_RC(sealwire_agent_listening_on(bob, addr, sizeof addr, &n), SEALWIRE_INVALID_STATE);
    CHECK_RC(sealwire_agent_listen(bob, "127.0.0.1:0", addr, sizeof addr, &n), SEALWIRE_OK);
    CHECK(n == strlen(addr) + 1 && strncmp(addr, "127.0.0.1:", 10) == 0 && atoi(addr + 10) > 0);
    CHECK_RC(sealwire_agent_listening_on(bob, addr2, sizeof addr2, &n), SEALWIRE_OK);
    CHECK(strcmp(addr, addr2) == 0);
    CHECK_RC(sealwire_agent_listen(alice, "127.0.0.1:notaport", addr2, sizeof addr2, &n), SEALWIRE_IO);
    {
        sealwire_channel_info *none = SENTINEL;
        /* Nobody connects: success with NULL. */
        CHECK_RC(sealwire_agent_accept_incoming(bob, 0, &none), SEALWIRE_OK);
        CHECK(none == NULL);
        /* Alice does not listen. */
        none = SENTINEL;
        CHECK_RC(sealwire_agent_accept_incoming(alice, 0, &none), SEALWIRE_INVALID_PARAMETER);
        CHECK(none == SENTINEL);
    }

    /* No channel, no relay: no session can start, nothing is committed. */
    {
        sealwire_agent_send_report r = {77, 77};
        CHECK_RC(sealwire_agent_send(alice, bob_pub, (const uint8_t *)"x", 1, &r), SEALWIRE_NO_SESSION);
        CHECK(r.id == 77 && r.delivery == 77);
        CHECK_RC(sealwire_agent_pending_outbox_len(alice, &pending), SEALWIRE_OK);
        CHECK(pending == 0);
    }

    /* First contact: XX. */
    link_up(alice, bob, addr, NULL, -1, "Noise_XX");
    CHECK_RC(sealwire_agent_is_connected(alice, bob_pub, &flag), SEALWIRE_OK);
    CHECK(flag);
    CHECK_RC(sealwire_agent_is_connected(bob, alice_pub, &flag), SEALWIRE_OK);
    CHECK(flag);

    /* Both ways, live, exactly once. */
    send_text(alice, bob_pub, "hello bob 1", SEALWIRE_DELIVERY_LIVE, &out_id);
    send_text(alice, bob_pub, "hello bob 2", SEALWIRE_DELIVERY_LIVE, &out_id);
    receive_n(bob, 2, true, &got);
    CHECK(got.n == 2);
    CHECK(strcmp(got.text[0], "hello bob 1") == 0 && strcmp(got.text[1], "hello bob 2") == 0);
    CHECK(memcmp(got.peer[0], alice_pid, 32) == 0 && memcmp(got.peer[1], alice_pid, 32) == 0);
    CHECK(got.id[1] > got.id[0]);
    CHECK(receive_nothing(bob, 200) == 0);
    /* Bob's acknowledgements reach Alice: her outbox empties. */
    CHECK(receive_nothing(alice, 300) == 0);
    CHECK_RC(sealwire_agent_pending_outbox_len(alice, &pending), SEALWIRE_OK);
    CHECK(pending == 0);
    send_text(bob, alice_pub, "hi alice", SEALWIRE_DELIVERY_LIVE, NULL);
    receive_n(alice, 1, true, &got);
    CHECK(got.n == 1 && strcmp(got.text[0], "hi alice") == 0 && memcmp(got.peer[0], bob_pid, 32) == 0);
    CHECK(receive_nothing(alice, 100) == 0);
    {
        sealwire_agent_counters s;
        memset(&s, 0xff, sizeof s);
        CHECK_RC(sealwire_agent_stats(alice, &s), SEALWIRE_OK);
        CHECK(s.handshakes == 1 && s.sent_live == 2 && s.received_live == 1 && s.duplicates == 0);
        CHECK(s.sent_relay == 0 && s.received_relay == 0 && s.rejected == 0);
    }

    /* Known peer: the peer table turns the next connection to that address into IK, and a
     * connection by identity alone finds the address there. */
    CHECK_RC(sealwire_agent_disconnect(alice, bob_pub, &flag), SEALWIRE_OK);
    CHECK(flag);
    CHECK_RC(sealwire_agent_disconnect(alice, bob_pub, &flag), SEALWIRE_OK);
    CHECK(!flag);
    CHECK_RC(sealwire_agent_is_connected(alice, bob_pub, &flag), SEALWIRE_OK);
    CHECK(!flag);
    link_up(alice, bob, addr, NULL, -1, "Noise_IK");
    link_up(alice, bob, NULL, bob_pub, -1, "Noise_IK");
    send_text(alice, bob_pub, "over IK", SEALWIRE_DELIVERY_LIVE, &out_id);
    receive_n(bob, 1, true, &got);
    CHECK(got.n == 1 && strcmp(got.text[0], "over IK") == 0);

    /* A connection the application accepted itself, handed over as a descriptor. Bob dials
     * Alice, whom he knows from the handshakes: IK. */
    fd = listen_socket(&port);
    CHECK(fd >= 0);
    if (fd >= 0) {
        char a2[32];
        snprintf(a2, sizeof a2, "127.0.0.1:%d", port);
        link_up(bob, alice, a2, alice_pub, fd, "Noise_IK");
        close(fd);
        send_text(bob, alice_pub, "via fd", SEALWIRE_DELIVERY_LIVE, NULL);
        receive_n(alice, 1, true, &got);
        CHECK(got.n == 1 && strcmp(got.text[0], "via fd") == 0);
    }
    {
        sealwire_channel_info *info = SENTINEL;
        CHECK_RC(sealwire_agent_accept_fd(alice, -1, &info), SEALWIRE_INVALID_PARAMETER);
        CHECK(info == SENTINEL);
    }

    /* Two threads on one agent: the second call waits for the first, both succeed. */
    {
        pthread_t t;
        struct receive_job job;
        sealwire_agent_counters s;
        double t0, t1;
        job.agent = alice;
        job.rc = SEALWIRE_PANIC;
        atomic_init(&job.started, 0);
        job.ended = 0;
        CHECK(pthread_create(&t, NULL, receive_thread, &job) == 0);
        while (atomic_load(&job.started) == 0) sleep_ms(1);
        sleep_ms(50);
        t0 = now_seconds();
        CHECK_RC(sealwire_agent_stats(alice, &s), SEALWIRE_OK);
        t1 = now_seconds();
        pthread_join(t, NULL);
        CHECK_RC(job.rc, SEALWIRE_OK);
        /* stats() returned only after receive() let go of the agent. */
        CHECK(t1 >= job.ended - 0.005 && t1 - t0 > 0.2);
    }

    /* An unacknowledged message comes back after a restart, with the same id; then it is
     * gone once acknowledged. */
    send_text(alice, bob_pub, "keep me", SEALWIRE_DELIVERY_LIVE, &out_id);
    receive_n(bob, 1, false, &got);
    CHECK(got.n == 1 && strcmp(got.text[0], "keep me") == 0);
    kept_id = got.id[0];
    CHECK(receive_nothing(bob, 100) == 0); /* once per run */
    public_bytes(bob, before);
    CHECK_RC(sealwire_agent_close(bob), SEALWIRE_OK);
    sealwire_agent_free(bob);
    bob = NULL;
    CHECK_RC(open_with("bob", CONFIG, SEALWIRE_AGENT_UNLOCK_PASSPHRASE, PASS, strlen(PASS), &bob), SEALWIRE_OK);
    if (bob == NULL) goto done;
    {
        uint8_t after[SEALWIRE_PUBLIC_IDENTITY_LEN];
        public_bytes(bob, after);
        CHECK(memcmp(before, after, sizeof after) == 0);
    }
    receive_n(bob, 1, true, &got);
    CHECK(got.n == 1 && got.id[0] == kept_id && strcmp(got.text[0], "keep me") == 0);
    CHECK(receive_nothing(bob, 100) == 0);
    CHECK_RC(sealwire_agent_close(bob), SEALWIRE_OK);
    sealwire_agent_free(bob);
    bob = NULL;
    CHECK_RC(open_with("bob", CONFIG, SEALWIRE_AGENT_UNLOCK_PASSPHRASE, PASS, strlen(PASS), &bob), SEALWIRE_OK);
    if (bob == NULL) goto done;
    CHECK(receive_nothing(bob, 100) == 0);

    /* Wrong passphrase, and a second open of a home in use. */
    CHECK_RC(open_with("alice", CONFIG, SEALWIRE_AGENT_UNLOCK_PASSPHRASE, PASS, strlen(PASS), &again),
             SEALWIRE_STORAGE);
    CHECK(again == SENTINEL);
    CHECK_RC(sealwire_agent_close(alice), SEALWIRE_OK);
    CHECK_RC(open_with("alice", CONFIG, SEALWIRE_AGENT_UNLOCK_PASSPHRASE, "wrong", 5, &again),
             SEALWIRE_DECRYPTION_FAILED);
    CHECK(again == SENTINEL);
    /* The closed handle: every call is refused, a second close too. */
    {
        sealwire_public_identity *p = SENTINEL;
        sealwire_received_list *list = SENTINEL;
        CHECK_RC(sealwire_agent_close(alice), SEALWIRE_INVALID_STATE);
        CHECK_RC(sealwire_agent_public(alice, &p), SEALWIRE_INVALID_STATE);
        CHECK(p == SENTINEL);
        CHECK_RC(sealwire_agent_receive(alice, 0, &list), SEALWIRE_INVALID_STATE);
        CHECK(list == SENTINEL);
        CHECK_RC(sealwire_agent_ack(alice, 1), SEALWIRE_INVALID_STATE);
    }
    sealwire_agent_free(alice);
    alice = NULL;
    CHECK_RC(open_with("alice", CONFIG, SEALWIRE_AGENT_UNLOCK_PASSPHRASE, PASS, strlen(PASS), &alice),
             SEALWIRE_OK);
    if (alice == NULL) goto done;
    {
        uint8_t after[SEALWIRE_PUBLIC_IDENTITY_LEN];
        public_bytes(alice, after);
        CHECK(memcmp(alice_bytes, after, sizeof after) == 0);
    }
    /* The ratchet sessions survived: a reconnect (IK, from the saved peer table) carries a
     * new message, and its outbox ids keep increasing. */
    CHECK_RC(sealwire_agent_listen(bob, "127.0.0.1:0", addr, sizeof addr, &n), SEALWIRE_OK);
    link_up(alice, bob, addr, bob_pub, -1, "Noise_IK");
    send_text(alice, bob_pub, "after restart", SEALWIRE_DELIVERY_LIVE, &out_id);
    receive_n(bob, 1, true, &got);
    CHECK(got.n == 1 && strcmp(got.text[0], "after restart") == 0 && got.id[0] > kept_id);

done:
    sealwire_public_identity_free(alice_pub);
    sealwire_public_identity_free(bob_pub);
    sealwire_agent_free(alice);
    sealwire_agent_free(bob);
}

/* ------------------------------------------------------------------ sealing and maintenance */

static sealwire_context *context_of(const char *key, const char *value)
{
    sealwire_context *c = NULL;
    CHECK_RC(sealwire_context_new(&c), SEALWIRE_OK);
    CHECK_RC(sealwire_context_insert(c, (const uint8_t *)key, strlen(key), (const uint8_t *)value, strlen(value)),
             SEALWIRE_OK);
    return c;
}

/* Open `sealed` with `a` and compare to `want`; returns the result code. */
static sealwire_result open_sealed(const sealwire_agent *a, const uint8_t *sealed, size_t len,
                                   const sealwire_context *ctx, const char *want)
{
    uint8_t buf[256];
    size_t n = 0;
    sealwire_result rc = sealwire_agent_open_sealed(a, sealed, len, ctx, buf, sizeof buf, &n);
    if (rc == SEALWIRE_OK) CHECK(n == strlen(want) && memcmp(buf, want, n) == 0);
    return rc;
}

/* The version of the first wrapped key of an envelope. */
static uint32_t wrapped_version(const uint8_t *sealed, size_t len)
{
    sealwire_envelope_header *h = NULL;
    uint32_t v = 0;
    CHECK_RC(sealwire_envelope_header_parse(sealed, len, &h), SEALWIRE_OK);
    CHECK_RC(sealwire_envelope_header_wrapped_key_version(h, 0, &v), SEALWIRE_OK);
    sealwire_envelope_header_free(h);
    return v;
}

static void test_sealing_and_maintenance(void)
{
    sealwire_agent *a = open_agent("carol"), *b = open_agent("dave");
    sealwire_context *ctx = context_of("purpose", "test"), *other = context_of("purpose", "other");
    sealwire_public_identity *b_pub = NULL, *a_pub = NULL;
    const sealwire_public_identity *recipients[2];
    uint8_t *sealed = NULL, *for_b = NULL, *rewrapped = NULL;
    size_t sealed_len = 0, for_b_len = 0, rewrapped_len = 0, n = 0;
    uint8_t buf[64];
    sealwire_agent_maintain_report r1, r2;
    uint64_t counter = 0;
    const uint64_t now = (uint64_t)time(NULL);

    if (a == NULL || b == NULL) goto done;
    CHECK_RC(sealwire_agent_public(b, &b_pub), SEALWIRE_OK);
    CHECK_RC(sealwire_agent_public(a, &a_pub), SEALWIRE_OK);

    /* seal / open_sealed under the home's keyring. */
    CHECK_RC(sealwire_agent_seal(a, (const uint8_t *)"at rest", 7, ctx, &sealed, &sealed_len), SEALWIRE_OK);
    CHECK(sealed != NULL && sealed_len > 7);
    /* A length query gives the plaintext length without decrypting; a short buffer too. */
    n = 0;
    CHECK_RC(sealwire_agent_open_sealed(a, sealed, sealed_len, ctx, NULL, 0, &n), SEALWIRE_BUFFER_TOO_SMALL);
    CHECK(n == 7);
    n = 0;
    CHECK_RC(sealwire_agent_open_sealed(a, sealed, sealed_len, ctx, buf, 6, &n), SEALWIRE_BUFFER_TOO_SMALL);
    CHECK(n == 7);
    CHECK_RC(open_sealed(a, sealed, sealed_len, ctx, "at rest"), SEALWIRE_OK);
    CHECK_RC(open_sealed(a, sealed, sealed_len, other, "at rest"), SEALWIRE_CONTEXT_MISMATCH);
    /* Another agent's KEK does not open it: its keyring key has the same id ("agent") and
     * version, so it claims the entry, and the unwrap fails authentication. */
    CHECK_RC(open_sealed(b, sealed, sealed_len, ctx, "at rest"), SEALWIRE_HEADER_AUTH_FAILED);
    /* A modified byte in the payload. */
    sealed[sealed_len - 1] ^= 1;
    CHECK_RC(open_sealed(a, sealed, sealed_len, ctx, "at rest"), SEALWIRE_DECRYPTION_FAILED);
    sealed[sealed_len - 1] ^= 1;
    CHECK(wrapped_version(sealed, sealed_len) == 1);

    /* seal_for: only the recipient opens it. */
    recipients[0] = b_pub;
    CHECK_RC(sealwire_agent_seal_for(a, recipients, 1, (const uint8_t *)"for dave", 8, ctx, &for_b, &for_b_len),
             SEALWIRE_OK);
    CHECK_RC(open_sealed(b, for_b, for_b_len, ctx, "for dave"), SEALWIRE_OK);
    CHECK_RC(open_sealed(a, for_b, for_b_len, ctx, "for dave"), SEALWIRE_NO_MATCHING_KEY);
    CHECK_RC(open_sealed(b, for_b, for_b_len, other, "for dave"), SEALWIRE_CONTEXT_MISMATCH);
    sealwire_bytes_free(for_b, for_b_len);
    for_b = NULL;
    /* Both of them, the sender included. */
    recipients[1] = a_pub;
    CHECK_RC(sealwire_agent_seal_for(a, recipients, 2, (const uint8_t *)"for both", 8, ctx, &for_b, &for_b_len),
             SEALWIRE_OK);
    CHECK_RC(open_sealed(a, for_b, for_b_len, ctx, "for both"), SEALWIRE_OK);
    CHECK_RC(open_sealed(b, for_b, for_b_len, ctx, "for both"), SEALWIRE_OK);
    {
        uint8_t *o = SENTINEL;
        size_t ol = 5;
        const sealwire_public_identity *with_null[2] = {b_pub, NULL};
        CHECK_RC(sealwire_agent_seal_for(a, recipients, 0, (const uint8_t *)"x", 1, ctx, &o, &ol),
                 SEALWIRE_INVALID_PARAMETER);
        CHECK_RC(sealwire_agent_seal_for(a, NULL, 1, (const uint8_t *)"x", 1, ctx, &o, &ol), SEALWIRE_NULL_POINTER);
        CHECK_RC(sealwire_agent_seal_for(a, with_null, 2, (const uint8_t *)"x", 1, ctx, &o, &ol),
                 SEALWIRE_NULL_POINTER);
        CHECK_RC(sealwire_agent_seal(a, (const uint8_t *)"x", 1, NULL, &o, &ol), SEALWIRE_NULL_POINTER);
        CHECK_RC(sealwire_agent_seal(a, (const uint8_t *)"x", 1, ctx, &o, NULL), SEALWIRE_NULL_POINTER);
        CHECK(o == SENTINEL && ol == 5);
    }

    /* Maintenance 100 days on: a new signed prekey and a new KEK version; the same run
     * again changes nothing. */
    memset(&r1, 0, sizeof r1);
    CHECK_RC(sealwire_agent_maintain(a, now + 100 * DAY, &r1), SEALWIRE_OK);
    CHECK(r1.changed_anything && r1.signed_prekey_rotated && r1.kek_rotated_to == 2);
    CHECK(!r1.published && !r1.has_prekey_status); /* no relay */
    CHECK(r1.flushed && r1.flush.failed == 0 && r1.flush.error == SEALWIRE_OK);
    CHECK_RC(sealwire_agent_counter(a, &counter), SEALWIRE_OK);
    CHECK(r1.has_anchor && r1.anchor == counter);
    memset(&r2, 0xff, sizeof r2);
    CHECK_RC(sealwire_agent_maintain(a, now + 100 * DAY, &r2), SEALWIRE_OK);
    CHECK(!r2.changed_anything && !r2.signed_prekey_rotated && r2.kek_rotated_to == 0);
    CHECK(r2.signed_prekeys_expired == 0 && !r2.identity_rewrapped && !r2.published);
    CHECK(r2.has_anchor && r2.anchor == counter);
    /* Single steps: only their own fields. */
    memset(&r2, 0xff, sizeof r2);
    CHECK_RC(sealwire_agent_maintain_step(a, SEALWIRE_MAINTAIN_ROTATE_KEK, now + 100 * DAY, &r2), SEALWIRE_OK);
    CHECK(!r2.changed_anything && r2.kek_rotated_to == 0 && !r2.flushed && !r2.has_anchor);
    CHECK_RC(sealwire_agent_maintain_step(a, SEALWIRE_MAINTAIN_ROTATE_SIGNED_PREKEY, now + 108 * DAY, &r2),
             SEALWIRE_OK);
    CHECK(r2.changed_anything && r2.signed_prekey_rotated && !r2.flushed);
    CHECK_RC(sealwire_agent_maintain_step(a, SEALWIRE_MAINTAIN_SAVE_ANCHOR, now + 108 * DAY, &r2), SEALWIRE_OK);
    CHECK(r2.has_anchor && !r2.changed_anything);
    CHECK_RC(sealwire_agent_maintain_step(a, SEALWIRE_MAINTAIN_FLUSH_OUTBOX, 0, &r2), SEALWIRE_OK);
    CHECK(r2.flushed && !r2.has_anchor);
    memset(&r1, 0x5a, sizeof r1);
    memcpy(&r2, &r1, sizeof r1);
    CHECK_RC(sealwire_agent_maintain_step(a, 0, now, &r2), SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_agent_maintain_step(a, 8, now, &r2), SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_agent_maintain(a, now, NULL), SEALWIRE_NULL_POINTER);
    CHECK(memcmp(&r1, &r2, sizeof r1) == 0);

    /* After the KEK rotation: the old object still opens (grace), rewrap moves it to v2. */
    CHECK_RC(open_sealed(a, sealed, sealed_len, ctx, "at rest"), SEALWIRE_OK);
    CHECK_RC(sealwire_agent_rewrap_sealed(a, sealed, sealed_len, ctx, &rewrapped, &rewrapped_len), SEALWIRE_OK);
    CHECK(wrapped_version(rewrapped, rewrapped_len) == 2);
    CHECK_RC(open_sealed(a, rewrapped, rewrapped_len, ctx, "at rest"), SEALWIRE_OK);
    {
        uint8_t *o = SENTINEL;
        size_t ol = 5;
        CHECK_RC(sealwire_agent_rewrap_sealed(a, sealed, sealed_len, other, &o, &ol), SEALWIRE_CONTEXT_MISMATCH);
        CHECK(o == SENTINEL && ol == 5);
    }
    /* New seals use v2; the rotation survives a reopen. */
    sealwire_bytes_free(sealed, sealed_len);
    sealed = NULL;
    CHECK_RC(sealwire_agent_seal(a, (const uint8_t *)"v2", 2, ctx, &sealed, &sealed_len), SEALWIRE_OK);
    CHECK(wrapped_version(sealed, sealed_len) == 2);
    sealwire_agent_free(a); /* dropped without close: safe */
    a = NULL;
    CHECK_RC(open_with("carol", CONFIG, SEALWIRE_AGENT_UNLOCK_PASSPHRASE, PASS, strlen(PASS), &a), SEALWIRE_OK);
    if (a == NULL) goto done;
    CHECK_RC(open_sealed(a, sealed, sealed_len, ctx, "v2"), SEALWIRE_OK);
    CHECK_RC(open_sealed(a, rewrapped, rewrapped_len, ctx, "at rest"), SEALWIRE_OK);
    memset(&r2, 0xff, sizeof r2);
    CHECK_RC(sealwire_agent_maintain(a, now + 108 * DAY, &r2), SEALWIRE_OK);
    CHECK(!r2.changed_anything);

done:
    sealwire_bytes_free(sealed, sealed_len);
    sealwire_bytes_free(for_b, for_b_len);
    sealwire_bytes_free(rewrapped, rewrapped_len);
    sealwire_public_identity_free(a_pub);
    sealwire_public_identity_free(b_pub);
    sealwire_context_free(ctx);
    sealwire_context_free(other);
    sealwire_agent_free(a);
    sealwire_agent_free(b);
}

/* A home whose identity is sealed under a keyring protected by a root key. */
static void test_root_key_home(void)
{
    sealwire_agent *a = NULL, *again = SENTINEL;
    uint8_t first[SEALWIRE_PUBLIC_IDENTITY_LEN], second[SEALWIRE_PUBLIC_IDENTITY_LEN], wrong[32];

    CHECK_RC(open_with("erin", CONFIG_ROOT_KEY, SEALWIRE_AGENT_UNLOCK_ROOT_KEY, ROOT_KEY, sizeof ROOT_KEY, &a),
             SEALWIRE_OK);
    if (a == NULL) return;
    public_bytes(a, first);
    CHECK_RC(sealwire_agent_close(a), SEALWIRE_OK);
    sealwire_agent_free(a);
    a = NULL;
    memcpy(wrong, ROOT_KEY, sizeof wrong);
    wrong[31] ^= 1;
    CHECK_RC(open_with("erin", CONFIG_ROOT_KEY, SEALWIRE_AGENT_UNLOCK_ROOT_KEY, wrong, sizeof wrong, &again),
             SEALWIRE_DECRYPTION_FAILED);
    CHECK(again == SENTINEL);
    CHECK_RC(open_with("erin", CONFIG_ROOT_KEY, SEALWIRE_AGENT_UNLOCK_ROOT_KEY, ROOT_KEY, 31, &again),
             SEALWIRE_INVALID_LENGTH);
    CHECK(again == SENTINEL);
    CHECK_RC(open_with("erin", CONFIG_ROOT_KEY, SEALWIRE_AGENT_UNLOCK_ROOT_KEY, ROOT_KEY, sizeof ROOT_KEY, &a),
             SEALWIRE_OK);
    if (a == NULL) return;
    public_bytes(a, second);
    CHECK(memcmp(first, second, sizeof first) == 0);
    sealwire_agent_free(a);
    /* The root key from the environment. */
    {
        char h[65];
        size_t i, j = 0;
        for (i = 0; i < sizeof ROOT_KEY; i++) j += (size_t)snprintf(h + j, sizeof h - j, "%02x", ROOT_KEY[i]);
        CHECK(j == 64);
        setenv("SEALWIRE_KEYRING_ROOT_KEY", h, 1);
        a = NULL;
        CHECK_RC(open_with("erin", CONFIG_ROOT_KEY, SEALWIRE_AGENT_UNLOCK_ROOT_KEY_FROM_ENV, NULL, 0, &a),
                 SEALWIRE_OK);
        if (a != NULL) {
            public_bytes(a, second);
            CHECK(memcmp(first, second, sizeof first) == 0);
        }
        sealwire_agent_free(a);
        unsetenv("SEALWIRE_KEYRING_ROOT_KEY");
    }
    /* A passphrase home cannot be opened without its passphrase. */
    again = SENTINEL;
    CHECK_RC(open_with("newhome", CONFIG, SEALWIRE_AGENT_UNLOCK_ROOT_KEY, ROOT_KEY, sizeof ROOT_KEY, &again),
             SEALWIRE_INVALID_PARAMETER);
    CHECK(again == SENTINEL);
}

/* ------------------------------------------------------------------ recovery */

/* Copy `src` to `dst` (replacing it); false if `src` does not exist. */
static bool copy_file(const char *src, const char *dst)
{
    char buf[8192];
    size_t n;
    bool ok = true;
    FILE *in = fopen(src, "rb"), *out;
    if (in == NULL) return false;
    out = fopen(dst, "wb");
    if (out == NULL) {
        fclose(in);
        return false;
    }
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n) ok = false;
    if (ferror(in)) ok = false;
    fclose(in);
    if (fclose(out) != 0) ok = false;
    return ok;
}

/* Save (`restore` false) or put back (`restore` true) the session store of home `name` with
 * its SQLite side files; a side file absent from the saved copy is removed on restore. */
static void sessions_copy(const char *name, bool restore)
{
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    char home[256], live[320], saved[320];
    size_t i;
    home_of(name, home, sizeof home);
    for (i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(live, sizeof live, "%s/sessions.sqlite%s", home, suffixes[i]);
        snprintf(saved, sizeof saved, "%s/../%s-saved-sessions%s", home, name, suffixes[i]);
        if (restore) {
            remove(live);
            if (!copy_file(saved, live)) CHECK(i > 0); /* the main file must have been saved */
        } else {
            remove(saved);
            if (!copy_file(live, saved)) CHECK(i > 0);
        }
    }
}

/* Entries of home `name` whose name starts with `prefix`. */
static size_t count_entries(const char *name, const char *prefix)
{
    char home[256];
    size_t count = 0;
    struct dirent *e;
    DIR *d;
    home_of(name, home, sizeof home);
    d = opendir(home);
    if (d == NULL) return 0;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) count++;
    closedir(d);
    return count;
}

/* A session store restored from an older copy: open refuses it (SEALWIRE_STALE_STATE),
 * recover starts a new store above the anchor, names the peers of the old one and keeps the
 * old file aside; the next message to the peer starts a new session. */
static void test_recover(void)
{
    sealwire_agent *alice = open_agent("rec-alice"), *bob = open_agent("rec-bob"), *again = SENTINEL;
    sealwire_public_identity *bob_pub = NULL;
    uint8_t bob_pid[32], *peers = SENTINEL;
    char addr[SEALWIRE_AGENT_ADDRESS_BUFFER_LEN];
    size_t n = 0, peers_len = 99;
    uint64_t id = 0, anchor = 0, counter = 0;
    struct got got;

    if (alice == NULL || bob == NULL) {
        sealwire_agent_free(alice);
        sealwire_agent_free(bob);
        return;
    }
    CHECK_RC(sealwire_agent_public(bob, &bob_pub), SEALWIRE_OK);
    CHECK_RC(sealwire_agent_peer_id(bob, bob_pid, sizeof bob_pid, &n), SEALWIRE_OK);
    CHECK_RC(sealwire_agent_listen(bob, "127.0.0.1:0", addr, sizeof addr, &n), SEALWIRE_OK);
    link_up(alice, bob, addr, NULL, -1, "Noise_XX");
    send_text(alice, bob_pub, "before the copy", SEALWIRE_DELIVERY_LIVE, &id);
    receive_n(bob, 1, true, &got);
    CHECK(got.n == 1 && strcmp(got.text[0], "before the copy") == 0);
    CHECK(receive_nothing(alice, 300) == 0); /* takes Bob's acknowledgement */
    CHECK_RC(sealwire_agent_close(alice), SEALWIRE_OK);
    sealwire_agent_free(alice);

    /* The copy has a session with Bob; then Alice commits more and closes (anchor saved). */
    sessions_copy("rec-alice", false);
    alice = open_agent("rec-alice");
    if (alice == NULL) goto done;
    send_text(alice, bob_pub, "after the copy", SEALWIRE_DELIVERY_QUEUED, &id);
    CHECK_RC(sealwire_agent_counter(alice, &anchor), SEALWIRE_OK);
    CHECK(anchor >= id);
    CHECK_RC(sealwire_agent_close(alice), SEALWIRE_OK);
    sealwire_agent_free(alice);
    alice = NULL;

    /* Restored: open refuses it and leaves *out alone. */
    sessions_copy("rec-alice", true);
    CHECK_RC(open_with("rec-alice", CONFIG, SEALWIRE_AGENT_UNLOCK_PASSPHRASE, PASS, strlen(PASS), &again),
             SEALWIRE_STALE_STATE);
    CHECK(again == SENTINEL);
    CHECK(count_entries("rec-alice", "stale-sessions-") == 0);

    /* Recovery: checked arguments first (nothing moved aside), then the peers of the old store. */
    {
        char home[256];
        home_of("rec-alice", home, sizeof home);
        CHECK_RC(sealwire_agent_recover(home, (const uint8_t *)CONFIG, strlen(CONFIG),
                                        SEALWIRE_AGENT_UNLOCK_PASSPHRASE, (const uint8_t *)PASS, strlen(PASS), NULL,
                                        &again, NULL, &peers_len),
                 SEALWIRE_NULL_POINTER);
        CHECK_RC(sealwire_agent_recover(home, (const uint8_t *)CONFIG, strlen(CONFIG),
                                        SEALWIRE_AGENT_UNLOCK_PASSPHRASE, (const uint8_t *)"wrong", 5, NULL, &again,
                                        &peers, &peers_len),
                 SEALWIRE_DECRYPTION_FAILED);
        CHECK(again == SENTINEL && peers == SENTINEL && peers_len == 99);
        CHECK(count_entries("rec-alice", "stale-sessions-") == 0);
        CHECK_RC(sealwire_agent_recover(home, (const uint8_t *)CONFIG, strlen(CONFIG),
                                        SEALWIRE_AGENT_UNLOCK_PASSPHRASE, (const uint8_t *)PASS, strlen(PASS), NULL,
                                        &again, &peers, &peers_len),
                 SEALWIRE_OK);
    }
    if (again == SENTINEL || again == NULL) goto done;
    alice = again;
    CHECK(peers_len == SEALWIRE_MESSENGER_PEER_ID_LEN);
    if (peers_len == SEALWIRE_MESSENGER_PEER_ID_LEN) CHECK(memcmp(peers, bob_pid, 32) == 0);
    sealwire_bytes_free(peers, peers_len);
    CHECK(count_entries("rec-alice", "stale-sessions-") == 1);
    /* Ids continue above the anchor; the message of the lost interval is gone. */
    CHECK_RC(sealwire_agent_counter(alice, &counter), SEALWIRE_OK);
    CHECK(counter > anchor);
    CHECK_RC(sealwire_agent_pending_outbox_len(alice, &n), SEALWIRE_OK);
    CHECK(n == 0);

    /* The next message to Bob starts a new session, which Bob takes as current. */
    link_up(alice, bob, addr, NULL, -1, "Noise_");
    id = anchor;
    send_text(alice, bob_pub, "after recovery", SEALWIRE_DELIVERY_LIVE, &id);
    receive_n(bob, 1, true, &got);
    CHECK(got.n == 1 && strcmp(got.text[0], "after recovery") == 0);
    CHECK_RC(sealwire_agent_close(alice), SEALWIRE_OK);
    sealwire_agent_free(alice);
    alice = NULL;

    /* The recovered store opens normally. */
    again = NULL;
    CHECK_RC(open_with("rec-alice", CONFIG, SEALWIRE_AGENT_UNLOCK_PASSPHRASE, PASS, strlen(PASS), &again),
             SEALWIRE_OK);
    sealwire_agent_free(again);

done:
    sealwire_agent_free(alice);
    sealwire_agent_free(bob);
    sealwire_public_identity_free(bob_pub);
}

/* ------------------------------------------------------------------ KMS settings */

/* A remote KEK takes its address and token from the options' KMS settings (here: none in the
 * environment). Opening needs no network; sealing then reaches for the (absent) server. */
static void test_kms_settings(void)
{
    static const char config[] = "version = 1\n"
                                 "[identity.kdf]\nmemory_kib = 19456\niterations = 2\nlanes = 1\n"
                                 "[prekeys]\nbatch_size = 10\nkem_batch_size = 10\n"
                                 "[storage.kek]\nprovider = \"vault\"\nuri = \"vault://agent-kek\"\n"
                                 "[overrides]\nallow_weak_kdf = true\n";
    static const char *const vars[] = {"VAULT_ADDR", "BAO_ADDR", "VAULT_TOKEN", "BAO_TOKEN"};
    sealwire_agent_options *o = NULL;
    sealwire_kms_settings *s = NULL;
    sealwire_agent *a = SENTINEL;
    sealwire_context *ctx = NULL;
    uint8_t *sealed = SENTINEL;
    size_t sealed_len = 0, i;
    char home[256];

    for (i = 0; i < sizeof vars / sizeof vars[0]; i++) unsetenv(vars[i]);
    home_of("kms", home, sizeof home);
    CHECK_RC(sealwire_agent_options_new(&o), SEALWIRE_OK);
    CHECK_RC(sealwire_kms_settings_new(&s), SEALWIRE_OK);
    if (o == NULL || s == NULL) goto done;
    CHECK_RC(sealwire_kms_settings_set_vault_address(s, "http://127.0.0.1:1"), SEALWIRE_OK);
    CHECK_RC(sealwire_kms_settings_set_vault_token(s, "test-token"), SEALWIRE_OK);
    CHECK_RC(sealwire_agent_options_set_kms_settings(NULL, s), SEALWIRE_NULL_POINTER);

    /* Without settings (and nothing in the environment) the KEK has no address. */
    CHECK_RC(sealwire_agent_open(home, (const uint8_t *)config, strlen(config), SEALWIRE_AGENT_UNLOCK_PASSPHRASE,
                                 (const uint8_t *)PASS, strlen(PASS), o, &a),
             SEALWIRE_INVALID_PARAMETER);
    CHECK(a == SENTINEL);
    /* Copied: the settings may be freed right after. */
    CHECK_RC(sealwire_agent_options_set_kms_settings(o, s), SEALWIRE_OK);
    sealwire_kms_settings_free(s);
    s = NULL;
    a = NULL;
    CHECK_RC(sealwire_agent_open(home, (const uint8_t *)config, strlen(config), SEALWIRE_AGENT_UNLOCK_PASSPHRASE,
                                 (const uint8_t *)PASS, strlen(PASS), o, &a),
             SEALWIRE_OK);
    if (a == NULL) goto done;
    ctx = context_of("purpose", "kms-settings");
    CHECK_RC(sealwire_agent_seal(a, (const uint8_t *)"x", 1, ctx, &sealed, &sealed_len), SEALWIRE_KMS_UNAVAILABLE);
    CHECK(sealed == SENTINEL);
    CHECK_RC(sealwire_agent_close(a), SEALWIRE_OK);
    sealwire_agent_free(a);
    a = NULL;

    /* NULL clears them again. */
    CHECK_RC(sealwire_agent_options_set_kms_settings(o, NULL), SEALWIRE_OK);
    a = SENTINEL;
    CHECK_RC(sealwire_agent_open(home, (const uint8_t *)config, strlen(config), SEALWIRE_AGENT_UNLOCK_PASSPHRASE,
                                 (const uint8_t *)PASS, strlen(PASS), o, &a),
             SEALWIRE_INVALID_PARAMETER);
    CHECK(a == SENTINEL);

done:
    sealwire_context_free(ctx);
    sealwire_kms_settings_free(s);
    sealwire_agent_options_free(o);
}

/* ------------------------------------------------------------------ misuse */

static void test_misuse(void)
{
    sealwire_agent *a = SENTINEL, *ok;
    sealwire_agent_options *o = NULL;
    static const uint8_t bad_utf8[] = {0xc3, 0x28};
    char home[256];
    uint8_t big_pid[40];
    size_t n = 0;
    sealwire_public_identity *self = NULL;

    home_of("misuse", home, sizeof home);
    CHECK_RC(sealwire_agent_open(NULL, (const uint8_t *)CONFIG, strlen(CONFIG), SEALWIRE_AGENT_UNLOCK_PASSPHRASE,
                                 (const uint8_t *)PASS, strlen(PASS), NULL, &a),
             SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_agent_open("", (const uint8_t *)CONFIG, strlen(CONFIG), SEALWIRE_AGENT_UNLOCK_PASSPHRASE,
                                 (const uint8_t *)PASS, strlen(PASS), NULL, &a),
             SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_agent_open(home, (const uint8_t *)CONFIG, strlen(CONFIG), 99, (const uint8_t *)PASS,
                                 strlen(PASS), NULL, &a),
             SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_agent_open(home, (const uint8_t *)CONFIG, strlen(CONFIG),
                                 SEALWIRE_AGENT_UNLOCK_ROOT_KEY_FROM_ENV, (const uint8_t *)PASS, 3, NULL, &a),
             SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_agent_open(home, bad_utf8, sizeof bad_utf8, SEALWIRE_AGENT_UNLOCK_PASSPHRASE,
                                 (const uint8_t *)PASS, strlen(PASS), NULL, &a),
             SEALWIRE_INVALID_UTF8);
    /* A configuration with errors (the strong default KDF is fine, but a weak one without
     * its override is refused), and one the agent cannot run (NN for first contact). */
    CHECK_RC(open_with("misuse", "version = 1\n[identity.kdf]\nmemory_kib = 19456\niterations = 2\n",
                       SEALWIRE_AGENT_UNLOCK_PASSPHRASE, PASS, strlen(PASS), &a),
             SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(open_with("misuse", "version = 1\n[handshake]\nfirst_contact = \"NNhfs\"\n[overrides]\n"
                                 "allow_unauthenticated_handshake = true\n",
                       SEALWIRE_AGENT_UNLOCK_PASSPHRASE, PASS, strlen(PASS), &a),
             SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(open_with("misuse", CONFIG, SEALWIRE_AGENT_UNLOCK_PASSPHRASE, PASS, strlen(PASS), NULL),
             SEALWIRE_NULL_POINTER);
    CHECK(a == SENTINEL);

    /* Options. */
    CHECK_RC(sealwire_agent_options_new(NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_agent_options_new(&o), SEALWIRE_OK);
    CHECK_RC(sealwire_agent_options_set_timeouts(o, 0, 1000, 1000, 100), SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_agent_options_set_timeouts(o, 1000, SEALWIRE_AGENT_MAX_TIMEOUT_MS + 1, 1000, 100),
             SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_agent_options_set_timeouts(o, 1000, 2000, 1000, 100), SEALWIRE_OK);
    CHECK_RC(sealwire_agent_options_set_relay_timeouts(o, 0, 1000, false), SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_agent_options_set_relay_timeouts(o, 500, 1000, false), SEALWIRE_OK);
    CHECK_RC(sealwire_agent_options_set_timeouts(NULL, 1000, 2000, 1000, 100), SEALWIRE_NULL_POINTER);
    /* A relay URL that is not acceptable is refused at open. */
    CHECK_RC(sealwire_agent_options_set_relay_url(o, "ftp://relay.example"), SEALWIRE_OK);
    CHECK_RC(sealwire_agent_open(home, (const uint8_t *)CONFIG, strlen(CONFIG), SEALWIRE_AGENT_UNLOCK_PASSPHRASE,
                                 (const uint8_t *)PASS, strlen(PASS), o, &a),
             SEALWIRE_INVALID_PARAMETER);
    CHECK(a == SENTINEL);
    CHECK_RC(sealwire_agent_options_set_relay_url(o, NULL), SEALWIRE_OK);
    ok = NULL;
    CHECK_RC(sealwire_agent_open(home, (const uint8_t *)CONFIG, strlen(CONFIG), SEALWIRE_AGENT_UNLOCK_PASSPHRASE,
                                 (const uint8_t *)PASS, strlen(PASS), o, &ok),
             SEALWIRE_OK);
    sealwire_agent_options_free(o);
    sealwire_agent_options_free(NULL);
    if (ok == NULL) return;

    /* Calls on an open agent with bad arguments. */
    {
        sealwire_agent_send_report r = {5, 5};
        sealwire_received_list *list = SENTINEL;
        sealwire_channel_info *info = SENTINEL;
        uint8_t *big = calloc(SEALWIRE_AGENT_MAX_MESSAGE_LEN + 1, 1);
        CHECK_RC(sealwire_agent_public(ok, &self), SEALWIRE_OK);
        CHECK_RC(sealwire_agent_send(ok, NULL, (const uint8_t *)"x", 1, &r), SEALWIRE_NULL_POINTER);
        CHECK_RC(sealwire_agent_send(ok, self, (const uint8_t *)"x", 1, &r), SEALWIRE_INVALID_PARAMETER);
        CHECK_RC(sealwire_agent_send(ok, self, NULL, 1, &r), SEALWIRE_NULL_POINTER);
        if (big != NULL)
            CHECK_RC(sealwire_agent_send(ok, self, big, SEALWIRE_AGENT_MAX_MESSAGE_LEN + 1, &r),
                     SEALWIRE_MESSAGE_TOO_LARGE);
        free(big);
        CHECK(r.id == 5 && r.delivery == 5);
        CHECK_RC(sealwire_agent_send(NULL, self, (const uint8_t *)"x", 1, &r), SEALWIRE_NULL_POINTER);
        CHECK_RC(sealwire_agent_receive(ok, SEALWIRE_AGENT_MAX_TIMEOUT_MS + 1, &list), SEALWIRE_INVALID_PARAMETER);
        CHECK_RC(sealwire_agent_receive(ok, 0, NULL), SEALWIRE_NULL_POINTER);
        CHECK(list == SENTINEL);
        CHECK_RC(sealwire_agent_connect(ok, NULL, NULL, &info), SEALWIRE_INVALID_PARAMETER);
        CHECK_RC(sealwire_agent_connect(ok, NULL, self, &info), SEALWIRE_INVALID_PARAMETER);
        CHECK_RC(sealwire_agent_connect(ok, "127.0.0.1:1", NULL, NULL), SEALWIRE_NULL_POINTER);
        /* Nobody listens on port 1. */
        CHECK_RC(sealwire_agent_connect(ok, "127.0.0.1:1", NULL, &info), SEALWIRE_IO);
        CHECK(info == SENTINEL);
        n = 3;
        CHECK_RC(sealwire_agent_peer_id(ok, big_pid, 31, &n), SEALWIRE_BUFFER_TOO_SMALL);
        CHECK(n == 32);
        CHECK_RC(sealwire_agent_peer_id(ok, big_pid, sizeof big_pid, NULL), SEALWIRE_NULL_POINTER);
        CHECK_RC(sealwire_agent_stats(ok, NULL), SEALWIRE_NULL_POINTER);
        CHECK_RC(sealwire_agent_ack(NULL, 1), SEALWIRE_NULL_POINTER);
        /* Acknowledging an unknown id is idempotent. */
        CHECK_RC(sealwire_agent_ack(ok, 12345), SEALWIRE_OK);
        {
            sealwire_result last = SEALWIRE_PANIC;
            CHECK_RC(sealwire_agent_take_last_error(ok, &last), SEALWIRE_OK);
            CHECK(last == SEALWIRE_OK);
        }
        {
            sealwire_agent_flush_report fr;
            memset(&fr, 0xff, sizeof fr);
            CHECK_RC(sealwire_agent_flush(ok, &fr), SEALWIRE_OK);
            CHECK(fr.live == 0 && fr.relayed == 0 && fr.waiting == 0 && fr.failed == 0 && fr.error == SEALWIRE_OK);
        }
        CHECK_RC(sealwire_channel_info_protocol(NULL, NULL, 0, &n), SEALWIRE_NULL_POINTER);
    }
    CHECK_RC(sealwire_agent_close(NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_agent_close(ok), SEALWIRE_OK);
    sealwire_public_identity_free(self);
    sealwire_agent_free(ok);
    sealwire_agent_free(NULL);
    sealwire_channel_info_free(NULL);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(int argc, char **argv)
{
    printf("sealwire %s C API agent tests\n", sealwire_version());
    if (argc != 2) {
        fprintf(stderr, "usage: %s VECTORS_DIR (tests/vectors/config)\n", argv[0]);
        printf("0 passed, 1 failed\n");
        return 1;
    }
    if (mkdtemp(g_tmp) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_config_vectors(argv[1]);
    test_config_api();
    test_two_agents();
    test_sealing_and_maintenance();
    test_root_key_home();
    test_recover();
    test_kms_settings();
    test_misuse();
    if (nftw(g_tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
        perror("removing the temporary directory");
        g_failed++;
    }
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 ? 0 : 1;
}
