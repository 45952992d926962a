//! Users, provisioned on first sight and bootstrapped from configuration.

use uuid::Uuid;

use crate::{Db, StoreError};

impl Db {
    /// Makes sure a user exists and holds at least `roles`; returns its id. Used to
    /// bootstrap ADMIN_EMAILS and the demo users, so it never takes a role away.
    #[tracing::instrument(skip(self))]
    pub async fn ensure_user(&self, email: &str, roles: &[&str]) -> Result<Uuid, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "INSERT INTO users (id, email, roles) VALUES ($1, lower($2), $3)
                 ON CONFLICT (email) DO UPDATE
                   SET roles = ARRAY(SELECT DISTINCT unnest(users.roles || EXCLUDED.roles) ORDER BY 1)
                 RETURNING id",
            )
            .await?;
        let roles: Vec<&str> = roles.to_vec();
        let row = client
            .query_one(&statement, &[&Uuid::new_v4(), &email, &roles])
            .await?;
        Ok(row.get(0))
    }

    /// The roles of a user, sorted; empty for an unknown id.
    #[tracing::instrument(skip(self))]
    pub async fn roles_of(&self, user_id: Uuid) -> Result<Vec<String>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached("SELECT roles FROM users WHERE id = $1")
            .await?;
        let row = client.query_opt(&statement, &[&user_id]).await?;
        Ok(row.map(|r| r.get(0)).unwrap_or_default())
    }
}
