/*
 * binary_io.c — embedding one type's binary (send/recv) form inside another's,
 * so composite binary formats reuse each part's own validated receive path.
 */
#include "postgres.h"

#include "fmgr.h"
#include "libpq/pqformat.h"
#include "utils/builtins.h"

#include "binary_io.h"

void
send_embedded(StringInfo buf, PGFunction sendfn, Datum value)
{
	bytea	   *bin = DatumGetByteaPP(DirectFunctionCall1(sendfn, value));

	pq_sendint32(buf, VARSIZE_ANY_EXHDR(bin));
	pq_sendbytes(buf, VARDATA_ANY(bin), VARSIZE_ANY_EXHDR(bin));
}

Datum
recv_embedded(StringInfo buf, PGFunction recvfn, const char *type_name)
{
	int			len = pq_getmsgint(buf, 4);
	StringInfoData item;
	Datum		result;

	if (len < 0 || len > buf->len - buf->cursor)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid length of an embedded value in binary input"),
				 errdetail("A %s of %d bytes was announced.", type_name, len)));
	/* a NUL-terminated copy, as array_recv and record_recv give their elements */
	initStringInfo(&item);
	appendBinaryStringInfo(&item, pq_getmsgbytes(buf, len), len);
	result = DirectFunctionCall3(recvfn, PointerGetDatum(&item),
								 ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	if (item.cursor != item.len)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("improper binary format in an embedded value"),
				 errdetail("An embedded %s left %d of its %d bytes unread.",
						   type_name, item.len - item.cursor, item.len)));
	return result;
}
