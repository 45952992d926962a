-- The names each tool in the workers' scanner image holds (frameworks, services,
-- checks, by provider), as the image's labels say: a run naming another is refused at
-- submission. NULL until a worker reports them.
ALTER TABLE tools ADD COLUMN names jsonb;
