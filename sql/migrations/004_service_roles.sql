-- Roles for the platform's services. Roles are cluster-wide while this schema is per database, and many
-- databases share one cluster: create each role only if it is missing, tolerating a concurrent creator.
-- The roles cannot log in; grant them to each service's login user (GRANT sspp_worker TO worker_user).
DO $roles$
DECLARE
    role_name TEXT;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['sspp_worker', 'sspp_api', 'sspp_readonly'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = role_name) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
            EXCEPTION
                WHEN duplicate_object OR unique_violation THEN NULL;
            END;
        END IF;
    END LOOP;
END
$roles$;

GRANT USAGE ON SCHEMA public TO sspp_worker, sspp_api, sspp_readonly;

-- Readers read everything.
GRANT SELECT ON customers, events, signals TO sspp_readonly;

-- The API records events as it receives them, and reads the customer cache.
GRANT SELECT, INSERT ON events TO sspp_api;
GRANT SELECT ON customers, signals TO sspp_api;

-- The worker turns events into signals and keeps the customer cache.
GRANT SELECT ON events TO sspp_worker;
GRANT SELECT, INSERT, UPDATE ON signals TO sspp_worker;
GRANT SELECT, INSERT, UPDATE ON customers TO sspp_worker;
