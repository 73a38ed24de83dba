-- Who read or caused each access to identifying data (the authenticated certificate identity,
-- kokeilu://…), and whether the identifying details were shown unmasked.
ALTER TABLE access_log ADD COLUMN actor TEXT NOT NULL DEFAULT '';
ALTER TABLE access_log ADD COLUMN revealed BOOLEAN NOT NULL DEFAULT FALSE;
