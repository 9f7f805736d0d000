/*
 * users.h -- dashboard users: names, password rules, hashing (argon2id
 * through crypto_pw.h) and checks against the web_users table (db.h).
 * The password itself is never stored, logged or kept longer than the
 * call that needs it.
 */
#ifndef TALLY_AGG_USERS_H
#define TALLY_AGG_USERS_H

#include "aggregator/db.h"

#include <stddef.h>
#include <stdint.h>

#define USR_PW_MIN 8          /* shortest accepted password, bytes */
#define USR_PW_MAX 1024       /* longest accepted password, bytes  */

/* 1 when name is a valid user name: 1..DB_WEB_NAME_MAX bytes of
 * [A-Za-z0-9._@+-], not starting with '-'. */
int usr_name_valid(const char *name);

/* 1 when the password (len bytes) is acceptable for a new password:
 * USR_PW_MIN..USR_PW_MAX bytes, no NUL.  Otherwise 0 with the reason in
 * err. */
int usr_pw_acceptable(const char *pw, size_t len, char *err, size_t errlen);

/* Creates user name with password pw (len bytes).  Returns 0 (*id set
 * when id is not NULL), 1 when the name exists, -1 on error (out of
 * memory or database). */
int usr_add(db *d, const char *name, const char *pw, size_t len,
            int64_t *id);

/* Sets a new password for name (and ends its sessions).  Returns 1, 0
 * when there is no such user, -1. */
int usr_passwd(db *d, const char *name, const char *pw, size_t len);

/* Checks name and password.  Returns 1 (*id set), 0 (unknown user or
 * wrong password: both take the time of one argon2id verification), or
 * -1 on a database error. */
int usr_check(db *d, const char *name, const char *pw, size_t len,
              int64_t *id);

#endif
