/*
 * pgval — reading values out of binary-format libpq results (PQexecParams with resultFormat 1),
 * and the escapes of PostgreSQL's text COPY format. Header-only helpers.
 *
 * Binary results avoid hex-decoding bytea (Yjs states are large); every integer column used this
 * way must be of the exact type named (int4 → pgval_i32, int8 → pgval_i64, bool → pgval_bool):
 * the queries cast where the type could differ. NULLs read as 0 / false / NULL.
 */
#ifndef PGVAL_H
#define PGVAL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline int64_t pgval_i64(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 8)
        return 0;
    const unsigned char *p = (const unsigned char *)PQgetvalue(r, row, col);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return (int64_t)v;
}

static inline int32_t pgval_i32(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 4)
        return 0;
    const unsigned char *p = (const unsigned char *)PQgetvalue(r, row, col);
    return (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]);
}

static inline int16_t pgval_i16(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 2)
        return 0;
    const unsigned char *p = (const unsigned char *)PQgetvalue(r, row, col);
    return (int16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline bool pgval_bool(const PGresult *r, int row, int col)
{
    return !PQgetisnull(r, row, col) && PQgetlength(r, row, col) == 1 &&
           PQgetvalue(r, row, col)[0] != 0;
}

/* A malloc'd NUL-terminated copy of a text/bytea value (NULL for SQL NULL or out of memory). */
static inline char *pgval_dup(const PGresult *r, int row, int col, size_t *ret_len)
{
    if (PQgetisnull(r, row, col))
        return NULL;
    size_t n = (size_t)PQgetlength(r, row, col);
    char *s = malloc(n + 1);
    if (!s)
        return NULL;
    memcpy(s, PQgetvalue(r, row, col), n);
    s[n] = '\0';
    if (ret_len)
        *ret_len = n;
    return s;
}

/* Big-endian encodings for binary parameters. */
static inline void pgval_put_i64(uint8_t out[8], int64_t v)
{
    for (int i = 7; i >= 0; i--, v = (int64_t)((uint64_t)v >> 8))
        out[i] = (uint8_t)(v & 0xff);
}
static inline void pgval_put_i32(uint8_t out[4], int32_t v)
{
    uint32_t u = (uint32_t)v;
    out[0] = (uint8_t)(u >> 24);
    out[1] = (uint8_t)(u >> 16);
    out[2] = (uint8_t)(u >> 8);
    out[3] = (uint8_t)u;
}

#endif
