/* users_cli.c -- tallyd users add|passwd|list|remove and tallyd share
 * add|list|revoke (see users_cli.h). */
#include "aggregator/users_cli.h"
#include "aggregator/cli.h"
#include "aggregator/crypto.h"
#include "aggregator/crypto_pw.h"
#include "aggregator/ctl_cli.h"
#include "aggregator/db.h"
#include "aggregator/users.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define UCLI_SITE_MAX 256
#define UCLI_TOKEN_LEN 43          /* b64url of 32 random bytes */

typedef struct {
    const char *db;
    const char *site;
    const char *source;           /* --source redis://... (ctl_cli.h) */
    const char *pos[2];
    int         npos;
} ucli_args;

/* Parses --db FILE, --site DOMAIN (when site_ok) and positionals.
 * Returns 0, or -1 with a message printed. */
static int
ucli_parse(const char *cmd, int argc, char **argv, int site_ok, ucli_args *a)
{
    memset(a, 0, sizeof(*a));
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i], *v = NULL;
        const char **dst = NULL;
        if (strcmp(s, "--db") == 0 || strncmp(s, "--db=", 5) == 0)
            dst = &a->db;
        else if (site_ok && (strcmp(s, "--site") == 0 || strncmp(s, "--site=", 7) == 0))
            dst = &a->site;
        else if (strcmp(s, "--source") == 0 || strncmp(s, "--source=", 9) == 0)
            dst = &a->source;
        if (dst != NULL) {
            const char *eq = strchr(s, '=');
            if (eq != NULL)
                v = eq + 1;
            else if (i + 1 < argc)
                v = argv[++i];
            if (v == NULL || *v == '\0') {
                fprintf(stderr, "tallyd %s: %s needs a value\n", cmd, s);
                return -1;
            }
            *dst = v;
        } else if (s[0] == '-' && s[1] != '\0') {
            fprintf(stderr, "tallyd %s: unknown flag '%s'\n"
                    "Run 'tallyd --help' for usage.\n", cmd, s);
            return -1;
        } else if (a->npos < 2) {
            a->pos[a->npos++] = s;
        } else {
            fprintf(stderr, "tallyd %s: too many arguments\n", cmd);
            return -1;
        }
    }
    if (a->db == NULL) {
        fprintf(stderr, "tallyd %s: needs --db FILE\n", cmd);
        return -1;
    }
    return 0;
}

static db *
ucli_open(const char *cmd, const char *path)
{
    char err[1024];
    db *d;
    if (crypto_start() != 0) {
        fprintf(stderr, "tallyd: libsodium failed to start\n");
        return NULL;
    }
    if (db_open(path, DB_RW, &d, err, sizeof(err)) != 0) {
        fprintf(stderr, "tallyd %s: %s\n", cmd, err);
        return NULL;
    }
    if (db_web_init(d) != 0) {
        fprintf(stderr, "tallyd %s: cannot create the web tables: %s\n", cmd,
                db_errmsg(d));
        db_close(d);
        return NULL;
    }
    return d;
}

static void
ucli_time(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&tt, &tm));
}

/* ---- password input ---- */

static struct termios ucli_saved;
static volatile sig_atomic_t ucli_echo_off;

static void
ucli_restore(int sig)
{
    if (ucli_echo_off)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &ucli_saved);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Reads one line of at most USR_PW_MAX bytes from f into buf (the line
 * end stripped).  Returns its length, or -1 (EOF, error, too long). */
static long
ucli_line(FILE *f, char *buf, size_t cap)
{
    if (fgets(buf, (int)cap, f) == NULL)
        return -1;
    size_t n = strlen(buf);
    if (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    else if (!feof(f))
        return -1;              /* longer than the buffer */
    if (n > 0 && buf[n - 1] == '\r')
        buf[--n] = '\0';
    return (long)n;
}

/* Prompts on stderr and reads a line from the terminal on stdin without
 * echo.  Returns its length or -1. */
static long
ucli_prompt(const char *prompt, char *buf, size_t cap)
{
    fputs(prompt, stderr);
    fflush(stderr);
    struct termios t = ucli_saved;
    t.c_lflag &= ~(tcflag_t)ECHO;
    t.c_lflag |= ECHONL;
    ucli_echo_off = 1;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &t);
    long n = ucli_line(stdin, buf, cap);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &ucli_saved);
    ucli_echo_off = 0;
    return n;
}

/* Reads a new password into pw (USR_PW_MAX + 2 bytes).  Returns its
 * length, or -1 with a message printed. */
static long
ucli_read_password(const char *cmd, const char *name, char *pw, size_t cap)
{
    long n;
    if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &ucli_saved) == 0) {
        char again[USR_PW_MAX + 2], prompt[128];
        signal(SIGINT, ucli_restore);
        signal(SIGTERM, ucli_restore);
        snprintf(prompt, sizeof(prompt), "New password for %s: ", name);
        n = ucli_prompt(prompt, pw, cap);
        long m = n < 0 ? -1 : ucli_prompt("Repeat it: ", again, sizeof(again));
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        int same = n >= 0 && m == n && memcmp(pw, again, (size_t)n) == 0;
        crypto_wipe(again, sizeof(again));
        if (!same) {
            fprintf(stderr, "tallyd %s: the passwords differ\n", cmd);
            return -1;
        }
    } else {
        n = ucli_line(stdin, pw, cap);
        if (n < 0) {
            fprintf(stderr, "tallyd %s: expected the password on one line of"
                    " stdin (at most %d bytes)\n", cmd, USR_PW_MAX);
            return -1;
        }
    }
    char err[128];
    if (!usr_pw_acceptable(pw, (size_t)n, err, sizeof(err))) {
        fprintf(stderr, "tallyd %s: %s\n", cmd, err);
        return -1;
    }
    return n;
}

/* ---- users ---- */

static int
ucli_user_print(void *ctx, const db_user_info *u)
{
    (void)ctx;
    char created[32];
    ucli_time(u->created, created);
    printf("%-6lld %-32s %-22s %lld\n", (long long)u->id, u->name, created,
           (long long)u->sessions);
    return 0;
}

/* users add | passwd | remove through the control stream (ctl_cli.h):
 * the argon2id hash is computed here, the password never leaves this
 * process.  Returns the exit status. */
static int
ucli_users_ctl(const char *cmd, db *d, const char *source, enum ctl_verb verb,
               const char *name, const char *pw, size_t pwlen)
{
    ctl_cmd *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return CLI_ERR;
    int rc = CLI_ERR;
    c->verb = verb;
    c->t = (int64_t)time(NULL);
    snprintf(c->name, sizeof(c->name), "%s", name);
    char h[CRYPTO_PW_STR];
    if (verb != CTL_USER_REMOVE) {
        if (crypto_pw_hash(pw, pwlen, h) != 0
            || strlen(h) >= sizeof(c->pwhash)) {
            fprintf(stderr, "tallyd %s: cannot hash the password\n", cmd);
            goto out;
        }
        memcpy(c->pwhash, h, strlen(h) + 1);
    }
    int64_t id;
    int st = ctl_cli_submit(cmd, d, source, c, &id);
    if (st == CTL_DONE) {
        rc = CLI_OK;
        if (verb == CTL_USER_ADD)
            printf("created user %s (id %lld)\n", name, (long long)id);
        else if (verb == CTL_USER_PASSWD)
            printf("password of %s changed; its sessions are ended\n", name);
        else
            printf("removed user %s\n", name);
    } else if (st >= 0) {
        fprintf(stderr, "tallyd %s: %s\n", cmd, st == CTL_EXISTS
                ? "a user with that name exists (use 'users passwd')"
                : st == CTL_NOTFOUND ? "no such user" : "the change was refused");
    }
out:
    crypto_wipe(h, sizeof(h));
    crypto_wipe(c, sizeof(*c));
    free(c);
    return rc;
}

int
cli_users(int argc, char **argv)
{
    const char *sub = argc > 0 ? argv[0] : "";
    int is_add = strcmp(sub, "add") == 0, is_list = strcmp(sub, "list") == 0,
        is_rm = strcmp(sub, "remove") == 0, is_pw = strcmp(sub, "passwd") == 0;
    if (!is_add && !is_list && !is_rm && !is_pw) {
        fprintf(stderr, "tallyd users: %s subcommand%s%s (add, list, remove or"
                " passwd)\nRun 'tallyd --help' for usage.\n",
                argc > 0 ? "unknown" : "missing", argc > 0 ? " " : "", sub);
        return CLI_USAGE;
    }
    char cmd[32];
    snprintf(cmd, sizeof(cmd), "users %s", sub);
    ucli_args a;
    if (ucli_parse(cmd, argc - 1, argv + 1, 0, &a) != 0)
        return CLI_USAGE;
    if (a.npos != (is_list ? 0 : 1)) {
        fprintf(stderr, "tallyd %s: %s\n", cmd,
                is_list ? "takes no NAME" : "needs exactly one user NAME");
        return CLI_USAGE;
    }
    const char *name = is_list ? "" : a.pos[0];
    if (!is_list && !usr_name_valid(name)) {
        fprintf(stderr, "tallyd %s: invalid user name '%s' (1 to %d of"
                " A-Z a-z 0-9 . _ @ + -, not starting with '-')\n", cmd, name,
                DB_WEB_NAME_MAX);
        return CLI_USAGE;
    }
    char pw[USR_PW_MAX + 2];
    long pwlen = 0;
    if ((is_add || is_pw)
        && (pwlen = ucli_read_password(cmd, name, pw, sizeof(pw))) < 0)
        return CLI_ERR;
    db *d = ucli_open(cmd, a.db);
    int rc = CLI_ERR;
    if (d == NULL)
        goto out;
    int mode = is_list ? 0 : ctl_cli_mode(cmd, d, a.source);
    if (mode != 0) {
        if (mode > 0)
            rc = ucli_users_ctl(cmd, d, a.source, is_add ? CTL_USER_ADD : is_pw
                                ? CTL_USER_PASSWD : CTL_USER_REMOVE, name, pw,
                                (size_t)pwlen);
        goto out;
    }
    if (is_add) {
        int64_t id;
        int r = usr_add(d, name, pw, (size_t)pwlen, &id);
        if (r == 0) {
            printf("created user %s (id %lld)\n", name, (long long)id);
            rc = CLI_OK;
        } else {
            fprintf(stderr, "tallyd %s: %s\n", cmd, r == 1
                    ? "a user with that name exists (use 'users passwd')"
                    : "cannot store the user");
        }
    } else if (is_pw) {
        int r = usr_passwd(d, name, pw, (size_t)pwlen);
        if (r == 1) {
            printf("password of %s changed; its sessions are ended\n", name);
            rc = CLI_OK;
        } else {
            fprintf(stderr, "tallyd %s: %s\n", cmd,
                    r == 0 ? "no such user" : "cannot store the password");
        }
    } else if (is_rm) {
        int r = db_user_remove(d, name);
        if (r == 1) {
            printf("removed user %s\n", name);
            rc = CLI_OK;
        } else {
            fprintf(stderr, "tallyd %s: %s\n", cmd,
                    r == 0 ? "no such user" : "database error");
        }
    } else {
        printf("%-6s %-32s %-22s %s\n", "id", "name", "created", "sessions");
        rc = db_user_each(d, (int64_t)time(NULL), ucli_user_print, NULL) == 0
             ? CLI_OK : CLI_ERR;
    }
out:
    crypto_wipe(pw, sizeof(pw));
    db_close(d);
    return rc;
}

/* ---- share links ---- */

static int
ucli_share_print(void *ctx, const db_share_info *s)
{
    (void)ctx;
    char created[32], revoked[32] = "-";
    ucli_time(s->created, created);
    if (s->revoked)
        ucli_time(s->revoked, revoked);
    printf("%-6lld %-32s %-22s %s\n", (long long)s->id, s->site, created, revoked);
    return 0;
}

/* share add | revoke through the control stream (ctl_cli.h): the token
 * is made here, only its hash goes into the stream.  Returns the exit
 * status. */
static int
ucli_share_ctl(const char *cmd, db *d, const char *source, int is_add,
               const char *site, long long id)
{
    ctl_cmd *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return CLI_ERR;
    unsigned char raw[32];
    char tok[UCLI_TOKEN_LEN + 1] = "";
    c->t = (int64_t)time(NULL);
    if (is_add) {
        c->verb = CTL_SHARE_ADD;
        snprintf(c->site, sizeof(c->site), "%s", site);
        crypto_random(raw, sizeof(raw));
        crypto_b64url(tok, sizeof(tok), raw, sizeof(raw));
        crypto_hash256(tok, UCLI_TOKEN_LEN, c->hash);
        c->has_hash = 1;
        crypto_wipe(raw, sizeof(raw));
    } else {
        c->verb = CTL_SHARE_REVOKE;
        c->id = id;
    }
    int64_t sid;
    int st = ctl_cli_submit(cmd, d, source, c, &sid), rc = CLI_ERR;
    if (st == CTL_DONE && is_add) {
        printf("created share link id %lld for %s; store it now, it cannot"
               " be shown again.\nAppend this to the dashboard's URL (e.g."
               " https://example.com/tally):\n/?share=%s\n",
               (long long)sid, site, tok);
        rc = CLI_OK;
    } else if (st == CTL_DONE) {
        printf("revoked share link %lld\n", id);
        rc = CLI_OK;
    } else if (st >= 0) {
        fprintf(stderr, "tallyd %s: %s\n", cmd, st == CTL_NOTFOUND
                ? "no active share link with that id" : "the change was refused");
    }
    crypto_wipe(tok, sizeof(tok));
    free(c);
    return rc;
}

int
cli_share(int argc, char **argv)
{
    const char *sub = argc > 0 ? argv[0] : "";
    int is_add = strcmp(sub, "add") == 0, is_list = strcmp(sub, "list") == 0,
        is_revoke = strcmp(sub, "revoke") == 0;
    if (!is_add && !is_list && !is_revoke) {
        fprintf(stderr, "tallyd share: %s subcommand%s%s (add, list or revoke)\n"
                "Run 'tallyd --help' for usage.\n",
                argc > 0 ? "unknown" : "missing", argc > 0 ? " " : "", sub);
        return CLI_USAGE;
    }
    char cmd[32];
    snprintf(cmd, sizeof(cmd), "share %s", sub);
    ucli_args a;
    if (ucli_parse(cmd, argc - 1, argv + 1, !is_revoke, &a) != 0)
        return CLI_USAGE;
    long long id = 0;
    if (is_revoke) {
        char *end;
        errno = 0;
        if (a.npos != 1 || (id = strtoll(a.pos[0], &end, 10)) <= 0 || *end
            || errno) {
            fprintf(stderr, "tallyd share revoke: needs the numeric ID of a"
                    " share link\n");
            return CLI_USAGE;
        }
    } else if (a.npos != 0) {
        fprintf(stderr, "tallyd %s: unexpected argument '%s'\n", cmd, a.pos[0]);
        return CLI_USAGE;
    }
    if (is_add && (a.site == NULL || strlen(a.site) >= UCLI_SITE_MAX)) {
        fprintf(stderr, "tallyd share add: needs --site DOMAIN\n");
        return CLI_USAGE;
    }
    db *d = ucli_open(cmd, a.db);
    if (d == NULL)
        return CLI_ERR;
    int rc = CLI_ERR;
    int mode = is_list ? 0 : ctl_cli_mode(cmd, d, a.source);
    if (mode != 0) {
        if (mode > 0)
            rc = ucli_share_ctl(cmd, d, a.source, is_add, a.site, id);
        db_close(d);
        return rc;
    }
    if (is_add) {
        int64_t site_id, sid;
        if (db_site_find(d, a.site, &site_id) == 0)
            fprintf(stderr, "tallyd share add: note: no events for %s yet;"
                    " the link shows it once they arrive\n", a.site);
        unsigned char raw[32], h[CRYPTO_HASH_SIZE];
        char tok[UCLI_TOKEN_LEN + 1];
        crypto_random(raw, sizeof(raw));
        crypto_b64url(tok, sizeof(tok), raw, sizeof(raw));
        crypto_hash256(tok, UCLI_TOKEN_LEN, h);
        if (db_share_add(d, h, a.site, (int64_t)time(NULL), &sid) == 0) {
            printf("created share link id %lld for %s; store it now, it cannot"
                   " be shown again.\nAppend this to the dashboard's URL (e.g."
                   " https://example.com/tally):\n/?share=%s\n",
                   (long long)sid, a.site, tok);
            rc = CLI_OK;
        } else {
            fprintf(stderr, "tallyd share add: cannot store the link\n");
        }
        crypto_wipe(raw, sizeof(raw));
        crypto_wipe(tok, sizeof(tok));
    } else if (is_list) {
        printf("%-6s %-32s %-22s %s\n", "id", "site", "created", "revoked");
        rc = db_share_each(d, a.site, ucli_share_print, NULL) == 0 ? CLI_OK : CLI_ERR;
    } else {
        int r = db_share_revoke(d, (int64_t)id, (int64_t)time(NULL));
        if (r == 1) {
            printf("revoked share link %lld\n", id);
            rc = CLI_OK;
        } else {
            fprintf(stderr, "tallyd share revoke: %s\n", r == 0
                    ? "no active share link with that id" : "database error");
        }
    }
    db_close(d);
    return rc;
}
