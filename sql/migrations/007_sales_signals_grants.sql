-- The services' roles (004) on the platform's live table: the worker stores signals (the id comes from the
-- table's sequence), the API and readers read them and the analytics view.
GRANT SELECT ON sales_signals, signal_analytics TO sspp_readonly;
GRANT SELECT ON sales_signals, signal_analytics TO sspp_api;
GRANT SELECT, INSERT, UPDATE ON sales_signals TO sspp_worker;
GRANT USAGE, SELECT ON SEQUENCE sales_signals_id_seq TO sspp_worker;
