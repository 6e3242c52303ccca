-- Processed sales signals, written by the worker. The first six columns are the platform seed's, unchanged,
-- so the worker's INSERT of those columns keeps working; event_id (nullable) traces a signal to its event.
CREATE TABLE signals (
    id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    event_type   VARCHAR(50) NOT NULL,
    customer_id  VARCHAR(100) NOT NULL,
    signal_data  JSONB NOT NULL,
    processed_at TIMESTAMP DEFAULT NOW(),
    created_at   TIMESTAMP DEFAULT NOW(),
    event_id     UUID
);

-- The seed's indexes, with the seed's names.
CREATE INDEX idx_signals_customer ON signals (customer_id);
CREATE INDEX idx_signals_event_type ON signals (event_type);
CREATE INDEX idx_signals_processed_at ON signals (processed_at);
CREATE INDEX idx_signals_type_time ON signals (event_type, processed_at DESC);
CREATE INDEX idx_signals_data ON signals USING GIN (signal_data);
-- From a signal back to its event.
CREATE INDEX idx_signals_event_id ON signals (event_id);
