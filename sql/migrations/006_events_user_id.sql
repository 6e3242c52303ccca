-- The platform's events name the user (sales rep) who acted on the account: {accountId, userId, eventType,
-- timestamp, metadata}. The audit log keeps that user, so an event of the six platform types can be traced to
-- its sales_signals row. Nullable: events of other types, and services that do not know the user, leave it out.
ALTER TABLE events ADD COLUMN IF NOT EXISTS user_id VARCHAR(255);
