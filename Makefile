# rebate — built with PGXS.  `make && make install`, then `CREATE EXTENSION rebate`.
EXTENSION   = rebate
EXTVERSION  = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)

MODULE_big  = rebate
OBJS        = src/rebate.o src/numeric_util.o src/binary_io.o src/tier_schedule.o src/tier_calc.o \
              src/money.o src/tiered_sum.o src/icu_text.o src/option_words.o src/state_machine.o \
              src/policy_spi.o src/policy_cache.o src/policy_facts.o src/policy_row.o src/policy_violation.o \
              src/price_policy.o src/region_policy.o src/order_policy.o src/order_status.o src/metrics.o src/amount_words.o \
              src/exact_sum.o src/channel_kpis.o src/ratio_aggregates.o src/rollups.o \
              src/stock_age.o src/forecast.o

# The install script is the topic files of src/sql/ concatenated in
# dependency order (INSTALL_SQL); each object has its one current definition
# there, edited in place.  Released versions are reached through hand-written
# upgrade scripts in src/sql/updates/ (the first release's full script plus
# rebate--A--B.sql for every release since): CREATE EXTENSION ... VERSION
# installs an older version from that chain, and test/upgrade.sh checks that
# every release, updated, equals a fresh install.  docs/development.md says
# where each kind of change goes.
INSTALL_SQL = header tier_schedule calculation access metrics audit tenant_region partner product_price \
              orders access_binding rollups policy periods programs program_calc statements verify \
              channel_kpis inventory scoring bi_views notifications approvals registrations announcements leads onboarding contracts certification stock_age forecast inventory_flows privileges info
INSTALL_SQL_FILES = $(foreach f,$(INSTALL_SQL),src/sql/$(f).sql)
DATA_built  = $(EXTENSION)--$(EXTVERSION).sql
DATA        = $(wildcard src/sql/updates/$(EXTENSION)--*.sql)

# pg_regress: sql/NAME.sql against expected/NAME.out (PGXS defaults), 00_setup first.
REGRESS     = 00_setup tier_schedule_io tier_schedule_errors binary_input calc_errors round_money tiered_sum_state policy_errors amount_words channel_kpis settlement_isolation order_statuses metrics program_errors forecast_errors stock_age_state

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

$(EXTENSION)--$(EXTVERSION).sql: $(INSTALL_SQL_FILES) $(EXTENSION).control
	cat $(INSTALL_SQL_FILES) > $@

# PGXS does not track headers: a changed struct in a header rebuilds every object
# (an object built against the old layout would share a struct of another size).
$(OBJS): $(wildcard $(srcdir)/src/*.h)
