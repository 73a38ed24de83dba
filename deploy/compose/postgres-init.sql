-- One database per Kokeilu service, each owned by its own role (compose.yaml mounts this file into
-- /docker-entrypoint-initdb.d/, which PostgreSQL runs once, on an empty data volume). The
-- passwords are for the local compose stack only.
CREATE ROLE te_office LOGIN PASSWORD 'te_office';
CREATE DATABASE kokeilu_te_office OWNER te_office;

CREATE ROLE area_kainuu LOGIN PASSWORD 'area_kainuu';
CREATE DATABASE kokeilu_area_kainuu OWNER area_kainuu;

CREATE ROLE area_pirkanmaa LOGIN PASSWORD 'area_pirkanmaa';
CREATE DATABASE kokeilu_area_pirkanmaa OWNER area_pirkanmaa;

CREATE ROLE supervisor LOGIN PASSWORD 'supervisor';
CREATE DATABASE kokeilu_supervisor OWNER supervisor;
