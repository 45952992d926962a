//! Templates of argv elements and environment values: literal text with `{param}`
//! placeholders (`{{` and `}}` for literal braces). A rendered template is always
//! exactly one string, so one argv element stays one argv element.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Segment {
    Literal(String),
    Param(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    raw: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("has a '{{' without its closing '}}' (write '{{{{' for a literal brace)")]
    Unclosed,
    #[error("has a '}}' without an opening '{{' (write '}}}}' for a literal brace)")]
    UnmatchedClose,
    #[error("has a placeholder {0:?} that is not a parameter name")]
    BadName(String),
}

/// Parameter names: what placeholders may contain.
pub fn is_param_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && name.len() <= 64
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl Template {
    pub fn parse(raw: &str) -> Result<Self, TemplateError> {
        let mut segments = Vec::new();
        let mut literal = String::new();
        let mut chars = raw.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' => return Err(TemplateError::UnmatchedClose),
                '{' => {
                    let mut name = String::new();
                    loop {
                        match chars.next() {
                            None => return Err(TemplateError::Unclosed),
                            Some('}') => break,
                            Some(c) => name.push(c),
                        }
                    }
                    if !is_param_name(&name) {
                        return Err(TemplateError::BadName(name));
                    }
                    if !literal.is_empty() {
                        segments.push(Segment::Literal(std::mem::take(&mut literal)));
                    }
                    segments.push(Segment::Param(name));
                }
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            segments.push(Segment::Literal(literal));
        }
        Ok(Self {
            raw: raw.to_owned(),
            segments,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The parameters the template refers to, in order.
    pub fn params(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Param(name) => Some(name.as_str()),
            Segment::Literal(_) => None,
        })
    }

    /// The placeholders the template begins with, up to its first literal
    /// (`"{a}{b}=x"`: a, b): where the element's first character comes from.
    pub fn leading_params(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().map_while(|s| match s {
            Segment::Param(name) => Some(name.as_str()),
            Segment::Literal(_) => None,
        })
    }

    /// Whether the template is one placeholder and nothing else (`"{db_name}"`).
    pub fn is_single_param(&self) -> bool {
        matches!(self.segments.as_slice(), [Segment::Param(_)])
    }

    /// The rendered string, or `None` when a referenced parameter has no value.
    pub fn render<'a>(&self, value_of: impl Fn(&str) -> Option<&'a str>) -> Option<String> {
        let mut out = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => out.push_str(text),
                Segment::Param(name) => out.push_str(value_of(name)?),
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_literals() {
        let t = Template::parse("--db={db_name}").unwrap();
        assert_eq!(t.params().collect::<Vec<_>>(), ["db_name"]);
        assert!(!t.is_single_param());
        assert_eq!(t.render(|_| Some("orders")).unwrap(), "--db=orders");
        assert!(Template::parse("{x}").unwrap().is_single_param());
    }

    #[test]
    fn braces_escape() {
        let t = Template::parse("{{literal}} {x}").unwrap();
        assert_eq!(t.render(|_| Some("v")).unwrap(), "{literal} v");
    }

    #[test]
    fn malformed_templates_are_refused() {
        assert_eq!(Template::parse("{db"), Err(TemplateError::Unclosed));
        assert_eq!(Template::parse("db}"), Err(TemplateError::UnmatchedClose));
        assert_eq!(
            Template::parse("{}"),
            Err(TemplateError::BadName(String::new()))
        );
        assert_eq!(
            Template::parse("{Db}"),
            Err(TemplateError::BadName("Db".into()))
        );
        assert_eq!(
            Template::parse("{a b}"),
            Err(TemplateError::BadName("a b".into()))
        );
    }

    #[test]
    fn rendering_never_splits_or_interprets_values() {
        let t = Template::parse("{x}").unwrap();
        let hostile = "a b; rm -rf / $(id) `id` \"'\n";
        assert_eq!(t.render(|_| Some(hostile)).unwrap(), hostile);
        assert_eq!(t.render(|_| None), None);
    }
}
