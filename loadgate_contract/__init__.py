"""The run folder contract (docs/contracts.md) as code: the one place its names and shapes are spelled.

The harness writes a run folder, the Locust processes read `plan.json` and write `requests.csv` and
`races.jsonl`, and the reports read everything. Each side imports its file names, columns, status
values, schema ids and record shapes from here instead of re-spelling them, so a writer and a
reader cannot drift apart unnoticed (mypy checks the record shapes on both sides).

Only the standard library: a remote Locust worker needs `locustfiles` and this package, nothing of
the harness; the reports import this and nothing of the harness.

- `files`: evidence file names, CSV columns, environment variables, schema ids.
- `plan`: the plan the harness hands to Locust (`plan.json`), its value sets and flow names.
- `records`: `run.json`, `faults.jsonl`, `races.jsonl`, `reconcile.json`, `probes.json` shapes
  and the run status values.
"""
