// What the api answers as `params_schema` for the acceptance scenario's backup-db
// module, plus one pattern only Rust's regex engine reads.

export const backupSchema = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  additionalProperties: false,
  required: ["db_name", "backup_key"],
  properties: {
    db_name: { type: "string", enum: ["orders", "users"] },
    retention_days: { type: "integer", minimum: 1, maximum: 365, default: 7 },
    notify_email: {
      type: "string",
      maxLength: 254,
      allOf: [{ pattern: "^[^\\p{Cc}]*$" }, { pattern: "^[^@\\s]+@[^@\\s]+$" }],
    },
    backup_key: { type: "string", minLength: 1, writeOnly: true, format: "password" },
    note: { type: "string", allOf: [{ pattern: "(?i)rust-only" }] },
  },
};
