/* Shared helpers of the C tests that read the JSON files in tests/vectors with cJSON: a whole file,
 * hex fields, string and number fields. `static inline` so a test that uses only some of
 * them still compiles warning-free under -Werror. */
#ifndef SEALWIRE_TEST_VECTORS_H
#define SEALWIRE_TEST_VECTORS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static inline char *read_file(const char *path)
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

static inline int hex_nibble(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decode hex into a fresh malloc'd buffer (never NULL on success, even when empty). */
static inline uint8_t *hex_decode(const char *hex, size_t *len)
{
    size_t n = strlen(hex), i;
    uint8_t *out;
    if (n % 2 != 0) return NULL;
    out = malloc(n / 2 + 1);
    if (out == NULL) return NULL;
    for (i = 0; i < n / 2; i++) {
        int hi = hex_nibble(hex[2 * i]), lo = hex_nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(out);
            return NULL;
        }
        out[i] = (uint8_t)(hi * 16 + lo);
    }
    *len = n / 2;
    return out;
}

static inline const char *jstr(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsString(item) || item->valuestring == NULL) {
        fprintf(stderr, "vector field \"%s\" missing\n", key);
        return "";
    }
    return item->valuestring;
}

static inline uint64_t jnum(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(item)) {
        fprintf(stderr, "vector field \"%s\" missing\n", key);
        return 0;
    }
    return (uint64_t)item->valuedouble;
}

#endif /* SEALWIRE_TEST_VECTORS_H */
