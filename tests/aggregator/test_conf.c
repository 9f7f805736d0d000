/* Tests for aggregator/conf.c: flags, config file, precedence, errors. */
#include "aggregator/conf.h"
#include "aggregator/log.h"
#include "tests/check.h"

#include <stdlib.h>
#include <unistd.h>

static int
parse(conf *c, unsigned cmd, char *const *args, const char **pos, int maxpos,
      int *npos, char *err)
{
    int argc = 0;
    while (args[argc])
        argc++;
    conf_defaults(c);
    return conf_parse_args(c, cmd, argc, (char **)args, pos, maxpos, npos, err, 512);
}

static void
test_defaults(void)
{
    conf c;
    conf_defaults(&c);
    CHECK_EQ_U64(c.poll_ms, 200);
    CHECK_EQ_U64(c.batch_events, 50000);
    CHECK(c.log_level == LOG_INFO);
    CHECK(c.spool[0] == '\0' && c.listen_port == 0);
}

static void
test_flags(void)
{
    conf c;
    char err[512];
    const char *pos[2];
    int npos;
    char *const a[] = { "--spool", "/s", "--db=/d.db", "--listen", "127.0.0.1:8089",
                        "--poll-ms", "50", "--log-level", "debug", NULL };
    CHECK(parse(&c, CONF_CMD_SERVE, a, pos, 0, &npos, err) == 0);
    CHECK_STR(c.spool, "/s");
    CHECK_STR(c.db, "/d.db");
    CHECK_STR(c.listen_host, "127.0.0.1");
    CHECK_EQ_U64(c.listen_port, 8089);
    CHECK_EQ_U64(c.poll_ms, 50);
    CHECK(c.log_level == LOG_DEBUG);
    CHECK(conf_check_serve(&c, err, sizeof(err)) == 0);

    char *const b[] = { "--db", "x.db", "7", NULL };
    CHECK(parse(&c, CONF_CMD_KEYS, b, pos, 1, &npos, err) == 0);
    CHECK_EQ_U64(npos, 1);
    CHECK_STR(pos[0], "7");

    CHECK(conf_parse_listen(&c, "[::1]:9000") == 0);
    CHECK_STR(c.listen_host, "::1");
    CHECK_EQ_U64(c.listen_port, 9000);
}

static void
test_flag_errors(void)
{
    conf c;
    char err[512];
    const char *pos[1];
    int npos;
    char *const a[] = { "--bogus", "1", NULL };
    CHECK(parse(&c, CONF_CMD_SERVE, a, pos, 0, &npos, err) == -1);
    CHECK(strstr(err, "unknown flag '--bogus'") != NULL);
    char *const b[] = { "--name", "x", NULL };          /* keys only */
    CHECK(parse(&c, CONF_CMD_SERVE, b, pos, 0, &npos, err) == -1);
    CHECK(strstr(err, "--name") != NULL);
    char *const d[] = { "--poll-ms", "abc", NULL };
    CHECK(parse(&c, CONF_CMD_SERVE, d, pos, 0, &npos, err) == -1);
    CHECK(strstr(err, "poll-ms") != NULL);
    char *const e[] = { "--db", NULL };
    CHECK(parse(&c, CONF_CMD_SERVE, e, pos, 0, &npos, err) == -1);
    CHECK(strstr(err, "needs a value") != NULL);
    char *const f[] = { "extra", NULL };
    CHECK(parse(&c, CONF_CMD_SERVE, f, pos, 0, &npos, err) == -1);
    CHECK(strstr(err, "unexpected argument 'extra'") != NULL);
    char *const g[] = { "-x", NULL };
    CHECK(parse(&c, CONF_CMD_SERVE, g, pos, 0, &npos, err) == -1);
    char *const h[] = { "--listen", "localhost", NULL };
    CHECK(parse(&c, CONF_CMD_SERVE, h, pos, 0, &npos, err) == -1);
    char *const i[] = { "--listen", "1.2.3.4:70000", NULL };
    CHECK(parse(&c, CONF_CMD_SERVE, i, pos, 0, &npos, err) == -1);
    conf_defaults(&c);
    CHECK(conf_check_serve(&c, err, sizeof(err)) == -1);
    CHECK(strstr(err, "--spool") != NULL);
}

static void
test_file(void)
{
    char path[] = "/tmp/tally-conf-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    const char *text = "# tallyd config\n\nspool = /var/spool/tally\n"
                       "db=\"/var/lib/tally.db\"\n  poll-ms = 75  \nlisten = 127.0.0.1:1234\n";
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);

    conf c;
    char err[512];
    const char *pos[1];
    int npos;
    /* the flag after --config and the one before it both override it */
    char *const a[] = { "--poll-ms", "10", "--config", path, "--db", "/other.db", NULL };
    CHECK(parse(&c, CONF_CMD_SERVE, a, pos, 0, &npos, err) == 0);
    CHECK_STR(c.spool, "/var/spool/tally");
    CHECK_STR(c.db, "/other.db");
    CHECK_EQ_U64(c.poll_ms, 10);
    CHECK_EQ_U64(c.listen_port, 1234);

    FILE *f = fopen(path, "w");
    fputs("spool = /s\nnonsense = 1\n", f);
    fclose(f);
    CHECK(parse(&c, CONF_CMD_SERVE, (char *const[]){ "--config", path, NULL }, pos, 0,
                &npos, err) == -1);
    CHECK(strstr(err, ":2:") != NULL && strstr(err, "nonsense") != NULL);

    f = fopen(path, "w");
    fputs("just words\n", f);
    fclose(f);
    CHECK(parse(&c, CONF_CMD_SERVE, (char *const[]){ "--config", path, NULL }, pos, 0,
                &npos, err) == -1);
    CHECK(strstr(err, ":1:") != NULL);
    unlink(path);

    CHECK(parse(&c, CONF_CMD_SERVE, (char *const[]){ "--config", "/nonexistent/x", NULL },
                pos, 0, &npos, err) == -1);
    CHECK(strstr(err, "/nonexistent/x") != NULL);
}

int
main(void)
{
    RUN(test_defaults);
    RUN(test_flags);
    RUN(test_flag_errors);
    RUN(test_file);
    return check_summary("conf");
}
