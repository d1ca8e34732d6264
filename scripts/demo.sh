#!/usr/bin/env bash
# The main job: install what is missing, build and install rebate, start a
# throwaway PostgreSQL (or use the one PGHOST/PGPORT/PGUSER/PGDATABASE name),
# load sample partners' sales and schedules, and print a rebate run.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

install_packages
build_and_install
provide_server

say "loading the sample data and running the rebate calculation"
demo_roles="rebate_demo_manager, rebate_demo_director, rebate_demo_dealer1, rebate_demo_dealer2, rebate_demo_applicant"
fresh_database rebate_demo
psql_quiet -d postgres -c "DROP ROLE IF EXISTS $demo_roles"
(cd "$REPO" && psql_quiet -d rebate_demo -P footer=off -f scripts/demo.sql)
psql_quiet -d postgres -c "DROP DATABASE rebate_demo" -c "DROP ROLE $demo_roles"
say "done"
