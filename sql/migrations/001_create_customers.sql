-- The customer metadata cache. No other table references it with a foreign key: the worker writes signals
-- for customers that are not cached yet.
CREATE TABLE customers (
    customer_id     VARCHAR(100) PRIMARY KEY,
    name            VARCHAR(200) NOT NULL,
    contact_name    VARCHAR(200),
    contact_email   VARCHAR(254),
    phone           VARCHAR(50),
    industry        VARCHAR(50),
    segment         VARCHAR(20) NOT NULL DEFAULT 'smb'
                    CONSTRAINT customers_segment_check CHECK (segment IN ('smb', 'mid_market', 'enterprise')),
    region          VARCHAR(20),
    country         CHAR(2),
    locale          VARCHAR(10),
    lifecycle_stage VARCHAR(20) NOT NULL DEFAULT 'lead',
    annual_value    NUMERIC(14, 2) CONSTRAINT customers_annual_value_check CHECK (annual_value >= 0),
    created_at      TIMESTAMP NOT NULL DEFAULT NOW(),
    updated_at      TIMESTAMP NOT NULL DEFAULT NOW()
);

CREATE INDEX idx_customers_segment ON customers (segment);
CREATE INDEX idx_customers_lifecycle_stage ON customers (lifecycle_stage);
