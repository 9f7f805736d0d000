/*
 * check.h -- the minimal unit-test harness used by every C test in tests/.
 *
 * A test file defines test functions and lists them in main():
 *
 *     static void test_roundtrip(void) { CHECK(x == 1); CHECK_EQ_U64(a, b); }
 *     int main(void) { RUN(test_roundtrip); return check_summary("record"); }
 *
 * Each CHECK that fails prints file:line and the expression and marks the
 * running test failed; the test goes on.  check_summary() prints
 * "<name>: N passed, N failed" (the closing line CI understands) and
 * returns the process exit code (0 only if every test passed).
 */
#ifndef TALLY_CHECK_H
#define TALLY_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int check_failed_now;
static int check_passed_tests;
static int check_failed_tests;

#define CHECK(expr)                                                        \
    do {                                                                   \
        if (!(expr)) {                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__,         \
                    __LINE__, #expr);                                      \
            check_failed_now = 1;                                          \
        }                                                                  \
    } while (0)

#define CHECK_EQ_U64(a, b)                                                 \
    do {                                                                   \
        uint64_t check_a_ = (uint64_t)(a), check_b_ = (uint64_t)(b);       \
        if (check_a_ != check_b_) {                                        \
            fprintf(stderr, "%s:%d: %s == %s failed: %" PRIu64             \
                    " != %" PRIu64 "\n", __FILE__, __LINE__, #a, #b,       \
                    check_a_, check_b_);                                   \
            check_failed_now = 1;                                          \
        }                                                                  \
    } while (0)

#define CHECK_STR(a, b)                                                    \
    do {                                                                   \
        const char *check_a_ = (a), *check_b_ = (b);                       \
        if (check_a_ == NULL || check_b_ == NULL                           \
            || strcmp(check_a_, check_b_) != 0) {                          \
            fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n",  \
                    __FILE__, __LINE__, #a, #b,                            \
                    check_a_ ? check_a_ : "(null)",                        \
                    check_b_ ? check_b_ : "(null)");                       \
            check_failed_now = 1;                                          \
        }                                                                  \
    } while (0)

/* Compares a (ptr,len) pair with a C string. */
#define CHECK_MEM(ptr, len, str)                                           \
    do {                                                                   \
        const char *check_s_ = (str);                                      \
        size_t check_l_ = strlen(check_s_);                                \
        if ((ptr) == NULL || (size_t)(len) != check_l_                     \
            || memcmp((ptr), check_s_, check_l_) != 0) {                   \
            fprintf(stderr, "%s:%d: %s != \"%s\"\n", __FILE__, __LINE__,   \
                    #ptr, check_s_);                                       \
            check_failed_now = 1;                                          \
        }                                                                  \
    } while (0)

#define RUN(fn)                                                            \
    do {                                                                   \
        check_failed_now = 0;                                              \
        fn();                                                              \
        if (check_failed_now) {                                            \
            check_failed_tests++;                                          \
            fprintf(stderr, "FAIL %s\n", #fn);                             \
        } else {                                                           \
            check_passed_tests++;                                          \
        }                                                                  \
    } while (0)

static inline int
check_summary(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, check_passed_tests,
           check_failed_tests);
    return check_failed_tests == 0 ? 0 : 1;
}

#endif /* TALLY_CHECK_H */
