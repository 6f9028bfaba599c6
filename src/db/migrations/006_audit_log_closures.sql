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
