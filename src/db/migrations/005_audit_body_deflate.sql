-- A large leaf (tens to hundreds of kilobytes: a request over many subscribers) is stored deflated
-- by the gateway (raw DEFLATE, RFC 1951, of its UTF-8 bytes) in body_deflate, and body is then
-- NULL: compressing in Node costs the gateway far less than the database's TOAST compression of
-- the text, above all in PGlite, which runs in the gateway's own thread (BENCHMARKS.md). Every
-- record has exactly one of the two. The constraint is NOT VALID: the rows already stored all
-- have a body and no body_deflate, and a long log is not scanned while the table is locked;
-- every new row is checked. Every gateway and CLI that reads the store must be of this version or
-- later once a large leaf has been written (README, "Migrations").
--
-- The changes need a brief exclusive lock on audit_records. Other gateways' audit writes queue
-- behind a migration waiting for it, so it waits at most 5 s, then fails this start with a clear
-- message (migrate.ts) and the other gateways carry on; start again when the table is free.
SET LOCAL lock_timeout = '5s';
ALTER TABLE audit_records ALTER COLUMN body DROP NOT NULL;
ALTER TABLE audit_records ADD COLUMN body_deflate bytea;
-- Already compressed: TOAST does not try again.
ALTER TABLE audit_records ALTER COLUMN body_deflate SET STORAGE EXTERNAL;
ALTER TABLE audit_records ADD CONSTRAINT audit_records_one_body CHECK ((body IS NULL) <> (body_deflate IS NULL)) NOT VALID;
SET LOCAL lock_timeout TO DEFAULT;
