/** A run's parameters as the API shows them (secrets already `***`). */
export function ParamsTable({ params }: { params: Record<string, unknown> }) {
  return (
    <table className="params">
      <tbody>
        {Object.entries(params).map(([name, value]) => (
          <tr key={name}>
            <th scope="row">{name}</th>
            <td>
              <code>{typeof value === "string" ? value : JSON.stringify(value)}</code>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
