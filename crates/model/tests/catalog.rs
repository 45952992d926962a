//! The catalog rules end to end through the public API of `sage-model`: a module
//! definition from the HTTP contract, its refusals, run-parameter validation and argv building.

// Helpers panic on purpose: a failed set-up is a failed test.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use sage_model::ExecutionId;
use sage_model::catalog::admission::AdmittedRun;
use sage_model::catalog::module::{Limits, ModuleDefinition, ModuleRequest};
use sage_model::catalog::script::{Interpreter, ScriptPath};
use sage_model::plan::RunPlan;
use serde_json::{Value, json};

fn backup_db() -> Value {
    json!({
        "name": "backup-db", "description": "Back up one database",
        "script_id": "5f0c1c52-8b0e-4c1e-9d55-0d5a3c9e2f10",
        "params": [
            {"name": "db_name", "type": "enum", "values": ["orders", "users"], "required": true},
            {"name": "retention_days", "type": "integer", "min": 1, "max": 365, "default": 7},
            {"name": "notify_email", "type": "string", "pattern": "^[^@\\s]+@[^@\\s]+$", "max_length": 254},
            {"name": "backup_key", "type": "secret", "required": true, "secret_as": "env"}],
        "args": ["--db", "{db_name}", "--retention-days", "{retention_days}", ["--notify", "{notify_email}"]],
        "env": {"BACKUP_KEY": "{backup_key}"},
        "limits": {"timeout_sec": 60, "memory_mb": 256, "cpus": 1.0, "pids": 64, "max_output_bytes": 1048576},
        "network": "none",
        "approval": {"required": 0}
    })
}

fn definition(body: Value) -> Result<ModuleDefinition, Vec<String>> {
    let request: ModuleRequest = serde_json::from_value(body).unwrap();
    ModuleDefinition::parse(&request, &Limits::CEILING)
        .map_err(|errors| errors.into_iter().map(|e| e.field).collect())
}

/// The arguments after the interpreter and the script.
fn args(module: &ModuleDefinition, valid: &AdmittedRun) -> Vec<String> {
    plan(module, valid).argv.split_off(2)
}

fn plan(module: &ModuleDefinition, valid: &AdmittedRun) -> RunPlan {
    let script = ScriptPath::parse("team/backup_db.py").unwrap();
    RunPlan::new(
        ExecutionId::new(),
        &script,
        Interpreter::Python3,
        module,
        valid,
    )
}

fn good_params() -> Value {
    json!({"db_name": "orders", "retention_days": 30, "notify_email": "ops@example.com", "backup_key": "s3cr3t"})
}

#[test]
fn the_contracts_example_is_a_valid_module() {
    let module = definition(backup_db()).unwrap();
    assert_eq!(module.params().len(), 4);
    assert_eq!(module.limits().timeout_sec, 60);
    assert_eq!(module.approvals_required(), 0);
}

#[test]
fn an_invalid_definition_lists_every_problem() {
    let mut body = backup_db();
    body["args"] = json!(["{nope}", "--key", "{backup_key}", "{unclosed"]);
    body["params"].as_array_mut().unwrap().extend([
        json!({"name": "x", "type": "blob"}),
        json!({"name": "db_name", "type": "string"}),
        json!({"name": "p", "type": "string", "pattern": "(unclosed"}),
        json!({"name": "n", "type": "integer", "min": 5, "max": 1}),
        json!({"name": "s", "type": "secret"}),
        json!({"name": "len", "type": "integer", "max_length": 3}),
    ]);
    body["env"] = json!({"LD_PRELOAD": "{db_name}", "lower": "x", "OK": "{missing}"});
    body["limits"] = json!({"timeout_sec": -1, "memory_mb": 1.5, "cpus": 99, "pids": 0});
    body["network"] = json!("host");
    body["approval"] = json!({"required": -2});
    let fields = definition(body).unwrap_err();
    for expected in [
        "args[0]",
        "args[2]",
        "args[3]",
        "params[4].type",
        "params[5].name",
        "params[6].pattern",
        "params[7].min",
        "params[8].secret_as",
        "params[9].max_length",
        "env.LD_PRELOAD",
        "env.lower",
        "env.OK",
        "limits.timeout_sec",
        "limits.memory_mb",
        "limits.cpus",
        "limits.pids",
        "network",
        "approval.required",
    ] {
        assert!(
            fields.iter().any(|f| f == expected),
            "{expected} not in {fields:?}"
        );
    }
}

#[test]
fn limits_default_and_respect_the_ceiling() {
    let mut body = backup_db();
    body["limits"] = json!({});
    assert_eq!(definition(body.clone()).unwrap().limits(), Limits::DEFAULT);
    body["limits"] = json!({"timeout_sec": Limits::CEILING.timeout_sec + 1});
    assert_eq!(definition(body).unwrap_err(), ["limits.timeout_sec"]);
}

#[test]
fn defaults_must_satisfy_their_own_parameter() {
    let mut body = backup_db();
    body["params"][1]["default"] = json!(0);
    assert_eq!(definition(body.clone()).unwrap_err(), ["params[1].default"]);
    body["params"][1]["default"] = json!(7);
    body["params"][3]["default"] = json!("k");
    assert_eq!(definition(body).unwrap_err(), ["params[3].default"]);
}

fn refused_fields(params: Value) -> Vec<String> {
    let module = definition(backup_db()).unwrap();
    module
        .admit(&params)
        .unwrap_err()
        .into_iter()
        .map(|e| e.field)
        .collect()
}

#[test]
fn bad_run_parameters_are_refused_naming_each_field() {
    let with = |key: &str, value: Value| {
        let mut p = good_params();
        p[key] = value;
        p
    };
    let mut missing = good_params();
    missing.as_object_mut().unwrap().remove("db_name");
    let cases = [
        (with("extra", json!("1")), "params.extra"),
        (missing, "params.db_name"),
        (with("db_name", json!("payroll")), "params.db_name"),
        (with("retention_days", json!(366)), "params.retention_days"),
        (with("retention_days", json!(0)), "params.retention_days"),
        (with("retention_days", json!(1.5)), "params.retention_days"),
        (with("retention_days", json!(30.0)), "params.retention_days"),
        (with("retention_days", json!("30")), "params.retention_days"),
        (
            with("retention_days", json!(u64::MAX)),
            "params.retention_days",
        ),
        (
            with("retention_days", json!(1e300)),
            "params.retention_days",
        ),
        (
            with("notify_email", json!("not-an-email")),
            "params.notify_email",
        ),
        (
            with("notify_email", json!(format!("a@{}", "b".repeat(300)))),
            "params.notify_email",
        ),
        (with("notify_email", json!(["a@b"])), "params.notify_email"),
        (
            with("notify_email", json!({"a": "b"})),
            "params.notify_email",
        ),
        (
            with("notify_email", json!("a@b\u{1b}[2J")),
            "params.notify_email",
        ),
        (with("db_name", Value::Null), "params.db_name"),
        (with("backup_key", json!("")), "params.backup_key"),
        (with("backup_key", json!(42)), "params.backup_key"),
    ];
    for (params, field) in cases {
        assert_eq!(refused_fields(params.clone()), [field], "{params}");
    }
    assert_eq!(refused_fields(json!([1, 2])), ["params"]);
}

#[test]
fn every_failing_field_is_listed_at_once() {
    let mut params = good_params();
    params["db_name"] = json!("payroll");
    params["retention_days"] = json!(0);
    params["extra"] = json!(1);
    let fields = refused_fields(params);
    assert_eq!(
        fields,
        ["params.db_name", "params.extra", "params.retention_days"]
    );
}

#[test]
fn refusals_never_repeat_a_secret_value() {
    let module = definition(backup_db()).unwrap();
    let mut params = good_params();
    params["backup_key"] = json!(format!("{}\u{7}", "hunter2"));
    let errors = module.admit(&params).unwrap_err();
    assert!(!format!("{errors:?}").contains("hunter2"), "{errors:?}");
}

#[test]
fn valid_parameters_become_argv_and_env() {
    let module = definition(backup_db()).unwrap();
    let valid = module.admit(&good_params()).unwrap();
    assert_eq!(
        args(&module, &valid),
        [
            "--db",
            "orders",
            "--retention-days",
            "30",
            "--notify",
            "ops@example.com"
        ]
    );
    let plan = plan(&module, &valid);
    assert_eq!(
        plan.argv[..2],
        ["/usr/bin/python3", "/opt/scripts/backup_db.py"]
    );
    assert_eq!(plan.script_path, "/opt/scripts/backup_db.py");
    assert_eq!(plan.env, [("BACKUP_KEY".to_owned(), "s3cr3t".to_owned())]);
    assert!(
        !format!("{plan:?} {valid:?}").contains("s3cr3t"),
        "Debug shows no secret"
    );
    assert!(plan.secret_files.is_empty());
    assert_eq!(plan.limits.timeout_sec, 60);
    assert_eq!(valid.masked()["backup_key"], "***");
    assert!(!valid.masked().to_string().contains("s3cr3t"));
}

#[test]
fn defaults_fill_in_and_absent_options_leave_argv() {
    let module = definition(backup_db()).unwrap();
    let valid = module
        .admit(&json!({"db_name": "users", "backup_key": "k"}))
        .unwrap();
    assert_eq!(
        args(&module, &valid),
        ["--db", "users", "--retention-days", "7"]
    );
}

#[test]
fn only_a_group_leaves_literals_out_with_a_missing_value() {
    let request = |args: Value| -> ModuleRequest {
        serde_json::from_value(json!({
            "script_id": "5f0c1c52-8b0e-4c1e-9d55-0d5a3c9e2f10",
            "params": [{"name": "bucket", "type": "string"}, {"name": "email", "type": "string"}],
            "args": args,
        }))
        .unwrap()
    };
    let module = ModuleDefinition::parse(
        &request(json!([
            "--dry-run",
            "{bucket}",
            ["--notify", "{email}"],
            "--verbose"
        ])),
        &Limits::CEILING,
    )
    .unwrap();
    let none = module.admit(&json!({})).unwrap();
    assert_eq!(args(&module, &none), ["--dry-run", "--verbose"]);
    let both = module
        .admit(&json!({"bucket": "b", "email": "a@b.c"}))
        .unwrap();
    assert_eq!(
        args(&module, &both),
        ["--dry-run", "b", "--notify", "a@b.c", "--verbose"]
    );
    // The stored form keeps the group as written.
    let stored = serde_json::to_value(&module).unwrap();
    assert_eq!(stored["args"][2], json!(["--notify", "{email}"]));

    // A group of one, or without a parameter, binds nothing; each member is checked.
    for (args, field) in [
        (json!([["--x"]]), "args[0]"),
        (json!([["--x", "--y"]]), "args[0]"),
        (json!([["--x", "{nope}"]]), "args[0][1]"),
        (json!([["--x", "{email"]]), "args[0][1]"),
    ] {
        let errors = ModuleDefinition::parse(&request(args.clone()), &Limits::CEILING).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, [field], "{args}");
    }
    // A lone member of a group is still a lone argument: no leading dash.
    let errors = module.admit(&json!({"email": "-x@b.c"})).unwrap_err();
    assert_eq!(errors[0].field, "params.email");
}

#[test]
fn file_secrets_render_their_path() {
    let mut body = backup_db();
    body["params"][3]["secret_as"] = json!("file");
    body["env"] = json!({"BACKUP_KEY_FILE": "{backup_key}"});
    let module = definition(body).unwrap();
    let valid = module.admit(&good_params()).unwrap();
    let plan = plan(&module, &valid);
    assert_eq!(
        plan.env,
        [(
            "BACKUP_KEY_FILE".to_owned(),
            "/run/secrets/backup_key".to_owned()
        )]
    );
    let files: Vec<_> = plan
        .secret_files
        .iter()
        .map(|f| (f.name.as_str(), f.container_path.as_str(), f.value()))
        .collect();
    assert_eq!(files, [("backup_key", "/run/secrets/backup_key", "s3cr3t")]);
    assert!(!format!("{plan:?}").contains("s3cr3t"), "{plan:?}");
}

#[test]
fn a_stored_definition_reads_back_as_it_was_checked() {
    let module = definition(backup_db()).unwrap();
    let stored = serde_json::to_value(&module).unwrap();
    assert_eq!(stored.get("name"), None);
    assert_eq!(
        stored["limits"]["open_files"], 1024,
        "limits are stored resolved"
    );
    let read: ModuleDefinition = serde_json::from_value(stored.clone()).unwrap();
    assert_eq!(read, module);
    // What was stored before limits were resolved still reads back the same.
    let mut as_written = backup_db();
    as_written.as_object_mut().unwrap().remove("name");
    let read: ModuleDefinition = serde_json::from_value(as_written).unwrap();
    assert_eq!(read, module);
}

#[test]
fn a_stored_definition_cannot_skip_the_checks() {
    let mut stored = serde_json::to_value(definition(backup_db()).unwrap()).unwrap();
    stored["args"] = json!(["{backup_key}"]);
    let error = serde_json::from_value::<ModuleDefinition>(stored)
        .unwrap_err()
        .to_string();
    assert!(error.contains("args[0]"), "{error}");
    // A limit over today's ceiling still reads back: it was allowed when stored.
    let mut big = serde_json::to_value(definition(backup_db()).unwrap()).unwrap();
    big["limits"]["memory_mb"] = json!(Limits::CEILING.memory_mb * 4);
    let read: ModuleDefinition = serde_json::from_value(big).unwrap();
    assert_eq!(read.limits().memory_mb, Limits::CEILING.memory_mb * 4);
}

#[test]
fn stored_parameters_restore_with_their_secrets_only_from_the_seal() {
    let module = definition(backup_db()).unwrap();
    let valid = module.admit(&good_params()).unwrap();
    let restored = module
        .readmit(&valid.masked(), valid.secrets().clone())
        .unwrap();
    assert_eq!(restored, valid);
    // Without the sealed secret, the mask shown in place of it is no value.
    let missing = module
        .readmit(&valid.masked(), Default::default())
        .unwrap_err();
    assert_eq!(missing[0].field, "params.backup_key");
}

fn free_text_module() -> ModuleDefinition {
    let request: ModuleRequest = serde_json::from_value(json!({
        "script_id": "5f0c1c52-8b0e-4c1e-9d55-0d5a3c9e2f10",
        "params": [{"name": "text", "type": "string", "required": true, "max_length": 200,
                    "allow_leading_dash": true},
                   {"name": "count", "type": "integer", "required": true}],
        "args": ["--text", "{text}", "{count}"],
    }))
    .unwrap();
    ModuleDefinition::parse(&request, &Limits::CEILING).unwrap()
}

proptest! {
    /// Whatever printable text passes validation lands in argv as exactly one element,
    /// byte for byte: quotes, spaces and shell metacharacters included.
    #[test]
    fn accepted_text_is_one_argv_element_byte_for_byte(text in "[^\\x00-\\x1f\\x7f]{1,200}", count in any::<i64>()) {
        let module = free_text_module();
        let valid = module.admit(&json!({"text": text, "count": count})).unwrap();
        let args = args(&module, &valid);
        prop_assert_eq!(args.len(), 3);
        prop_assert_eq!(&args[1], &text);
        prop_assert_eq!(&args[2], &count.to_string());
    }

    /// Any JSON value at all is either refused with named fields or accepted; the
    /// validator never panics.
    #[test]
    fn the_validator_accepts_or_names_fields_for_any_input(value in arb_json()) {
        let module = free_text_module();
        match module.admit(&json!({"text": value.clone(), "count": value})) {
            Ok(valid) => prop_assert_eq!(args(&module, &valid).len(), 3),
            Err(errors) => prop_assert!(errors.iter().all(|e| e.field.starts_with("params"))),
        }
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".*".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z]{1,3}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn target_module(extra: Value) -> ModuleDefinition {
    let mut param = json!({"name": "target", "type": "string"});
    for (key, value) in extra.as_object().unwrap() {
        param[key] = value.clone();
    }
    let request: ModuleRequest = serde_json::from_value(json!({
        "script_id": "5f0c1c52-8b0e-4c1e-9d55-0d5a3c9e2f10",
        "params": [param, {"name": "depth", "type": "integer"}],
        "args": ["--dry-run", "{target}", "--label=x{target}", "{depth}"],
    }))
    .unwrap();
    ModuleDefinition::parse(&request, &Limits::CEILING).unwrap()
}

#[test]
fn a_lone_value_that_reads_as_an_option_is_refused() {
    let module = target_module(json!({}));
    for value in ["--config=/work/x", "-x", "-"] {
        let errors = module.admit(&json!({"target": value})).unwrap_err();
        assert_eq!(errors.len(), 1, "{value}");
        assert_eq!(errors[0].field, "params.target");
    }
    // A value of its own that merely contains a dash, a negative number, and a
    // parameter that says so are fine.
    assert!(module.admit(&json!({"target": "a-b"})).is_ok());
    assert!(module.admit(&json!({"depth": -3})).is_ok());
    let allowed = target_module(json!({"allow_leading_dash": true}));
    let valid = allowed.admit(&json!({"target": "-x"})).unwrap();
    assert_eq!(args(&allowed, &valid), ["--dry-run", "-x", "--label=x-x"]);
}

#[test]
fn only_strings_declare_a_leading_dash() {
    let body = json!({
        "script_id": "5f0c1c52-8b0e-4c1e-9d55-0d5a3c9e2f10",
        "params": [{"name": "n", "type": "integer", "allow_leading_dash": true}],
    });
    assert_eq!(
        definition(body).unwrap_err(),
        ["params[0].allow_leading_dash"]
    );
}

#[test]
fn secrets_may_span_lines_but_hold_no_other_control_characters() {
    let module = definition(backup_db()).unwrap();
    let pem = "-----BEGIN KEY-----\r\nMIIEvQIBADAN\tBgkq\n-----END KEY-----\n";
    let valid = module
        .admit(&json!({"db_name": "orders", "backup_key": pem}))
        .unwrap();
    assert_eq!(valid.secrets()["backup_key"], pem, "byte for byte");
    let errors = module
        .admit(&json!({"db_name": "orders", "backup_key": "a\u{0}b"}))
        .unwrap_err();
    assert_eq!(errors[0].field, "params.backup_key");
    assert_eq!(errors[0].message, "must not contain control characters");
}

fn cloud_module(extra: Value) -> Result<ModuleDefinition, Vec<sage_model::FieldError>> {
    let mut request = json!({
        "script_id": "5f0c1c52-8b0e-4c1e-9d55-0d5a3c9e2f10",
        "params": [{"name": "iam_role_arn", "type": "string"},
                   {"name": "iam_session_duration", "type": "integer"}],
        "credentials": "aws_assume_role", "image": "scanner",
    });
    for (key, value) in extra.as_object().unwrap() {
        request[key] = value.clone();
    }
    ModuleDefinition::parse(&serde_json::from_value(request).unwrap(), &Limits::CEILING)
}

fn problem_fields(problems: Vec<sage_model::FieldError>) -> Vec<String> {
    problems.into_iter().map(|p| p.field).collect()
}

#[test]
fn a_module_with_credentials_declares_the_role_and_leaves_aws_variables_to_the_worker() {
    let module = cloud_module(json!({})).unwrap();
    let stored = serde_json::to_value(&module).unwrap();
    assert_eq!(stored["credentials"], "aws_assume_role");
    assert_eq!(stored["image"], "scanner");
    let back: ModuleDefinition = serde_json::from_value(stored).unwrap();
    assert_eq!(back, module);

    let no_role = cloud_module(json!({"params": []})).unwrap_err();
    assert_eq!(problem_fields(no_role), ["credentials"]);
    let wrong_kind = cloud_module(json!({"params": [
        {"name": "iam_role_arn", "type": "string"},
        {"name": "iam_session_duration", "type": "string"}]}))
    .unwrap_err();
    assert_eq!(problem_fields(wrong_kind), ["credentials"]);
    // The external id is a third party's shared secret: never a plain string.
    let plain_external_id = cloud_module(json!({"params": [
        {"name": "iam_role_arn", "type": "string"},
        {"name": "iam_external_id", "type": "string"}]}))
    .unwrap_err();
    assert_eq!(problem_fields(plain_external_id), ["credentials"]);
    let sets_aws =
        cloud_module(json!({"env": {"AWS_ENDPOINT_URL": "http://elsewhere"}})).unwrap_err();
    assert_eq!(problem_fields(sets_aws), ["env.AWS_ENDPOINT_URL"]);
    let unknown = cloud_module(json!({"credentials": "gcp", "image": "kali"})).unwrap_err();
    assert_eq!(problem_fields(unknown), ["image", "credentials"]);
}

#[test]
fn a_runs_role_is_checked_and_planned_with_a_session_name_that_leads_back_to_it() {
    let module = cloud_module(json!({})).unwrap();
    let valid = module
        .admit(&json!({"iam_role_arn": "arn:aws:iam::123456789012:role/Scan"}))
        .unwrap();
    let id: ExecutionId = "abcdef12-0000-4000-8000-000000000000".parse().unwrap();
    let script = ScriptPath::parse("sage-tools/custodian.py").unwrap();
    let plan = RunPlan::new(id, &script, Interpreter::Python3, &module, &valid);
    let (role, session) = plan.assume_role.unwrap();
    assert_eq!(role.role_arn, "arn:aws:iam::123456789012:role/Scan");
    // 3600 asked by default, cut to the run's 300 s and its margin, raised to STS's
    // floor of 900.
    assert_eq!(role.duration_sec, 900);
    assert_eq!(session, "sage-oss-abcdef12");
    assert!(plan.env.iter().all(|(key, _)| !key.starts_with("AWS_")));

    let none = module.admit(&json!({})).unwrap();
    let plan = RunPlan::new(id, &script, Interpreter::Python3, &module, &none);
    assert_eq!(plan.assume_role, None, "no role named, no credentials");

    let refused = module
        .admit(
            &json!({"iam_role_arn": "arn:aws:iam::123456789012:role/Scan",
                                 "iam_session_duration": 60}),
        )
        .unwrap_err();
    assert_eq!(problem_fields(refused), ["params.iam_session_duration"]);
}

#[test]
fn a_stored_definition_reads_back_without_the_costly_checks_its_write_passed() {
    // The store only ever holds what passed `parse`: reading it back builds its typed
    // parts and does not compile its patterns or validate its defaults again. A stored
    // row that could not have come from a checked write (a pattern that is no regular
    // expression) shows only when a run is admitted, as an invalid schema.
    let mut body = backup_db();
    body["params"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "p", "type": "string", "pattern": "(unclosed"}));
    assert_eq!(definition(body.clone()).unwrap_err(), ["params[4].pattern"]);
    let mut stored: Value = body;
    stored.as_object_mut().unwrap().remove("name");
    let read: ModuleDefinition = serde_json::from_value(stored).unwrap();
    let refused = read.admit(&good_params()).unwrap_err();
    assert_eq!(refused[0].field, "params", "{refused:?}");
    // Everything else a stored definition holds is still read as typed parts: a
    // template that does not parse is refused on the way back too.
    let mut broken = backup_db();
    broken.as_object_mut().unwrap().remove("name");
    broken["args"] = json!(["{unclosed"]);
    assert!(serde_json::from_value::<ModuleDefinition>(broken).is_err());
}

#[test]
fn an_argument_that_begins_with_placeholders_cannot_begin_with_a_dash() {
    // `"{a}{b}"` with an empty `a` is `b` alone at the start of an argument: the
    // review's `--config=…` through the second placeholder.
    let request: ModuleRequest = serde_json::from_value(json!({
        "script_id": "5f0c1c52-8b0e-4c1e-9d55-0d5a3c9e2f10",
        "params": [{"name": "a", "type": "string"}, {"name": "b", "type": "string"}],
        "args": ["{a}{b}", "x={b}"],
    }))
    .unwrap();
    let module = ModuleDefinition::parse(&request, &Limits::CEILING).unwrap();
    let errors = module
        .admit(&json!({"a": "", "b": "--config=/work/x"}))
        .unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].field, "params.b");
    let errors = module.admit(&json!({"a": "-x", "b": "y"})).unwrap_err();
    assert_eq!(errors[0].field, "params.a");
    // A dash after the first character, or after a literal, is only a value.
    assert!(module.admit(&json!({"a": "x", "b": "--y"})).is_ok());
}
