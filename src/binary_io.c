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

	if (len < 0 || len > buf->len - buf->cursor)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid length %d of an embedded %s in binary input", len, type_name)));
	item.data = (char *) pq_getmsgbytes(buf, len);
	item.len = len;
	item.maxlen = len;
	item.cursor = 0;
	return DirectFunctionCall3(recvfn, PointerGetDatum(&item),
							   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
}
