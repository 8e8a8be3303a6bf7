-- Runs once, when the PostgreSQL volume is empty (docker-entrypoint-initdb.d).
-- The schema itself belongs to the control plane's migrations (`mmbot controlplane migrate`).
ALTER DATABASE mmbot SET timezone TO 'UTC';
-- Only the owner creates objects; nobody else connects.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON DATABASE mmbot FROM PUBLIC;
