// A run form generated from a module's parameter schema, with the server's field
// errors shown at their fields.

import Form from "@rjsf/core/lib/components/Form.js";
import type { ErrorSchema } from "@rjsf/utils";
import { useMemo } from "react";

import type { FieldProblem, JsonSchema, RawParam } from "../api/types";
import { formSchema, formUi } from "../forms/params";
import { paramsValidator } from "../forms/validator";

export interface ParamsFormProps {
  schema: JsonSchema;
  declared: RawParam[];
  data: Record<string, unknown>;
  onChange: (data: Record<string, unknown>) => void;
  fieldErrors: ErrorSchema | undefined;
  elsewhere: FieldProblem[];
  idPrefix: string;
}

export function ParamsForm(props: ParamsFormProps) {
  const schema = useMemo(() => formSchema(props.schema), [props.schema]);
  const ui = useMemo(() => formUi(props.schema, props.declared), [props.schema, props.declared]);
  return (
    <>
      <Form
        tagName="div"
        schema={schema}
        uiSchema={ui}
        validator={paramsValidator}
        formData={props.data}
        onChange={(event) => props.onChange((event.formData ?? {}) as Record<string, unknown>)}
        extraErrors={props.fieldErrors}
        showErrorList={false}
        liveValidate={false}
        noHtml5Validate
        idPrefix={props.idPrefix}
      />
      {props.elsewhere.length > 0 && (
        <ul className="problem" role="alert">
          {props.elsewhere.map((f, i) => (
            <li key={i}>
              <code>{f.field}</code>: {f.message}
            </li>
          ))}
        </ul>
      )}
    </>
  );
}
