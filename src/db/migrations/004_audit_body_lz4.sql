-- The leaf text of a request over many rows is tens of kilobytes: PostgreSQL compresses it
-- (TOAST) on every insert. LZ4 costs the database less CPU per audit batch than the default
-- pglz (measured: BENCHMARKS.md). Only where it can: PostgreSQL 14 or later built with LZ4.
-- PGlite, an older server or one without LZ4 keeps pglz; so does a store where another session
-- holds the table for more than 5 s (the change needs a brief exclusive lock; it is not retried).
DO $$
DECLARE
  previous text := current_setting('lock_timeout');
BEGIN
  IF current_setting('server_version_num')::int >= 140000 THEN
    PERFORM set_config('lock_timeout', '5s', true);
    BEGIN
      EXECUTE 'ALTER TABLE audit_records ALTER COLUMN body SET COMPRESSION lz4';
    EXCEPTION WHEN feature_not_supported OR lock_not_available THEN
      NULL;
    END;
    PERFORM set_config('lock_timeout', previous, true);
  END IF;
END
$$;
