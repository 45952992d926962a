//! Users, provisioned on first sight and bootstrapped from configuration.

use chrono::{DateTime, Utc};
use sage_model::UserId;
use serde_json::json;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::audit::{AuditContext, Change, append};
use crate::{Db, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub roles: Vec<String>,
    pub groups: Vec<String>,
    pub created_at: DateTime<Utc>,
}

impl User {
    fn from_row(row: &Row) -> Self {
        Self {
            id: UserId::from(row.get::<_, Uuid>(0)),
            email: row.get(1),
            roles: row.get(2),
            groups: row.get(3),
            created_at: row.get(4),
        }
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// What an identity provider says about a user at sign-in. `None` keeps what is
/// stored (the demo header carries no claims).
#[derive(Debug, Clone, Default)]
pub struct Claims {
    pub roles: Option<Vec<String>>,
    pub groups: Option<Vec<String>>,
}

impl Db {
    /// Makes sure a user exists and holds at least `roles`; returns its id. Used to
    /// bootstrap ADMIN_EMAILS and the demo users, so it never takes a role away. A
    /// user created or given a role here is audited as done by `system`.
    #[tracing::instrument(skip(self))]
    pub async fn ensure_user(&self, email: &str, roles: &[&str]) -> Result<UserId, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let before: Option<(Uuid, Vec<String>)> = transaction
            .query_opt(
                "SELECT id, roles FROM users WHERE email = lower($1) FOR UPDATE",
                &[&email],
            )
            .await?
            .map(|row| (row.get(0), row.get(1)));
        let statement = transaction
            .prepare_cached(
                "INSERT INTO users (id, email, roles) VALUES ($1, lower($2), $3)
                 ON CONFLICT (email) DO UPDATE
                   SET roles = ARRAY(SELECT DISTINCT unnest(users.roles || EXCLUDED.roles) ORDER BY 1)
                 RETURNING id, roles",
            )
            .await?;
        let roles: Vec<&str> = roles.to_vec();
        let row = transaction
            .query_one(&statement, &[&Uuid::new_v4(), &email, &roles])
            .await?;
        let (id, after): (Uuid, Vec<String>) = (row.get(0), row.get(1));
        let before_roles = before.as_ref().map(|(_, roles)| roles.clone());
        if before_roles.as_ref() != Some(&after) {
            let change = Change {
                action: if before.is_none() {
                    "user.create"
                } else {
                    "user.roles.grant"
                },
                target_type: "user",
                target_id: id.to_string(),
                before: before_roles.map(|roles| json!({"email": email, "roles": roles})),
                after: Some(json!({"email": email.to_lowercase(), "roles": after})),
            };
            append(&transaction, &AuditContext::system(), &change).await?;
        }
        transaction.commit().await?;
        Ok(UserId::from(id))
    }

    /// The user behind a sign-in, created on first sight (and audited as such), with
    /// roles and groups refreshed from the claims that carry them.
    #[tracing::instrument(skip(self, context, claims))]
    pub async fn sign_in(
        &self,
        email: &str,
        claims: &Claims,
        context: &AuditContext,
    ) -> Result<User, StoreError> {
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let statement = transaction
            .prepare_cached(
                "INSERT INTO users (id, email, roles, groups, last_seen_at)
                 VALUES ($1, lower($2), coalesce($3::text[], '{}'), coalesce($4::text[], '{}'), now())
                 ON CONFLICT (email) DO UPDATE
                   SET roles = coalesce($3::text[], users.roles),
                       groups = coalesce($4::text[], users.groups),
                       last_seen_at = now()
                 RETURNING id, email, roles, groups, created_at, (xmax = 0) AS inserted",
            )
            .await?;
        let row = transaction
            .query_one(
                &statement,
                &[&Uuid::new_v4(), &email, &claims.roles, &claims.groups],
            )
            .await?;
        let user = User::from_row(&row);
        let inserted: bool = row.get(5);
        if inserted {
            let change = Change {
                action: "user.create",
                target_type: "user",
                target_id: user.id.to_string(),
                before: None,
                after: Some(
                    json!({"email": user.email, "roles": user.roles, "groups": user.groups}),
                ),
            };
            append(&transaction, context, &change).await?;
        }
        transaction.commit().await?;
        Ok(user)
    }

    /// The roles of a user, sorted; empty for an unknown id.
    #[tracing::instrument(skip(self))]
    pub async fn roles_of(&self, user_id: UserId) -> Result<Vec<String>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached("SELECT roles FROM users WHERE id = $1")
            .await?;
        let row = client.query_opt(&statement, &[&user_id.as_uuid()]).await?;
        Ok(row.map(|r| r.get(0)).unwrap_or_default())
    }
}
