-- Until now, a literal option right before a lone placeholder was left out with it when
-- the placeholder had no value (["--notify", "{notify_email}"]), a rule that also
-- dropped standalone flags (["--dry-run", "{bucket}"]). A template now says which
-- literals belong to which value with a group (["--notify", "{notify_email}"] as one
-- element), and nothing else is left out. Stored versions keep how they behaved: each
-- pair the old rule applied to becomes a group. Versions are immutable to everyone but
-- this migration, which changes how they are written, not what they do.
-- Only a placeholder that can lack a value (optional, without a default) ever made the
-- old rule apply, so only those pairs are grouped.
CREATE OR REPLACE FUNCTION pg_temp.grouped_args(args jsonb, params jsonb) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    grouped jsonb := '[]'::jsonb;
    i integer := 0;
    here text;
    following text;
BEGIN
    WHILE i < jsonb_array_length(args) LOOP
        here := CASE WHEN jsonb_typeof(args -> i) = 'string' THEN args ->> i END;
        following := CASE WHEN jsonb_typeof(args -> (i + 1)) = 'string' THEN args ->> (i + 1) END;
        -- A literal (no placeholder once '{{' and '}}' are taken out) starting with '-',
        -- then a placeholder and nothing else.
        IF here LIKE '-%'
           AND replace(replace(here, '{{', ''), '}}', '') !~ '[{}]'
           AND following ~ '^\{[a-z][a-z0-9_]*\}$'
           AND EXISTS (SELECT 1 FROM jsonb_array_elements(params) AS p
                       WHERE p ->> 'name' = substr(following, 2, length(following) - 2)
                         AND p -> 'required' IS DISTINCT FROM 'true'::jsonb
                         AND p -> 'default' IS NULL) THEN
            grouped := grouped || jsonb_build_array(jsonb_build_array(here, following));
            i := i + 2;
        ELSE
            grouped := grouped || jsonb_build_array(args -> i);
            i := i + 1;
        END IF;
    END LOOP;
    RETURN grouped;
END
$$;

ALTER TABLE module_versions DISABLE TRIGGER module_versions_immutable;
UPDATE module_versions
   SET definition = jsonb_set(definition, '{args}',
                              pg_temp.grouped_args(definition -> 'args', definition -> 'params'))
 WHERE jsonb_typeof(definition -> 'args') = 'array'
   AND jsonb_typeof(definition -> 'params') = 'array'
   AND definition -> 'args'
       IS DISTINCT FROM pg_temp.grouped_args(definition -> 'args', definition -> 'params');
ALTER TABLE module_versions ENABLE TRIGGER module_versions_immutable;
DROP FUNCTION pg_temp.grouped_args(jsonb, jsonb);
