-- Binary input (COPY ... FORMAT binary, the binary protocol): what a client
-- sends is validated like text input, and malformed bytes are refused.
SET search_path = public, rebate;

-- feed raw bytes to COPY FROM ... (FORMAT binary) as a one-column file
CREATE TEMP TABLE bin_in (s rebate.tier_schedule);
CREATE FUNCTION pg_temp.copy_in(payload bytea) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    file bytea := '\x5047434f50590aff0d0a00'::bytea || '\x0000000000000000'::bytea   -- signature, flags, no extension
                  || '\x0001'::bytea || int4send(length(payload)) || payload || '\xffff'::bytea;
    octal text;
BEGIN
    SELECT string_agg('\' || ((b >> 6) & 7) || ((b >> 3) & 7) || (b & 7), '' ORDER BY i) INTO octal
      FROM generate_series(0, length(file) - 1) AS i, LATERAL (SELECT get_byte(file, i) AS b) AS x;
    TRUNCATE bin_in;
    EXECUTE format('COPY bin_in FROM PROGRAM %L (FORMAT binary)', 'printf ''' || octal || '''');
    RETURN (SELECT s::text FROM bin_in);
EXCEPTION WHEN OTHERS THEN
    RETURN 'ERROR ' || SQLSTATE || ': ' || SQLERRM;
END $$;

-- what send produces, received back
SELECT pg_temp.copy_in(rebate.tier_schedule_send('incremental 0:1%, 100000:2.5% cap 20000'));
-- a scale mixing lump sums and rates: flag 2 and one lump-sum mark per tier after the numbers
SELECT rebate.tier_schedule_send('retroactive 1000:100, 5000:2%');
SELECT pg_temp.copy_in(rebate.tier_schedule_send('retroactive 1000:100, 5000:2%'));
-- a mark that is neither 0 nor 1, and marks on a scale of lump sums, are refused
SELECT pg_temp.copy_in(overlay(rebate.tier_schedule_send('retroactive 1000:100, 5000:2%') placing '\x07'::bytea
                               from length(rebate.tier_schedule_send('retroactive 1000:100, 5000:2%'))));
SELECT pg_temp.copy_in(overlay(rebate.tier_schedule_send('retroactive 1000:100, 5000:2%') placing '\x03'::bytea from 3));
-- bytes below: format 1, mode, kind, flags, tier count, then each number as
-- int32 length + numeric's binary form (ndigits, weight, sign, dscale, digits)
-- a sender's non-canonical numbers are canonicalized (1.000 -> 1), and values validated
SELECT pg_temp.copy_in('\x01 01 01 00  00000001  00000008 0000 0000 0000 0000  0000000a 0001 0000 0000 0003 0001');
SELECT pg_temp.copy_in('\x01 01 01 00  00000002  00000008 0000 0000 0000 0000  0000000a 0001 0000 0000 0000 0001
                          00000008 0000 0000 0000 0000  0000000a 0001 0000 0000 0000 0002');
-- malformed: unknown format, bad mode, bytes left over inside a number, truncation, absurd tier count
SELECT pg_temp.copy_in('\x02 01 01 00  00000001  00000008 0000 0000 0000 0000  0000000a 0001 0000 0000 0000 0001');
SELECT pg_temp.copy_in('\x01 03 01 00  00000001  00000008 0000 0000 0000 0000  0000000a 0001 0000 0000 0000 0001');
SELECT pg_temp.copy_in('\x01 01 01 00  00000001  0000000a 0000 0000 0000 0000 beef  0000000a 0001 0000 0000 0000 0001');
SELECT pg_temp.copy_in('\x01 01 01 00  00000001  00000008 0000 0000 0000 0000  0000000a 0001 0000');
SELECT pg_temp.copy_in('\x01 01 01 00  7fffffff');
