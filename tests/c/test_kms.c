/*
 * C11 tests of the remote KMS key providers and the data-key cache of include/sealwire.h
 * against libsealwire (shared or static).
 *
 * Always run (no server needed): the KMS result codes and strings; settings and URIs (NULL
 * pointers, invalid UTF-8, malformed URIs, missing configuration, settings taking precedence
 * over the environment, out-parameters untouched on failure, _free(NULL)); a KMS key on a
 * closed loopback port failing fast with SEALWIRE_KMS_UNAVAILABLE; a scripted local HTTP stub
 * answering 429 / 503, so the bounded retries show in the stats and end in
 * SEALWIRE_KMS_THROTTLED / SEALWIRE_KMS_UNAVAILABLE; the cache's limits and misuse codes.
 *
 * Against OpenBao (Vault Transit) and moto (AWS KMS) started by scripts/kms-servers.sh (the env
 * file in SEALWIRE_KMS_ENV_FILE, default /tmp/sealwire-kms/kms.env; SEALWIRE_TEST_* variables
 * override it): seal/open through each provider (settings and environment, one-shot and
 * streamed), multi-KMS (an object wrapped for both opens while the other one is unreachable),
 * wrong context and a moved wrapped key (SEALWIRE_CONTEXT_MISMATCH), unknown keys
 * (SEALWIRE_KMS_KEY_NOT_FOUND), bad token / secret (SEALWIRE_KMS_AUTH_FAILED), server-side
 * rewrap after a Vault rotation, adding an AWS entry by rewrap, a KMS key shared by four
 * threads, and the cache cutting KMS calls (1000 seals, 10 data keys). Without the servers
 * these tests print a loud SKIPPED line, unless SEALWIRE_KMS_REQUIRED=1: then they fail.
 *
 * Usage: test_kms
 * Prints "N passed, M failed" as its last line; exits non-zero on any failure.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sealwire.h"
#include "test_support.h"

#define SUITE SEALWIRE_ENVELOPE_SUITE_CHACHA20_POLY1305
#define SEG SEALWIRE_ENVELOPE_DEFAULT_SEGMENT_SIZE

/* ---- the test servers' settings ------------------------------------------------------ */

#define MAX_SETTINGS 32
static char g_names[MAX_SETTINGS][64];
static char g_values[MAX_SETTINGS][512];
static int g_nsettings;

static void set_setting(const char *name, const char *value)
{
    int i;
    for (i = 0; i < g_nsettings; i++) {
        if (strcmp(g_names[i], name) == 0) break;
    }
    if (i == MAX_SETTINGS || strlen(name) >= sizeof g_names[0] || strlen(value) >= sizeof g_values[0])
        return;
    strcpy(g_names[i], name);
    strcpy(g_values[i], value);
    if (i == g_nsettings) g_nsettings++;
}

static const char *setting(const char *name)
{
    int i;
    for (i = 0; i < g_nsettings; i++) {
        if (strcmp(g_names[i], name) == 0) return g_values[i];
    }
    return NULL;
}

static const char *const NEEDED[] = {
    "SEALWIRE_TEST_VAULT_ADDR",          "SEALWIRE_TEST_VAULT_TOKEN",
    "SEALWIRE_TEST_AWS_ENDPOINT",        "SEALWIRE_TEST_AWS_REGION",
    "SEALWIRE_TEST_AWS_ACCESS_KEY_ID",   "SEALWIRE_TEST_AWS_SECRET_ACCESS_KEY",
    "SEALWIRE_TEST_AWS_KEY_ARN",
};

/* KEY=VALUE lines of the env file written by scripts/kms-servers.sh, then SEALWIRE_TEST_*
 * variables of the process environment (they win, as in core/tests/kms_support). */
static void load_settings(void)
{
    const char *path = getenv("SEALWIRE_KMS_ENV_FILE");
    char line[1024];
    FILE *f;
    size_t i;
    if (path == NULL || path[0] == '\0') path = "/tmp/sealwire-kms/kms.env";
    f = fopen(path, "r");
    if (f != NULL) {
        while (fgets(line, sizeof line, f) != NULL) {
            char *eq = strchr(line, '='), *end;
            if (eq == NULL) continue;
            *eq = '\0';
            end = eq + 1 + strcspn(eq + 1, "\r\n");
            *end = '\0';
            set_setting(line, eq + 1);
        }
        fclose(f);
    }
    for (i = 0; i < sizeof NEEDED / sizeof NEEDED[0]; i++) {
        const char *v = getenv(NEEDED[i]);
        if (v != NULL && v[0] != '\0') set_setting(NEEDED[i], v);
    }
}

/* Whether the server tests can run; prints SKIPPED (or fails under SEALWIRE_KMS_REQUIRED=1). */
static int servers_configured(void)
{
    const char *required = getenv("SEALWIRE_KMS_REQUIRED");
    size_t i;
    for (i = 0; i < sizeof NEEDED / sizeof NEEDED[0]; i++) {
        if (setting(NEEDED[i]) != NULL) continue;
        if (required != NULL && strcmp(required, "1") == 0) {
            fprintf(stderr, "FAIL: KMS test servers are required (SEALWIRE_KMS_REQUIRED=1) but "
                            "not configured: missing %s\n", NEEDED[i]);
            g_failed++;
        } else {
            fprintf(stderr, "\n*** SKIPPED KMS server tests: KMS test servers not configured "
                            "(missing %s).\n*** Run `bash scripts/kms-servers.sh start` first "
                            "(or bash scripts/test-kms.sh).\n\n", NEEDED[i]);
        }
        return 0;
    }
    return 1;
}

/* ---- small helpers ------------------------------------------------------------------- */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A port on 127.0.0.1 with nothing listening (bound, then closed). */
static int closed_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

/* A name no earlier run used (the servers keep their keys). */
static void unique_name(char *out, size_t len, const char *prefix)
{
    static unsigned counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(out, len, "%s-%ld-%ld-%u", prefix, (long)getpid(), (long)ts.tv_nsec, counter++);
}

/* "http://h:p" -> "http%3A%2F%2Fh%3Ap" (a URI query value). */
static void percent_encode(char *out, size_t len, const char *in)
{
    size_t o = 0;
    for (; *in != '\0' && o + 4 < len; in++) {
        if (*in == ':' || *in == '/' || *in == '?' || *in == '&' || *in == '=' || *in == '%')
            o += (size_t)snprintf(out + o, len - o, "%%%02X", (unsigned char)*in);
        else
            out[o++] = *in;
    }
    out[o] = '\0';
}

/* One plain-HTTP request to a loopback server ("http://127.0.0.1:PORT"); returns the status
 * (or -1). Used for Vault admin calls the C API does not offer (key creation, rotation). */
static int http_status(const char *base, const char *method, const char *path, const char *token,
                       const char *body)
{
    char host[64], req[2048], resp[256];
    int port = 0, fd, status = -1;
    size_t sent = 0, got = 0, req_len;
    struct sockaddr_in a;
    if (sscanf(base, "http://%63[^:]:%d", host, &port) != 2) return -1;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) return -1;
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    req_len = (size_t)snprintf(req, sizeof req,
                               "%s %s HTTP/1.1\r\nHost: %s:%d\r\nX-Vault-Token: %s\r\n"
                               "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                               "Connection: close\r\n\r\n%s",
                               method, path, host, port, token, strlen(body), body);
    while (sent < req_len) {
        ssize_t n = write(fd, req + sent, req_len - sent);
        if (n <= 0) break;
        sent += (size_t)n;
    }
    while (got < sizeof resp - 1) {
        ssize_t n = read(fd, resp + got, sizeof resp - 1 - got);
        if (n <= 0) break;
        got += (size_t)n;
    }
    resp[got] = '\0';
    close(fd);
    if (sscanf(resp, "HTTP/%*s %d", &status) != 1) return -1;
    return status;
}

static int vault_admin(const char *method, const char *path, const char *body)
{
    return http_status(setting("SEALWIRE_TEST_VAULT_ADDR"), method, path,
                       setting("SEALWIRE_TEST_VAULT_TOKEN"), body);
}

/* A fresh derived Transit key (what sealwire's Vault provider requires). */
static void create_vault_key(const char *name)
{
    char path[256];
    int status;
    snprintf(path, sizeof path, "/v1/transit/keys/%s", name);
    status = vault_admin("POST", path, "{\"derived\":true}");
    CHECK(status == 200 || status == 204);
}

static sealwire_kms_settings *vault_settings(const char *token)
{
    sealwire_kms_settings *s = NULL;
    CHECK_RC(sealwire_kms_settings_new(&s), SEALWIRE_OK);
    CHECK_RC(sealwire_kms_settings_set_vault_address(s, setting("SEALWIRE_TEST_VAULT_ADDR")), SEALWIRE_OK);
    CHECK_RC(sealwire_kms_settings_set_vault_token(s, token), SEALWIRE_OK);
    return s;
}

static sealwire_kms_settings *aws_settings(const char *secret)
{
    sealwire_kms_settings *s = NULL;
    CHECK_RC(sealwire_kms_settings_new(&s), SEALWIRE_OK);
    CHECK_RC(sealwire_kms_settings_set_aws_credentials(s, setting("SEALWIRE_TEST_AWS_ACCESS_KEY_ID"),
                                                       secret, NULL),
             SEALWIRE_OK);
    return s;
}

static sealwire_kms_key *kms_key(const char *uri, const sealwire_kms_settings *settings)
{
    sealwire_kms_key *k = NULL;
    sealwire_result rc = sealwire_kms_key_from_uri(uri, settings, &k);
    check_rc(rc, SEALWIRE_OK, uri, __LINE__);
    return k;
}

/* Vault key NAME, from explicit settings (the test token unless `token` is given). */
static sealwire_kms_key *vault_key(const char *name, const char *token)
{
    char uri[512];
    sealwire_kms_settings *s = vault_settings(token != NULL ? token : setting("SEALWIRE_TEST_VAULT_TOKEN"));
    sealwire_kms_key *k;
    snprintf(uri, sizeof uri, "vault://%s", name);
    k = kms_key(uri, s);
    sealwire_kms_settings_free(s);
    return k;
}

/* AWS key `arn` at the moto endpoint (`endpoint` overrides it), region from the ARN. */
static sealwire_kms_key *aws_key(const char *arn, const char *secret, const char *endpoint)
{
    char uri[1024], enc[256];
    sealwire_kms_settings *s =
        aws_settings(secret != NULL ? secret : setting("SEALWIRE_TEST_AWS_SECRET_ACCESS_KEY"));
    sealwire_kms_key *k;
    percent_encode(enc, sizeof enc, endpoint != NULL ? endpoint : setting("SEALWIRE_TEST_AWS_ENDPOINT"));
    snprintf(uri, sizeof uri, "aws-kms://%s?endpoint=%s", arn, enc);
    k = kms_key(uri, s);
    sealwire_kms_settings_free(s);
    return k;
}

static sealwire_key_set *key_set_of(const sealwire_kms_key *a, const sealwire_kms_key *b)
{
    sealwire_key_set *ks = NULL;
    CHECK_RC(sealwire_key_set_new(&ks), SEALWIRE_OK);
    if (a != NULL) CHECK_RC(sealwire_key_set_add_kms_key(ks, a), SEALWIRE_OK);
    if (b != NULL) CHECK_RC(sealwire_key_set_add_kms_key(ks, b), SEALWIRE_OK);
    return ks;
}

static sealwire_context *context_of(const char *tenant)
{
    sealwire_context *ctx = NULL;
    CHECK_RC(sealwire_context_new(&ctx), SEALWIRE_OK);
    CHECK_RC(sealwire_context_insert(ctx, (const uint8_t *)"tenant", 6, (const uint8_t *)tenant,
                                     strlen(tenant)),
             SEALWIRE_OK);
    CHECK_RC(sealwire_context_insert(ctx, (const uint8_t *)"purpose", 7, (const uint8_t *)"c-kms-test", 10),
             SEALWIRE_OK);
    return ctx;
}

static sealwire_kms_stats stats_of(const sealwire_kms_key *k)
{
    sealwire_kms_stats st;
    memset(&st, 0xAB, sizeof st);
    CHECK_RC(sealwire_kms_key_stats(k, &st), SEALWIRE_OK);
    return st;
}

static sealwire_result seal(const sealwire_key_set *ks, const sealwire_context *ctx, const uint8_t *pt,
                            size_t len, uint8_t **out, size_t *out_len)
{
    return sealwire_envelope_seal(pt, len, ctx, ks, SUITE, SEG, out, out_len);
}

/* Open and compare: SEALWIRE_INTERNAL_ERROR if it opens to other bytes. */
static sealwire_result open_eq(const uint8_t *sealed, size_t sealed_len, const sealwire_context *ctx,
                               const sealwire_key_set *ks, const uint8_t *want, size_t want_len)
{
    uint8_t *buf = malloc(sealed_len + 1);
    size_t n = 0;
    sealwire_result rc;
    if (buf == NULL) return SEALWIRE_INTERNAL_ERROR;
    rc = sealwire_envelope_open(sealed, sealed_len, ctx, ks, buf, sealed_len, &n);
    if (rc == SEALWIRE_OK && (n != want_len || memcmp(buf, want, n) != 0)) rc = SEALWIRE_INTERNAL_ERROR;
    free(buf);
    return rc;
}

static int code_is(sealwire_result r, const char *s)
{
    return strcmp(sealwire_result_code_string(r), s) == 0;
}

/* Header entry `i` of a sealed envelope: provider, key id, version. */
static void entry_of(const uint8_t *sealed, size_t len, size_t i, char *provider, char *key_id,
                     uint32_t *version)
{
    sealwire_envelope_header *h = NULL;
    size_t n = 0;
    CHECK_RC(sealwire_envelope_header_parse(sealed, len, &h), SEALWIRE_OK);
    CHECK_RC(sealwire_envelope_header_wrapped_key_provider(h, i, provider, SEALWIRE_ENVELOPE_PROVIDER_BUFFER_LEN, &n),
             SEALWIRE_OK);
    CHECK_RC(sealwire_envelope_header_wrapped_key_id(h, i, key_id, SEALWIRE_ENVELOPE_KEY_ID_BUFFER_LEN, &n),
             SEALWIRE_OK);
    CHECK_RC(sealwire_envelope_header_wrapped_key_version(h, i, version), SEALWIRE_OK);
    sealwire_envelope_header_free(h);
}

static size_t entry_count(const uint8_t *sealed, size_t len)
{
    sealwire_envelope_header *h = NULL;
    size_t n = 0;
    CHECK_RC(sealwire_envelope_header_parse(sealed, len, &h), SEALWIRE_OK);
    CHECK_RC(sealwire_envelope_header_wrapped_key_count(h, &n), SEALWIRE_OK);
    sealwire_envelope_header_free(h);
    return n;
}

/* 1 if the header has the shared-data-key flag, 0 if not, -1 if it does not parse. */
static int shares_data_key(const uint8_t *sealed, size_t len)
{
    sealwire_envelope_header *h = NULL;
    bool shared = false;
    if (sealwire_envelope_header_parse(sealed, len, &h) != SEALWIRE_OK) return -1;
    if (sealwire_envelope_header_shares_data_key(h, &shared) != SEALWIRE_OK) shared = false;
    sealwire_envelope_header_free(h);
    return shared ? 1 : 0;
}

static void clear_kms_environment(void)
{
    static const char *const names[] = {
        "VAULT_ADDR", "VAULT_TOKEN", "BAO_ADDR", "BAO_TOKEN", "VAULT_NAMESPACE", "BAO_NAMESPACE",
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION",
        "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_KMS",
    };
    size_t i;
    for (i = 0; i < sizeof names / sizeof names[0]; i++) unsetenv(names[i]);
}

/* ---- without servers ----------------------------------------------------------------- */

static void test_result_codes(void)
{
    static const struct {
        sealwire_result code;
        unsigned number;
        const char *string;
    } kms_codes[] = {
        {SEALWIRE_KMS_AUTH_FAILED, 5008, "ERR_SEALWIRE_KMS_AUTH_FAILED"},
        {SEALWIRE_KMS_KEY_NOT_FOUND, 5009, "ERR_SEALWIRE_KMS_KEY_NOT_FOUND"},
        {SEALWIRE_KMS_KEY_DISABLED, 5010, "ERR_SEALWIRE_KMS_KEY_DISABLED"},
        {SEALWIRE_KMS_UNAVAILABLE, 5011, "ERR_SEALWIRE_KMS_UNAVAILABLE"},
        {SEALWIRE_KMS_TIMEOUT, 5012, "ERR_SEALWIRE_KMS_TIMEOUT"},
        {SEALWIRE_KMS_THROTTLED, 5013, "ERR_SEALWIRE_KMS_THROTTLED"},
    };
    size_t i;
    for (i = 0; i < sizeof kms_codes / sizeof kms_codes[0]; i++) {
        CHECK((unsigned)kms_codes[i].code == kms_codes[i].number);
        CHECK(code_is(kms_codes[i].code, kms_codes[i].string));
        CHECK(strstr(sealwire_result_message(kms_codes[i].code), "KMS") != NULL);
    }
}

static void test_settings_and_uris(void)
{
    sealwire_kms_settings *s = NULL, *bad = SENTINEL;
    sealwire_kms_key *k = SENTINEL, *good = NULL;
    char uri[256];

    clear_kms_environment();
    /* NULL pointers and bad text: nothing written. */
    CHECK_RC(sealwire_kms_settings_new(NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_kms_settings_new(&s), SEALWIRE_OK);
    CHECK_RC(sealwire_kms_settings_set_vault_address(NULL, "http://127.0.0.1:1"), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_kms_settings_set_vault_address(s, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_kms_settings_set_vault_token(NULL, "t"), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_kms_settings_set_vault_token(s, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_kms_settings_set_vault_token(s, "\xc3\x28"), SEALWIRE_INVALID_UTF8);
    CHECK_RC(sealwire_kms_settings_set_aws_credentials(NULL, "AKID", "secret", NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_kms_settings_set_aws_credentials(s, NULL, "secret", NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_kms_settings_set_aws_credentials(s, "AKID", NULL, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_kms_settings_set_aws_credentials(s, "AKID", "secret", "\xff"), SEALWIRE_INVALID_UTF8);
    CHECK_RC(sealwire_kms_key_from_uri(NULL, s, &k), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_kms_key_from_uri("vault://k", s, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_kms_key_from_uri("vault://k\xff", s, &k), SEALWIRE_INVALID_UTF8);
    CHECK(k == SENTINEL);
    CHECK(bad == SENTINEL);

    /* Nothing configured (settings empty, environment cleared). */
    CHECK_RC(sealwire_kms_key_from_uri("vault://orders", s, &k), SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_kms_key_from_uri("vault://orders", NULL, &k), SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_kms_key_from_uri("aws-kms://arn:aws:kms:eu-west-1:111122223333:key/abc", NULL, &k),
             SEALWIRE_INVALID_PARAMETER); /* no credentials */
    CHECK(k == SENTINEL);

    /* Malformed URIs. */
    CHECK_RC(sealwire_kms_settings_set_vault_address(s, "http://127.0.0.1:1"), SEALWIRE_OK);
    CHECK_RC(sealwire_kms_settings_set_vault_token(s, "not-a-real-token"), SEALWIRE_OK);
    {
        static const char *const bad_uris[] = {
            "", "orders", "vault:/orders", "vault://", "gcp://orders", "vault://orders?mount",
            "vault://orders?foo=1", "vault://orders?mount=a&mount=b", "vault://orders?mount=",
            "vault://or%zzders", "vault://orders/../x", "aws-kms://1234abcd?nope=1",
        };
        size_t i;
        for (i = 0; i < sizeof bad_uris / sizeof bad_uris[0]; i++) {
            sealwire_result rc = sealwire_kms_key_from_uri(bad_uris[i], s, &k);
            check_rc(rc, SEALWIRE_INVALID_PARAMETER, bad_uris[i], __LINE__);
        }
        CHECK(k == SENTINEL);
    }
    /* Plain http off loopback is refused; loopback is fine; https anywhere. */
    CHECK_RC(sealwire_kms_settings_set_vault_address(s, "http://10.1.2.3:8200"), SEALWIRE_OK);
    CHECK_RC(sealwire_kms_key_from_uri("vault://orders", s, &k), SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_kms_settings_set_vault_address(s, "https://vault.example:8200"), SEALWIRE_OK);
    CHECK_RC(sealwire_kms_key_from_uri("vault://orders?mount=kv%2Ftransit", s, &good), SEALWIRE_OK);
    sealwire_kms_key_free(good);
    good = NULL;

    /* AWS: the region comes from ?region=, AWS_REGION or the ARN; a bare key id has none. */
    CHECK_RC(sealwire_kms_settings_set_aws_credentials(s, "AKIDEXAMPLE", "secret", "session"), SEALWIRE_OK);
    CHECK_RC(sealwire_kms_key_from_uri("aws-kms://1234abcd-12ab-34cd-56ef-1234567890ab", s, &k),
             SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_kms_key_from_uri("aws-kms://1234abcd-12ab-34cd-56ef-1234567890ab?region=eu-west-1", s, &good),
             SEALWIRE_OK);
    sealwire_kms_key_free(good);
    good = NULL;
    setenv("AWS_REGION", "eu-west-1", 1);
    CHECK_RC(sealwire_kms_key_from_uri("aws-kms://1234abcd-12ab-34cd-56ef-1234567890ab", s, &good), SEALWIRE_OK);
    sealwire_kms_key_free(good);
    good = NULL;
    CHECK_RC(sealwire_kms_key_from_uri("aws-kms://k?region=EU_WEST", s, &k), SEALWIRE_INVALID_PARAMETER);
    CHECK(k == SENTINEL);

    /* The environment alone (settings NULL), and settings taking precedence over it. */
    setenv("VAULT_ADDR", "http://127.0.0.1:8200", 1);
    CHECK_RC(sealwire_kms_key_from_uri("vault://orders", NULL, &k), SEALWIRE_INVALID_PARAMETER); /* no token */
    setenv("BAO_TOKEN", "env-token", 1);
    CHECK_RC(sealwire_kms_key_from_uri("vault://orders", NULL, &good), SEALWIRE_OK);
    sealwire_kms_key_free(good);
    good = NULL;
    CHECK_RC(sealwire_kms_settings_set_vault_address(s, "ftp://127.0.0.1:8200"), SEALWIRE_OK);
    CHECK_RC(sealwire_kms_key_from_uri("vault://orders", s, &k), SEALWIRE_INVALID_PARAMETER);
    CHECK(k == SENTINEL);
    clear_kms_environment();

    /* Stats and key-set misuse. */
    snprintf(uri, sizeof uri, "vault://orders");
    CHECK_RC(sealwire_kms_settings_set_vault_address(s, "http://127.0.0.1:1"), SEALWIRE_OK);
    CHECK_RC(sealwire_kms_key_from_uri(uri, s, &good), SEALWIRE_OK);
    {
        sealwire_kms_stats st;
        sealwire_key_set *ks = NULL;
        memset(&st, 0, sizeof st);
        CHECK_RC(sealwire_kms_key_stats(NULL, &st), SEALWIRE_NULL_POINTER);
        CHECK_RC(sealwire_kms_key_stats(good, NULL), SEALWIRE_NULL_POINTER);
        st = stats_of(good);
        CHECK(st.operations == 0 && st.http_requests == 0 && st.retries == 0 && st.failures == 0);
        CHECK_RC(sealwire_key_set_add_kms_key(NULL, good), SEALWIRE_NULL_POINTER);
        CHECK_RC(sealwire_key_set_new(&ks), SEALWIRE_OK);
        CHECK_RC(sealwire_key_set_add_kms_key(ks, NULL), SEALWIRE_NULL_POINTER);
        sealwire_key_set_free(ks);
    }
    sealwire_kms_key_free(good);
    sealwire_kms_key_free(NULL);
    sealwire_kms_settings_free(s);
    sealwire_kms_settings_free(NULL);
}

/* A KMS on a closed port: refused at once, no retry; nothing written; counted. */
static void test_unreachable_fails_fast(void)
{
    char uri[256], enc[128], ep[64];
    sealwire_kms_settings *s = NULL;
    sealwire_kms_key *vault = NULL, *aws = NULL;
    sealwire_key_set *ks;
    sealwire_context *ctx = context_of("acme");
    uint8_t *sealed = SENTINEL;
    size_t sealed_len = 7;
    sealwire_kms_stats st;
    double t0;

    CHECK_RC(sealwire_kms_settings_new(&s), SEALWIRE_OK);
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", closed_port());
    CHECK_RC(sealwire_kms_settings_set_vault_address(s, ep), SEALWIRE_OK);
    CHECK_RC(sealwire_kms_settings_set_vault_token(s, "t"), SEALWIRE_OK);
    CHECK_RC(sealwire_kms_settings_set_aws_credentials(s, "AKIDEXAMPLE", "secret", NULL), SEALWIRE_OK);
    CHECK_RC(sealwire_kms_key_from_uri("vault://orders", s, &vault), SEALWIRE_OK);
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", closed_port());
    percent_encode(enc, sizeof enc, ep);
    snprintf(uri, sizeof uri, "aws-kms://arn:aws:kms:us-east-1:111122223333:key/abc?endpoint=%s", enc);
    CHECK_RC(sealwire_kms_key_from_uri(uri, s, &aws), SEALWIRE_OK);
    sealwire_kms_settings_free(s); /* the keys keep their own copies */

    ks = key_set_of(vault, NULL);
    t0 = now_seconds();
    CHECK_RC(seal(ks, ctx, (const uint8_t *)"x", 1, &sealed, &sealed_len), SEALWIRE_KMS_UNAVAILABLE);
    CHECK(now_seconds() - t0 < 2.0);
    CHECK(sealed == SENTINEL && sealed_len == 7);
    st = stats_of(vault);
    CHECK(st.operations == 1 && st.http_requests == 1 && st.retries == 0 && st.failures == 1);
    sealwire_key_set_free(ks);

    ks = key_set_of(aws, NULL);
    CHECK_RC(seal(ks, ctx, (const uint8_t *)"x", 1, &sealed, &sealed_len), SEALWIRE_KMS_UNAVAILABLE);
    st = stats_of(aws);
    CHECK(st.operations == 1 && st.retries == 0 && st.failures == 1);
    sealwire_key_set_free(ks);

    sealwire_kms_key_free(vault);
    sealwire_kms_key_free(aws);
    sealwire_context_free(ctx);
}

/* A scripted HTTP server on 127.0.0.1: answers every request with `status` and counts them;
 * exits after 3 s without a connection. */
typedef struct {
    int listen_fd;
    int status;
    int requests;
} stub_server;

static void *stub_main(void *arg)
{
    stub_server *st = arg;
    for (;;) {
        struct pollfd p;
        char buf[4096], resp[256];
        size_t got = 0;
        int fd, n;
        p.fd = st->listen_fd;
        p.events = POLLIN;
        p.revents = 0;
        if (poll(&p, 1, 3000) <= 0) break;
        fd = accept(st->listen_fd, NULL, NULL);
        if (fd < 0) break;
        /* Read the request head (and whatever body arrives with it). */
        while (got < sizeof buf - 1) {
            ssize_t r = read(fd, buf + got, sizeof buf - 1 - got);
            if (r <= 0) break;
            got += (size_t)r;
            buf[got] = '\0';
            if (strstr(buf, "\r\n\r\n") != NULL) break;
        }
        st->requests++;
        n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 %d Stub\r\nContent-Type: application/json\r\nContent-Length: 13\r\n"
                     "Connection: close\r\n\r\n{\"errors\":[]}",
                     st->status);
        if (write(fd, resp, (size_t)n) != n) { /* the client may have gone */ }
        close(fd);
    }
    return NULL;
}

static int stub_start(stub_server *st, pthread_t *thread, int status)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    st->status = status;
    st->requests = 0;
    st->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (st->listen_fd < 0 || bind(st->listen_fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(st->listen_fd, 16) != 0 || getsockname(st->listen_fd, (struct sockaddr *)&a, &len) != 0 ||
        pthread_create(thread, NULL, stub_main, st) != 0)
        return -1;
    return ntohs(a.sin_port);
}

/* Throttling and 5xx are retried a bounded number of times (4 attempts), then reported with
 * their own codes; auth failures are not retried. */
static void test_bounded_retries(void)
{
    static const struct {
        int status;
        sealwire_result want;
        uint64_t attempts;
    } cases[] = {
        {429, SEALWIRE_KMS_THROTTLED, 4},
        {503, SEALWIRE_KMS_UNAVAILABLE, 4},
        {403, SEALWIRE_KMS_AUTH_FAILED, 1},
        {404, SEALWIRE_KMS_KEY_NOT_FOUND, 1},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        stub_server stub;
        pthread_t thread;
        char addr[64];
        int port = stub_start(&stub, &thread, cases[i].status);
        sealwire_kms_settings *s = NULL;
        sealwire_kms_key *k = NULL;
        sealwire_key_set *ks;
        sealwire_context *ctx;
        uint8_t *sealed = SENTINEL;
        size_t sealed_len = 0;
        sealwire_kms_stats st;
        double t0;
        CHECK(port > 0);
        if (port <= 0) continue;
        snprintf(addr, sizeof addr, "http://127.0.0.1:%d", port);
        CHECK_RC(sealwire_kms_settings_new(&s), SEALWIRE_OK);
        CHECK_RC(sealwire_kms_settings_set_vault_address(s, addr), SEALWIRE_OK);
        CHECK_RC(sealwire_kms_settings_set_vault_token(s, "stub-token"), SEALWIRE_OK);
        k = kms_key("vault://orders", s);
        sealwire_kms_settings_free(s);
        ks = key_set_of(k, NULL);
        ctx = context_of("acme");
        t0 = now_seconds();
        CHECK_RC(seal(ks, ctx, (const uint8_t *)"x", 1, &sealed, &sealed_len), cases[i].want);
        CHECK(now_seconds() - t0 < 3.0); /* waits of at most 50 + 100 + 200 ms */
        CHECK(sealed == SENTINEL);
        st = stats_of(k);
        CHECK(st.operations == 1 && st.failures == 1);
        CHECK(st.http_requests == cases[i].attempts && st.retries == cases[i].attempts - 1);
        sealwire_key_set_free(ks);
        sealwire_kms_key_free(k);
        sealwire_context_free(ctx);
        pthread_join(thread, NULL);
        close(stub.listen_fd);
        CHECK((uint64_t)stub.requests == cases[i].attempts);
    }
}

static void test_cache_misuse(void)
{
    sealwire_data_key_cache *c = SENTINEL;
    sealwire_cache_stats st;
    sealwire_keyring *ring = NULL;
    sealwire_key_set *ks = NULL;
    sealwire_context *ctx = context_of("acme");
    uint8_t *sealed = SENTINEL;
    size_t sealed_len = 0, i;
    uint32_t v = 0;
    static const uint64_t bad[][3] = {
        {0, 1, 1},
        {SEALWIRE_DATA_KEY_CACHE_MAX_AGE_SECONDS + 1, 1, 1},
        {1, 0, 1},
        {1, SEALWIRE_DATA_KEY_CACHE_MAX_MESSAGES + 1, 1},
        {1, 1, 0},
    };
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_RC(sealwire_data_key_cache_new(bad[i][0], bad[i][1], bad[i][2], &c), SEALWIRE_INVALID_PARAMETER);
    CHECK(c == SENTINEL);
    CHECK_RC(sealwire_data_key_cache_new(60, 3, 1000, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_data_key_cache_new(SEALWIRE_DATA_KEY_CACHE_MAX_AGE_SECONDS,
                                         SEALWIRE_DATA_KEY_CACHE_MAX_MESSAGES, UINT64_MAX, &c),
             SEALWIRE_OK);
    sealwire_data_key_cache_free(c);
    CHECK_RC(sealwire_data_key_cache_new(60, 3, 1000, &c), SEALWIRE_OK);

    CHECK_RC(sealwire_keyring_new(&ring), SEALWIRE_OK);
    CHECK_RC(sealwire_keyring_create_key(ring, "orders", &v), SEALWIRE_OK);
    CHECK_RC(sealwire_key_set_new(&ks), SEALWIRE_OK);
    CHECK_RC(sealwire_data_key_cache_seal(c, (const uint8_t *)"x", 1, ctx, ks, SUITE, SEG, &sealed, &sealed_len),
             SEALWIRE_INVALID_PARAMETER); /* empty key set */
    CHECK_RC(sealwire_key_set_add_keyring(ks, ring), SEALWIRE_OK);
    CHECK_RC(sealwire_data_key_cache_seal(NULL, (const uint8_t *)"x", 1, ctx, ks, SUITE, SEG, &sealed, &sealed_len),
             SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_data_key_cache_seal(c, NULL, 1, ctx, ks, SUITE, SEG, &sealed, &sealed_len),
             SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_data_key_cache_seal(c, (const uint8_t *)"x", 1, NULL, ks, SUITE, SEG, &sealed, &sealed_len),
             SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_data_key_cache_seal(c, (const uint8_t *)"x", 1, ctx, NULL, SUITE, SEG, &sealed, &sealed_len),
             SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_data_key_cache_seal(c, (const uint8_t *)"x", 1, ctx, ks, SUITE, SEG, NULL, &sealed_len),
             SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_data_key_cache_seal(c, (const uint8_t *)"x", 1, ctx, ks, SUITE, SEG, &sealed, NULL),
             SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_data_key_cache_seal(c, (const uint8_t *)"x", 1, ctx, ks, 9, SEG, &sealed, &sealed_len),
             SEALWIRE_INVALID_PARAMETER);
    CHECK_RC(sealwire_data_key_cache_seal(c, (const uint8_t *)"x", 1, ctx, ks, SUITE, 10, &sealed, &sealed_len),
             SEALWIRE_INVALID_PARAMETER);
    CHECK(sealed == SENTINEL);
    CHECK_RC(sealwire_data_key_cache_stats(NULL, &st), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_data_key_cache_stats(c, NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_data_key_cache_stats(c, &st), SEALWIRE_OK);
    CHECK(st.hits == 0 && st.misses == 0 && st.bypassed == 0 && st.evicted == 0 && st.entries == 0);

    /* Over a keyring: 3 messages or 1000 bytes per data key; larger messages bypass. */
    for (i = 0; i < 7; i++) {
        CHECK_RC(sealwire_data_key_cache_seal(c, (const uint8_t *)"0123456789", 10, ctx, ks, SUITE, SEG, &sealed,
                                              &sealed_len),
                 SEALWIRE_OK);
        CHECK(shares_data_key(sealed, sealed_len) == 1);
        CHECK_RC(open_eq(sealed, sealed_len, ctx, ks, (const uint8_t *)"0123456789", 10), SEALWIRE_OK);
        sealwire_bytes_free(sealed, sealed_len);
    }
    CHECK_RC(sealwire_data_key_cache_stats(c, &st), SEALWIRE_OK);
    CHECK(st.misses == 3 && st.hits == 4 && st.evicted == 2 && st.entries == 1);
    {
        uint8_t big[1001];
        memset(big, 7, sizeof big);
        CHECK_RC(sealwire_data_key_cache_seal(c, big, sizeof big, ctx, ks, SUITE, SEG, &sealed, &sealed_len),
                 SEALWIRE_OK);
        CHECK(shares_data_key(sealed, sealed_len) == 0);
        CHECK_RC(open_eq(sealed, sealed_len, ctx, ks, big, sizeof big), SEALWIRE_OK);
        sealwire_bytes_free(sealed, sealed_len);
    }
    CHECK_RC(sealwire_data_key_cache_stats(c, &st), SEALWIRE_OK);
    CHECK(st.bypassed == 1);
    CHECK_RC(sealwire_data_key_cache_clear(NULL), SEALWIRE_NULL_POINTER);
    CHECK_RC(sealwire_data_key_cache_clear(c), SEALWIRE_OK);
    CHECK_RC(sealwire_data_key_cache_stats(c, &st), SEALWIRE_OK);
    CHECK(st.entries == 0 && st.evicted == 3);
    {
        bool shared = true;
        CHECK_RC(sealwire_envelope_header_shares_data_key(NULL, &shared), SEALWIRE_NULL_POINTER);
        CHECK(shared);
    }

    sealwire_data_key_cache_free(c);
    sealwire_data_key_cache_free(NULL);
    sealwire_key_set_free(ks);
    sealwire_keyring_free(ring);
    sealwire_context_free(ctx);
}

/* ---- against the servers ------------------------------------------------------------- */

static uint8_t g_payload[3000];

static void test_vault_round_trip(void)
{
    char name[96], provider[SEALWIRE_ENVELOPE_PROVIDER_BUFFER_LEN], key_id[SEALWIRE_ENVELOPE_KEY_ID_BUFFER_LEN];
    char uri[128];
    uint32_t version = 99;
    sealwire_kms_key *k, *from_env = NULL;
    sealwire_key_set *ks, *ks_env;
    sealwire_context *ctx = context_of("acme");
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    sealwire_kms_stats st;

    unique_name(name, sizeof name, "swc");
    create_vault_key(name);
    k = vault_key(name, NULL);
    ks = key_set_of(k, NULL);
    sealwire_kms_key_free(k); /* the key set keeps its own reference */
    k = NULL;
    CHECK_RC(seal(ks, ctx, g_payload, sizeof g_payload, &sealed, &sealed_len), SEALWIRE_OK);
    CHECK(entry_count(sealed, sealed_len) == 1);
    entry_of(sealed, sealed_len, 0, provider, key_id, &version);
    CHECK(strcmp(provider, "vault-transit") == 0);
    CHECK(strcmp(key_id, name) == 0);
    CHECK(version == 1);
    CHECK(shares_data_key(sealed, sealed_len) == 0);
    CHECK_RC(open_eq(sealed, sealed_len, ctx, ks, g_payload, sizeof g_payload), SEALWIRE_OK);

    /* A key built from the environment alone opens it too. */
    setenv("VAULT_ADDR", setting("SEALWIRE_TEST_VAULT_ADDR"), 1);
    setenv("VAULT_TOKEN", setting("SEALWIRE_TEST_VAULT_TOKEN"), 1);
    snprintf(uri, sizeof uri, "vault://%s?mount=transit", name);
    CHECK_RC(sealwire_kms_key_from_uri(uri, NULL, &from_env), SEALWIRE_OK);
    clear_kms_environment();
    ks_env = key_set_of(from_env, NULL);
    CHECK_RC(open_eq(sealed, sealed_len, ctx, ks_env, g_payload, sizeof g_payload), SEALWIRE_OK);
    st = stats_of(from_env);
    CHECK(st.operations == 1 && st.failures == 0); /* one decrypt */

    /* Streamed: the writer calls Vault in _new, the reader when the header is complete. */
    {
        sealwire_envelope_writer *w = NULL;
        sealwire_envelope_reader *r = NULL;
        uint8_t *stream = malloc(sizeof g_payload + 4096), *plain = malloc(sizeof g_payload + 4096);
        size_t stream_len = 0, plain_len = 0, n = 0, off;
        CHECK(stream != NULL && plain != NULL);
        if (stream != NULL && plain != NULL) {
            CHECK_RC(sealwire_envelope_writer_new(ctx, ks, SUITE, 1024, &w), SEALWIRE_OK);
            CHECK_RC(sealwire_envelope_writer_write(w, g_payload, sizeof g_payload, stream, sizeof g_payload + 4096, &n),
                     SEALWIRE_OK);
            stream_len = n;
            CHECK_RC(sealwire_envelope_writer_finish(w, stream + stream_len, sizeof g_payload + 4096 - stream_len, &n),
                     SEALWIRE_OK);
            stream_len += n;
            sealwire_envelope_writer_free(w);
            CHECK_RC(sealwire_envelope_reader_new(ctx, ks_env, &r), SEALWIRE_OK);
            for (off = 0; off < stream_len; off += 100) {
                size_t chunk = stream_len - off < 100 ? stream_len - off : 100;
                CHECK_RC(sealwire_envelope_reader_read(r, stream + off, chunk, plain + plain_len,
                                                       sizeof g_payload + 4096 - plain_len, &n),
                         SEALWIRE_OK);
                plain_len += n;
            }
            CHECK_RC(sealwire_envelope_reader_finish(r, plain + plain_len, sizeof g_payload + 4096 - plain_len, &n),
                     SEALWIRE_OK);
            plain_len += n;
            CHECK(plain_len == sizeof g_payload && memcmp(plain, g_payload, plain_len) == 0);
            sealwire_envelope_reader_free(r);
        }
        free(stream);
        free(plain);
    }
    st = stats_of(from_env);
    CHECK(st.operations == 2 && st.failures == 0);

    sealwire_bytes_free(sealed, sealed_len);
    sealwire_key_set_free(ks);
    sealwire_key_set_free(ks_env);
    sealwire_kms_key_free(from_env);
    sealwire_context_free(ctx);
}

static void test_aws_round_trip(void)
{
    const char *arn = setting("SEALWIRE_TEST_AWS_KEY_ARN");
    char provider[SEALWIRE_ENVELOPE_PROVIDER_BUFFER_LEN], key_id[SEALWIRE_ENVELOPE_KEY_ID_BUFFER_LEN];
    char uri[1024];
    uint32_t version = 99;
    sealwire_kms_key *k = aws_key(arn, NULL, NULL), *from_env = NULL;
    sealwire_key_set *ks = key_set_of(k, NULL), *ks_env;
    sealwire_context *ctx = context_of("acme");
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    sealwire_kms_stats st;

    CHECK_RC(seal(ks, ctx, g_payload, sizeof g_payload, &sealed, &sealed_len), SEALWIRE_OK);
    entry_of(sealed, sealed_len, 0, provider, key_id, &version);
    CHECK(strcmp(provider, "aws-kms") == 0);
    CHECK(strcmp(key_id, arn) == 0);
    CHECK(version == 0);
    CHECK_RC(open_eq(sealed, sealed_len, ctx, ks, g_payload, sizeof g_payload), SEALWIRE_OK);
    st = stats_of(k);
    CHECK(st.operations == 2 && st.failures == 0); /* GenerateDataKey + Decrypt */

    /* Everything from the environment: credentials, endpoint, region (from ?region=). */
    setenv("AWS_ACCESS_KEY_ID", setting("SEALWIRE_TEST_AWS_ACCESS_KEY_ID"), 1);
    setenv("AWS_SECRET_ACCESS_KEY", setting("SEALWIRE_TEST_AWS_SECRET_ACCESS_KEY"), 1);
    setenv("AWS_ENDPOINT_URL_KMS", setting("SEALWIRE_TEST_AWS_ENDPOINT"), 1);
    snprintf(uri, sizeof uri, "aws-kms://%s?region=%s", arn, setting("SEALWIRE_TEST_AWS_REGION"));
    CHECK_RC(sealwire_kms_key_from_uri(uri, NULL, &from_env), SEALWIRE_OK);
    clear_kms_environment();
    ks_env = key_set_of(from_env, NULL);
    CHECK_RC(open_eq(sealed, sealed_len, ctx, ks_env, g_payload, sizeof g_payload), SEALWIRE_OK);

    sealwire_bytes_free(sealed, sealed_len);
    sealwire_key_set_free(ks);
    sealwire_key_set_free(ks_env);
    sealwire_kms_key_free(k);
    sealwire_kms_key_free(from_env);
    sealwire_context_free(ctx);
}

/* Wrapped for Vault and AWS: opens through either while the other is unreachable. */
static void test_multi_kms(void)
{
    char name[96], dead_addr[64], provider[SEALWIRE_ENVELOPE_PROVIDER_BUFFER_LEN];
    char key_id[SEALWIRE_ENVELOPE_KEY_ID_BUFFER_LEN], uri[128];
    uint32_t version = 0;
    sealwire_kms_key *vault, *aws = aws_key(setting("SEALWIRE_TEST_AWS_KEY_ARN"), NULL, NULL);
    sealwire_kms_key *dead_vault = NULL, *dead_aws;
    sealwire_kms_settings *s = NULL;
    sealwire_key_set *ks, *ks_open;
    sealwire_context *ctx = context_of("acme");
    uint8_t *sealed = NULL, *out = SENTINEL;
    size_t sealed_len = 0, written = 5;
    sealwire_kms_stats st;
    double t0;

    unique_name(name, sizeof name, "swc-multi");
    create_vault_key(name);
    vault = vault_key(name, NULL);
    /* The same Transit key name at an address where nothing listens. */
    snprintf(dead_addr, sizeof dead_addr, "http://127.0.0.1:%d", closed_port());
    CHECK_RC(sealwire_kms_settings_new(&s), SEALWIRE_OK);
    CHECK_RC(sealwire_kms_settings_set_vault_address(s, dead_addr), SEALWIRE_OK);
    CHECK_RC(sealwire_kms_settings_set_vault_token(s, setting("SEALWIRE_TEST_VAULT_TOKEN")), SEALWIRE_OK);
    snprintf(uri, sizeof uri, "vault://%s", name);
    CHECK_RC(sealwire_kms_key_from_uri(uri, s, &dead_vault), SEALWIRE_OK);
    sealwire_kms_settings_free(s);
    snprintf(dead_addr, sizeof dead_addr, "http://127.0.0.1:%d", closed_port());
    dead_aws = aws_key(setting("SEALWIRE_TEST_AWS_KEY_ARN"), NULL, dead_addr);

    ks = key_set_of(vault, aws);
    CHECK_RC(seal(ks, ctx, g_payload, sizeof g_payload, &sealed, &sealed_len), SEALWIRE_OK);
    CHECK(entry_count(sealed, sealed_len) == 2);
    entry_of(sealed, sealed_len, 0, provider, key_id, &version);
    CHECK(strcmp(provider, "vault-transit") == 0);
    entry_of(sealed, sealed_len, 1, provider, key_id, &version);
    CHECK(strcmp(provider, "aws-kms") == 0);

    /* Vault down: the dead Vault key owns entry 0, fails fast, AWS opens. */
    ks_open = key_set_of(dead_vault, aws);
    t0 = now_seconds();
    CHECK_RC(open_eq(sealed, sealed_len, ctx, ks_open, g_payload, sizeof g_payload), SEALWIRE_OK);
    CHECK(now_seconds() - t0 < 5.0);
    st = stats_of(dead_vault);
    CHECK(st.failures == 1 && st.retries == 0); /* it was tried */
    sealwire_key_set_free(ks_open);

    /* AWS down: Vault opens. Entries are tried in header order, so this object is sealed
     * AWS first: the dead AWS key owns entry 0, fails fast, Vault opens entry 1. */
    {
        sealwire_key_set *aws_first = key_set_of(aws, vault);
        uint8_t *sealed2 = NULL;
        size_t sealed2_len = 0;
        CHECK_RC(seal(aws_first, ctx, g_payload, sizeof g_payload, &sealed2, &sealed2_len), SEALWIRE_OK);
        entry_of(sealed2, sealed2_len, 0, provider, key_id, &version);
        CHECK(strcmp(provider, "aws-kms") == 0);
        ks_open = key_set_of(dead_aws, vault);
        CHECK_RC(open_eq(sealed2, sealed2_len, ctx, ks_open, g_payload, sizeof g_payload), SEALWIRE_OK);
        st = stats_of(dead_aws);
        CHECK(st.failures == 1 && st.retries == 0);
        sealwire_key_set_free(ks_open);
        sealwire_key_set_free(aws_first);
        sealwire_bytes_free(sealed2, sealed2_len);
    }

    /* Both down: the outage is reported, nothing written. */
    ks_open = key_set_of(dead_vault, dead_aws);
    CHECK_RC(sealwire_envelope_open(sealed, sealed_len, ctx, ks_open, out, 0, &written), SEALWIRE_BUFFER_TOO_SMALL);
    CHECK(written == sizeof g_payload);
    {
        uint8_t *buf = malloc(sealed_len);
        written = 5;
        CHECK_RC(sealwire_envelope_open(sealed, sealed_len, ctx, ks_open, buf, sealed_len, &written),
                 SEALWIRE_KMS_UNAVAILABLE);
        CHECK(written == 5);
        free(buf);
    }
    sealwire_key_set_free(ks_open);

    /* Sealing needs every provider: one down fails the seal. */
    ks_open = key_set_of(vault, dead_aws);
    out = SENTINEL;
    CHECK_RC(seal(ks_open, ctx, g_payload, 10, &out, &written), SEALWIRE_KMS_UNAVAILABLE);
    CHECK(out == SENTINEL);
    sealwire_key_set_free(ks_open);

    sealwire_bytes_free(sealed, sealed_len);
    sealwire_key_set_free(ks);
    sealwire_kms_key_free(vault);
    sealwire_kms_key_free(aws);
    sealwire_kms_key_free(dead_vault);
    sealwire_kms_key_free(dead_aws);
    sealwire_context_free(ctx);
}

/* The offset of the first wrapped key starting with `prefix` (its u16 length precedes it). */
static size_t find_wrapped(const uint8_t *buf, size_t len, const char *prefix, size_t *wlen)
{
    size_t p = strlen(prefix), i;
    for (i = 2; i + p <= len; i++) {
        if (memcmp(buf + i, prefix, p) == 0) {
            *wlen = ((size_t)buf[i - 2] << 8) | buf[i - 1];
            return i;
        }
    }
    return 0;
}

static void test_typed_errors(void)
{
    char name[96], uri[256], bad_arn[512];
    const char *arn = setting("SEALWIRE_TEST_AWS_KEY_ARN");
    const char *slash;
    sealwire_kms_key *vault, *aws, *k;
    sealwire_key_set *ks, *ks2;
    sealwire_context *ctx = context_of("acme"), *other = context_of("globex");
    uint8_t *a = NULL, *b = NULL, *out = SENTINEL;
    size_t a_len = 0, b_len = 0, out_len = 3;
    sealwire_kms_stats before, after;

    unique_name(name, sizeof name, "swc-err");
    create_vault_key(name);
    vault = vault_key(name, NULL);
    aws = aws_key(arn, NULL, NULL);

    /* Wrong context: refused before any KMS call. */
    ks = key_set_of(vault, NULL);
    CHECK_RC(seal(ks, ctx, g_payload, 100, &a, &a_len), SEALWIRE_OK);
    before = stats_of(vault);
    CHECK_RC(open_eq(a, a_len, other, ks, g_payload, 100), SEALWIRE_CONTEXT_MISMATCH);
    after = stats_of(vault);
    CHECK(after.operations == before.operations);

    /* A wrapped key moved from another object of the same key: Vault refuses it under this
     * object's derivation context (SEALWIRE_CONTEXT_MISMATCH). */
    CHECK_RC(seal(ks, ctx, g_payload, 100, &b, &b_len), SEALWIRE_OK);
    {
        size_t wa = 0, wb = 0;
        size_t pa = find_wrapped(a, a_len, "vault:v1:", &wa), pb = find_wrapped(b, b_len, "vault:v1:", &wb);
        CHECK(pa > 0 && pb > 0 && wa == wb && wa > 9 && pa + wa <= a_len);
        if (pa > 0 && pb > 0 && wa == wb && pa + wa <= a_len) {
            uint8_t *moved = malloc(a_len);
            memcpy(moved, a, a_len);
            memcpy(moved + pa, b + pb, wb);
            CHECK_RC(open_eq(moved, a_len, ctx, ks, g_payload, 100), SEALWIRE_CONTEXT_MISMATCH);
            CHECK(code_is(SEALWIRE_CONTEXT_MISMATCH, "ERR_SEALWIRE_CONTEXT_MISMATCH"));
            free(moved);
        }
    }
    sealwire_bytes_free(b, b_len);
    b = NULL;

    /* The same for AWS (its EncryptionContext binding). */
    ks2 = key_set_of(aws, NULL);
    CHECK_RC(seal(ks2, ctx, g_payload, 100, &b, &b_len), SEALWIRE_OK);
    CHECK_RC(open_eq(b, b_len, other, ks2, g_payload, 100), SEALWIRE_CONTEXT_MISMATCH);
    sealwire_key_set_free(ks2);
    sealwire_bytes_free(b, b_len);
    b = NULL;

    /* Unknown keys. */
    unique_name(uri, sizeof uri, "swc-missing");
    k = vault_key(uri, NULL);
    ks2 = key_set_of(k, NULL);
    CHECK_RC(seal(ks2, ctx, g_payload, 10, &out, &out_len), SEALWIRE_KMS_KEY_NOT_FOUND);
    CHECK(out == SENTINEL && out_len == 3);
    CHECK(code_is(SEALWIRE_KMS_KEY_NOT_FOUND, "ERR_SEALWIRE_KMS_KEY_NOT_FOUND"));
    sealwire_key_set_free(ks2);
    sealwire_kms_key_free(k);
    slash = strrchr(arn, '/');
    CHECK(slash != NULL);
    if (slash != NULL) {
        snprintf(bad_arn, sizeof bad_arn, "%.*s/00000000-0000-4000-8000-000000000000", (int)(slash - arn), arn);
        k = aws_key(bad_arn, NULL, NULL);
        ks2 = key_set_of(k, NULL);
        CHECK_RC(seal(ks2, ctx, g_payload, 10, &out, &out_len), SEALWIRE_KMS_KEY_NOT_FOUND);
        CHECK(out == SENTINEL);
        sealwire_key_set_free(ks2);
        sealwire_kms_key_free(k);
    }

    /* Bad token / wrong secret: seal and open both refused, not retried. */
    k = vault_key(name, "not-the-token");
    ks2 = key_set_of(k, NULL);
    CHECK_RC(seal(ks2, ctx, g_payload, 10, &out, &out_len), SEALWIRE_KMS_AUTH_FAILED);
    CHECK_RC(open_eq(a, a_len, ctx, ks2, g_payload, 100), SEALWIRE_KMS_AUTH_FAILED);
    CHECK(code_is(SEALWIRE_KMS_AUTH_FAILED, "ERR_SEALWIRE_KMS_AUTH_FAILED"));
    after = stats_of(k);
    CHECK(after.retries == 0 && after.failures == 2);
    sealwire_key_set_free(ks2);
    sealwire_kms_key_free(k);
    k = aws_key(arn, "wrong-secret-access-key", NULL);
    ks2 = key_set_of(k, NULL);
    CHECK_RC(seal(ks2, ctx, g_payload, 10, &out, &out_len), SEALWIRE_KMS_AUTH_FAILED);
    CHECK(out == SENTINEL);
    sealwire_key_set_free(ks2);
    sealwire_kms_key_free(k);

    /* Explicit settings win over a wrong environment. */
    setenv("VAULT_TOKEN", "wrong-env-token", 1);
    setenv("VAULT_ADDR", "http://127.0.0.1:1", 1);
    k = vault_key(name, NULL);
    ks2 = key_set_of(k, NULL);
    CHECK_RC(open_eq(a, a_len, ctx, ks2, g_payload, 100), SEALWIRE_OK);
    sealwire_key_set_free(ks2);
    sealwire_kms_key_free(k);
    clear_kms_environment();

    /* A key that owns no entry: no KMS call, SEALWIRE_NO_MATCHING_KEY. */
    ks2 = key_set_of(aws, NULL);
    before = stats_of(aws);
    CHECK_RC(open_eq(a, a_len, ctx, ks2, g_payload, 100), SEALWIRE_NO_MATCHING_KEY);
    after = stats_of(aws);
    CHECK(after.operations == before.operations);
    sealwire_key_set_free(ks2);

    sealwire_bytes_free(a, a_len);
    sealwire_key_set_free(ks);
    sealwire_kms_key_free(vault);
    sealwire_kms_key_free(aws);
    sealwire_context_free(ctx);
    sealwire_context_free(other);
}

/* Rewrap: Vault rotation then server-side rewrap to v2; adding an AWS entry. */
static void test_rewrap(void)
{
    char name[96], path[256], provider[SEALWIRE_ENVELOPE_PROVIDER_BUFFER_LEN];
    char key_id[SEALWIRE_ENVELOPE_KEY_ID_BUFFER_LEN];
    uint32_t version = 0;
    int status;
    sealwire_kms_key *vault, *aws = aws_key(setting("SEALWIRE_TEST_AWS_KEY_ARN"), NULL, NULL);
    sealwire_key_set *ks_vault, *ks_aws;
    sealwire_context *ctx = context_of("acme");
    sealwire_envelope_rewrap *rw = NULL;
    uint8_t *sealed = NULL, *v2 = NULL, *both = NULL;
    size_t sealed_len = 0, n = 0, replaced = 0, v2_len = 0, both_len = 0;

    unique_name(name, sizeof name, "swc-rot");
    create_vault_key(name);
    vault = vault_key(name, NULL);
    ks_vault = key_set_of(vault, NULL);
    ks_aws = key_set_of(aws, NULL);
    CHECK_RC(seal(ks_vault, ctx, g_payload, sizeof g_payload, &sealed, &sealed_len), SEALWIRE_OK);
    snprintf(path, sizeof path, "/v1/transit/keys/%s/rotate", name);
    status = vault_admin("POST", path, "{}");
    CHECK(status == 200 || status == 204);

    CHECK_RC(sealwire_envelope_rewrap_open(sealed, sealed_len, ctx, ks_vault, &rw), SEALWIRE_OK);
    CHECK_RC(sealwire_envelope_rewrap_rotate(rw, ks_vault, &replaced), SEALWIRE_OK);
    CHECK(replaced == 1);
    CHECK_RC(sealwire_envelope_rewrap_apply(rw, sealed, sealed_len, NULL, 0, &n), SEALWIRE_BUFFER_TOO_SMALL);
    v2 = malloc(n);
    v2_len = n;
    CHECK_RC(sealwire_envelope_rewrap_apply(rw, sealed, sealed_len, v2, v2_len, &n), SEALWIRE_OK);
    sealwire_envelope_rewrap_free(rw);
    rw = NULL;
    entry_of(v2, v2_len, 0, provider, key_id, &version);
    CHECK(version == 2);
    CHECK_RC(open_eq(v2, v2_len, ctx, ks_vault, g_payload, sizeof g_payload), SEALWIRE_OK);

    /* Add an AWS entry; the object then opens with AWS alone. */
    CHECK_RC(sealwire_envelope_rewrap_open(v2, v2_len, ctx, ks_vault, &rw), SEALWIRE_OK);
    CHECK_RC(sealwire_envelope_rewrap_add(rw, ks_aws), SEALWIRE_OK);
    CHECK_RC(sealwire_envelope_rewrap_apply(rw, v2, v2_len, NULL, 0, &n), SEALWIRE_BUFFER_TOO_SMALL);
    both = malloc(n);
    both_len = n;
    CHECK_RC(sealwire_envelope_rewrap_apply(rw, v2, v2_len, both, both_len, &n), SEALWIRE_OK);
    sealwire_envelope_rewrap_free(rw);
    CHECK(entry_count(both, both_len) == 2);
    CHECK_RC(open_eq(both, both_len, ctx, ks_aws, g_payload, sizeof g_payload), SEALWIRE_OK);
    CHECK_RC(open_eq(sealed, sealed_len, ctx, ks_aws, g_payload, sizeof g_payload), SEALWIRE_NO_MATCHING_KEY);

    free(v2);
    free(both);
    sealwire_bytes_free(sealed, sealed_len);
    sealwire_key_set_free(ks_vault);
    sealwire_key_set_free(ks_aws);
    sealwire_kms_key_free(vault);
    sealwire_kms_key_free(aws);
    sealwire_context_free(ctx);
}

/* One key set with a Vault key, used by four threads at once. */
typedef struct {
    const sealwire_key_set *ks;
    const sealwire_context *ctx;
    int failures;
} thread_job;

#define THREADS 4
#define ROUNDS 5

static void *thread_main(void *arg)
{
    thread_job *job = arg;
    int i;
    for (i = 0; i < ROUNDS; i++) {
        uint8_t msg[64], *sealed = NULL;
        size_t sealed_len = 0;
        memset(msg, i, sizeof msg);
        if (seal(job->ks, job->ctx, msg, sizeof msg, &sealed, &sealed_len) != SEALWIRE_OK) {
            job->failures++;
            continue;
        }
        if (open_eq(sealed, sealed_len, job->ctx, job->ks, msg, sizeof msg) != SEALWIRE_OK) job->failures++;
        sealwire_bytes_free(sealed, sealed_len);
    }
    return NULL;
}

static void test_threads(void)
{
    char name[96];
    sealwire_kms_key *vault;
    sealwire_key_set *ks;
    sealwire_context *ctx = context_of("acme");
    pthread_t threads[THREADS];
    thread_job jobs[THREADS];
    sealwire_kms_stats before, after;
    uint8_t *sealed = NULL;
    size_t sealed_len = 0;
    int i;

    unique_name(name, sizeof name, "swc-thr");
    create_vault_key(name);
    vault = vault_key(name, NULL);
    ks = key_set_of(vault, NULL);
    CHECK_RC(seal(ks, ctx, g_payload, 1, &sealed, &sealed_len), SEALWIRE_OK); /* key check done */
    sealwire_bytes_free(sealed, sealed_len);
    before = stats_of(vault);
    for (i = 0; i < THREADS; i++) {
        jobs[i].ks = ks;
        jobs[i].ctx = ctx;
        jobs[i].failures = 0;
        CHECK(pthread_create(&threads[i], NULL, thread_main, &jobs[i]) == 0);
    }
    for (i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        CHECK(jobs[i].failures == 0);
    }
    after = stats_of(vault);
    /* One datakey call per seal, one decrypt per open, counted across threads. */
    CHECK(after.operations - before.operations == 2 * THREADS * ROUNDS);
    CHECK(after.failures == before.failures);
    sealwire_key_set_free(ks);
    sealwire_kms_key_free(vault);
    sealwire_context_free(ctx);
}

/* 1000 seals through the cache: 10 data keys, so 10 calls per KMS instead of 1000. */
static void test_cache_cuts_kms_calls(void)
{
    char name[96];
    sealwire_kms_key *vault, *aws = aws_key(setting("SEALWIRE_TEST_AWS_KEY_ARN"), NULL, NULL);
    sealwire_key_set *ks, *ks_vault, *ks_aws;
    sealwire_context *ctx = context_of("acme");
    sealwire_data_key_cache *cache = NULL;
    sealwire_cache_stats cs;
    sealwire_kms_stats v0, v1, a0, a1;
    uint8_t *keep[3] = {NULL, NULL, NULL}, *sealed = NULL;
    size_t keep_len[3] = {0, 0, 0}, sealed_len = 0;
    int i, shared_ok = 1;

    unique_name(name, sizeof name, "swc-cache");
    create_vault_key(name);
    vault = vault_key(name, NULL);
    ks = key_set_of(vault, aws);
    ks_vault = key_set_of(vault, NULL);
    ks_aws = key_set_of(aws, NULL);
    /* Warm up (Vault reads the key once before its first wrap). */
    CHECK_RC(seal(ks, ctx, g_payload, 1, &sealed, &sealed_len), SEALWIRE_OK);
    sealwire_bytes_free(sealed, sealed_len);

    /* Without the cache: one call per KMS per seal. */
    v0 = stats_of(vault);
    a0 = stats_of(aws);
    for (i = 0; i < 20; i++) {
        CHECK_RC(seal(ks, ctx, g_payload, 64, &sealed, &sealed_len), SEALWIRE_OK);
        sealwire_bytes_free(sealed, sealed_len);
    }
    v1 = stats_of(vault);
    a1 = stats_of(aws);
    CHECK(v1.operations - v0.operations == 20 && a1.operations - a0.operations == 20);

    CHECK_RC(sealwire_data_key_cache_new(300, 100, 1 << 20, &cache), SEALWIRE_OK);
    v0 = v1;
    a0 = a1;
    for (i = 0; i < 1000; i++) {
        sealwire_result rc = sealwire_data_key_cache_seal(cache, g_payload + (i % 100), 64, ctx, ks, SUITE, SEG,
                                                          &sealed, &sealed_len);
        if (rc != SEALWIRE_OK) {
            CHECK_RC(rc, SEALWIRE_OK);
            break;
        }
        if (shares_data_key(sealed, sealed_len) != 1) shared_ok = 0;
        if (i == 0 || i == 500 || i == 999) {
            keep[i == 0 ? 0 : i == 500 ? 1 : 2] = sealed;
            keep_len[i == 0 ? 0 : i == 500 ? 1 : 2] = sealed_len;
        } else {
            sealwire_bytes_free(sealed, sealed_len);
        }
    }
    CHECK(shared_ok);
    v1 = stats_of(vault);
    a1 = stats_of(aws);
    CHECK(v1.operations - v0.operations == 10);
    CHECK(a1.operations - a0.operations == 10);
    CHECK(v1.failures == v0.failures && a1.failures == a0.failures);
    CHECK_RC(sealwire_data_key_cache_stats(cache, &cs), SEALWIRE_OK);
    CHECK(cs.misses == 10 && cs.hits == 990 && cs.bypassed == 0 && cs.evicted == 9 && cs.entries == 1);

    /* Cached objects open with plain open, through either KMS alone. */
    CHECK_RC(open_eq(keep[0], keep_len[0], ctx, ks_vault, g_payload, 64), SEALWIRE_OK);
    CHECK_RC(open_eq(keep[1], keep_len[1], ctx, ks_aws, g_payload + 0, 64), SEALWIRE_OK);
    CHECK_RC(open_eq(keep[2], keep_len[2], ctx, ks_aws, g_payload + 99, 64), SEALWIRE_OK);

    /* Another context is another entry (a miss); clear drops the entries. */
    {
        sealwire_context *other = context_of("globex");
        CHECK_RC(sealwire_data_key_cache_seal(cache, g_payload, 64, other, ks, SUITE, SEG, &sealed, &sealed_len),
                 SEALWIRE_OK);
        CHECK_RC(open_eq(sealed, sealed_len, other, ks_vault, g_payload, 64), SEALWIRE_OK);
        sealwire_bytes_free(sealed, sealed_len);
        sealwire_context_free(other);
    }
    CHECK_RC(sealwire_data_key_cache_stats(cache, &cs), SEALWIRE_OK);
    CHECK(cs.misses == 11 && cs.entries == 2);
    CHECK_RC(sealwire_data_key_cache_clear(cache), SEALWIRE_OK);
    v0 = stats_of(vault);
    CHECK_RC(sealwire_data_key_cache_seal(cache, g_payload, 64, ctx, ks, SUITE, SEG, &sealed, &sealed_len),
             SEALWIRE_OK);
    sealwire_bytes_free(sealed, sealed_len);
    v1 = stats_of(vault);
    CHECK(v1.operations - v0.operations == 1);
    CHECK_RC(sealwire_data_key_cache_stats(cache, &cs), SEALWIRE_OK);
    CHECK(cs.misses == 12 && cs.entries == 1 && cs.evicted == 11);

    /* The cache is keyed by provider ids and key ids, not endpoints: the same ARN at a dead
     * endpoint is served from the live entry without any KMS call. A miss (new context) that
     * fails caches nothing. */
    {
        sealwire_context *fresh = context_of("initech");
        char dead[64];
        sealwire_kms_key *dead_aws;
        sealwire_key_set *ks_dead;
        snprintf(dead, sizeof dead, "http://127.0.0.1:%d", closed_port());
        dead_aws = aws_key(setting("SEALWIRE_TEST_AWS_KEY_ARN"), NULL, dead);
        ks_dead = key_set_of(vault, dead_aws);
        CHECK_RC(sealwire_data_key_cache_seal(cache, g_payload, 64, ctx, ks_dead, SUITE, SEG, &sealed, &sealed_len),
                 SEALWIRE_OK);
        CHECK(stats_of(dead_aws).operations == 0);
        CHECK_RC(open_eq(sealed, sealed_len, ctx, ks_aws, g_payload, 64), SEALWIRE_OK);
        sealwire_bytes_free(sealed, sealed_len);
        sealed = SENTINEL;
        CHECK_RC(sealwire_data_key_cache_seal(cache, g_payload, 64, fresh, ks_dead, SUITE, SEG, &sealed, &sealed_len),
                 SEALWIRE_KMS_UNAVAILABLE);
        CHECK(sealed == SENTINEL);
        CHECK(stats_of(dead_aws).failures == 1);
        CHECK_RC(sealwire_data_key_cache_stats(cache, &cs), SEALWIRE_OK);
        CHECK(cs.entries == 1 && cs.misses == 13);
        sealwire_key_set_free(ks_dead);
        sealwire_context_free(fresh);
        sealwire_kms_key_free(dead_aws);
    }

    for (i = 0; i < 3; i++) sealwire_bytes_free(keep[i], keep_len[i]);
    sealwire_data_key_cache_free(cache);
    sealwire_key_set_free(ks);
    sealwire_key_set_free(ks_vault);
    sealwire_key_set_free(ks_aws);
    sealwire_kms_key_free(vault);
    sealwire_kms_key_free(aws);
    sealwire_context_free(ctx);
}

int main(void)
{
    size_t i;
    printf("sealwire %s C API KMS tests\n", sealwire_version());
    for (i = 0; i < sizeof g_payload; i++) g_payload[i] = (uint8_t)(i * 31 + 7);
    load_settings();
    clear_kms_environment();

    test_result_codes();
    test_settings_and_uris();
    test_unreachable_fails_fast();
    test_bounded_retries();
    test_cache_misuse();

    if (servers_configured()) {
        test_vault_round_trip();
        test_aws_round_trip();
        test_multi_kms();
        test_typed_errors();
        test_rewrap();
        test_threads();
        test_cache_cuts_kms_calls();
    }
    printf("%d passed, %d failed\n", g_passed, g_failed);
    return g_failed == 0 && g_passed > 0 ? 0 : 1;
}
