-- The table the platform's API and worker really read and write (the platform's own init.sql): one row per
-- processed event of the six event types its API accepts. Every name below is part of the platform's contract
-- (its API filters and sorts on these columns; dashboards read the view), so nothing here may be renamed.
-- Everything is created only when missing: a database made by the platform's init.sql already matches it.
CREATE TABLE IF NOT EXISTS sales_signals (
    id SERIAL PRIMARY KEY,
    account_id VARCHAR(255) NOT NULL,
    user_id VARCHAR(255) NOT NULL,
    event_type VARCHAR(100) NOT NULL,
    signal_type VARCHAR(100) NOT NULL,
    signal_score DECIMAL(3, 2) NOT NULL,
    timestamp TIMESTAMP NOT NULL,
    processed_at TIMESTAMP NOT NULL DEFAULT NOW(),
    metadata JSONB,
    created_at TIMESTAMP NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP NOT NULL DEFAULT NOW()
);

CREATE INDEX IF NOT EXISTS idx_sales_signals_account_id ON sales_signals (account_id);
CREATE INDEX IF NOT EXISTS idx_sales_signals_user_id ON sales_signals (user_id);
CREATE INDEX IF NOT EXISTS idx_sales_signals_event_type ON sales_signals (event_type);
CREATE INDEX IF NOT EXISTS idx_sales_signals_signal_type ON sales_signals (signal_type);
CREATE INDEX IF NOT EXISTS idx_sales_signals_timestamp ON sales_signals (timestamp DESC);
CREATE INDEX IF NOT EXISTS idx_sales_signals_processed_at ON sales_signals (processed_at DESC);
-- An account's signals, newest first.
CREATE INDEX IF NOT EXISTS idx_sales_signals_account_timestamp ON sales_signals (account_id, timestamp DESC);

-- updated_at follows every UPDATE of a row.
CREATE OR REPLACE FUNCTION update_updated_at_column()
RETURNS TRIGGER AS $$
BEGIN
    NEW.updated_at = NOW();
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE TRIGGER update_sales_signals_updated_at BEFORE UPDATE
    ON sales_signals FOR EACH ROW
    EXECUTE FUNCTION update_updated_at_column();

-- Signals per account, day and signal type.
CREATE OR REPLACE VIEW signal_analytics AS
SELECT
    account_id,
    DATE(timestamp) AS date,
    signal_type,
    COUNT(*) AS signal_count,
    AVG(signal_score) AS avg_score,
    MAX(signal_score) AS max_score
FROM sales_signals
GROUP BY account_id, DATE(timestamp), signal_type;
