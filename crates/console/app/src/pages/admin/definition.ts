import type { ModuleVersion } from "../../api/types";

/** A version's definition as the body of a new version (everything but the name). */
export function definitionOf(version: ModuleVersion): Record<string, unknown> {
  return {
    description: version.description,
    script_id: version.script_id,
    params: version.params,
    args: version.args,
    env: version.env,
    limits: version.limits,
    network: version.network,
    image: version.image,
    credentials: version.credentials,
    approval: version.approval,
  };
}

/** A new module's starting point: the sample module of the README. */
export function sampleModule(scriptId: string): Record<string, unknown> {
  return {
    name: "",
    description: "",
    script_id: scriptId,
    params: [
      { name: "db_name", type: "enum", values: ["orders", "users"], required: true },
      { name: "retention_days", type: "integer", min: 1, max: 365, default: 7 },
    ],
    args: ["--db", "{db_name}", "--retention-days", "{retention_days}"],
    env: {},
    limits: { timeout_sec: 60, memory_mb: 256, cpus: 1.0, pids: 64, max_output_bytes: 1048576 },
    network: "none",
    approval: { required: 0 },
  };
}
