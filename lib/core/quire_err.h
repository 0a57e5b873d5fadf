/*
 * quire_err — the project's error codes.
 *
 * Every fallible function returns quire_err_t: 0 is success, every error is negative. Errors
 * that input or the network can cause are returned, never asserted. quire_err_retriable() tells
 * a caller whether trying the same thing later may succeed (Kafka down, queue full) or never will
 * (malformed input, refused by policy).
 */
#ifndef QUIRE_ERR_H
#define QUIRE_ERR_H

#include <stdbool.h>

/* X(name, value, retriable, description) */
#define QUIRE_ERR_LIST(X)                                                                          \
    X(QUIRE_OK, 0, false, "success")                                                               \
    X(QUIRE_ERR_NOMEM, -1, true, "out of memory")                                                  \
    X(QUIRE_ERR_INVALID, -2, false, "invalid argument")                                            \
    X(QUIRE_ERR_MALFORMED, -3, false, "malformed input")                                           \
    X(QUIRE_ERR_TOO_LARGE, -4, false, "input exceeds a size limit")                                \
    X(QUIRE_ERR_LIMIT, -5, false, "input exceeds a count or nesting limit")                        \
    X(QUIRE_ERR_EMPTY, -6, false, "input is empty")                                                \
    X(QUIRE_ERR_NOT_FOUND, -7, false, "not found")                                                 \
    X(QUIRE_ERR_EXISTS, -8, false, "already exists")                                               \
    X(QUIRE_ERR_DENIED, -9, false, "permission denied")                                            \
    X(QUIRE_ERR_UNAUTHENTICATED, -10, false, "not authenticated")                                  \
    X(QUIRE_ERR_UNAVAILABLE, -11, true, "service unavailable")                                     \
    X(QUIRE_ERR_TIMEOUT, -12, true, "timed out")                                                   \
    X(QUIRE_ERR_BUSY, -13, true, "queue full, try later")                                          \
    X(QUIRE_ERR_IO, -14, true, "input/output error")                                               \
    X(QUIRE_ERR_KAFKA, -15, true, "kafka error")                                                   \
    X(QUIRE_ERR_PG, -16, true, "postgresql error")                                                 \
    X(QUIRE_ERR_CONFIG, -17, false, "invalid configuration")                                       \
    X(QUIRE_ERR_CONFLICT, -18, true, "conflicting concurrent change")                              \
    X(QUIRE_ERR_MISSING_DEPS, -19, false, "update depends on content that is missing")             \
    X(QUIRE_ERR_SPOOFED, -20, false, "update carries another user's client id")                    \
    X(QUIRE_ERR_SHUTDOWN, -21, true, "shutting down")                                              \
    X(QUIRE_ERR_INTERNAL, -22, false, "internal error")

typedef enum quire_err_e {
#define QUIRE_ERR_ENUM(name, value, retriable, desc) name = (value),
    QUIRE_ERR_LIST(QUIRE_ERR_ENUM)
#undef QUIRE_ERR_ENUM
} quire_err_t;

/* A static, human-readable description ("malformed input"). Never NULL. */
const char *quire_err_str(quire_err_t err);
/* The constant's name ("QUIRE_ERR_MALFORMED"). Never NULL. */
const char *quire_err_name(quire_err_t err);
/* True when the same operation may succeed later. */
bool quire_err_retriable(quire_err_t err);

#if defined(__GNUC__)
#define QUIRE_MUST_USE          __attribute__((warn_unused_result))
#define QUIRE_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define QUIRE_MUST_USE
#define QUIRE_PRINTF(fmt, args)
#endif

/* An invariant check that never compiles out: prints where and aborts. For "cannot happen" only;
 * nothing that input or the network can cause may reach one. */
#define QUIRE_ASSERT(cond)                                                                         \
    do {                                                                                           \
        if (!(cond))                                                                               \
            quire__assert_fail(#cond, __FILE__, __LINE__);                                         \
    } while (0)
_Noreturn void quire__assert_fail(const char *expr, const char *file, int line);

#endif
