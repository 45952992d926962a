import { type ReactElement, cloneElement } from "react";

import { ApiError } from "../api/client";
import { Problem } from "./Problem";

/** A labelled field with its hint and its error, both read out with the field. */
export function Field(props: { id: string; label: string; error?: string; hint?: string; children: ReactElement }) {
  const described = [props.hint && `${props.id}-hint`, props.error && `${props.id}-error`].filter(Boolean).join(" ");
  const input = cloneElement(props.children as ReactElement<Record<string, unknown>>, {
    "aria-describedby": described || undefined,
    "aria-invalid": props.error ? true : undefined,
  });
  return (
    <div className={`field${props.error ? " invalid" : ""}`}>
      <label htmlFor={props.id}>{props.label}</label>
      {input}
      {props.hint && <small id={`${props.id}-hint`}>{props.hint}</small>}
      {props.error && (
        <small className="field-error" id={`${props.id}-error`} role="alert">
          {props.error}
        </small>
      )}
    </div>
  );
}

/** What a refusal said of `field` and of its items (`to[1]`), if anything. */
export function fieldMessage(failure: unknown, field: string): string | undefined {
  if (!(failure instanceof ApiError)) return undefined;
  const said = failure.fields
    .filter((f) => f.field === field || f.field.startsWith(`${field}[`))
    .map((f) => (f.field === field ? f.message : `${f.field.slice(field.length)} ${f.message}`));
  return said.length > 0 ? said.join("; ") : undefined;
}

/** A refusal as a form shows it below its fields: what no field of `shown` showed
 * beside itself (the whole refusal when it named no field). */
export function FormProblem({ error, shown }: { error: unknown; shown: string[] }) {
  if (!(error instanceof ApiError)) return <Problem error={error} />;
  const rest = error.fields.filter((f) => !shown.includes(f.field.replace(/\[\d+\]$/, "")));
  if (error.fields.length > 0 && rest.length === 0) return null;
  return <Problem error={new ApiError(error.status, error.code, error.message, rest)} />;
}
