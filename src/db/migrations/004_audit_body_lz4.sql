-- The leaf text of a request over many rows is tens of kilobytes: PostgreSQL compresses it
-- (TOAST) on every insert. LZ4 costs the database about a third less CPU per audit batch than
-- the default pglz (measured: BENCHMARKS.md). A server built without LZ4, and PGlite, keep pglz.
DO $$
BEGIN
  ALTER TABLE audit_records ALTER COLUMN body SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
  NULL;
END
$$;
