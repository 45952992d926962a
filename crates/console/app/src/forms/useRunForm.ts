import type { ErrorSchema } from "@rjsf/utils";
import { useState } from "react";
import { useNavigate } from "react-router-dom";

import { ApiError } from "../api/client";
import type { Execution, FieldProblem, JsonSchema } from "../api/types";
import { formSchema, placeErrors, runParams } from "./params";
import { browserErrors } from "./validator";

/** A run form's state: what it holds, the errors at its fields (the browser's, then
 * the server's), those that belong elsewhere, and a submit that opens the new run. */
export function useRunForm(schema: JsonSchema | undefined, fieldPrefix: "params." | "") {
  const navigate = useNavigate();
  const [data, setData] = useState<Record<string, unknown>>({});
  const [fieldErrors, setFieldErrors] = useState<ErrorSchema>();
  const [elsewhere, setElsewhere] = useState<FieldProblem[]>([]);
  const [failure, setFailure] = useState<unknown>();
  const [busy, setBusy] = useState(false);

  async function submit(start: (params: Record<string, unknown>) => Promise<Execution>) {
    if (!schema) return;
    setFieldErrors(undefined);
    setElsewhere([]);
    setFailure(undefined);
    const params = runParams(data, schema);
    const invalid = browserErrors(formSchema(schema), params);
    if (invalid) {
      setFieldErrors(invalid);
      return;
    }
    setBusy(true);
    try {
      const execution = await start(params);
      navigate(`/executions/${execution.id}`);
    } catch (error) {
      if (error instanceof ApiError && error.fields.length > 0) {
        const placed = placeErrors(error.fields, schema, fieldPrefix);
        setFieldErrors(placed.byField);
        setElsewhere(placed.elsewhere);
      } else {
        setFailure(error);
      }
    } finally {
      setBusy(false);
    }
  }

  return { data, setData, fieldErrors, elsewhere, failure, busy, submit };
}
