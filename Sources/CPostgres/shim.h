#ifndef SIGIL_CPOSTGRES_SHIM_H
#define SIGIL_CPOSTGRES_SHIM_H

/* libpq, PostgreSQL's C client (Debian libpq-dev). Only SigilIssuer/Store/Postgres.swift
   imports this module. */
#include <libpq-fe.h>

/* PG_DIAG_SQLSTATE is a character constant, which Swift does not import. */
static inline const char *sigil_pq_sqlstate(const PGresult *result) {
    return PQresultErrorField(result, PG_DIAG_SQLSTATE);
}

static inline const char *sigil_pq_primary_message(const PGresult *result) {
    return PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
}

#endif
