//! HTTP routes, one module per part of the contract (docs/contract.md).

pub mod accounts;
pub mod artifacts;
pub mod assignments;
pub mod audit;
pub mod compliance;
pub mod evidence;
pub mod evidence_documents;
pub mod executions;
pub mod finding_changes;
pub mod findings;
pub mod logs;
pub mod me;
pub mod modules;
pub mod notifications;
pub mod pagination;
pub mod risk_acceptances;
pub mod scans;
pub mod schedules;
pub mod scripts;
pub mod service;
pub mod sign_in;
pub mod tools;

use actix_web::web;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(service::health)
        .service(service::ready)
        .service(crate::http::openapi::spec)
        .service(sign_in::sign_in)
        .service(me::me)
        .service(scripts::create)
        .service(scripts::list)
        .service(scripts::get_one)
        .service(modules::create)
        .service(modules::list)
        .service(modules::get_one)
        .service(modules::create_version)
        .service(modules::get_version)
        .service(modules::retire_version)
        .service(modules::set_retention)
        .service(assignments::replace)
        .service(assignments::read)
        .service(executions::submit)
        .service(executions::list)
        .service(executions::get_one)
        .service(executions::cancel_many)
        .service(executions::cancel)
        .service(executions::approve)
        .service(executions::reject)
        .service(logs::logs)
        .service(artifacts::list)
        .service(tools::list)
        .service(tools::start)
        .service(tools::latest)
        .service(evidence::create_report)
        .service(evidence::list_reports)
        // Before `{id}`, which would take its name.
        .service(evidence::public_key)
        .service(evidence::get_report)
        .service(evidence::get_pack)
        .service(findings::list)
        // Before `{fingerprint}`, which would take their names.
        .service(finding_changes::diff)
        .service(finding_changes::trends)
        .service(findings::get_one)
        .service(findings::by_resource)
        .service(compliance::list_frameworks)
        .service(evidence_documents::upload)
        .service(evidence_documents::list)
        .service(evidence_documents::exclude)
        .service(evidence_documents::include)
        .service(risk_acceptances::list)
        .service(risk_acceptances::create)
        .service(risk_acceptances::get_one)
        .service(risk_acceptances::approve)
        .service(risk_acceptances::reject)
        .service(risk_acceptances::revoke)
        .service(accounts::list)
        .service(accounts::create)
        // Before `{id}`, which would take their names.
        .service(accounts::import_accounts)
        .service(accounts::get_import)
        .service(accounts::get_one)
        .service(accounts::update)
        .service(scans::list)
        .service(scans::create)
        .service(scans::get_one)
        .service(scans::cancel)
        .service(notifications::list_channels)
        .service(notifications::create_channel)
        .service(notifications::get_channel)
        .service(notifications::delete_channel)
        .service(notifications::test_channel)
        .service(notifications::list_rules)
        .service(notifications::create_rule)
        .service(notifications::get_rule)
        .service(notifications::update_rule)
        .service(notifications::delete_rule)
        .service(schedules::list)
        .service(schedules::create)
        .service(schedules::get_one)
        .service(schedules::update)
        .service(schedules::pause)
        .service(schedules::resume)
        .service(schedules::remove)
        .service(schedules::approve)
        .service(audit::verify)
        .service(audit::list);
}
