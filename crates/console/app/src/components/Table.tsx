import type { ReactNode } from "react";

/** A data table with its column headers; rows are the children. */
export function Table({
  headers,
  className,
  children,
}: {
  headers: ReactNode[];
  className?: string;
  children: ReactNode;
}) {
  return (
    <table className={className}>
      <thead>
        <tr>
          {headers.map((header, i) => (
            <th scope="col" key={i}>
              {header}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>{children}</tbody>
    </table>
  );
}
