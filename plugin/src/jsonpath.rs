//! kubectl's JSONPath templates (`-o jsonpath=…`, `-o custom-columns=…`, `--sort-by`): literal
//! text, `{expression}`, `{range expression}…{end}` and `{"\n"}` string literals, as kubectl's
//! template language reads them. Each expression is evaluated with `serde_json_path` (RFC 9535)
//! after rewriting kubectl's relaxed form (`.items[*].name`, `@`, `.app-name`) into RFC syntax.
//! Pure: no cluster access.

use serde_json::Value;
use serde_json_path::JsonPath;
use std::fmt;

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Expression(Expression),
    Range(Expression, Vec<Node>),
}

/// One expression between braces, as written and as compiled.
#[derive(Clone)]
pub struct Expression {
    written: String,
    path: JsonPath,
}

impl fmt::Debug for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{}}}", self.written)
    }
}

/// A template that cannot be parsed, with what is wrong and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(String);

impl Template {
    /// Parses a `-o jsonpath=` template.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut parser = Parser { rest: text };
        let nodes = parser.nodes(false)?;
        Ok(Template { nodes })
    }

    /// Parses a relaxed expression as `custom-columns` and `--sort-by` take it: `.a.b` or
    /// `{.a.b}`.
    pub fn parse_relaxed(text: &str) -> Result<Template, TemplateError> {
        let text = text.trim();
        if text.starts_with('{') {
            Template::parse(text)
        } else {
            Template::parse(&format!("{{{text}}}"))
        }
    }

    /// Renders against `root`: expression results separated by a space, strings raw, other
    /// values as JSON; a missing field renders nothing (kubectl's default
    /// `--allow-missing-template-keys`).
    pub fn render(&self, root: &Value) -> String {
        let mut out = String::new();
        render_nodes(&self.nodes, root, &mut out);
        out
    }

    /// The values the template's expressions select in `root`, in order (for sorting and
    /// custom columns).
    pub fn values<'a>(&self, root: &'a Value) -> Vec<&'a Value> {
        let mut found = Vec::new();
        for node in &self.nodes {
            if let Node::Expression(e) = node {
                found.extend(e.path.query(root).all());
            }
        }
        found
    }
}

fn render_nodes(nodes: &[Node], current: &Value, out: &mut String) {
    for node in nodes {
        match node {
            Node::Text(text) => out.push_str(text),
            Node::Expression(e) => {
                let values = e.path.query(current).all();
                let rendered: Vec<String> = values.into_iter().map(value_text).collect();
                out.push_str(&rendered.join(" "));
            }
            Node::Range(e, body) => {
                for item in e.path.query(current).all() {
                    // `{range .items[*]}` iterates the items; a single array result iterates
                    // its elements, as kubectl's range does.
                    match item {
                        Value::Array(elements) if !e.written.contains("[*]") => {
                            for element in elements {
                                render_nodes(body, element, out);
                            }
                        }
                        _ => render_nodes(body, item, out),
                    }
                }
            }
        }
    }
}

/// A value as kubectl prints it in a template: strings raw, the rest as JSON.
pub fn value_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

struct Parser<'a> {
    rest: &'a str,
}

impl Parser<'_> {
    /// Nodes up to the end of input, or (inside a range) up to `{end}`.
    fn nodes(&mut self, in_range: bool) -> Result<Vec<Node>, TemplateError> {
        let mut nodes = Vec::new();
        loop {
            let Some(open) = self.rest.find('{') else {
                if in_range {
                    return Err(TemplateError(
                        "unclosed {range …}: add {end} after the range's body".into(),
                    ));
                }
                if !self.rest.is_empty() {
                    nodes.push(Node::Text(self.rest.to_string()));
                }
                self.rest = "";
                return Ok(nodes);
            };
            if open > 0 {
                nodes.push(Node::Text(self.rest[..open].to_string()));
            }
            let inner_start = &self.rest[open + 1..];
            let close = closing_brace(inner_start).ok_or_else(|| {
                TemplateError(format!(
                    "unclosed {{ at {:?}: every {{ needs a }}",
                    truncate(&self.rest[open..])
                ))
            })?;
            let inner = inner_start[..close].trim();
            self.rest = &inner_start[close + 1..];
            if inner == "end" {
                if in_range {
                    return Ok(nodes);
                }
                return Err(TemplateError("{end} without a {range …} before it".into()));
            }
            if let Some(expression) = inner.strip_prefix("range ") {
                let expression = compile(expression.trim())?;
                let body = self.nodes(true)?;
                nodes.push(Node::Range(expression, body));
            } else if let Some(literal) = string_literal(inner) {
                nodes.push(Node::Text(literal?));
            } else {
                nodes.push(Node::Expression(compile(inner)?));
            }
        }
    }
}

/// The index of the `}` closing an expression, skipping braces and quotes inside it.
fn closing_brace(text: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '\'' => quote = Some(c),
                '}' => return Some(i),
                _ => {}
            },
        }
    }
    None
}

/// `"…"` or `'…'` with `\n`, `\t`, `\\`, `\"` escapes, as kubectl's `{"\n"}`.
fn string_literal(inner: &str) -> Option<Result<String, TemplateError>> {
    let quote = inner.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    if inner.len() < 2 || !inner.ends_with(quote) {
        return Some(Err(TemplateError(format!(
            "unterminated string {inner:?} in the template"
        ))));
    }
    let body = &inner[1..inner.len() - 1];
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    Some(Ok(out))
}

/// Compiles one kubectl expression into RFC 9535 JSONPath.
fn compile(written: &str) -> Result<Expression, TemplateError> {
    let rfc = to_rfc9535(written);
    let path = JsonPath::parse(&rfc).map_err(|e| {
        TemplateError(format!(
            "cannot parse the JSONPath expression {{{written}}}: {e} (kubectl syntax: \
             {{.items[*].name}}, {{range .items[*]}}{{.name}}{{\"\\n\"}}{{end}})"
        ))
    })?;
    Ok(Expression {
        written: written.to_string(),
        path,
    })
}

/// kubectl's relaxed syntax into RFC 9535: a leading `.`/`[` gets `$`, `@` alone means the
/// current object, and a dotted member with characters RFC shorthand refuses (`app-name`,
/// escaped dots `a\.b`) becomes `['…']`. Text inside brackets (filters, quoted names) is kept.
fn to_rfc9535(written: &str) -> String {
    let written = written.trim();
    let body = if written == "@" || written == "$" {
        return "$".to_string();
    } else if let Some(rest) = written.strip_prefix('$') {
        rest
    } else if let Some(rest) = written.strip_prefix('@') {
        rest
    } else {
        written
    };
    let mut out = String::from("$");
    let chars: Vec<char> = body.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '[' => {
                // Copy the bracket verbatim, up to its matching `]` (quotes respected).
                let mut depth = 0;
                let mut quote: Option<char> = None;
                while i < chars.len() {
                    let c = chars[i];
                    out.push(c);
                    match (quote, c) {
                        (Some(q), c) if c == q => quote = None,
                        (Some(_), _) => {}
                        (None, '\'' | '"') => quote = Some(c),
                        (None, '[') => depth += 1,
                        (None, ']') => {
                            depth -= 1;
                            if depth == 0 {
                                i += 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                    i += 1;
                }
            }
            '.' if chars.get(i + 1) == Some(&'.') => {
                out.push_str("..");
                i += 2;
            }
            '.' => {
                i += 1;
                let mut name = String::new();
                while i < chars.len() && chars[i] != '.' && chars[i] != '[' {
                    if chars[i] == '\\' && chars.get(i + 1) == Some(&'.') {
                        name.push('.');
                        i += 2;
                    } else {
                        name.push(chars[i]);
                        i += 1;
                    }
                }
                push_member(&mut out, &name);
            }
            _ => {
                // A bare name (`items[*]` without the leading dot).
                let mut name = String::new();
                while i < chars.len() && chars[i] != '.' && chars[i] != '[' {
                    name.push(chars[i]);
                    i += 1;
                }
                push_member(&mut out, &name);
            }
        }
    }
    out
}

fn push_member(out: &mut String, name: &str) {
    let shorthand = !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if name == "*" {
        out.push_str(".*");
    } else if shorthand {
        out.push('.');
        out.push_str(name);
    } else if !name.is_empty() {
        out.push_str("['");
        out.push_str(&name.replace('\\', "\\\\").replace('\'', "\\'"));
        out.push_str("']");
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(40).collect()
}

#[cfg(test)]
mod tests;
