//! The compliance frameworks the workers' scanner image holds, as they reported them.

use sage_model::compliance::{Controls, Framework, FrameworkName};
use sage_model::tools::Tool;
use tokio_postgres::types::Json;

use crate::tools::tool_of;
use crate::{Db, StoreError};

/// A framework as a worker reported it: the tool whose checks it names, and its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldFramework {
    pub name: FrameworkName,
    pub tool: Tool,
    pub tool_version: String,
    pub framework: Framework,
}

impl Db {
    /// Records the frameworks a worker read from its scanner image; a framework whose
    /// definition is unchanged is not written again.
    pub async fn report_frameworks(&self, controls: &Controls) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let upsert = transaction
            .prepare(
                "INSERT INTO compliance_frameworks (name, tool, tool_version, definition)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (name) DO UPDATE
                 SET tool = EXCLUDED.tool, tool_version = EXCLUDED.tool_version,
                     definition = EXCLUDED.definition, reported_at = now()
                 WHERE (compliance_frameworks.tool, compliance_frameworks.tool_version,
                        compliance_frameworks.definition)
                       IS DISTINCT FROM (EXCLUDED.tool, EXCLUDED.tool_version, EXCLUDED.definition)",
            )
            .await?;
        for (name, framework) in &controls.frameworks {
            transaction
                .execute(
                    &upsert,
                    &[
                        &name.as_str(),
                        &controls.tool,
                        &controls.version,
                        &Json(framework),
                    ],
                )
                .await?;
        }
        transaction.commit().await?;
        Ok(())
    }

    /// The names of every framework reported.
    pub async fn framework_names(&self) -> Result<Vec<FrameworkName>, StoreError> {
        let client = self.client().await?;
        client
            .query("SELECT name FROM compliance_frameworks ORDER BY name", &[])
            .await?
            .iter()
            .map(|row| name_of(row.get(0)))
            .collect()
    }

    /// Every framework reported, by name.
    pub async fn all_frameworks(&self) -> Result<Vec<HeldFramework>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT name, tool, tool_version, definition FROM compliance_frameworks
                 ORDER BY name",
                &[],
            )
            .await?;
        rows.iter().map(held).collect()
    }

    /// The frameworks of `names` that were reported, in the order named.
    pub async fn frameworks(
        &self,
        names: &[FrameworkName],
    ) -> Result<Vec<HeldFramework>, StoreError> {
        let client = self.client().await?;
        let wanted: Vec<&str> = names.iter().map(FrameworkName::as_str).collect();
        let rows = client
            .query(
                "SELECT f.name, f.tool, f.tool_version, f.definition
                 FROM unnest($1::text[]) WITH ORDINALITY AS w (name, position)
                 JOIN compliance_frameworks f USING (name)
                 ORDER BY w.position",
                &[&wanted],
            )
            .await?;
        rows.iter().map(held).collect()
    }
}

fn held(row: &tokio_postgres::Row) -> Result<HeldFramework, StoreError> {
    let Json(framework) = row.try_get::<_, Json<Framework>>(3)?;
    Ok(HeldFramework {
        name: name_of(row.get(0))?,
        tool: tool_of(row.get(1))?,
        tool_version: row.get(2),
        framework,
    })
}

fn name_of(name: &str) -> Result<FrameworkName, StoreError> {
    FrameworkName::parse(name).map_err(|_| StoreError::Corrupt("framework name"))
}
