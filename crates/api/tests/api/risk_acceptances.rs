//! Risk acceptance decided by two people, over findings stored as a worker stores them:
//! a request changes nothing; a second person's approval accepts what it covers, and
//! new findings its pattern covers as they appear; revocation and expiry return them to
//! open. Every step is audited; every refusal names the field or says who may.

use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::{Value, json};

use sage_api::background::webhook::APPROVAL_VARS;

use crate::findings::{ENC, PUBLIC, fingerprint, prowler, scanned};
use crate::helpers::{ADMIN, ANALYST, OTHER, TestApp, spawn_app_with, tools_env};
use crate::receiver::Receiver;

fn expiry(seconds: i64) -> String {
    (Utc::now() + chrono::Duration::seconds(seconds)).to_rfc3339()
}

async fn state_of(app: &TestApp, fingerprint: &str) -> Value {
    let (status, finding) = app
        .get_as(&format!("/api/v1/findings/{fingerprint}"), ADMIN)
        .await;
    assert_eq!(status, 200, "{finding}");
    finding
}

#[tokio::test]
async fn a_second_person_accepts_findings_until_the_acceptance_ends() {
    let app = spawn_app_with(tools_env()).await;
    let module = prowler(&app).await;
    scanned(
        &app,
        &module,
        &[
            ("logs", ENC, "fail", "medium"),
            ("www", ENC, "fail", "high"),
            ("data", PUBLIC, "fail", "critical"),
        ],
    )
    .await;
    let (logs, logs_2, www) = (
        fingerprint("logs", ENC),
        fingerprint("logs-archive", ENC),
        fingerprint("www", ENC),
    );
    app.assign(&module, json!([{"user": ANALYST, "permissions": ["view"]}]))
        .await;

    // The analyst, who sees every Prowler finding, asks for the logs buckets.
    let request = json!({
        "tool": "prowler", "check": ENC, "resource": "logs*",
        "reason": "log archives: encrypted by the client before upload",
        "expires_at": expiry(30 * 24 * 3600),
    });
    let (status, asked) = app
        .post_as("/api/v1/risk-acceptances", ANALYST, &request)
        .await;
    assert_eq!(status, 201, "{asked}");
    assert_eq!(asked["status"], "requested");
    assert_eq!(asked["requested_by"], ANALYST);
    let id = asked["id"].as_str().unwrap().to_owned();
    // Nothing changes until a second person approves.
    assert_eq!(state_of(&app, &logs).await["state"], "new");

    // Only admins and approvers decide (and never on their own request: below).
    let approve = format!("/api/v1/risk-acceptances/{id}/approve");
    let comment = json!({"comment": "agreed with the data owner"});
    let (status, refused) = app.post_as(&approve, ANALYST, &comment).await;
    assert_eq!(status, 403, "{refused}");
    assert!(refused.to_string().contains("approvers"), "{refused}");
    // Another analyst does not even see it.
    let (status, _) = app.post_as(&approve, OTHER, &comment).await;
    assert_eq!(status, 404);
    let (status, refused) = app.post_as(&approve, ADMIN, &json!({"comment": " "})).await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused.to_string().contains("comment"), "{refused}");

    let (status, approved) = app.post_as(&approve, ADMIN, &comment).await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(
        (
            &approved["status"],
            &approved["decided_by"],
            &approved["findings"]
        ),
        (&json!("approved"), &json!(ADMIN), &json!(1))
    );
    let finding = state_of(&app, &logs).await;
    assert_eq!(finding["state"], "accepted", "{finding}");
    assert_eq!(finding["acceptance_id"], id.as_str());
    let by = &finding["acceptance"];
    assert_eq!(
        (
            &by["requested_by"],
            &by["decided_by"],
            &by["reason"],
            &by["expires_at"]
        ),
        (
            &json!(ANALYST),
            &json!(ADMIN),
            &request["reason"],
            &approved["expires_at"]
        ),
        "who, why and until when: {finding}"
    );
    let last = finding["history"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (
            &last["from"],
            &last["to"],
            &last["run"],
            &last["acceptance_id"]
        ),
        (&json!("new"), &json!("accepted"), &Value::Null, &json!(id))
    );
    // Outside the pattern: www stays as it was.
    assert_eq!(state_of(&app, &www).await["state"], "new");
    let (status, again) = app.post_as(&approve, ADMIN, &comment).await;
    assert_eq!(status, 409, "decided once: {again}");

    // A later run: logs fails again and stays accepted; a new archive bucket the pattern
    // covers is accepted as it appears, and says by which acceptance.
    let second = scanned(
        &app,
        &module,
        &[
            ("logs", ENC, "fail", "medium"),
            ("logs-archive", ENC, "fail", "medium"),
            ("www", ENC, "fail", "high"),
            ("data", PUBLIC, "fail", "critical"),
        ],
    )
    .await;
    let archive = state_of(&app, &logs_2).await;
    assert_eq!(
        (&archive["state"], &archive["acceptance_id"]),
        (&json!("accepted"), &json!(id)),
        "{archive}"
    );
    let first_event = &archive["history"][0];
    assert_eq!(
        (
            &first_event["from"],
            &first_event["to"],
            &first_event["run"]
        ),
        (&Value::Null, &json!("accepted"), &json!(second.to_string()))
    );
    assert_eq!(state_of(&app, &logs).await["state"], "accepted");
    assert_eq!(state_of(&app, &www).await["state"], "open");
    let (_, accepted) = app.get_as("/api/v1/findings?state=accepted", ANALYST).await;
    assert_eq!(accepted["items"].as_array().unwrap().len(), 2, "{accepted}");
    // The day's counts, kept by each step, agree.
    let (_, trend) = app
        .get_as("/api/v1/findings/trends?tool=prowler&days=1", ADMIN)
        .await;
    assert_eq!(
        trend["days"][0]["counts"],
        json!({"accepted": {"medium": 2}, "open": {"critical": 1, "high": 1}}),
        "{trend}"
    );

    // One finding, asked for by its fingerprint, expiring in two seconds: the sweeper
    // ends it, and www fails again as it would have.
    let (status, short) = app
        .post_as(
            "/api/v1/risk-acceptances",
            ANALYST,
            &json!({"fingerprint": www, "reason": "until the fix ships", "expires_at": expiry(2)}),
        )
        .await;
    assert_eq!(status, 201, "{short}");
    assert_eq!(short["tool"], "prowler");
    let short_id = short["id"].as_str().unwrap().to_owned();
    let (status, _) = app
        .post_as(
            &format!("/api/v1/risk-acceptances/{short_id}/approve"),
            ADMIN,
            &comment,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(state_of(&app, &www).await["state"], "accepted");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, current) = app
            .get_as(&format!("/api/v1/risk-acceptances/{short_id}"), ANALYST)
            .await;
        if current["status"] == "expired" {
            assert_eq!(current["findings"], 0, "{current}");
            break;
        }
        assert!(Instant::now() < deadline, "never expired: {current}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let finding = state_of(&app, &www).await;
    assert_eq!(
        (&finding["state"], &finding["acceptance_id"]),
        (&json!("open"), &Value::Null)
    );

    // The requester withdraws the pattern: both logs buckets fail again.
    let (status, revoked) = app
        .post_as(
            &format!("/api/v1/risk-acceptances/{id}/revoke"),
            ANALYST,
            &json!({"comment": "client-side encryption was dropped"}),
        )
        .await;
    assert_eq!(status, 200, "{revoked}");
    assert_eq!(
        (
            &revoked["status"],
            &revoked["ended_by"],
            &revoked["findings"]
        ),
        (&json!("revoked"), &json!(ANALYST), &json!(0))
    );
    for fingerprint in [&logs, &logs_2] {
        assert_eq!(state_of(&app, fingerprint).await["state"], "open");
    }
    let (_, trend) = app
        .get_as("/api/v1/findings/trends?tool=prowler&days=1", ADMIN)
        .await;
    assert_eq!(
        trend["days"][0]["counts"],
        json!({"open": {"critical": 1, "high": 1, "medium": 2}}),
        "{trend}"
    );

    // Listed newest first; every step audited.
    let (status, listed) = app.get_as("/api/v1/risk-acceptances", ANALYST).await;
    assert_eq!(status, 200, "{listed}");
    let statuses: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["expired", "revoked"]);
    let (_, none) = app.get_as("/api/v1/risk-acceptances", OTHER).await;
    assert_eq!(none["items"], json!([]));
    let (_, audit) = app.get_as("/api/v1/audit?limit=200", ADMIN).await;
    let mut actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .filter(|a| a.starts_with("risk_acceptance."))
        .collect();
    actions.sort_unstable();
    assert_eq!(
        actions,
        [
            "risk_acceptance.approved",
            "risk_acceptance.approved",
            "risk_acceptance.expired",
            "risk_acceptance.requested",
            "risk_acceptance.requested",
            "risk_acceptance.revoked"
        ],
        "{audit}"
    );
}

#[tokio::test]
async fn bad_requests_are_refused_naming_the_field_and_change_nothing() {
    let app = spawn_app_with(tools_env()).await;
    let module = prowler(&app).await;
    scanned(&app, &module, &[("logs", ENC, "fail", "medium")]).await;
    let logs = fingerprint("logs", ENC);
    let good =
        json!({"tool": "prowler", "check": ENC, "reason": "why", "expires_at": expiry(3600)});
    let with = |key: &str, value: Value| {
        let mut body = good.clone();
        body[key] = value;
        body
    };
    let without = |key: &str| {
        let mut body = good.clone();
        body.as_object_mut().unwrap().remove(key);
        body
    };
    for (body, field) in [
        (without("reason"), "reason"),
        (with("reason", json!("   ")), "reason"),
        (without("expires_at"), "expires_at"),
        (with("expires_at", json!(expiry(-60))), "expires_at"),
        (
            with("expires_at", json!(expiry(366 * 24 * 3600))),
            "expires_at",
        ),
        (with("expires_at", json!("next week")), "expires_at"),
        (with("tool", json!("nmap")), "tool"),
        (without("tool"), "tool"),
        (with("resource", json!("*")), "resource"),
        (with("fingerprint", json!(logs)), "check"),
        (without("check"), "fingerprint"),
        (with("regions", json!("us-east-1")), "regions"),
        (with("approver", json!(ADMIN)), "approver"),
    ] {
        let (status, refused) = app.post_as("/api/v1/risk-acceptances", ADMIN, &body).await;
        assert_eq!(status, 400, "{body}: {refused}");
        assert!(
            refused.to_string().contains(field),
            "{body} should name {field}: {refused}"
        );
    }
    // One finding: narrowed as a pattern is refused; one the caller may not see names
    // no finding.
    let (status, refused) = app
        .post_as(
            "/api/v1/risk-acceptances",
            ADMIN,
            &json!({"fingerprint": logs, "regions": ["us-east-1"], "reason": "why", "expires_at": expiry(60)}),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused.to_string().contains("regions"), "{refused}");
    let (status, refused) = app
        .post_as(
            "/api/v1/risk-acceptances",
            OTHER,
            &json!({"fingerprint": logs, "reason": "why", "expires_at": expiry(60)}),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused.to_string().contains("fingerprint"), "{refused}");
    // A pattern needs the tool's whole view.
    let (status, refused) = app.post_as("/api/v1/risk-acceptances", OTHER, &good).await;
    assert_eq!(status, 403, "{refused}");
    let (status, refused) = app
        .get_as("/api/v1/risk-acceptances?status=maybe", ADMIN)
        .await;
    assert_eq!(status, 400, "{refused}");
    assert!(refused.to_string().contains("status"), "{refused}");

    let (_, listed) = app.get_as("/api/v1/risk-acceptances", ADMIN).await;
    assert_eq!(listed["items"], json!([]), "nothing was recorded");
    assert_eq!(state_of(&app, &logs).await["state"], "new");

    // An admin's own request waits for someone else.
    let (status, own) = app.post_as("/api/v1/risk-acceptances", ADMIN, &good).await;
    assert_eq!(status, 201, "{own}");
    let (status, refused) = app
        .post_as(
            &format!(
                "/api/v1/risk-acceptances/{}/approve",
                own["id"].as_str().unwrap()
            ),
            ADMIN,
            &json!({"comment": "mine"}),
        )
        .await;
    assert_eq!(status, 403, "{refused}");
    assert!(refused.to_string().contains("requester"), "{refused}");
    assert_eq!(state_of(&app, &logs).await["state"], "new");
}

#[tokio::test]
async fn approvers_hear_of_requests_and_their_outcome_through_the_approval_webhook() {
    let receiver = Receiver::start(1).await;
    let hook = receiver.env_for(APPROVAL_VARS);
    let mut env = tools_env();
    for var in [APPROVAL_VARS.url, APPROVAL_VARS.secret] {
        env.set(var, hook.raw(var).unwrap());
    }
    let app = spawn_app_with(env).await;
    let module = prowler(&app).await;
    scanned(&app, &module, &[("logs", ENC, "fail", "medium")]).await;
    let logs = fingerprint("logs", ENC);
    let (status, asked) = app
        .post_as(
            "/api/v1/risk-acceptances",
            ADMIN,
            &json!({"fingerprint": logs, "reason": "a test bucket", "expires_at": expiry(3600)}),
        )
        .await;
    assert_eq!(status, 201, "{asked}");
    let id = asked["id"].as_str().unwrap();
    let requested = &receiver.wait_for(1, Duration::from_secs(20)).await[0];
    assert!(requested.signed);
    assert_eq!(requested.event, "risk_acceptance.requested");
    let body = &requested.body;
    assert_eq!(
        (
            &body["acceptance_id"],
            &body["fingerprint"],
            &body["requested_by"]
        ),
        (&json!(id), &json!(logs), &json!(ADMIN))
    );
    assert_eq!(
        body["acceptance_path"],
        format!("/api/v1/risk-acceptances/{id}")
    );
    // Never the requester among those who may decide.
    assert!(
        !body["approvers"]
            .as_array()
            .unwrap()
            .contains(&json!(ADMIN)),
        "{body}"
    );

    let (status, _) = app
        .post_as(
            &format!("/api/v1/risk-acceptances/{id}/revoke"),
            ADMIN,
            &json!({"comment": "asked by mistake"}),
        )
        .await;
    assert_eq!(status, 200);
    let resolved = &receiver.wait_for(2, Duration::from_secs(20)).await[1];
    assert_eq!(resolved.event, "risk_acceptance.resolved");
    assert_eq!(resolved.body["status"], "revoked");
}
