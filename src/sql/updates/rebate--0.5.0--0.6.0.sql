\echo Use "ALTER EXTENSION rebate UPDATE TO '0.6.0'" to load this file. \quit

-- rebate 0.5.0 -> 0.6.0: the source laid out by topic (issue 14).
