/*
 * binary_io.h — embedding one type's binary (send/recv) form inside another's.
 */
#ifndef REBATE_BINARY_IO_H
#define REBATE_BINARY_IO_H

#include "postgres.h"
#include "fmgr.h"
#include "lib/stringinfo.h"

/* Writes int32 length + the bytes sendfn produces for value. */
extern void send_embedded(StringInfo buf, PGFunction sendfn, Datum value);

/* Reads what send_embedded wrote and hands it to recvfn (typmod -1). */
extern Datum recv_embedded(StringInfo buf, PGFunction recvfn, const char *type_name);

#endif
