//! Kubeconfigs: one cluster, one user with a token or a client certificate, at most
//! one context; nothing the Kubernetes client would run or read.

use serde_json::{Map, Value, json};

use super::{
    CheckedInput, InputError, invalid, is_base64, join, not_accepted, object, required, text,
};

pub(super) const RULE: &str = "a kubeconfig here is one cluster (server over https, certificate-authority-data, tls-server-name) and one user with a token, or client-certificate-data and client-key-data, and at most one context joining them";

/// The one entry of a list of named entries (`clusters`, `users`).
fn only_entry<'a>(
    top: &'a Map<String, Value>,
    key: &str,
    inner: &str,
) -> Result<(&'a str, &'a Value), InputError> {
    let entries = match top.get(key) {
        Some(Value::Array(entries)) => entries,
        _ => return Err(invalid(key, "must be a list of one entry")),
    };
    let [entry] = entries.as_slice() else {
        return Err(not_accepted(format!("{key}[1]"), RULE));
    };
    let at = format!("{key}[0]");
    let map = object(entry, &at, &["name", inner], RULE)?;
    let name = required(map, &at, "name", is_kube_name, NAME_EXPECTED)?;
    let body = map
        .get(inner)
        .ok_or_else(|| invalid(join(&at, inner), "is required"))?;
    Ok((name, body))
}

const NAME_EXPECTED: &str = "must be 1 to 253 of A-Z, a-z, 0-9 and . _ @ : / -";

fn is_kube_name(name: &str) -> bool {
    (1..=253).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._@:/-".contains(c))
}

pub(super) fn check(document: &Value) -> Result<CheckedInput, InputError> {
    let top = object(
        document,
        "",
        &[
            "apiVersion",
            "kind",
            "clusters",
            "users",
            "contexts",
            "current-context",
            "preferences",
        ],
        RULE,
    )?;
    text(top, "", "apiVersion", |v| v == "v1", "must be v1")?;
    text(top, "", "kind", |v| v == "Config", "must be Config")?;
    if top
        .get("preferences")
        .is_some_and(|p| p.as_object().is_none_or(|p| !p.is_empty()))
    {
        return Err(not_accepted("preferences", RULE));
    }
    let (cluster_name, cluster) = only_entry(top, "clusters", "cluster")?;
    let at = "clusters[0].cluster";
    let fields = object(
        cluster,
        at,
        &["server", "certificate-authority-data", "tls-server-name"],
        RULE,
    )?;
    let server = required(
        fields,
        at,
        "server",
        is_https_url,
        "must be an https URL without credentials",
    )?;
    let ca = text(
        fields,
        at,
        "certificate-authority-data",
        is_base64,
        "must be base64",
    )?;
    let tls_name = text(
        fields,
        at,
        "tls-server-name",
        is_host_name,
        "must be a host name",
    )?;

    let (user_name, user) = only_entry(top, "users", "user")?;
    let at = "users[0].user";
    let fields = object(
        user,
        at,
        &["token", "client-certificate-data", "client-key-data"],
        RULE,
    )?;
    let token = text(
        fields,
        at,
        "token",
        is_token,
        "must be 16 to 8192 printable characters without spaces",
    )?;
    let certificate = text(
        fields,
        at,
        "client-certificate-data",
        is_base64,
        "must be base64",
    )?;
    let key = text(fields, at, "client-key-data", is_base64, "must be base64")?;
    let mut user_fields = Map::new();
    let mut secrets = Vec::new();
    match (token, certificate, key) {
        (Some(token), None, None) => {
            user_fields.insert("token".into(), json!(token));
            secrets.push(token.to_owned());
        }
        (None, Some(certificate), Some(key)) => {
            user_fields.insert("client-certificate-data".into(), json!(certificate));
            user_fields.insert("client-key-data".into(), json!(key));
            secrets.push(key.to_owned());
        }
        _ => {
            return Err(invalid(
                at,
                "must hold a token, or client-certificate-data and client-key-data",
            ));
        }
    }

    let context_name = kube_context(top, cluster_name, user_name)?;
    let mut cluster_fields = Map::new();
    cluster_fields.insert("server".into(), json!(server));
    if let Some(ca) = ca {
        cluster_fields.insert("certificate-authority-data".into(), json!(ca));
    }
    if let Some(name) = tls_name {
        cluster_fields.insert("tls-server-name".into(), json!(name));
    }
    let rebuilt = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": cluster_fields}],
        "users": [{"name": user_name, "user": user_fields}],
        "contexts": [{"name": context_name.0, "context": context_name.1}],
        "current-context": context_name.0,
    });
    Ok(CheckedInput {
        content: rebuilt.to_string(),
        secrets,
    })
}

/// The context joining the cluster and the user: the one given (its namespace kept),
/// or one named after the cluster.
fn kube_context<'a>(
    top: &'a Map<String, Value>,
    cluster: &'a str,
    user: &'a str,
) -> Result<(&'a str, Value), InputError> {
    let contexts = match top.get("contexts") {
        None => &[][..],
        Some(Value::Array(entries)) => entries.as_slice(),
        Some(_) => return Err(invalid("contexts", "must be a list")),
    };
    let (name, namespace) = match contexts {
        [] => (cluster, None),
        [entry] => {
            let at = "contexts[0]";
            let map = object(entry, at, &["name", "context"], RULE)?;
            let name = required(map, at, "name", is_kube_name, NAME_EXPECTED)?;
            let context = map
                .get("context")
                .ok_or_else(|| invalid("contexts[0].context", "is required"))?;
            let at = "contexts[0].context";
            let fields = object(context, at, &["cluster", "user", "namespace"], RULE)?;
            text(fields, at, "cluster", |_| true, "must name the one cluster")?
                .filter(|named| *named == cluster)
                .ok_or_else(|| invalid(join(at, "cluster"), "must name the one cluster"))?;
            text(fields, at, "user", |_| true, "must name the one user")?
                .filter(|named| *named == user)
                .ok_or_else(|| invalid(join(at, "user"), "must name the one user"))?;
            let namespace = text(
                fields,
                at,
                "namespace",
                is_dns_label,
                "must be a namespace name",
            )?;
            (name, namespace)
        }
        _ => return Err(not_accepted("contexts[1]", RULE)),
    };
    text(
        top,
        "",
        "current-context",
        |_| true,
        "must name the one context",
    )?
    .map_or(Ok(()), |current| {
        if current == name {
            Ok(())
        } else {
            Err(invalid("current-context", "must name the one context"))
        }
    })?;
    let mut context = json!({"cluster": cluster, "user": user});
    if let Some(namespace) = namespace {
        context["namespace"] = json!(namespace);
    }
    Ok((name, context))
}

fn is_https_url(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("https://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    url.len() <= 2048
        && !authority.is_empty()
        && authority
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        && rest
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '\\' && c != '@')
}

fn is_host_name(name: &str) -> bool {
    (1..=253).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-".contains(c))
}

fn is_dns_label(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// A bearer token: long enough that masking it cannot mask common text.
fn is_token(token: &str) -> bool {
    (16..=8192).contains(&token.len()) && token.chars().all(|c| c.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::inputs::{ToolInput, refusal};

    const CA: &str = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUM=";

    fn kube(user: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: prod\n  cluster:\n    server: https://10.0.0.1:6443\n    certificate-authority-data: {CA}\nusers:\n- name: scanner\n  user:\n{user}\ncontexts:\n- name: prod\n  context:\n    cluster: prod\n    user: scanner\n    namespace: default\ncurrent-context: prod\n"
        )
    }

    #[test]
    fn a_kubeconfig_of_one_cluster_and_a_token_is_rebuilt_from_its_fields() {
        let checked = ToolInput::Kubeconfig
            .check(&kube("    token: eyJhbGciOi.secret-token"))
            .unwrap();
        let rebuilt: Value = serde_json::from_str(&checked.content).unwrap();
        assert_eq!(
            rebuilt["users"][0]["user"],
            json!({"token": "eyJhbGciOi.secret-token"})
        );
        assert_eq!(
            rebuilt["clusters"][0]["cluster"]["server"],
            "https://10.0.0.1:6443"
        );
        assert_eq!(rebuilt["contexts"][0]["context"]["namespace"], "default");
        assert_eq!(rebuilt["current-context"], "prod");
        assert_eq!(checked.secrets, ["eyJhbGciOi.secret-token"]);
        let certificate = ToolInput::Kubeconfig
            .check(&kube(&format!(
                "    client-certificate-data: {CA}\n    client-key-data: {CA}"
            )))
            .unwrap();
        assert_eq!(certificate.secrets, [CA]);
    }

    #[test]
    fn a_kubeconfig_that_runs_or_reads_anything_is_refused_naming_where() {
        for (user, at) in [
            (
                "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: /bin/sh\n      args: [-c, id]",
                "users[0].user.exec",
            ),
            (
                "    auth-provider:\n      name: gcp\n      config:\n        cmd-path: /bin/sh",
                "users[0].user.auth-provider",
            ),
            (
                "    tokenFile: /proc/self/environ",
                "users[0].user.tokenFile",
            ),
            (
                "    client-certificate: /etc/passwd\n    client-key: /etc/shadow",
                "users[0].user.client-certificate",
            ),
            ("    username: a\n    password: b", "users[0].user.password"),
        ] {
            let why = refusal(ToolInput::Kubeconfig, &kube(user));
            assert!(why.starts_with(&format!("{at} is not accepted")), "{why}");
        }
        let proxy = kube("    token: kube-token-0123456789").replace(
            "    server: https://10.0.0.1:6443",
            "    server: https://10.0.0.1:6443\n    proxy-url: socks5://evil:1080",
        );
        assert!(
            refusal(ToolInput::Kubeconfig, &proxy).starts_with("clusters[0].cluster.proxy-url")
        );
        let plain =
            kube("    token: kube-token-0123456789").replace("https://10.0.0.1", "http://10.0.0.1");
        assert!(refusal(ToolInput::Kubeconfig, &plain).contains("must be an https URL"));
        let two = kube("    token: kube-token-0123456789").replace(
            "contexts:\n",
            "contexts:\n- name: other\n  context: {cluster: prod, user: scanner}\n",
        );
        assert!(refusal(ToolInput::Kubeconfig, &two).starts_with("contexts[1] is not accepted"));
        let elsewhere = kube("    token: kube-token-0123456789")
            .replace("    cluster: prod\n    user", "    cluster: x\n    user");
        assert!(refusal(ToolInput::Kubeconfig, &elsewhere).contains("must name the one cluster"));
        let extension = format!(
            "{}extensions: []\n",
            kube("    token: kube-token-0123456789")
        );
        assert!(
            refusal(ToolInput::Kubeconfig, &extension).starts_with("extensions is not accepted")
        );
    }
}
