# rebate — built with PGXS.  `make && make install`, then `CREATE EXTENSION rebate`.
EXTENSION   = rebate
EXTVERSION  = $(shell sed -n "s/^default_version *= *'\(.*\)'/\1/p" $(EXTENSION).control)

MODULE_big  = rebate
OBJS        = src/rebate.o src/numeric_util.o src/binary_io.o src/tier_schedule.o src/tier_calc.o \
              src/money.o src/tiered_sum.o src/icu_text.o src/option_words.o

# The install script is concatenated from one-topic fragments (src/sql/NN_topic.sql);
# released versions' full scripts and upgrade scripts live in src/sql/versions/.
SQL_FRAGMENTS = $(sort $(wildcard src/sql/[0-9][0-9]_*.sql))
DATA_built  = $(EXTENSION)--$(EXTVERSION).sql
DATA        = $(wildcard src/sql/versions/$(EXTENSION)--*.sql)

# pg_regress: sql/NAME.sql against expected/NAME.out (PGXS defaults), 00_setup first.
REGRESS     = 00_setup tier_schedule_io tier_schedule_errors binary_input calc_errors round_money tiered_sum_state

ICU_CFLAGS := $(shell pkg-config --cflags icu-uc icu-i18n)
ICU_LIBS   := $(shell pkg-config --libs icu-uc icu-i18n)
PG_CPPFLAGS = -I$(srcdir)/src $(ICU_CFLAGS)
PG_CFLAGS   = -Wall -Wextra $(EXTRA_CFLAGS)
SHLIB_LINK  = $(ICU_LIBS)

EXTRA_CLEAN = $(EXTENSION)--$(EXTVERSION).sql

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_FRAGMENTS) $(EXTENSION).control
	cat $(SQL_FRAGMENTS) > $@
