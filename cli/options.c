//  options.c -- see options.h.  Each layer (flags, environment, config
//  file) offers candidates; per option the best one wins: the higher layer,
//  then the later one.  Options that fill the same field (--grace and
//  --grace-ms) compete as one.  Values are converted into the command's
//  struct only at the end, so a bad value a higher layer overrides is not
//  an error, except in the config file, which is checked line by line.
#include "cli/options.h"
#include "cli/commands.h"
#include "cli/option_value.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONFIG_MAX_BYTES (1024 * 1024)
#define ENV_NAME_MAX     64

//  Levels, lowest first: a config file's section wins over its top.
enum { LEVEL_NONE, LEVEL_FILE_TOP, LEVEL_FILE_SECTION, LEVEL_ENV, LEVEL_FLAG };

typedef struct {
    const char *text;
    int level;
    int seq;                    //  argv order, then table order, then lines
} candidate_t;

struct options {
    const options_spec_t *spec;
    candidate_t *best;          //  one per option
    int *lines;                 //  two per option: the config file's line
                                //  that set it at the top, in the section
    struct option *getopt;      //  spec's options, --config, --help, end
    char shorts[128];
    const char *config_path;
    char *config_text;          //  values from the file point in here
    int seq;
};

static const char *const s_sections[] = { COMMAND_NAMES, NULL };
const char *const options_log_levels[] = { "debug", "info", "warn", "error", NULL };

//  ---------------------------------------------------------------------
//  The table

static bool
s_size_ok (const option_t *option)
{
    size_t size = option->at.size;
    switch (option->type) {
        case OPTION_STRING:
        case OPTION_CHOICE: return size == sizeof (const char *);
        case OPTION_BOOL:   return size == sizeof (bool);
        default:            return size == 4 || size == 8;
    }
}

//  What is wrong with the table (a programmer's error), or NULL.
static const char *
s_spec_problem (const options_spec_t *spec)
{
    for (size_t i = 0; i < spec->count; i++) {
        const option_t *option = &spec->options[i];
        if (!option->name || strlen (option->name) >= ENV_NAME_MAX - 8)
            return "a name is missing or too long";
        if (!s_size_ok (option))
            return "a field's size does not fit its type";
        if (option->type == OPTION_CHOICE && !option->choices)
            return "a choice without choices";
        if ((option->flags & OPTION_POSITIONAL) && (!option->arg || option->short_name))
            return "an argument without a name, or with a flag letter";
        if (option->short_name == 'h' || !strcmp (option->name, "config")
        ||  !strcmp (option->name, "help"))
            return "-h, --help or --config, which every command has";
        for (size_t j = 0; j < i; j++)
            if (!strcmp (option->name, spec->options[j].name)
            ||  (option->short_name && option->short_name == spec->options[j].short_name))
                return "a name or a flag letter twice";
    }
    return NULL;
}

options_t *
options_new (const options_spec_t *spec)
{
    const char *problem = s_spec_problem (spec);
    if (problem) {
        fprintf (stderr, "drover %s: bad option table: %s\n", spec->command, problem);
        return NULL;
    }
    options_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->spec = spec;
    self->best = calloc (spec->count + 1, sizeof *self->best);
    self->lines = calloc (2 * spec->count + 1, sizeof *self->lines);
    self->getopt = calloc (spec->count + 3, sizeof *self->getopt);
    if (!self->best || !self->lines || !self->getopt) {
        options_destroy (&self);
        return NULL;
    }
    //  ':' first: a missing value is told apart from an unknown option.
    size_t used = snprintf (self->shorts, sizeof self->shorts, ":h");
    size_t n = 0;
    for (size_t i = 0; i < spec->count; i++) {
        const option_t *option = &spec->options[i];
        if (option->flags & OPTION_POSITIONAL)
            continue;
        bool value = option->type != OPTION_BOOL;
        self->getopt[n++] = (struct option) { option->name,
            value? required_argument: no_argument, NULL, 256 + (int) i };
        if (option->short_name && used + 3 < sizeof self->shorts)
            used += snprintf (self->shorts + used, sizeof self->shorts - used, "%c%s",
                              option->short_name, value? ":": "");
    }
    if (!spec->no_config)
        self->getopt[n++] = (struct option) { "config", required_argument, NULL,
                                              256 + (int) spec->count };
    self->getopt[n++] = (struct option) { "help", no_argument, NULL, 'h' };
    return self;
}

void
options_destroy (options_t **self_p)
{
    options_t *self = *self_p;
    if (!self)
        return;
    free (self->best);
    free (self->lines);
    free (self->getopt);
    free (self->config_text);
    free (self);
    *self_p = NULL;
}

static const option_t *
s_find (const options_t *self, const char *name, size_t *index_p)
{
    for (size_t i = 0; i < self->spec->count; i++)
        if (!strcmp (self->spec->options[i].name, name)) {
            if (index_p)
                *index_p = i;
            return &self->spec->options[i];
        }
    return NULL;
}

//  DROVER_ and the name in capitals, '-' as '_'.
static const char *
s_env_name (const option_t *option, char name[ENV_NAME_MAX])
{
    size_t used = snprintf (name, ENV_NAME_MAX, "DROVER_");
    for (const char *c = option->name; *c && used < ENV_NAME_MAX - 1; c++)
        name[used++] = *c == '-'? '_': (char) toupper ((unsigned char) *c);
    name[used] = 0;
    return name;
}

static void
s_offer (options_t *self, size_t index, const char *text, int level)
{
    candidate_t *best = &self->best[index];
    int seq = ++self->seq;
    if (level >= best->level)
        *best = (candidate_t) { text, level, seq };
}

//  ---------------------------------------------------------------------
//  The layers

int
options_usage_error (const options_t *self, const char *what, const char *value)
{
    const char *command = self->spec->command;
    fprintf (stderr, "drover %s: %s%s%s\ntry 'drover %s --help'\n",
             command, what, value? ": ": "", value? value: "", command);
    return 2;
}

//  The command line.  -1 to go on, else the exit status.
static int
s_flags (options_t *self, const void *args, int argc, char **argv)
{
    const options_spec_t *spec = self->spec;
    opterr = 0;
    optind = 0;                 //  0: glibc starts afresh (tests parse twice)
    int opt;
    while ((opt = getopt_long (argc, argv, self->shorts, self->getopt, NULL)) != -1) {
        size_t index = spec->count;     //  none of the table's
        if (opt >= 256)
            index = (size_t) opt - 256; //  the table's, or --config
        else
            for (size_t i = 0; i < spec->count && opt != ':' && opt != '?'; i++)
                if (spec->options[i].short_name == opt)
                    index = i;
        if (index < spec->count) {
            const option_t *option = &spec->options[index];
            const char *text = option->type == OPTION_BOOL? "1": optarg;
            if (*text || !(option->flags & OPTION_EMPTY_UNSET))
                s_offer (self, index, text, LEVEL_FLAG);
        }
        else
        if (opt == 256 + (int) spec->count)
            self->config_path = optarg;
        else
        if (opt == 'h') {
            options_help (self, args);
            return 0;
        }
        else
            return options_usage_error (self, opt == ':'? "option needs a value"
                                        : "unknown option", argv[optind - 1]);
    }
    for (size_t i = 0; i < spec->count && optind < argc; i++)
        if (spec->options[i].flags & OPTION_POSITIONAL)
            s_offer (self, i, argv[optind++], LEVEL_FLAG);
    if (optind < argc)
        return options_usage_error (self, "unexpected argument", argv[optind]);
    return -1;
}

static void
s_environment (options_t *self)
{
    for (size_t i = 0; i < self->spec->count; i++) {
        const option_t *option = &self->spec->options[i];
        if (option->flags & OPTION_ARGV_ONLY)
            continue;
        char name[ENV_NAME_MAX];
        const char *value = getenv (s_env_name (option, name));
        if (value && *value)
            s_offer (self, i, value, LEVEL_ENV);
    }
}

//  A usage error about line of the config file.
static int
s_file_error (options_t *self, int line, const char *what, const char *value)
{
    char where[1200];
    snprintf (where, sizeof where, "%s:%d: %s", self->config_path, line, what);
    return options_usage_error (self, where, value);
}

static char *
s_trim (char *text)
{
    while (*text == ' ' || *text == '\t')
        text++;
    size_t len = strlen (text);
    while (len && strchr (" \t\r", text[len - 1]))
        text[--len] = 0;
    return text;
}

//  [name]: which section the lines after it are in.  -1 if no command's.
static int
s_section (options_t *self, char *text, int line, int *level_p)
{
    size_t len = strlen (text);
    if (len < 2 || text[len - 1] != ']')
        return s_file_error (self, line, "a section is [name]", text);
    text[len - 1] = 0;
    const char *name = s_trim (text + 1);
    for (size_t i = 0; s_sections[i]; i++)
        if (!strcmp (name, s_sections[i])) {
            bool ours = !strcmp (name, self->spec->command);
            *level_p = ours? LEVEL_FILE_SECTION: LEVEL_NONE;
            return -1;
        }
    char what[300];
    size_t used = snprintf (what, sizeof what, "unknown section [%.64s]; sections are "
                            "commands:", name);
    for (size_t i = 0; s_sections[i] && used < sizeof what; i++)
        used += snprintf (what + used, sizeof what - used, " %s", s_sections[i]);
    return s_file_error (self, line, what, NULL);
}

//  key = value: checked and offered if it is for this command (level is
//  not LEVEL_NONE).  -1 to go on, or 2 after an error.
static int
s_setting (options_t *self, char *text, int line, int level)
{
    char *equals = strchr (text, '=');
    if (!equals || equals == text)
        return s_file_error (self, line, "expected key = value, [section] or # comment", text);
    *equals = 0;
    const char *key = s_trim (text);
    const char *value = s_trim (equals + 1);
    if (level == LEVEL_NONE)
        return -1;
    size_t index;
    const option_t *option = s_find (self, key, &index);
    if (!option || (option->flags & OPTION_ARGV_ONLY)) {
        char what[200];
        snprintf (what, sizeof what, "drover %s has no option %s%s", self->spec->command, key,
                  level == LEVEL_FILE_TOP? " (a key before any [section] is for every"
                  " command that reads the file)": "");
        return s_file_error (self, line, what, NULL);
    }
    int *seen = &self->lines[2 * index + (level == LEVEL_FILE_SECTION)];
    if (*seen) {
        char what[200];
        snprintf (what, sizeof what, "%s is set already, at line %d", key, *seen);
        return s_file_error (self, line, what, NULL);
    }
    *seen = line;
    char err[200];
    uint64_t scratch[2];
    if (!(*value == 0 && (option->flags & OPTION_EMPTY_UNSET))
    &&  option_value_parse (option, value, scratch, err, sizeof err)) {
        char what[300];
        snprintf (what, sizeof what, "%s %s", key, err);
        return s_file_error (self, line, what, *value? value: NULL);
    }
    if (*value || !(option->flags & OPTION_EMPTY_UNSET))
        s_offer (self, index, value, level);
    return -1;
}

//  The whole file into config_text.  -1 to go on, or 2 after an error.
static int
s_read_file (options_t *self)
{
    char what[1200];
    snprintf (what, sizeof what, "cannot read config file %s", self->config_path);
    FILE *file = fopen (self->config_path, "r");
    if (!file)
        return options_usage_error (self, what, strerror (errno));
    char *text = calloc (1, CONFIG_MAX_BYTES + 1);
    size_t size = text? fread (text, 1, CONFIG_MAX_BYTES + 1, file): 0;
    int error = !text? ENOMEM: ferror (file)? errno: 0;
    fclose (file);
    const char *problem = error? strerror (error): size > CONFIG_MAX_BYTES? "over 1 MiB"
                        : strlen (text) < size? "a NUL byte in it": NULL;
    if (problem) {
        free (text);
        return options_usage_error (self, what, problem);
    }
    self->config_text = text;
    return -1;
}

//  The config file, if one is named.  -1 to go on, or 2 after an error.
static int
s_config_file (options_t *self)
{
    if (!self->config_path) {
        const char *path = getenv ("DROVER_CONFIG");
        self->config_path = path && *path? path: NULL;
    }
    if (!self->config_path)
        return -1;
    int rc = s_read_file (self);
    int level = LEVEL_FILE_TOP;
    char *next = self->config_text;
    for (int line = 1; rc < 0 && next && *next; line++) {
        char *text = next;
        next = strchr (text, '\n');
        if (next)
            *next++ = 0;
        text = s_trim (text);
        if (*text == 0 || *text == '#')
            continue;
        if (*text == '[')
            rc = s_section (self, text, line, &level);
        else
            rc = s_setting (self, text, line, level);
    }
    return rc;
}

//  ---------------------------------------------------------------------
//  Parse

//  Another option fills the same field with a better candidate.
static bool
s_beaten (const options_t *self, size_t index)
{
    const option_t *options = self->spec->options;
    const candidate_t *mine = &self->best[index];
    for (size_t j = 0; j < self->spec->count; j++) {
        const candidate_t *other = &self->best[j];
        if (j != index && options[j].at.offset == options[index].at.offset
        &&  (other->level > mine->level
             || (other->level == mine->level && other->seq > mine->seq)))
            return true;
    }
    return false;
}

//  Convert the winners.  -1, or 2 after a usage error.
static int
s_store (options_t *self, void *args)
{
    for (size_t i = 0; i < self->spec->count; i++) {
        const option_t *option = &self->spec->options[i];
        const candidate_t *best = &self->best[i];
        if (best->level == LEVEL_NONE || s_beaten (self, i))
            continue;
        char err[200];
        void *field = (char *) args + option->at.offset;
        if (option_value_parse (option, best->text, field, err, sizeof err) == 0)
            continue;
        char what[300], name[ENV_NAME_MAX];
        if (best->level == LEVEL_ENV)
            snprintf (what, sizeof what, "%s %s", s_env_name (option, name), err);
        else
        if (option->flags & OPTION_POSITIONAL)
            snprintf (what, sizeof what, "%s %s", option->arg, err);
        else
            snprintf (what, sizeof what, "--%s %s", option->name, err);
        return options_usage_error (self, what, *best->text? best->text: NULL);
    }
    return -1;
}

int
options_parse (options_t *self, void *args, int argc, char **argv)
{
    int rc = s_flags (self, args, argc, argv);
    if (rc >= 0)
        return rc;
    if (!self->spec->no_config) {
        s_environment (self);
        rc = s_config_file (self);
        if (rc >= 0)
            return rc;
    }
    return s_store (self, args);
}

int
options_main (const options_spec_t *spec, void *args, int argc, char **argv,
              options_run_fn *run)
{
    options_t *self = options_new (spec);
    if (!self)
        return 1;
    int rc = options_parse (self, args, argc, argv);
    if (rc < 0)
        rc = run (args, self);
    options_destroy (&self);
    return rc;
}

option_source_t
options_source (const options_t *self, const char *name)
{
    size_t index;
    if (!s_find (self, name, &index))
        return OPTION_FROM_DEFAULT;
    switch (self->best[index].level) {
        case LEVEL_FLAG:         return OPTION_FROM_FLAG;
        case LEVEL_ENV:          return OPTION_FROM_ENV;
        case LEVEL_FILE_TOP:
        case LEVEL_FILE_SECTION: return OPTION_FROM_FILE;
        default:                 return OPTION_FROM_DEFAULT;
    }
}

//  ---------------------------------------------------------------------
//  --help

#define HELP_INDENT 10
#define HELP_WIDTH  79

//  Words of text from column at, wrapped at HELP_WIDTH to HELP_INDENT; two
//  spaces between words (after a sentence) stay two.
static void
s_wrap (FILE *out, const char *text, size_t at)
{
    size_t gap = 0;
    while (*text) {
        size_t word = strcspn (text, " ");
        if (at > HELP_INDENT && at + gap + word > HELP_WIDTH) {
            fprintf (out, "\n%*s", HELP_INDENT, "");
            at = HELP_INDENT;
        }
        else
        if (at > HELP_INDENT) {
            fprintf (out, "%.*s", (int) gap, "  ");
            at += gap;
        }
        fwrite (text, 1, word, out);
        at += word;
        text += word;
        gap = strspn (text, " ");
        text += gap;
        gap = gap > 1? 2: 1;
    }
    fputc ('\n', out);
}

//  "  -b, --broker ENDPOINT  [DROVER_BROKER]", then the help, wrapped.
static void
s_help_option (const options_t *self, const option_t *option, const void *args)
{
    char flag[128], env[ENV_NAME_MAX + 8] = "";
    if (option->flags & OPTION_POSITIONAL)
        snprintf (flag, sizeof flag, "  %s", option->arg);
    else
        snprintf (flag, sizeof flag, "  %c%c%c --%s%s%s", option->short_name? '-': ' ',
                  option->short_name? option->short_name: ' ', option->short_name? ',': ' ',
                  option->name, option->arg? " ": "", option->arg? option->arg: "");
    if (!self->spec->no_config && !(option->flags & OPTION_ARGV_ONLY)) {
        char name[ENV_NAME_MAX];
        snprintf (env, sizeof env, "  [%s%s]", s_env_name (option, name),
                  option->type == OPTION_BOOL? "=1": "");
    }
    printf ("%s%s\n%*s", flag, env, HELP_INDENT, "");
    char text[1024], value[256];
    option_value_print (option, (const char *) args + option->at.offset, value, sizeof value);
    snprintf (text, sizeof text, "%s%s%s%s", option->help, *value? " (default ": "",
              value, *value? ")": "");
    s_wrap (stdout, text, HELP_INDENT);
}

void
options_help (const options_t *self, const void *args)
{
    const options_spec_t *spec = self->spec;
    printf ("usage: drover %s %s\n\n%s\n", spec->command, spec->usage, spec->about);
    bool sizes = false, durations = false, arguments = false;
    for (size_t i = 0; i < spec->count; i++) {
        const option_t *option = &spec->options[i];
        sizes |= option->type == OPTION_SIZE;
        durations |= option->type == OPTION_DURATION;
        if (option->flags & OPTION_POSITIONAL) {
            printf ("%s", arguments? "": "arguments:\n");
            s_help_option (self, option, args);
            arguments = true;
        }
    }
    if (spec->no_config)
        printf ("%soptions:\n", arguments? "\n": "");
    else
        printf ("%soptions (a flag wins over its environment variable, shown in brackets,\n"
                "which wins over the config file, which wins over the default):\n",
                arguments? "\n": "");
    for (size_t i = 0; i < spec->count; i++)
        if (!(spec->options[i].flags & OPTION_POSITIONAL))
            s_help_option (self, &spec->options[i], args);
    if (!spec->no_config) {
        printf ("      --config FILE  [DROVER_CONFIG]\n%*s", HELP_INDENT, "");
        char text[512];
        snprintf (text, sizeof text, "read options from FILE: lines \"name = value\" (name: "
                  "an option's long name; value: the rest of the line), \"# comment\" "
                  "lines, and \"[%s]\" to start lines for drover %s only.  Lines before "
                  "any [section] are for every command that reads the file, and lose "
                  "to a section's", spec->command, spec->command);
        s_wrap (stdout, text, HELP_INDENT);
    }
    printf ("  -h, --help\n%*sthis help\n", HELP_INDENT, "");
    if (sizes)
        printf ("\nSIZE is bytes, or a number followed by K, M or G (powers of 1024).\n");
    if (durations)
        printf ("%sDURATION is seconds, or a number followed by ms, s, m, h or d: 30, 1.5,\n"
                "1500ms, 15m, 2h.\n",
                sizes? "": "\n");
    if (spec->notes)
        printf ("\n%s", spec->notes);
}
