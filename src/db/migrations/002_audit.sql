-- The audit log (SPEC §5): policy versions, one Merkle log per gateway process, its records and
-- its signed checkpoints.

CREATE TABLE policy_versions (
  hash        text PRIMARY KEY,               -- SHA-256 (hex) of sdl
  sdl         text NOT NULL,                  -- composed supergraph SDL + the purpose registry SDL
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE audit_logs (
  log_id      text PRIMARY KEY,
  origin      text NOT NULL,                  -- checkpoint origin line
  key_name    text NOT NULL,
  public_key  text NOT NULL,                  -- base64 Ed25519 public key
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE audit_records (
  log_id          text NOT NULL REFERENCES audit_logs (log_id),
  seq             bigint NOT NULL,
  record_id       text NOT NULL UNIQUE,
  at              timestamptz NOT NULL,
  leaf_hash       text NOT NULL,              -- hex SHA-256(0x00 || body)
  body            text NOT NULL,              -- RFC 8785 canonical JSON: the leaf
  purpose         text,
  caller_sub      text,
  caller_kind     text,
  rejection_code  text,
  subscriber_ids  text[] NOT NULL DEFAULT '{}',
  PRIMARY KEY (log_id, seq)
);
CREATE INDEX audit_records_at_idx ON audit_records (at);
CREATE INDEX audit_records_subjects_idx ON audit_records USING gin (subscriber_ids);

CREATE TABLE audit_checkpoints (
  log_id      text NOT NULL REFERENCES audit_logs (log_id),
  tree_size   bigint NOT NULL,
  root_hash   text NOT NULL,                  -- base64
  note        text NOT NULL,                  -- C2SP tlog-checkpoint signed note
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (log_id, tree_size)
);
