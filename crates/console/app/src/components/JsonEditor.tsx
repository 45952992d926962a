import { useState } from "react";
import { useTranslation } from "react-i18next";

import { ApiError } from "../api/client";

/** A module definition as JSON text; its syntax is checked here, its meaning by the
 * API, whose every field error is listed under the text, named by its path. */
export function JsonEditor(props: {
  id: string;
  label: string;
  text: string;
  onChange: (text: string) => void;
  failure: unknown;
}) {
  const { t } = useTranslation();
  const syntax = syntaxError(props.text);
  const fields = props.failure instanceof ApiError ? props.failure.fields : [];
  const describedBy = `${props.id}-errors`;
  return (
    <div className="json-editor">
      <label htmlFor={props.id}>{props.label}</label>
      <textarea
        id={props.id}
        spellCheck={false}
        rows={24}
        value={props.text}
        onChange={(e) => props.onChange(e.target.value)}
        aria-invalid={syntax !== undefined || fields.length > 0}
        aria-describedby={describedBy}
      />
      <div id={describedBy} role="alert">
        {syntax && <p className="problem">{t("editor.syntax", { message: syntax })}</p>}
        {props.failure instanceof ApiError && (
          <div className="problem">
            <p>{props.failure.message}</p>
            <ul data-testid="editor-errors">
              {fields.map((f, i) => (
                <li key={i}>
                  <code>{f.field}</code>: {f.message}
                </li>
              ))}
            </ul>
          </div>
        )}
      </div>
    </div>
  );
}

export function syntaxError(text: string): string | undefined {
  try {
    JSON.parse(text);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** A definition to send: the editor, and a button that sends the parsed JSON and
 * shows the API's refusal under the text. */
export function DefinitionEditor(props: {
  id: string;
  label: string;
  text: string;
  onChange: (text: string) => void;
  submitLabel: string;
  onSubmit: (definition: unknown) => Promise<void>;
}) {
  const [failure, setFailure] = useState<unknown>();
  const invalid = syntaxError(props.text) !== undefined;

  async function submit() {
    if (invalid) return;
    setFailure(undefined);
    try {
      await props.onSubmit(JSON.parse(props.text));
    } catch (error) {
      setFailure(error);
    }
  }

  return (
    <>
      <JsonEditor id={props.id} label={props.label} text={props.text} onChange={props.onChange} failure={failure} />
      <button type="button" className="primary" onClick={() => void submit()} disabled={invalid}>
        {props.submitLabel}
      </button>
    </>
  );
}
