-- A log's last word: a checkpoint note signed with an extension line saying the log is closed (its
-- writer shut down) or sealed (a later process found its writer gone without closing it). Records
-- past a closure are additions that `audit verify` reports; a log with no closure whose writer is
-- not running has its records past the last checkpoint reported as covered by no signature.
CREATE TABLE audit_log_closures (
  log_id      text PRIMARY KEY REFERENCES audit_logs (log_id),
  tree_size   bigint NOT NULL,
  note        text NOT NULL,                  -- C2SP signed note with a closed or sealed extension line
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER audit_log_closures_append_only BEFORE UPDATE OR DELETE ON audit_log_closures
  FOR EACH ROW EXECUTE FUNCTION audit_append_only();

-- Nothing is added to a log after its closure, and the database enforces it (a writer in another
-- process may not know yet that its log was sealed). A seal holds the log's audit_logs row FOR
-- UPDATE while it reads the records and writes the closure; an insert of records or checkpoints
-- takes that row FOR KEY SHARE after its rows are in (here, as its foreign key check does), so it
-- waits for a seal being written, and then sees it, and fails.
CREATE FUNCTION audit_refuse_after_closure() RETURNS trigger AS $$
DECLARE
  closed text;
BEGIN
  -- The check below must see a closure committed while this insert waited: only READ COMMITTED
  -- takes a new snapshot per statement (purposegate's connections run at it).
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'audit records and checkpoints are written at READ COMMITTED isolation only, not %', current_setting('transaction_isolation') USING ERRCODE = 'P0001';
  END IF;
  PERFORM 1 FROM audit_logs WHERE log_id IN (SELECT DISTINCT log_id FROM new_rows) FOR KEY SHARE;
  SELECT min(c.log_id) INTO closed FROM audit_log_closures c WHERE c.log_id IN (SELECT DISTINCT log_id FROM new_rows);
  IF closed IS NOT NULL THEN
    RAISE EXCEPTION 'audit log % is closed: nothing is added to it', closed USING ERRCODE = 'P0001';
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_records_after_closure AFTER INSERT ON audit_records
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_after_closure();
CREATE TRIGGER audit_checkpoints_after_closure AFTER INSERT ON audit_checkpoints
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_after_closure();
