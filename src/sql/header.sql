-- rebate: channel-partner rebates, price/region policy and channel performance.
-- This script is the topic files of src/sql/ concatenated by the Makefile (INSTALL_SQL).
\echo Use "CREATE EXTENSION rebate" to load this file. \quit

-- Every object below is schema-qualified (@extschema@ or pg_catalog), and every
-- SQL-language function pins its search_path, so a hostile search_path at
-- install or call time cannot redirect anything.
