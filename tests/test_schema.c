//  test_schema.c -- proto/schema.c's tables against PROTOCOL.md itself: the
//  command tables of sections 4 and 11 (each command's fields, which are required,
//  their types, its payload frames) and the error table of section 5 are
//  read out of the document at test time, so the tables cannot drift from
//  the spec.  The codec's tests (test_wire*.c) then trust the tables.
#include "proto/schema.h"

#include "support.h"

#include <criterion/criterion.h>
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  What the document says about one command.
typedef struct {
    bool seen;
    schema_fields_t accepts, requires;
    schema_payload_t payload;
} spec_t;

//  The cells of a table row "| a | b | c |", trimmed, in place.
static int
s_cells (char *line, char **cells, int max)
{
    int count = 0;
    char *save = NULL;
    for (char *cell = strtok_r (line, "|", &save); cell && count < max;
         cell = strtok_r (NULL, "|", &save)) {
        while (*cell == ' ')
            cell++;
        char *end = cell + strlen (cell);
        while (end > cell && (end[-1] == ' ' || end[-1] == '\n'))
            *--end = 0;
        cells[count++] = cell;
    }
    return count;
}

static schema_type_t
s_type (const char *name)
{
    const char *types[] = { "str", "uint", "bool", "map", "refs" };
    const schema_type_t values[] = {
        SCHEMA_STR, SCHEMA_UINT, SCHEMA_BOOL, SCHEMA_MAP, SCHEMA_REFS };
    for (size_t i = 0; i < 5; i++)
        if (!strcmp (name, types[i]))
            return values[i];
    cr_assert_fail ("PROTOCOL.md names a type '%s'", name);
    return SCHEMA_STR;
}

//  "`job`* str, `handler` str" (or "(empty map)") into spec.
static void
s_header_cell (char *cell, spec_t *spec, const char *command)
{
    if (!strcmp (cell, "(empty map)"))
        return;
    char *save = NULL;
    for (char *item = strtok_r (cell, ",", &save); item; item = strtok_r (NULL, ",", &save)) {
        char name[64], type[16];
        char star = 0;
        cr_assert (sscanf (item, " `%63[a-z_]`%c", name, &star) == 2, "%s: '%s'", command, item);
        const char *rest = strchr (item + 2, '`') + 1 + (star == '*');
        cr_assert_eq (sscanf (rest, " %15s", type), 1, "%s: '%s'", command, item);
        int field = schema_field_find (name, strlen (name));
        cr_assert_geq (field, 0, "%s: field %s is not in the schema", command, name);
        cr_assert_eq (schema_field_type ((msg_field_t) field), s_type (type),
                      "%s: %s is %s in PROTOCOL.md", command, name, type);
        spec->accepts |= SCHEMA_FIELD (field);
        if (star == '*')
            spec->requires |= SCHEMA_FIELD (field);
    }
}

static schema_payload_t
s_payload_cell (const char *cell)
{
    if (!strcmp (cell, "0"))
        return SCHEMA_PAYLOAD_NONE;
    if (!strncmp (cell, "0..N", 4))
        return SCHEMA_PAYLOAD_ANY;
    if (!strncmp (cell, "1:", 2))
        return SCHEMA_PAYLOAD_ONE;
    if (!strcmp (cell, "one per ref"))
        return SCHEMA_PAYLOAD_PER_REF;
    cr_assert_fail ("PROTOCOL.md gives a payload '%s'", cell);
    return SCHEMA_PAYLOAD_NONE;
}

//  The command tables (| Command | Direction | Header | Payload |) of the
//  text from start to end.  In section 11 (additions), a row may name a
//  command of section 4 again: the fields it gives are added to it.
static void
s_read_table (char *start, char *end, spec_t specs[MSG_COMMAND_MAX], bool additions)
{
    *end = 0;
    char *save = NULL;
    for (char *line = strtok_r (start, "\n", &save); line; line = strtok_r (NULL, "\n", &save)) {
        char *cells[8];
        if (line[0] != '|' || s_cells (line, cells, 8) != 4)
            continue;
        msg_command_t command = schema_command_find (cells[0], strlen (cells[0]));
        if (!command) {
            //  A header row ("Command") or a separator, unless in capitals.
            size_t caps = strspn (cells[0], "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
            cr_assert (!caps || caps != strlen (cells[0]),
                       "PROTOCOL.md has a command %s the schema lacks", cells[0]);
            continue;
        }
        spec_t *spec = &specs[command];
        if (additions && spec->seen) {
            s_header_cell (cells[2], spec, cells[0]);
            continue;
        }
        cr_assert_not (spec->seen, "%s twice in PROTOCOL.md", cells[0]);
        spec->seen = true;
        s_header_cell (cells[2], spec, cells[0]);
        spec->payload = s_payload_cell (cells[3]);
    }
}

//  Section 4's command tables, and section 11's.
static void
s_read_commands (spec_t specs[MSG_COMMAND_MAX])
{
    char *doc = support_slurp (DROVER_SOURCE_DIR "/proto/PROTOCOL.md");
    cr_assert_not_null (doc);
    char *start = strstr (doc, "\n## 4. Commands"), *end = strstr (doc, "\n## 5. ");
    cr_assert (start && end && start < end, "PROTOCOL.md has sections 4 and 5");
    char *listings = strstr (end + 1, "\n## 11. ");
    cr_assert (listings, "PROTOCOL.md has section 11");
    char *listings_end = strstr (listings + 1, "\n## ");
    s_read_table (start, end, specs, false);
    s_read_table (listings, listings_end? listings_end: listings + strlen (listings), specs,
                  true);
    free (doc);
}

Test (schema, commands_are_those_of_protocol_md)
{
    spec_t specs[MSG_COMMAND_MAX] = { { false, 0, 0, 0 } };
    s_read_commands (specs);
    for (int i = MSG_SUBMIT; i < MSG_COMMAND_MAX; i++) {
        msg_command_t command = (msg_command_t) i;
        const char *name = msg_command_name (command);
        cr_assert (specs[i].seen, "%s is not in PROTOCOL.md section 4 or 11", name);
        cr_expect_eq (schema_accepts (command), specs[i].accepts, "%s: fields", name);
        cr_expect_eq (schema_requires (command), specs[i].requires, "%s: required", name);
        cr_expect_eq (schema_payload (command), specs[i].payload, "%s: payload", name);
        cr_expect_eq (schema_requires (command) & ~schema_accepts (command), 0);
    }
}

Test (schema, fields_and_their_wire_names)
{
    for (int i = 0; i < MSG_F_MAX; i++) {
        msg_field_t field = (msg_field_t) i;
        const char *name = schema_field_name (field);
        cr_assert_not_null (name, "field %d has a name", i);
        cr_assert_eq (schema_field_name_size (field), strlen (name));
        cr_assert_eq (schema_field_find (name, strlen (name)), i, "%s", name);
        for (int j = 0; j < i; j++)
            cr_assert_str_neq (name, schema_field_name ((msg_field_t) j));
    }
    //  Exact names only: no prefix, no case folding.
    cr_assert_eq (schema_field_find ("jo", 2), -1);
    cr_assert_eq (schema_field_find ("jobs", 4), -1);
    cr_assert_eq (schema_field_find ("JOB", 3), -1);
    cr_assert_eq (schema_field_find ("", 0), -1);
}

Test (schema, command_names_are_exact)
{
    for (int i = MSG_SUBMIT; i < MSG_COMMAND_MAX; i++) {
        const char *name = msg_command_name ((msg_command_t) i);
        cr_assert_eq ((int) schema_command_find (name, strlen (name)), i, "%s", name);
    }
    cr_assert_eq (schema_command_find ("status", 6), 0);
    cr_assert_eq (schema_command_find ("STATU", 5), 0);
    cr_assert_eq (schema_command_find ("STATUSX", 7), 0);
    cr_assert_eq (schema_command_find ("", 0), 0);
    cr_assert_str_eq (msg_command_name (MSG_COMMAND_MAX), "UNKNOWN");
    cr_assert_str_eq (msg_command_name (0), "UNKNOWN");
    cr_assert_not (schema_command_valid (0));
    cr_assert_not (schema_command_valid (MSG_COMMAND_MAX));
    cr_assert_eq (schema_accepts (MSG_COMMAND_MAX), 0);
    cr_assert_eq (schema_payload (0), SCHEMA_PAYLOAD_NONE);
}

//  Section 5's table: | Code | Name | Meaning |.
Test (schema, errors_are_those_of_protocol_md)
{
    char *doc = support_slurp (DROVER_SOURCE_DIR "/proto/PROTOCOL.md");
    cr_assert_not_null (doc);
    char *start = strstr (doc, "\n## 5. Errors"), *end = strstr (doc, "\n## 6. ");
    cr_assert (start && end && start < end, "PROTOCOL.md has sections 5 and 6");
    *end = 0;
    int rows = 0;
    char *save = NULL;
    for (char *line = strtok_r (start, "\n", &save); line; line = strtok_r (NULL, "\n", &save)) {
        char *cells[8];
        if (line[0] != '|' || s_cells (line, cells, 8) != 3 || !isdigit ((unsigned char) cells[0][0]))
            continue;
        int code = atoi (cells[0]);
        cr_expect_eq (code, ++rows, "codes in order");
        cr_expect_str_eq (msg_error_name (code), cells[1]);
        cr_expect_str_eq (msg_error_name (-code), cells[1]);
    }
    free (doc);
    cr_assert_eq (rows, DRV_E_MAX - 1, "every code of drv_error_t is in PROTOCOL.md");
    cr_assert_str_eq (msg_error_name (0), "OK");
    cr_assert_str_eq (msg_error_name (DRV_E_MAX), "UNKNOWN");
    cr_assert_str_eq (msg_error_name (INT_MIN), "UNKNOWN");
    cr_assert_str_eq (msg_error_name (-DRV_E_NOTHING), "NOTHING");
}
