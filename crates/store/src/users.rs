//! Users, provisioned on first sight and bootstrapped from configuration.

use chrono::{DateTime, Utc};
use sage_model::UserId;
use sage_model::names::Email;
use serde_json::json;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::audit::{AuditContext, Change, append};
use crate::{Db, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: String,
    /// Whether `email` is known to be theirs; only then does it match anything.
    pub email_verified: bool,
    pub roles: Vec<String>,
    pub groups: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// The column list of every user read, in the order `from_row` expects.
macro_rules! user_columns {
    () => {
        "id, email, email_verified, roles, groups, created_at"
    };
}

/// A user whose row needs no write: seen within the last minute, with the roles and
/// groups the claims in the numbered parameters carry (a missing claim changes
/// nothing). `last_seen_at` is thus written at most once a minute per user, and a
/// role change at once.
macro_rules! unchanged_lately {
    ($roles:literal, $groups:literal) => {
        concat!(
            "last_seen_at > now() - interval '1 minute'
             AND ($",
            $roles,
            "::text[] IS NULL OR roles = $",
            $roles,
            ") AND ($",
            $groups,
            "::text[] IS NULL OR groups = $",
            $groups,
            ")"
        )
    };
}

impl User {
    fn from_row(row: &Row) -> Self {
        Self {
            id: UserId::from(row.get::<_, Uuid>(0)),
            email: row.get(1),
            email_verified: row.get(2),
            roles: row.get(3),
            groups: row.get(4),
            created_at: row.get(5),
        }
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// The email that may match assignments and configuration: a verified one only.
    pub fn verified_email(&self) -> Option<&str> {
        self.email_verified.then_some(self.email.as_str())
    }
}

/// Who an OIDC token says signs in: the issuer's subject, and the email it claims.
#[derive(Debug, Clone)]
pub struct OidcLogin<'a> {
    pub issuer: &'a str,
    pub subject: &'a str,
    /// Lower case.
    pub email: &'a str,
    /// The issuer vouches for the email (its `email_verified`, or the deployment's
    /// word for every email of this issuer).
    pub email_verified: bool,
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
    pub async fn ensure_user(&self, email: &Email, roles: &[&str]) -> Result<UserId, StoreError> {
        let email = email.as_str();
        let mut client = self.client().await?;
        let transaction = client.transaction().await?;
        let before: Option<(Uuid, Vec<String>)> = transaction
            .query_opt(
                "SELECT id, roles FROM users WHERE email = lower($1) AND email_verified FOR UPDATE",
                &[&email],
            )
            .await?
            .map(|row| (row.get(0), row.get(1)));
        let statement = transaction
            .prepare_cached(
                "INSERT INTO users (id, email, roles) VALUES ($1, lower($2), $3)
                 ON CONFLICT (email) WHERE email_verified DO UPDATE
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
            append(
                &transaction,
                &self.audit_key,
                &AuditContext::system(),
                &change,
            )
            .await?;
        }
        transaction.commit().await?;
        Ok(UserId::from(id))
    }

    /// The user behind a sign-in, created on first sight (and audited as such), with
    /// roles and groups refreshed from the claims that carry them.
    #[tracing::instrument(skip(self, context, claims))]
    pub async fn sign_in(
        &self,
        email: &Email,
        claims: &Claims,
        context: &AuditContext,
    ) -> Result<User, StoreError> {
        let email = email.as_str();
        let mut client = self.client().await?;
        let fresh = client
            .prepare_cached(concat!(
                "SELECT ",
                user_columns!(),
                " FROM users WHERE email = lower($1) AND email_verified AND ",
                unchanged_lately!(2, 3)
            ))
            .await?;
        if let Some(row) = client
            .query_opt(&fresh, &[&email, &claims.roles, &claims.groups])
            .await?
        {
            return Ok(User::from_row(&row));
        }
        let transaction = client.transaction().await?;
        let statement = transaction
            .prepare_cached(concat!(
                "INSERT INTO users (id, email, roles, groups, last_seen_at)
                 VALUES ($1, lower($2), coalesce($3::text[], '{}'), coalesce($4::text[], '{}'), now())
                 ON CONFLICT (email) WHERE email_verified DO UPDATE
                   SET roles = coalesce($3::text[], users.roles),
                       groups = coalesce($4::text[], users.groups),
                       last_seen_at = now()
                 RETURNING ",
                user_columns!(),
                ", (xmax = 0) AS inserted"
            ))
            .await?;
        let row = transaction
            .query_one(
                &statement,
                &[&Uuid::new_v4(), &email, &claims.roles, &claims.groups],
            )
            .await?;
        let user = User::from_row(&row);
        let inserted: bool = row.get(6);
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
            append(&transaction, &self.audit_key, context, &change).await?;
        }
        transaction.commit().await?;
        Ok(user)
    }

    /// The user an OIDC token signs in: found by (issuer, subject) whatever email the
    /// token claims now; on first sight, the verified-email user made from
    /// configuration (ADMIN_EMAILS, demo data) is linked to the identity, or a new
    /// user is made. An email is stored verified only when the issuer vouches for it
    /// and no other user holds it verified. Roles and groups are refreshed from the
    /// claims. Creation, linking and email changes are audited.
    #[tracing::instrument(skip_all, fields(issuer = login.issuer))]
    pub async fn sign_in_oidc(
        &self,
        login: &OidcLogin<'_>,
        claims: &Claims,
        context: &AuditContext,
    ) -> Result<User, StoreError> {
        let mut client = self.client().await?;
        let fresh = client
            .prepare_cached(concat!(
                "SELECT ",
                user_columns!(),
                " FROM users WHERE issuer = $1 AND subject = $2 AND email = $3
                   AND email_verified = $4 AND ",
                unchanged_lately!(5, 6)
            ))
            .await?;
        let known_as_claimed = client
            .query_opt(
                &fresh,
                &[
                    &login.issuer,
                    &login.subject,
                    &login.email,
                    &login.email_verified,
                    &claims.roles,
                    &claims.groups,
                ],
            )
            .await?;
        if let Some(row) = known_as_claimed {
            return Ok(User::from_row(&row));
        }
        let transaction = client.transaction().await?;
        let known: Option<(Uuid, String, bool)> = transaction
            .query_opt(
                "SELECT id, email, email_verified FROM users
                 WHERE issuer = $1 AND subject = $2 FOR UPDATE",
                &[&login.issuer, &login.subject],
            )
            .await?
            .map(|row| (row.get(0), row.get(1), row.get(2)));
        let id = match known {
            // The common case, every request of a known user: nothing to look up.
            Some((id, email, verified))
                if (email.as_str(), verified) == (login.email, login.email_verified) =>
            {
                id
            }
            Some((id, email, verified)) => {
                let now_verified = login.email_verified
                    && !verified_elsewhere(&transaction, login.email, Some(id)).await?;
                if (email.as_str(), verified) != (login.email, now_verified) {
                    transaction
                        .execute(
                            "UPDATE users SET email = $2, email_verified = $3 WHERE id = $1",
                            &[&id, &login.email, &now_verified],
                        )
                        .await?;
                    let change = Change {
                        action: "user.email.change",
                        target_type: "user",
                        target_id: id.to_string(),
                        before: Some(json!({"email": email, "email_verified": verified})),
                        after: Some(json!({"email": login.email, "email_verified": now_verified})),
                    };
                    append(&transaction, &self.audit_key, context, &change).await?;
                }
                id
            }
            None => first_sign_in(&transaction, &self.audit_key, login, context).await?,
        };
        let row = transaction
            .query_one(
                concat!(
                    "UPDATE users SET roles = coalesce($2::text[], roles),
                            groups = coalesce($3::text[], groups), last_seen_at = now()
                     WHERE id = $1 RETURNING ",
                    user_columns!()
                ),
                &[&id, &claims.roles, &claims.groups],
            )
            .await?;
        transaction.commit().await?;
        Ok(User::from_row(&row))
    }

    /// A user as stored now: a schedule's runs are submitted as its owner.
    pub async fn user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1"),
                &[&id.as_uuid()],
            )
            .await?;
        Ok(row.as_ref().map(User::from_row))
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

/// Whether a user other than `except` holds `email` verified.
async fn verified_elsewhere(
    transaction: &deadpool_postgres::Transaction<'_>,
    email: &str,
    except: Option<Uuid>,
) -> Result<bool, StoreError> {
    Ok(transaction
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM users
                            WHERE email = $1 AND email_verified AND id IS DISTINCT FROM $2)",
            &[&email, &except],
        )
        .await?
        .get(0))
}

/// The first sign-in of an OIDC identity: the user made from configuration with this
/// verified email takes it on, or a new user is made; returns the user's id.
async fn first_sign_in(
    transaction: &deadpool_postgres::Transaction<'_>,
    key: &crate::audit::AuditKey,
    login: &OidcLogin<'_>,
    context: &AuditContext,
) -> Result<Uuid, StoreError> {
    if login.email_verified {
        let linked: Option<Uuid> = transaction
            .query_opt(
                "UPDATE users SET issuer = $1, subject = $2
                 WHERE email = $3 AND email_verified AND issuer IS NULL RETURNING id",
                &[&login.issuer, &login.subject, &login.email],
            )
            .await?
            .map(|row| row.get(0));
        if let Some(id) = linked {
            let change = Change {
                action: "user.link",
                target_type: "user",
                target_id: id.to_string(),
                before: None,
                after: Some(json!({"issuer": login.issuer, "subject": login.subject})),
            };
            append(transaction, key, context, &change).await?;
            return Ok(id);
        }
    }
    let verified =
        login.email_verified && !verified_elsewhere(transaction, login.email, None).await?;
    let id = Uuid::new_v4();
    transaction
        .execute(
            "INSERT INTO users (id, email, email_verified, issuer, subject)
             VALUES ($1, $2, $3, $4, $5)",
            &[&id, &login.email, &verified, &login.issuer, &login.subject],
        )
        .await?;
    let change = Change {
        action: "user.create",
        target_type: "user",
        target_id: id.to_string(),
        before: None,
        after: Some(json!({
            "email": login.email, "email_verified": verified,
            "issuer": login.issuer, "subject": login.subject,
        })),
    };
    append(transaction, key, context, &change).await?;
    Ok(id)
}
