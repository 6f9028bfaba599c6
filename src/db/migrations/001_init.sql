-- purposegate schema v1: subscriber data (owned by the subgraphs) and the consent event log.

CREATE TABLE subscribers (
  id                text PRIMARY KEY,
  msisdn            text NOT NULL UNIQUE,           -- E.164
  full_name         text NOT NULL,
  email             text,
  postal_address    text,
  date_of_birth     date,
  agency_id         text NOT NULL,
  directory_listing text NOT NULL CHECK (directory_listing IN ('LISTED', 'UNLISTED'))
);
CREATE INDEX subscribers_agency_idx ON subscribers (agency_id, id);

CREATE TABLE devices (
  id              text PRIMARY KEY,
  subscriber_id   text NOT NULL REFERENCES subscribers (id),
  imei            text NOT NULL,                    -- 15 digits, Luhn
  imsi            text NOT NULL,
  iccid           text NOT NULL,
  mac_address     text,
  model           text,
  manufacturer    text,
  os_version      text
);
CREATE INDEX devices_subscriber_idx ON devices (subscriber_id, id);

CREATE TABLE locations (
  subscriber_id   text PRIMARY KEY REFERENCES subscribers (id),
  cell_id         text NOT NULL,
  latitude        double precision NOT NULL,
  longitude       double precision NOT NULL,
  accuracy_meters double precision NOT NULL,
  observed_at     timestamptz NOT NULL
);

CREATE TABLE call_detail_records (
  id               text PRIMARY KEY,
  subscriber_id    text NOT NULL REFERENCES subscribers (id),
  calling_number   text NOT NULL,
  called_number    text NOT NULL,
  started_at       timestamptz NOT NULL,
  duration_seconds integer NOT NULL,
  direction        text NOT NULL CHECK (direction IN ('INBOUND', 'OUTBOUND')),
  cell_id          text NOT NULL
);
CREATE INDEX cdr_subscriber_time_idx ON call_detail_records (subscriber_id, started_at DESC, id DESC);

CREATE TABLE billing_accounts (
  subscriber_id   text PRIMARY KEY REFERENCES subscribers (id),
  balance         double precision NOT NULL,
  currency        text NOT NULL,
  card_brand      text,
  card_last4      text,
  card_expiry     text                              -- MM/YY
);

CREATE TABLE invoices (
  id              text PRIMARY KEY,
  subscriber_id   text NOT NULL REFERENCES subscribers (id),
  period          text NOT NULL,                    -- YYYY-MM
  amount          double precision NOT NULL
);
CREATE INDEX invoices_subscriber_idx ON invoices (subscriber_id, period DESC);

-- Append-only: the current state and the state at any past time are queries over these events.
CREATE TABLE consent_events (
  id              bigserial PRIMARY KEY,
  subscriber_id   text NOT NULL,
  purpose         text NOT NULL,
  action          text NOT NULL CHECK (action IN ('GRANT', 'WITHDRAW')),
  at              timestamptz NOT NULL DEFAULT now(),
  source          text NOT NULL,
  evidence        jsonb
);
CREATE INDEX consent_events_lookup_idx ON consent_events (subscriber_id, purpose, at DESC, id DESC);

CREATE FUNCTION consent_events_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'consent_events is append-only';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER consent_events_no_update BEFORE UPDATE OR DELETE ON consent_events
  FOR EACH ROW EXECUTE FUNCTION consent_events_append_only();

-- Key/value facts the process keeps across restarts (e.g. whether demo data was seeded).
CREATE TABLE meta (
  key   text PRIMARY KEY,
  value text NOT NULL
);
