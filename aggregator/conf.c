/* conf.c -- see conf.h. */
#include "aggregator/conf.h"
#include "aggregator/log.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*conf_setter)(conf *c, const char *value);

typedef struct {
    const char *name;
    unsigned    cmds;
    conf_setter set;
} conf_opt;

static int
conf_copy(char *dst, size_t cap, const char *value)
{
    size_t n = strlen(value);
    if (n == 0 || n >= cap)
        return -1;
    memcpy(dst, value, n + 1);
    return 0;
}

static int
conf_uint(const char *value, unsigned lo, unsigned hi, unsigned *out)
{
    char *end;
    if (!isdigit((unsigned char)value[0]))
        return -1;
    errno = 0;
    unsigned long v = strtoul(value, &end, 10);
    if (errno || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = (unsigned)v;
    return 0;
}

static int set_spool(conf *c, const char *v) { return conf_copy(c->spool, sizeof(c->spool), v); }
static int set_db(conf *c, const char *v) { return conf_copy(c->db, sizeof(c->db), v); }
static int set_name(conf *c, const char *v) { return conf_copy(c->name, sizeof(c->name), v); }
static int set_listen(conf *c, const char *v) { return conf_parse_listen(c, v); }
static int set_poll(conf *c, const char *v) { return conf_uint(v, 1, 60000, &c->poll_ms); }
static int set_batch(conf *c, const char *v) { return conf_uint(v, 1, 10000000, &c->batch_events); }
static int set_threads(conf *c, const char *v) { return conf_uint(v, 1, 256, &c->http_threads); }
static int set_data_dir(conf *c, const char *v) { return conf_copy(c->data_dir, sizeof(c->data_dir), v); }
static int set_retain(conf *c, const char *v) { return conf_uint(v, 0, 100000, &c->retain_raw_days); }
static int set_source(conf *c, const char *v) { return strncmp(v, "redis://", 8) ? -1 : conf_copy(c->source, sizeof(c->source), v); }
static int set_replica(conf *c, const char *v) { return conf_copy(c->replica, sizeof(c->replica), v); }
static int set_seal(conf *c, const char *v) { return conf_uint(v, 0, 100000, &c->seal_after_days); }
static int set_swarn(conf *c, const char *v) { return conf_uint(v, 0, 4000000000u, &c->stream_warn); }

static int
set_level(conf *c, const char *v)
{
    enum log_level l;
    if (log_level_parse(v, &l) != 0)
        return -1;
    c->log_level = (int)l;
    return 0;
}

static const conf_opt conf_opts[] = {
    { "spool",        CONF_CMD_SERVE | CONF_CMD_DRAIN, set_spool },
    { "db",           CONF_CMD_SERVE | CONF_CMD_KEYS | CONF_CMD_DRAIN
                      | CONF_CMD_BACKUP,               set_db },
    { "listen",       CONF_CMD_SERVE,                  set_listen },
    { "poll-ms",      CONF_CMD_SERVE | CONF_CMD_DRAIN, set_poll },
    { "batch-events", CONF_CMD_SERVE | CONF_CMD_DRAIN, set_batch },
    { "http-threads", CONF_CMD_SERVE,                  set_threads },
    { "log-level",    CONF_CMD_SERVE | CONF_CMD_KEYS | CONF_CMD_DRAIN
                      | CONF_CMD_BACKUP,               set_level },
    { "name",         CONF_CMD_KEYS,                   set_name },
    { "data-dir",     CONF_CMD_SERVE | CONF_CMD_DRAIN, set_data_dir },
    { "retain-raw",   CONF_CMD_SERVE | CONF_CMD_DRAIN, set_retain },
    { "source",       CONF_CMD_SERVE | CONF_CMD_KEYS,  set_source },
    { "replica",      CONF_CMD_SERVE,                  set_replica },
    { "stream-warn",  CONF_CMD_SERVE,                  set_swarn },
    { "seal-after",   CONF_CMD_SERVE | CONF_CMD_DRAIN
                      | CONF_CMD_BACKUP,               set_seal },
};

void
conf_defaults(conf *c)
{
    memset(c, 0, sizeof(*c));
    c->poll_ms = 200;
    c->batch_events = 50000;
    c->http_threads = 4;
    c->log_level = LOG_INFO;
    c->seal_after_days = 2;
    const char *e = getenv("TALLY_SEAL_AFTER");
    if (e && set_seal(c, e) != 0)
        c->seal_after_days = 2;
}

int
conf_parse_listen(conf *c, const char *value)
{
    const char *colon = strrchr(value, ':');
    if (colon == NULL || colon == value)
        return -1;
    const char *h = value;
    size_t hl = (size_t)(colon - value);
    if (h[0] == '[') {
        if (hl < 3 || h[hl - 1] != ']')
            return -1;
        h++;
        hl -= 2;
    }
    if (hl >= sizeof(c->listen_host))
        return -1;
    unsigned port;
    if (conf_uint(colon + 1, 1, 65535, &port) != 0)
        return -1;
    memcpy(c->listen_host, h, hl);
    c->listen_host[hl] = '\0';
    c->listen_port = port;
    return 0;
}

int
conf_set(conf *c, unsigned cmd, const char *name, const char *value,
         char *err, size_t errlen)
{
    for (size_t i = 0; i < sizeof(conf_opts) / sizeof(conf_opts[0]); i++) {
        const conf_opt *o = &conf_opts[i];
        if (strcmp(o->name, name) != 0)
            continue;
        if (!(o->cmds & cmd))
            break;
        if (o->set(c, value) != 0) {
            snprintf(err, errlen, "invalid value for %s: '%s'", name, value);
            return -1;
        }
        return 0;
    }
    snprintf(err, errlen, "unknown setting '%s'", name);
    return -1;
}

static char *
conf_trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

int
conf_load_file(conf *c, unsigned cmd, const char *path, char *err,
               size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "cannot open config file %s: %s", path,
                 strerror(errno));
        return -1;
    }
    char line[4096], msg[512];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            snprintf(err, errlen, "%s:%d: line too long", path, lineno);
            rc = -1;
            break;
        }
        char *s = conf_trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            snprintf(err, errlen, "%s:%d: expected 'key = value'", path, lineno);
            rc = -1;
            break;
        }
        *eq = '\0';
        char *key = conf_trim(s), *val = conf_trim(eq + 1);
        size_t vl = strlen(val);
        if (vl >= 2 && val[0] == '"' && val[vl - 1] == '"') {
            val[vl - 1] = '\0';
            val++;
        }
        if (conf_set(c, cmd, key, val, msg, sizeof(msg)) != 0) {
            snprintf(err, errlen, "%s:%d: %s", path, lineno, msg);
            rc = -1;
            break;
        }
    }
    fclose(f);
    return rc;
}

/* Splits argv[i] into flag name and value (from "--x=v" or the next
 * argument).  Returns the number of argv entries consumed, or -1. */
static int
conf_known(const char *name, unsigned cmd)
{
    if (strcmp(name, "config") == 0)
        return 1;
    for (size_t i = 0; i < sizeof(conf_opts) / sizeof(conf_opts[0]); i++)
        if (strcmp(conf_opts[i].name, name) == 0)
            return (conf_opts[i].cmds & cmd) != 0;
    return 0;
}

static int
conf_flag(unsigned cmd, int argc, char **argv, int i, char *name,
          size_t namecap, const char **value, char *err, size_t errlen)
{
    const char *a = argv[i] + 2;
    const char *eq = strchr(a, '=');
    size_t nl = eq ? (size_t)(eq - a) : strlen(a);
    if (nl == 0 || nl >= namecap) {
        snprintf(err, errlen, "unknown flag '%s'", argv[i]);
        return -1;
    }
    memcpy(name, a, nl);
    name[nl] = '\0';
    if (!conf_known(name, cmd)) {
        snprintf(err, errlen, "unknown flag '--%s'", name);
        return -1;
    }
    if (eq) {
        *value = eq + 1;
        return 1;
    }
    if (i + 1 >= argc) {
        snprintf(err, errlen, "flag --%s needs a value", name);
        return -1;
    }
    *value = argv[i + 1];
    return 2;
}

int
conf_parse_args(conf *c, unsigned cmd, int argc, char **argv,
                const char **pos, int maxpos, int *npos, char *err,
                size_t errlen)
{
    char name[64], msg[512];
    const char *value;
    *npos = 0;

    /* pass 1: the config file, so that flags override it */
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) != 0 || strcmp(argv[i], "--") == 0)
            continue;
        int used = conf_flag(cmd, argc, argv, i, name, sizeof(name), &value, err,
                             errlen);
        if (used < 0)
            return -1;
        if (strcmp(name, "config") == 0
            && conf_load_file(c, cmd, value, err, errlen) != 0)
            return -1;
        i += used - 1;
    }
    /* pass 2: every other flag and the positional arguments */
    int only_pos = 0;
    for (int i = 0; i < argc; i++) {
        if (!only_pos && strcmp(argv[i], "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (only_pos || strncmp(argv[i], "--", 2) != 0) {
            if (!only_pos && argv[i][0] == '-' && argv[i][1] != '\0') {
                snprintf(err, errlen, "unknown flag '%s'", argv[i]);
                return -1;
            }
            if (*npos >= maxpos) {
                snprintf(err, errlen, "unexpected argument '%s'", argv[i]);
                return -1;
            }
            pos[(*npos)++] = argv[i];
            continue;
        }
        int used = conf_flag(cmd, argc, argv, i, name, sizeof(name), &value, err,
                             errlen);
        if (used < 0)
            return -1;
        i += used - 1;
        if (strcmp(name, "config") == 0)
            continue;
        if (conf_set(c, cmd, name, value, msg, sizeof(msg)) != 0) {
            if (strncmp(msg, "unknown setting", 15) == 0)
                snprintf(err, errlen, "unknown flag '--%s'", name);
            else
                snprintf(err, errlen, "%s", msg);
            return -1;
        }
    }
    return 0;
}

int
conf_check_serve(const conf *c, char *err, size_t errlen)
{
    if (c->spool[0] == '\0' && c->source[0] == '\0')
        snprintf(err, errlen, "serve needs --spool DIR or --source redis://...");
    else if (c->replica[0] != '\0' && c->source[0] == '\0')
        snprintf(err, errlen, "--replica needs --source redis://...");
    else if (c->db[0] == '\0')
        snprintf(err, errlen, "serve needs --db FILE");
    else if (c->listen_port == 0)
        snprintf(err, errlen, "serve needs --listen HOST:PORT");
    else
        return 0;
    return -1;
}
