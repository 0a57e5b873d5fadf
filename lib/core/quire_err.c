/* quire_err — names, descriptions and classes of the project's error codes. */
#include "quire_err.h"

#include <stdio.h>
#include <stdlib.h>

const char *quire_err_str(quire_err_t err)
{
    switch (err) {
#define QUIRE_ERR_CASE(name, value, retriable, desc)                                               \
    case name:                                                                                     \
        return desc;
        QUIRE_ERR_LIST(QUIRE_ERR_CASE)
#undef QUIRE_ERR_CASE
    }
    return "unrecognized error";
}

const char *quire_err_name(quire_err_t err)
{
    switch (err) {
#define QUIRE_ERR_CASE(name, value, retriable, desc)                                               \
    case name:                                                                                     \
        return #name;
        QUIRE_ERR_LIST(QUIRE_ERR_CASE)
#undef QUIRE_ERR_CASE
    }
    return "QUIRE_ERR_UNRECOGNIZED";
}

bool quire_err_retriable(quire_err_t err)
{
    switch (err) {
#define QUIRE_ERR_CASE(name, value, retriable, desc)                                               \
    case name:                                                                                     \
        return retriable;
        QUIRE_ERR_LIST(QUIRE_ERR_CASE)
#undef QUIRE_ERR_CASE
    }
    return false;
}

void quire__assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "quire: assertion failed: %s (%s:%d)\n", expr, file, line);
    fflush(stderr);
    abort();
}
