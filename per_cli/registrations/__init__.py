"""Registrations ("skapa nya registreringar"): the scales a patient ticks, their answers and their scores.

A registration is *started* with one *pending* part per scale; answering a part validates the answers against
the scale, computes its scores and marks it *done*; the registration is *complete* when every part is done.
Each use case takes the unit of work, opens its transaction and writes its audit event in that same
transaction; nothing here prints. A refused login session is the exception: the use case's transaction rolls
back, so :func:`per_cli.registrations.acting.refusals_audited` writes the refusal in a transaction of its own
(authorisation failures are logged).

Decisions, with the reason for each:

- The id users see is the integer primary key: short to type, and never reused.
- A done part may be answered again only with ``replace=True`` (``--replace``) and only while the registration
  is not complete: a typo can be fixed, a finished registration is a record and stays as it was.
- Answers and scores are health data: the audit log says *that* a part was answered, never *what*.
- Exports are wide (one column per score key) so that R's ``read.csv`` and pandas' ``read_csv`` give numeric
  columns at once; a JSON column would need a second parsing step in both.
"""
