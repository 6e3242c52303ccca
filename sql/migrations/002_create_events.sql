-- The raw audit log: one row per event the API received. A service inserts an event with event_type,
-- customer_id and payload; every other column has a default. event_type is free text on purpose: a new
-- event type must not need a migration.
CREATE TABLE events (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    event_type  VARCHAR(50) NOT NULL,
    customer_id VARCHAR(100) NOT NULL,
    payload     JSONB NOT NULL,
    source      VARCHAR(50) NOT NULL DEFAULT 'api',
    received_at TIMESTAMP NOT NULL DEFAULT NOW()
);

-- A customer's history, newest first.
CREATE INDEX idx_events_customer_received ON events (customer_id, received_at DESC);
-- Events of one type over a time range.
CREATE INDEX idx_events_type_received ON events (event_type, received_at DESC);
-- Time-range scans and retention.
CREATE INDEX idx_events_received_at ON events (received_at);
