-- tests: 0
\ir registrations_fixture.sql
