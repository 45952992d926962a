// A run form generated from a module's parameter schema, with every field error (the
// browser's checks, then the server's) shown at its field.

import Form from "@rjsf/core/lib/components/Form.js";
import { useMemo } from "react";

import type { JsonSchema, RawParam } from "../api/types";
import { formSchema, formUi } from "../forms/params";
import type { useRunForm } from "../forms/useRunForm";
import { paramsValidator } from "../forms/validator";
import { Problem } from "./Problem";

export interface ParamsFormProps {
  schema: JsonSchema;
  declared: RawParam[];
  form: ReturnType<typeof useRunForm>;
  idPrefix: string;
}

export function ParamsForm({ schema, declared, form, idPrefix }: ParamsFormProps) {
  const browserSchema = useMemo(() => formSchema(schema), [schema]);
  const ui = useMemo(() => formUi(schema, declared), [schema, declared]);
  return (
    <>
      <Form
        tagName="div"
        schema={browserSchema}
        uiSchema={ui}
        validator={paramsValidator}
        formData={form.data}
        onChange={(event) => form.setData((event.formData ?? {}) as Record<string, unknown>)}
        extraErrors={form.fieldErrors}
        showErrorList={false}
        liveValidate={false}
        noHtml5Validate
        idPrefix={idPrefix}
      />
      {form.elsewhere.length > 0 && (
        <ul className="problem" role="alert">
          {form.elsewhere.map((f, i) => (
            <li key={i}>
              <code>{f.field}</code>: {f.message}
            </li>
          ))}
        </ul>
      )}
      <Problem error={form.failure} />
    </>
  );
}
