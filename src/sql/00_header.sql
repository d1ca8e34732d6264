-- rebate: channel-partner rebates, price/region policy and channel performance.
-- This script is assembled by the Makefile from src/sql/NN_topic.sql fragments.
\echo Use "CREATE EXTENSION rebate" to load this file. \quit

-- Every object below is schema-qualified (@extschema@ or pg_catalog), and every
-- SQL-language function pins its search_path, so a hostile search_path at
-- install or call time cannot redirect anything.
