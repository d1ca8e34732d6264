-- tests: 0
\ir onboarding_fixture.sql
