/*
 * test_contract.h - a fresh store of either backend for the store contract tests
 * (tests/unit/test_contract_*.c): each runs twice, on a SQLite file in a temporary
 * directory and (test name ending _pg) on a real PostgreSQL 15 that
 * tests/integration/pgserver.py starts and names in FW_TEST_PG. Each test case gets an
 * empty database: the PostgreSQL one by dropping and recreating its public schema.
 * Include it from exactly one test file.
 */
#ifndef FW_TEST_CONTRACT_H
#define FW_TEST_CONTRACT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store.h"
#include "test_rmtree.h"

struct contract {
	char dir[64];
	char where[512]; /* the SQLite file, or the PostgreSQL URL */
	char err[512];
	bool pg;
};

/* Run sql on the PostgreSQL database of url (a test's own reset); 0 or -1. */
static inline int contract_pg_exec(const char *url, const char *sql)
{
	PGconn *c = PQconnectdb(url);
	PGresult *r = PQstatus(c) == CONNECTION_OK ? PQexec(c, sql) : NULL;
	int ok =
	    r && (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK);

	if (!ok)
		fprintf(stderr, "contract: %s: %s\n", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	return ok ? 0 : -1;
}

/* cmocka setup: a fresh, empty location in *state. */
static inline int contract_setup(void **state)
{
	struct contract *c = calloc(1, sizeof(*c));
	const char *pg = getenv("FW_TEST_PG");

	if (!c)
		return -1;
	if (pg && *pg) {
		c->pg = true;
		snprintf(c->where, sizeof(c->where), "%s", pg);
		if (contract_pg_exec(pg, "DROP SCHEMA public CASCADE; CREATE SCHEMA public") < 0) {
			free(c);
			return -1;
		}
	} else {
		snprintf(c->dir, sizeof(c->dir), "/tmp/fw-test-contract-XXXXXX");
		if (!mkdtemp(c->dir)) {
			free(c);
			return -1;
		}
		snprintf(c->where, sizeof(c->where), "%s/state.db", c->dir);
	}
	*state = c;
	return 0;
}

/* cmocka teardown. */
static inline int contract_teardown(void **state)
{
	struct contract *c = *state;

	if (!c->pg)
		test_rmtree(c->dir);
	free(c);
	return 0;
}

/* Open the test's store (read-write); fails the test when it cannot. */
static inline struct fw_store *contract_open(struct contract *c)
{
	struct fw_store *s = NULL;

	if (fw_store_open(c->where, false, &s, c->err, sizeof(c->err)) < 0) {
		fprintf(stderr, "contract: open: %s\n", c->err);
		abort();
	}
	return s;
}

#endif
