-- Run once by the postgres image on an empty data volume (/docker-entrypoint-initdb.d), as
-- POSTGRES_USER (marelle), which then owns these databases. One database per service: a service
-- never reads another one's (see DESIGN.md). The gateway and the back-office have none.
CREATE DATABASE identity;
CREATE DATABASE enrolment;
CREATE DATABASE booking;
CREATE DATABASE billing;
