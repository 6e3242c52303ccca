"""The platform's own init.sql and seed.sql, written from the facts of its public source (issue 9)."""

#: The platform's init.sql: the table IF NOT EXISTS, its indexes without, a plpgsql function quoted the old way,
#: a plain CREATE TRIGGER, the view.
PLATFORM_INIT_SQL = """\
-- Sales Signal Processing Platform: database initialization
CREATE TABLE IF NOT EXISTS sales_signals (
    id SERIAL PRIMARY KEY,
    account_id VARCHAR(255) NOT NULL,
    user_id VARCHAR(255) NOT NULL,
    event_type VARCHAR(100) NOT NULL,
    signal_type VARCHAR(100) NOT NULL,
    signal_score DECIMAL(3,2) NOT NULL,
    timestamp TIMESTAMP NOT NULL,
    processed_at TIMESTAMP NOT NULL DEFAULT NOW(),
    metadata JSONB,
    created_at TIMESTAMP NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP NOT NULL DEFAULT NOW()
);

CREATE INDEX idx_sales_signals_account_id ON sales_signals(account_id);
CREATE INDEX idx_sales_signals_user_id ON sales_signals(user_id);
CREATE INDEX idx_sales_signals_event_type ON sales_signals(event_type);
CREATE INDEX idx_sales_signals_signal_type ON sales_signals(signal_type);
CREATE INDEX idx_sales_signals_timestamp ON sales_signals(timestamp DESC);
CREATE INDEX idx_sales_signals_processed_at ON sales_signals(processed_at DESC);
CREATE INDEX idx_sales_signals_account_timestamp ON sales_signals(account_id, timestamp DESC);

CREATE OR REPLACE FUNCTION update_updated_at_column()
RETURNS TRIGGER AS $$
BEGIN
    NEW.updated_at = NOW();
    RETURN NEW;
END;
$$ language 'plpgsql';

CREATE TRIGGER update_sales_signals_updated_at
    BEFORE UPDATE ON sales_signals
    FOR EACH ROW
    EXECUTE FUNCTION update_updated_at_column();

CREATE OR REPLACE VIEW signal_analytics AS
SELECT
    account_id,
    DATE(timestamp) as date,
    signal_type,
    COUNT(*) as signal_count,
    AVG(signal_score) as avg_score,
    MAX(signal_score) as max_score
FROM sales_signals
GROUP BY account_id, DATE(timestamp), signal_type;
"""

#: The platform's seed.sql: seven plain INSERTs.
PLATFORM_SEED_SQL = """\
INSERT INTO sales_signals (account_id, user_id, event_type, signal_type, signal_score, timestamp, metadata) VALUES
    ('acc_001', 'user_001', 'email_sent', 'outreach', 0.10, NOW() - INTERVAL '5 days', '{"campaign": "Q4 Outreach"}');
INSERT INTO sales_signals (account_id, user_id, event_type, signal_type, signal_score, timestamp, metadata) VALUES
    ('acc_001', 'user_001', 'email_opened', 'engagement', 0.30, NOW() - INTERVAL '4 days',
     '{"campaign": "Q4 Outreach"}');
INSERT INTO sales_signals (account_id, user_id, event_type, signal_type, signal_score, timestamp, metadata) VALUES
    ('acc_001', 'user_002', 'email_clicked', 'high_engagement', 0.60, NOW() - INTERVAL '4 days',
     '{"campaign": "Q4 Outreach", "link": "https://example.com/pricing"}');
INSERT INTO sales_signals (account_id, user_id, event_type, signal_type, signal_score, timestamp, metadata) VALUES
    ('acc_002', 'user_003', 'meeting_booked', 'intent', 0.80, NOW() - INTERVAL '3 days',
     '{"meeting_type": "demo", "duration": 30}');
INSERT INTO sales_signals (account_id, user_id, event_type, signal_type, signal_score, timestamp, metadata) VALUES
    ('acc_002', 'user_003', 'call_made', 'outreach', 0.50, NOW() - INTERVAL '2 days',
     '{"duration": 15, "outcome": "connected"}');
INSERT INTO sales_signals (account_id, user_id, event_type, signal_type, signal_score, timestamp, metadata) VALUES
    ('acc_003', 'user_004', 'demo_completed', 'high_intent', 0.90, NOW() - INTERVAL '1 day',
     '{"attendees": 3, "duration": 45}');
INSERT INTO sales_signals (account_id, user_id, event_type, signal_type, signal_score, timestamp, metadata) VALUES
    ('acc_003', 'user_004', 'email_sent', 'outreach', 0.10, NOW(), '{"campaign": "Follow-up"}');
"""
