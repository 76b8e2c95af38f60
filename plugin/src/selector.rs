//! Label selectors as `kubectl get -l` reads them: `app=db`, `tier!=web`, `env in (a,b)`,
//! `env notin (c)`, `team` (exists), `!legacy` (does not exist), comma-separated and all
//! required. `list -l` applies one to the labels of each hook's manifest. Pure.

use std::collections::BTreeMap;

/// A parsed selector: every requirement must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    requirements: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

impl Selector {
    /// Parses `text`, naming the part that is wrong.
    pub fn parse(text: &str) -> Result<Selector, String> {
        let mut requirements = Vec::new();
        for part in split_top_level(text) {
            let part = part.trim();
            if part.is_empty() {
                return Err(format!(
                    "empty requirement in label selector {text:?}: remove the stray comma"
                ));
            }
            requirements.push(requirement(part).map_err(|why| {
                format!("label selector {text:?}: {why} (e.g. app=db,tier!=web,env in (a,b))")
            })?);
        }
        Ok(Selector { requirements })
    }

    /// Whether `labels` satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| match r {
            Requirement::Equals(k, v) => labels.get(k) == Some(v),
            Requirement::NotEquals(k, v) => labels.get(k) != Some(v),
            Requirement::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::DoesNotExist(k) => !labels.contains_key(k),
        })
    }
}

/// Splits on commas outside parentheses.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn requirement(part: &str) -> Result<Requirement, String> {
    if let Some(key) = part.strip_prefix('!') {
        return Ok(Requirement::DoesNotExist(key_of(key)?));
    }
    if let Some((key, value)) = part.split_once("!=") {
        return Ok(Requirement::NotEquals(key_of(key)?, value_of(value)?));
    }
    if let Some((key, value)) = part.split_once("==").or_else(|| part.split_once('=')) {
        return Ok(Requirement::Equals(key_of(key)?, value_of(value)?));
    }
    let words: Vec<&str> = part.splitn(2, char::is_whitespace).collect();
    if let [key, rest] = words[..] {
        let rest = rest.trim_start();
        let (operator, set) = if let Some(set) = rest.strip_prefix("notin") {
            ("notin", set)
        } else if let Some(set) = rest.strip_prefix("in") {
            ("in", set)
        } else {
            return Err(format!(
                "{part:?}: expected =, ==, !=, in or notin after {key:?}"
            ));
        };
        let set = set.trim();
        let inner = set
            .strip_prefix('(')
            .and_then(|s| s.strip_suffix(')'))
            .ok_or_else(|| format!("{part:?}: the values of {operator} go in parentheses"))?;
        let values = inner
            .split(',')
            .map(value_of)
            .collect::<Result<Vec<_>, _>>()?;
        let key = key_of(key)?;
        return Ok(if operator == "in" {
            Requirement::In(key, values)
        } else {
            Requirement::NotIn(key, values)
        });
    }
    Ok(Requirement::Exists(key_of(part)?))
}

/// A label key: optional DNS prefix and `/`, then a name of alphanumerics, `-`, `_`, `.`.
fn key_of(text: &str) -> Result<String, String> {
    let key = text.trim();
    let name = key.rsplit_once('/').map_or(key, |(_, name)| name);
    let valid = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if valid {
        Ok(key.to_string())
    } else {
        Err(format!("{key:?} is not a valid label key"))
    }
}

fn value_of(text: &str) -> Result<String, String> {
    let value = text.trim();
    let valid = value.len() <= 63
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(value.to_string())
    } else {
        Err(format!("{value:?} is not a valid label value"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn equality_and_set_requirements() {
        let db = labels(&[("app", "db"), ("tier", "backend"), ("team", "x")]);
        let web = labels(&[("app", "web")]);
        let matching = |s: &str| Selector::parse(s).unwrap().matches(&db);
        assert!(matching("app=db"));
        assert!(matching("app==db,tier!=web"));
        assert!(matching("app in (db, cache),tier notin (web)"));
        assert!(matching("team,!legacy"));
        assert!(!matching("app=web"));
        assert!(!matching("!team"));
        assert!(Selector::parse("tier notin (web)").unwrap().matches(&web));
        assert!(!Selector::parse("tier in (web)").unwrap().matches(&web));
        assert!(
            Selector::parse("app.kubernetes.io/name=demo")
                .unwrap()
                .matches(&labels(&[("app.kubernetes.io/name", "demo")]))
        );
    }

    #[test]
    fn mistakes_are_named() {
        let err = |s: &str| Selector::parse(s).unwrap_err();
        assert!(err("app=db,").contains("stray comma"), "{}", err("app=db,"));
        assert!(err("app in db").contains("parentheses"));
        assert!(err("app=d b").contains("not a valid label value"));
        assert!(err("a pp").contains("expected =, ==, !=, in or notin"));
    }
}
