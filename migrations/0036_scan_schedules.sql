-- A schedule fires a module's run or a scan (its request kept sealed in sealed_params;
-- module_id is then the tool's module).
ALTER TABLE schedules
    ADD COLUMN kind text NOT NULL DEFAULT 'run' CHECK (kind IN ('run', 'scan'));
ALTER TABLE schedule_fires
    ADD COLUMN scan_id uuid REFERENCES scans (id);
