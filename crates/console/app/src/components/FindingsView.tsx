import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { Link } from "react-router-dom";

import { TOOLS, type ToolName } from "../api/types";

/** A view of one tool's findings: a way back to them all, its title, and a form of its
 * choices that starts with the tool. */
export function FindingsView({
  title,
  choose,
  tool,
  onTool,
  choices,
  children,
}: {
  title: string;
  choose: string;
  tool: ToolName;
  onTool: (tool: ToolName) => void;
  choices: ReactNode;
  children: ReactNode;
}) {
  const { t } = useTranslation();
  return (
    <section>
      <p>
        <Link to="/findings">← {t("findings.title")}</Link>
      </p>
      <h1>{title}</h1>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label={choose}>
        <label>
          {t("findings.tool")}
          <select value={tool} onChange={(e) => onTool(toolNamed(e.target.value))}>
            {TOOLS.map((name) => (
              <option key={name} value={name}>
                {t(`tools.${name}`)}
              </option>
            ))}
          </select>
        </label>
        {choices}
      </form>
      {children}
    </section>
  );
}

/** The tool of that name; Prowler for none. */
export function toolNamed(name: string): ToolName {
  return TOOLS.find((tool) => tool === name) ?? "prowler";
}
