-- A large leaf (tens to hundreds of kilobytes: a request over many subscribers) is stored deflated
-- by the gateway (raw DEFLATE, RFC 1951, of its UTF-8 bytes) in body_deflate, and body is then
-- NULL: compressing in Node costs the gateway far less than the database's TOAST compression of
-- the text, above all in PGlite, which runs in the gateway's own thread (BENCHMARKS.md). Every
-- record has exactly one of the two. The constraint is NOT VALID: the rows already stored all
-- have a body and no body_deflate, and a long log is not scanned while the table is locked;
-- every new row is checked.
ALTER TABLE audit_records ALTER COLUMN body DROP NOT NULL;
ALTER TABLE audit_records ADD COLUMN body_deflate bytea;
-- Already compressed: TOAST does not try again.
ALTER TABLE audit_records ALTER COLUMN body_deflate SET STORAGE EXTERNAL;
ALTER TABLE audit_records ADD CONSTRAINT audit_records_one_body CHECK ((body IS NULL) <> (body_deflate IS NULL)) NOT VALID;
