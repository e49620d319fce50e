/* Shared pass/fail bookkeeping of the C test programs (each is one translation unit that
 * includes this header once, after sealwire.h). */
#ifndef SEALWIRE_TEST_SUPPORT_H
#define SEALWIRE_TEST_SUPPORT_H

#include <stdio.h>

#include "sealwire.h"

static int g_passed;
static int g_failed;

static void check(int ok, const char *what, int line)
{
    if (ok) {
        g_passed++;
    } else {
        g_failed++;
        fprintf(stderr, "FAIL (line %d): %s\n", line, what);
    }
}

static void check_rc(sealwire_result got, sealwire_result want, const char *what, int line)
{
    if (got == want) {
        g_passed++;
    } else {
        g_failed++;
        fprintf(stderr, "FAIL (line %d): %s returned %s (%u), expected %s (%u)\n", line, what,
                sealwire_result_code_string(got), (unsigned)got,
                sealwire_result_code_string(want), (unsigned)want);
    }
}

#define CHECK(cond) check((cond) ? 1 : 0, #cond, __LINE__)
#define CHECK_RC(expr, want) check_rc((expr), (want), #expr, __LINE__)

/* A non-NULL pointer value that no call may overwrite on failure. */
static char g_sentinel_storage;
#define SENTINEL ((void *)&g_sentinel_storage)

#endif /* SEALWIRE_TEST_SUPPORT_H */
