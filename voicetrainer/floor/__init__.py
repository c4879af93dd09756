"""The training floor: cohorts, assignments, each recruit's progress, and exports for an LMS.

- `store`: cohorts and assignments in ``<data>/floor.sqlite3`` (who belongs to which cohort
  is the accounts store's business: the web layer passes members in as `Member`s).
- `progress`: per-recruit standing computed from the history database (graded calls whose
  trainee name is the recruit's account name): latest and best per skill, outcome, trend,
  each assignment's status, and who is behind.
- `export`: a cohort as CSV (one row per graded call) or as xAPI 1.0.3 statements (`xapi`).

Layer: below web and cli, above persona and report (reads personas' names and the history);
never imports session or web.
"""
