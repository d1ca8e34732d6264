# rebate — built with PGXS.  `make && make install`, then `CREATE EXTENSION rebate`.
EXTENSION   = rebate
EXTVERSION  = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)

MODULE_big  = rebate
OBJS        = src/rebate.o src/numeric_util.o src/binary_io.o src/tier_schedule.o src/tier_calc.o \
              src/money.o src/tiered_sum.o src/icu_text.o src/option_words.o src/state_machine.o \
              src/policy_spi.o src/policy_cache.o src/policy_facts.o src/policy_row.o src/policy_violation.o \
              src/price_policy.o src/region_policy.o src/order_policy.o src/amount_words.o \
              src/exact_sum.o src/channel_kpis.o src/ratio_aggregates.o

# The install script is concatenated from one-topic fragments (src/sql/NN_topic.sql).
# Released versions keep their full script and the upgrade script that led to
# them, frozen, in src/sql/versions/.  The upgrade to the version in the works
# is the fragments it added (UPGRADE_FROM_x lists them); a new fragment changes
# earlier objects with ALTER / CREATE OR REPLACE, never by editing a released
# fragment, so that a fresh install and an upgrade end up the same.
SQL_FRAGMENTS = $(sort $(wildcard src/sql/[0-9][0-9]_*.sql))
UPGRADE_FROM_0.5.0 = $(sort $(wildcard src/sql/8[5-9]_*.sql))
DATA_built  = $(EXTENSION)--$(EXTVERSION).sql $(EXTENSION)--0.5.0--$(EXTVERSION).sql
DATA        = $(wildcard src/sql/versions/$(EXTENSION)--*.sql)

# pg_regress: sql/NAME.sql against expected/NAME.out (PGXS defaults), 00_setup first.
REGRESS     = 00_setup tier_schedule_io tier_schedule_errors binary_input calc_errors round_money tiered_sum_state policy_errors amount_words channel_kpis settlement_isolation

ICU_CFLAGS := $(shell pkg-config --cflags icu-uc icu-i18n)
ICU_LIBS   := $(shell pkg-config --libs icu-uc icu-i18n)
# PostgreSQL's headers as system headers: -Wextra judges our code, not theirs
PG_CPPFLAGS = -I$(srcdir)/src -isystem $(shell $(PG_CONFIG) --includedir-server) $(ICU_CFLAGS)
PG_CFLAGS   = -Wall -Wextra $(EXTRA_CFLAGS)
SHLIB_LINK  = $(ICU_LIBS)

EXTRA_CLEAN = $(DATA_built)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_FRAGMENTS) $(EXTENSION).control
	cat $(SQL_FRAGMENTS) > $@

UPGRADE_HEADER = printf '%s\n' '\echo Use "ALTER EXTENSION rebate UPDATE" to load this file. \quit'
$(EXTENSION)--0.5.0--$(EXTVERSION).sql: $(UPGRADE_FROM_0.5.0) $(EXTENSION).control
	( $(UPGRADE_HEADER); cat $(UPGRADE_FROM_0.5.0) /dev/null ) > $@
