-- Issue 25, scenario 9 on PostgreSQL 18, pass five. Forward only: one index's storage parameter,
-- no table or row changes.
--
-- The GIN index on audit_event.addresses (0008) was built with GIN's default fastupdate = on: each
-- audit row's addresses are appended to the index's pending list, and the INSERT that finds the list
-- over gin_pending_list_limit (4 MB) merges the whole list into the index itself. That merge ran
-- inside one chunk of a random bulk (1,024 addresses per audit row: ~130 chunks' addresses), under
-- the subnet's lock: measured on the bench's embedded PostgreSQL 18 (auto_explain, the lock's
-- holder sampled every 20 ms), the chunk's audit INSERT took 764 ms for one row (307,678 buffers
-- hit, 11,275 dirtied) and the chunk held the lock 1.2 s against a median of 0.36 s; the pending
-- list went from 510 pages to 0 in that chunk. Whichever allocation crosses the limit pays it
-- (a one-address allocation as well), so the longest hold depended on who came last, not on the
-- statement's own rows. With fastupdate off each INSERT puts its own addresses into the index:
-- work in proportion to its rows, every time. What was pending is merged once, here.
ALTER INDEX audit_event_addresses SET (fastupdate = off);
SELECT gin_clean_pending_list('audit_event_addresses'::regclass);
