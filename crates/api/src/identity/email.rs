//! Emails as callers present them.

/// An email as a demo header or claim carries it: lower-cased, sane length and shape.
pub fn parse_email(raw: &str) -> Option<String> {
    let email = raw.trim().to_lowercase();
    let (local, domain) = email.split_once('@')?;
    let ok = email.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && email.chars().all(|c| c.is_ascii_graphic());
    ok.then_some(email)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_or_refused() {
        assert_eq!(
            parse_email(" Analyst@Example.COM ").as_deref(),
            Some("analyst@example.com")
        );
        for bad in [
            "",
            "nobody",
            "a@b",
            "@example.com",
            "a b@example.com",
            "a@.com",
            "ä@example.com",
        ] {
            assert_eq!(parse_email(bad), None, "{bad}");
        }
    }
}
