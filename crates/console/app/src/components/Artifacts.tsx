import { type MouseEvent, useEffect, useState } from "react";
import { useTranslation } from "react-i18next";

import type { Artifact } from "../api/types";
import { Problem } from "./Problem";
import { Table } from "./Table";

/** Download links of presigned URLs; one about to expire is fetched fresh first. */
export function Artifacts({ load }: { load: () => Promise<Artifact[]> }) {
  const { t } = useTranslation();
  const [items, setItems] = useState<Artifact[] | undefined>();
  const [failure, setFailure] = useState<unknown>();

  // Loaded once per mount: the page remounts this list when the run ends.
  useEffect(() => {
    load().then(setItems, setFailure);
    // eslint-disable-next-line react-hooks/exhaustive-deps -- once per mount, whatever `load` is
  }, []);

  async function open(event: MouseEvent<HTMLAnchorElement>, artifact: Artifact) {
    if (Date.parse(artifact.expires_at) - Date.now() > 5_000) return;
    event.preventDefault();
    try {
      const fresh = await load();
      setItems(fresh);
      const same = fresh.find((a) => a.name === artifact.name);
      if (same) window.location.assign(same.url);
    } catch (error) {
      setFailure(error);
    }
  }

  return (
    <section aria-labelledby="artifacts-title">
      <h2 id="artifacts-title">{t("artifacts.title")}</h2>
      <Problem error={failure} />
      {items && items.length === 0 && <p className="muted">{t("artifacts.none")}</p>}
      {items && items.length > 0 && (
        <Table headers={[t("artifacts.name"), t("artifacts.size"), "SHA-256"]}>
          {items.map((a) => (
            <tr key={a.name}>
              <td>
                <a href={a.url} onClick={(e) => void open(e, a)} rel="noreferrer" data-testid="artifact-link">
                  {a.name}
                </a>
              </td>
              <td>{formatBytes(a.size)}</td>
              <td>
                <code title={a.sha256}>{a.sha256.slice(0, 16)}…</code>
              </td>
            </tr>
          ))}
        </Table>
      )}
    </section>
  );
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
