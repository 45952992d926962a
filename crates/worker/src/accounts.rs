//! Importing an organisation's accounts: the worker assumes the management account's
//! role named in the import (with its own identity, as for runs) and lists the
//! organisation's accounts with AWS Organizations' `ListAccounts`.

use aws_sdk_organizations::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use sage_model::accounts::AccountId;
use sage_model::catalog::cloud::{AssumeRole, RoleArn};
use sage_store::StoreError;
use sage_store::accounts::{AccountImport, OrgAccount};
use uuid::Uuid;

use crate::context::Context;

/// How long the listing's credentials last: STS's shortest.
const SESSION_SECONDS: u32 = 900;

/// Runs one import, if it still waits. Errors are store errors only (the job is
/// retried); a listing that fails ends the import with the reason.
#[tracing::instrument(skip(ctx), fields(worker_id = %ctx.settings.worker_id))]
pub async fn import(ctx: &Context, id: Uuid) -> Result<(), StoreError> {
    let Some(import) = ctx.db.claim_import(id, &ctx.settings.worker_id).await? else {
        tracing::info!("the import is not waiting; skipping the job");
        return Ok(());
    };
    match list(ctx, &import).await {
        Ok(accounts) => {
            let done = ctx.db.finish_import(&import, &accounts).await?;
            tracing::info!(found = ?done.found, created = ?done.created, "accounts imported");
        }
        Err(why) => {
            tracing::warn!(%why, "account import failed");
            ctx.db.fail_import(id, &why).await?;
        }
    }
    Ok(())
}

/// The organisation's accounts, every page of them.
async fn list(ctx: &Context, import: &AccountImport) -> Result<Vec<OrgAccount>, String> {
    let role_arn = RoleArn::parse(&import.management_role_arn).map_err(str::to_owned)?;
    // Checked at the request too; the list may have changed since.
    if !ctx.settings.common.assume_roles.allows(&role_arn) {
        return Err(
            "the management role is not one this deployment lets the workers assume (ASSUME_ROLE_ALLOWED)"
                .to_owned(),
        );
    }
    let session = format!("sage-import-{}", &import.id.simple().to_string()[..8]);
    let credentials = ctx
        .sts
        .assume(&AssumeRole::of_worker(role_arn, SESSION_SECONDS), &session)
        .await?;
    let client = aws_sdk_organizations::Client::new(&credentials.config(ctx.sts.settings()).await);
    // An account outside any organisation lists no accounts rather than failing
    // everywhere (the emulator): asking for the organisation first says so.
    client
        .describe_organization()
        .send()
        .await
        .map_err(|error| {
            format!(
                "the management role's account runs no organisation it may read: {}",
                said(&error)
            )
        })?;
    let mut accounts = Vec::new();
    let mut pages = client.list_accounts().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| {
            tracing::warn!(error = %DisplayErrorContext(&error), "ListAccounts failed");
            format!("ListAccounts failed: {}", said(&error))
        })?;
        for account in page.accounts.unwrap_or_default() {
            let id = account.id.as_deref().unwrap_or_default();
            let id = AccountId::parse(id)
                .map_err(|why| format!("Organizations listed account {id:?}, which {why}"))?;
            accounts.push(OrgAccount {
                name: account.name.unwrap_or_else(|| id.to_string()),
                status: account
                    .status
                    .map_or_else(|| "UNKNOWN".to_owned(), |s| s.as_str().to_owned()),
                id,
            });
        }
    }
    Ok(accounts)
}

/// What AWS answered (its code and message), or why it was not reached: the import's
/// reason, for the admin who asked.
fn said<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    error: &SdkError<E, R>,
) -> String {
    match error {
        SdkError::ServiceError(service) => {
            let answer = service.err();
            format!(
                "{}: {}",
                answer.code().unwrap_or("an unnamed error"),
                answer.message().unwrap_or("no message")
            )
        }
        other => DisplayErrorContext(other).to_string(),
    }
}
