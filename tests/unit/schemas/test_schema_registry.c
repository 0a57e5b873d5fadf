/* Unit tests of schema_registry and of the rules every .avsc must keep: ids are stable, committed
 * files never change, later versions only add optional fields with default null and only append
 * enum symbols, and README lists every id. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <avro.h>
#include <cjson/cJSON.h>

#include "schema_registry.h"

static char *slurp(const char *path, size_t *ret_len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = 0;
        *ret_len = (size_t)n;
    }
    return buf;
}

static void test_verify(void **state)
{
    char err[256] = "";
    quire_err_t rc = schema_registry_verify(err, sizeof err);
    if (rc)
        fail_msg("%s", err);
}

static void test_id_table(void **state)
{
    static const struct {
        uint32_t id;
        const char *subject;
        int version;
        const char *file;
    } want[] = {
        {1, "quire.DocEvent", 1, "doc_event.v1.avsc"},
        {2, "quire.DocEvent", 2, "doc_event.v2.avsc"},
        {3, "quire.DocSnapshot", 1, "doc_snapshot.v1.avsc"},
    };
    assert_int_equal(schema_registry_count(), sizeof want / sizeof want[0]);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        schema_registry_entry_t e;
        assert_int_equal(schema_registry_at(i, &e), QUIRE_OK);
        assert_int_equal(e.id, want[i].id);
        assert_string_equal(e.subject, want[i].subject);
        assert_int_equal(e.version, want[i].version);
        assert_string_equal(e.file, want[i].file);
        assert_int_equal(e.json[e.json_len], '\0');
        schema_registry_entry_t f;
        assert_int_equal(schema_registry_find(want[i].id, &f), QUIRE_OK);
        assert_ptr_equal(f.json, e.json);
    }
    schema_registry_entry_t e;
    assert_int_equal(schema_registry_at(3, &e), QUIRE_ERR_NOT_FOUND);
    assert_int_equal(schema_registry_find(0, &e), QUIRE_ERR_NOT_FOUND);
    assert_int_equal(schema_registry_find(4, &e), QUIRE_ERR_NOT_FOUND);
    uint32_t id = 0;
    assert_int_equal(schema_registry_latest(SCHEMA_SUBJECT_DOC_EVENT, &id), QUIRE_OK);
    assert_int_equal(id, SCHEMA_ID_DOC_EVENT_V2);
    assert_int_equal(schema_registry_latest(SCHEMA_SUBJECT_DOC_SNAPSHOT, &id), QUIRE_OK);
    assert_int_equal(id, SCHEMA_ID_DOC_SNAPSHOT_V1);
    assert_int_equal(schema_registry_latest("quire.Nope", &id), QUIRE_ERR_NOT_FOUND);
}

/* The embedded JSON is the file on disk, byte for byte, and Avro-C parses it with the entry's
 * subject as its full name. */
static void test_embedded_equals_files(void **state)
{
    for (size_t i = 0; i < schema_registry_count(); i++) {
        schema_registry_entry_t e;
        assert_int_equal(schema_registry_at(i, &e), QUIRE_OK);
        char path[512];
        snprintf(path, sizeof path, "%s/%s", QUIRE_SCHEMAS_DIR, e.file);
        size_t n = 0;
        char *disk = slurp(path, &n);
        assert_non_null(disk);
        assert_int_equal(n, e.json_len);
        assert_memory_equal(disk, e.json, n);
        free(disk);
        avro_schema_t s;
        if (avro_schema_from_json_length(e.json, e.json_len, &s))
            fail_msg("%s: %s", e.file, avro_strerror());
        char full[256];
        snprintf(full, sizeof full, "%s.%s", avro_schema_namespace(s), avro_schema_name(s));
        assert_string_equal(full, e.subject);
        avro_schema_decref(s);
    }
}

static const cJSON *field_named(const cJSON *fields, const char *name)
{
    const cJSON *f;
    cJSON_ArrayForEach(f, fields)
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(f, "name");
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
            return f;
    }
    return NULL;
}

/* The enum's symbols of a field's type, or NULL. */
static const cJSON *enum_symbols(const cJSON *field)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(field, "type");
    if (!cJSON_IsObject(t))
        return NULL;
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(t, "type");
    if (!cJSON_IsString(kind) || strcmp(kind->valuestring, "enum") != 0)
        return NULL;
    return cJSON_GetObjectItemCaseSensitive(t, "symbols");
}

/* For each pair of consecutive versions of a subject: every old field survives with the same
 * type (enum symbols may only be appended), and every new field is ["null", ...] with default
 * null, so old bytes read with the new schema and new bytes with the old. */
static void test_evolution_rules(void **state)
{
    size_t n = schema_registry_count();
    for (size_t i = 0; i < n; i++) {
        schema_registry_entry_t older;
        assert_int_equal(schema_registry_at(i, &older), QUIRE_OK);
        for (size_t j = 0; j < n; j++) {
            schema_registry_entry_t newer;
            assert_int_equal(schema_registry_at(j, &newer), QUIRE_OK);
            if (strcmp(newer.subject, older.subject) != 0 || newer.version != older.version + 1)
                continue;
            cJSON *o = cJSON_ParseWithLength(older.json, older.json_len);
            cJSON *w = cJSON_ParseWithLength(newer.json, newer.json_len);
            assert_non_null(o);
            assert_non_null(w);
            assert_true(newer.id > older.id);
            const cJSON *of = cJSON_GetObjectItemCaseSensitive(o, "fields");
            const cJSON *nf = cJSON_GetObjectItemCaseSensitive(w, "fields");
            const cJSON *f;
            cJSON_ArrayForEach(f, of)
            {
                const char *name = cJSON_GetObjectItemCaseSensitive(f, "name")->valuestring;
                const cJSON *g = field_named(nf, name);
                if (!g)
                    fail_msg("%s drops field %s of %s", newer.file, name, older.file);
                const cJSON *os = enum_symbols(f), *ns = enum_symbols(g);
                if (os || ns) {
                    assert_non_null(os);
                    assert_non_null(ns);
                    int k = cJSON_GetArraySize(os);
                    assert_true(cJSON_GetArraySize(ns) >= k);
                    for (int s = 0; s < k; s++)
                        assert_string_equal(cJSON_GetArrayItem(os, s)->valuestring,
                                            cJSON_GetArrayItem(ns, s)->valuestring);
                } else if (!cJSON_Compare(cJSON_GetObjectItemCaseSensitive(f, "type"),
                                          cJSON_GetObjectItemCaseSensitive(g, "type"), true)) {
                    fail_msg("%s changes the type of field %s", newer.file, name);
                }
            }
            cJSON_ArrayForEach(f, nf)
            {
                const char *name = cJSON_GetObjectItemCaseSensitive(f, "name")->valuestring;
                if (field_named(of, name))
                    continue;
                const cJSON *t = cJSON_GetObjectItemCaseSensitive(f, "type");
                const cJSON *d = cJSON_GetObjectItemCaseSensitive(f, "default");
                if (!cJSON_IsArray(t) || cJSON_GetArraySize(t) != 2 ||
                    !cJSON_IsString(cJSON_GetArrayItem(t, 0)) ||
                    strcmp(cJSON_GetArrayItem(t, 0)->valuestring, "null") != 0 || !d ||
                    !cJSON_IsNull(d))
                    fail_msg("new field %s of %s must be [\"null\", T] with default null", name,
                             newer.file);
            }
            cJSON_Delete(o);
            cJSON_Delete(w);
        }
    }
}

/* Every field and named type carries a doc string (the .avsc files are the documentation). */
static void test_fields_documented(void **state)
{
    for (size_t i = 0; i < schema_registry_count(); i++) {
        schema_registry_entry_t e;
        assert_int_equal(schema_registry_at(i, &e), QUIRE_OK);
        cJSON *j = cJSON_ParseWithLength(e.json, e.json_len);
        assert_non_null(cJSON_GetObjectItemCaseSensitive(j, "doc"));
        const cJSON *f;
        cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(j, "fields"))
        {
            if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(f, "doc")) &&
                !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(
                    cJSON_GetObjectItemCaseSensitive(f, "type"), "doc")))
                fail_msg("%s: field %s has no doc", e.file,
                         cJSON_GetObjectItemCaseSensitive(f, "name")->valuestring);
        }
        cJSON_Delete(j);
    }
}

static void test_readme_lists_every_id(void **state)
{
    size_t n = 0;
    char *readme = slurp(QUIRE_SCHEMAS_DIR "/README.md", &n);
    assert_non_null(readme);
    for (size_t i = 0; i < schema_registry_count(); i++) {
        schema_registry_entry_t e;
        assert_int_equal(schema_registry_at(i, &e), QUIRE_OK);
        char row[256];
        snprintf(row, sizeof row, "| %u | `%s` | %d | `%s` |", e.id, e.subject, e.version, e.file);
        if (!strstr(readme, row))
            fail_msg("schemas/README.md lacks the row: %s", row);
    }
    free(readme);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verify),
        cmocka_unit_test(test_id_table),
        cmocka_unit_test(test_embedded_equals_files),
        cmocka_unit_test(test_evolution_rules),
        cmocka_unit_test(test_fields_documented),
        cmocka_unit_test(test_readme_lists_every_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
