"""`regie`: the operators' command line (typer and rich).

One module per thing it shows: `case_show` (a case's state and timeline),
`case_history` (its Temporal runs), `case_verify` (the live state against the store),
`overview`, `audit`, `directory`, `partner_keys`, `tokens`, `erasure`,
`key_encryption`, `payload_keys`, `migrations`; `event_sentences` turns events into
sentences, `output` writes (escaped) and `runtime` opens the store and Temporal and turns
failures into one line and an exit code (`exit_codes`). `app` assembles the commands;
`python -m workers.cli` runs it.
"""
