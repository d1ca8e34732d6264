\echo Use "ALTER EXTENSION rebate UPDATE TO '0.8.0'" to load this file. \quit

-- rebate 0.7.0 -> 0.8.0: nothing yet.
