/*
 * conf.h -- tallyd's settings: command-line flags and the config file.
 *
 * Every setting has one name, used both as the long flag ("--poll-ms 200"
 * or "--poll-ms=200") and as the config file key ("poll-ms = 200").  The
 * config file (--config FILE) holds `key = value` lines; blank lines and
 * lines starting with '#' are ignored; values may be wrapped in double
 * quotes.  Flags on the command line override the file.
 *
 * Each command accepts a subset of the settings (see conf_parse_args);
 * anything else is a usage error.
 */
#ifndef TALLY_AGG_CONF_H
#define TALLY_AGG_CONF_H

#include <stddef.h>

#define CONF_PATH_MAX 1024

/* Which command is being configured: selects the accepted settings. */
enum conf_cmd {
    CONF_CMD_SERVE = 1u << 0,
    CONF_CMD_KEYS = 1u << 1,
    CONF_CMD_DRAIN = 1u << 2,
    CONF_CMD_BACKUP = 1u << 3,
};

typedef struct {
    char     spool[CONF_PATH_MAX];   /* spool directory (serve)            */
    char     db[CONF_PATH_MAX];      /* SQLite database file               */
    char     listen_host[256];       /* HTTP address (serve)               */
    unsigned listen_port;            /* 0 = not set                        */
    unsigned poll_ms;                /* idle spool poll interval, ms       */
    unsigned batch_events;           /* max events per drain transaction   */
    unsigned http_threads;           /* HTTP thread pool size              */
    int      log_level;              /* enum log_level                     */
    char     name[256];              /* key name (keys add)                */
    char     data_dir[CONF_PATH_MAX];/* enrichment data; "" = search       */
    unsigned retain_raw_days;        /* delete raw events older; 0 = keep  */
    char     source[CONF_PATH_MAX];  /* redis://... edge streams (serve)   */
    char     replica[65];            /* replica name with --source; ""     */
    unsigned stream_warn;            /* warn above N stream entries; 0=off */
    unsigned seal_after_days;        /* seal days this old (db_seal.h); 0=off */
} conf;

/* Fills c with the defaults (poll-ms 200, batch-events 50000,
 * http-threads 4, log-level info, retain-raw 0 = keep raw events
 * forever, seal-after 2 -- or the environment's TALLY_SEAL_AFTER when it
 * is a valid value, which the test suite uses to keep raw rows for its
 * SQL oracles --, everything else empty/0). */
void conf_defaults(conf *c);

/* Sets setting `name` (the long flag name without "--") to value, if the
 * setting exists and is accepted by cmd (a mask of enum conf_cmd).
 * Returns 0, or -1 with a message naming the setting in err. */
int conf_set(conf *c, unsigned cmd, const char *name, const char *value,
             char *err, size_t errlen);

/* Reads a config file into c (settings not accepted by cmd are errors).
 * Returns 0, or -1 with a message naming file and line in err. */
int conf_load_file(conf *c, unsigned cmd, const char *path, char *err,
                   size_t errlen);

/* Parses argv[0..argc-1] (the arguments after the command words): flags
 * accepted by cmd, "--config FILE" (loaded first, whatever its position,
 * so the other flags override it), and up to maxpos positional arguments,
 * stored as pointers into argv in pos[] with their count in *npos.
 * Returns 0, or -1 with a usage message in err. */
int conf_parse_args(conf *c, unsigned cmd, int argc, char **argv,
                    const char **pos, int maxpos, int *npos, char *err,
                    size_t errlen);

/* Checks that the settings serve needs are present.  Returns 0 or -1
 * with a message in err. */
int conf_check_serve(const conf *c, char *err, size_t errlen);

/* Parses "HOST:PORT" (HOST may be "[v6]") into c->listen_host/port.
 * Returns 0 or -1. */
int conf_parse_listen(conf *c, const char *value);

#endif
