/*
 * pg_cluster.c - the PostgreSQL store: the nodes and their claims (not built yet).
 */
#include "pg_int.h"

const char fw_pg_ddl_cluster[] = "";
