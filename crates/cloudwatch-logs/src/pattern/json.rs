//! JSON filter patterns: `{ <selector> <op> <value> && … || ( … ) }`.

use super::invalid;
use crate::LogsError;
use serde_json::Value;

/// What a selector (`$.a.b[0]`) is compared with.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Str(String),
    Num(f64),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Key(String),
    Index(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Compare(Vec<Step>, Op, Operand),
    IsNull(Vec<Step>),
    IsBool(Vec<Step>, bool),
    Exists(Vec<Step>, bool),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    And,
    Or,
    Op(Op),
    Selector(Vec<Step>),
    Str(String),
    Word(String),
}

fn selector(text: &str) -> Result<(Vec<Step>, usize), LogsError> {
    let bytes = text.as_bytes();
    let mut steps = Vec::new();
    let mut i = 1; // past `$`
    loop {
        match bytes.get(i) {
            Some(b'.') => {
                let start = i + 1;
                let mut end = start;
                while end < bytes.len()
                    && (bytes[end].is_ascii_alphanumeric() || b"_-@:".contains(&bytes[end]))
                {
                    end += 1;
                }
                if end == start {
                    return Err(invalid("a selector with an empty member name"));
                }
                steps.push(Step::Key(text[start..end].to_string()));
                i = end;
            }
            Some(b'[') => {
                let close = text[i..]
                    .find(']')
                    .ok_or_else(|| invalid("an unclosed [ in a selector"))?;
                let index = text[i + 1..i + close]
                    .trim()
                    .parse()
                    .map_err(|_| invalid("a selector index that is not a number"))?;
                steps.push(Step::Index(index));
                i += close + 1;
            }
            _ => return Ok((steps, i)),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<Tok>, LogsError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        let c = rest.chars().next().expect("not at the end");
        if c.is_whitespace() {
            i += c.len_utf8();
            continue;
        }
        let two = rest.get(..2).unwrap_or("");
        let (tok, len) = match (c, two) {
            ('(', _) => (Tok::Open, 1),
            (')', _) => (Tok::Close, 1),
            (_, "&&") => (Tok::And, 2),
            (_, "||") => (Tok::Or, 2),
            (_, "!=") => (Tok::Op(Op::Ne), 2),
            (_, "<=") => (Tok::Op(Op::Le), 2),
            (_, ">=") => (Tok::Op(Op::Ge), 2),
            ('=', _) => (Tok::Op(Op::Eq), 1),
            ('<', _) => (Tok::Op(Op::Lt), 1),
            ('>', _) => (Tok::Op(Op::Gt), 1),
            ('$', _) => {
                let (steps, len) = selector(rest)?;
                (Tok::Selector(steps), len)
            }
            ('"', _) => {
                let end = rest[1..]
                    .find('"')
                    .ok_or_else(|| invalid("an unterminated string"))?;
                (Tok::Str(rest[1..1 + end].to_string()), end + 2)
            }
            _ => {
                let end = rest
                    .find(|c: char| c.is_whitespace() || "()&|=!<>\"".contains(c))
                    .unwrap_or(rest.len());
                if end == 0 {
                    return Err(invalid(&format!("unexpected '{c}'")));
                }
                (Tok::Word(rest[..end].to_string()), end)
            }
        };
        out.push(tok);
        i += len;
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.at)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn or(&mut self) -> Result<Expr, LogsError> {
        let mut left = self.and()?;
        while self.peek() == Some(&Tok::Or) {
            self.at += 1;
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Expr, LogsError> {
        let mut left = self.unary()?;
        while self.peek() == Some(&Tok::And) {
            self.at += 1;
            left = Expr::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn word(&mut self, want: &str) -> bool {
        match self.peek() {
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case(want) => {
                self.at += 1;
                true
            }
            _ => false,
        }
    }

    fn unary(&mut self) -> Result<Expr, LogsError> {
        match self.next() {
            Some(Tok::Open) => {
                let inner = self.or()?;
                match self.next() {
                    Some(Tok::Close) => Ok(inner),
                    _ => Err(invalid("a missing )")),
                }
            }
            Some(Tok::Selector(steps)) => self.condition(steps),
            _ => Err(invalid("expected a selector such as $.field")),
        }
    }

    fn condition(&mut self, steps: Vec<Step>) -> Result<Expr, LogsError> {
        if self.word("IS") {
            return if self.word("NULL") {
                Ok(Expr::IsNull(steps))
            } else if self.word("TRUE") {
                Ok(Expr::IsBool(steps, true))
            } else if self.word("FALSE") {
                Ok(Expr::IsBool(steps, false))
            } else {
                Err(invalid("IS must be followed by NULL, TRUE or FALSE"))
            };
        }
        if self.word("NOT") {
            return if self.word("EXISTS") {
                Ok(Expr::Exists(steps, false))
            } else {
                Err(invalid("NOT must be followed by EXISTS"))
            };
        }
        if self.word("EXISTS") {
            return Ok(Expr::Exists(steps, true));
        }
        let Some(Tok::Op(op)) = self.next() else {
            return Err(invalid("expected a comparison operator"));
        };
        let operand = match self.next() {
            Some(Tok::Str(s)) => Operand::Str(s),
            Some(Tok::Word(w)) => match w.parse::<f64>() {
                Ok(n) => Operand::Num(n),
                Err(_) => Operand::Str(w),
            },
            _ => return Err(invalid("expected a value to compare with")),
        };
        if matches!(operand, Operand::Str(_)) && !matches!(op, Op::Eq | Op::Ne) {
            return Err(invalid("<, >, <= and >= compare numbers only"));
        }
        Ok(Expr::Compare(steps, op, operand))
    }
}

pub fn parse(text: &str) -> Result<Expr, LogsError> {
    let inner = text
        .trim()
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .ok_or_else(|| invalid("a JSON pattern must be enclosed in { }"))?;
    let mut parser = Parser {
        toks: tokenize(inner)?,
        at: 0,
    };
    let expr = parser.or()?;
    if parser.at != parser.toks.len() {
        return Err(invalid("unexpected text after the condition"));
    }
    Ok(expr)
}

fn select<'a>(value: &'a Value, steps: &[Step]) -> Option<&'a Value> {
    steps.iter().try_fold(value, |v, step| match step {
        Step::Key(k) => v.get(k),
        Step::Index(i) => v.get(*i),
    })
}

/// `*` matches any run of characters.
fn wildcard(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    true
}

impl Expr {
    pub fn eval(&self, v: &Value) -> bool {
        match self {
            Expr::And(a, b) => a.eval(v) && b.eval(v),
            Expr::Or(a, b) => a.eval(v) || b.eval(v),
            Expr::IsNull(steps) => select(v, steps).is_some_and(Value::is_null),
            Expr::IsBool(steps, b) => select(v, steps).and_then(Value::as_bool) == Some(*b),
            Expr::Exists(steps, want) => select(v, steps).is_some() == *want,
            Expr::Compare(steps, op, operand) => {
                let Some(field) = select(v, steps) else {
                    return false;
                };
                match operand {
                    Operand::Num(n) => {
                        let Some(x) = field.as_f64() else {
                            return false;
                        };
                        match op {
                            Op::Eq => x == *n,
                            Op::Ne => x != *n,
                            Op::Lt => x < *n,
                            Op::Gt => x > *n,
                            Op::Le => x <= *n,
                            Op::Ge => x >= *n,
                        }
                    }
                    Operand::Str(s) => {
                        let text = match field {
                            Value::String(t) => t.clone(),
                            Value::Number(n) => n.to_string(),
                            Value::Bool(b) => b.to_string(),
                            _ => return false,
                        };
                        wildcard(s, &text) == (*op == Op::Eq)
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Pattern;

    fn m(pattern: &str, message: &str) -> bool {
        Pattern::parse(pattern).unwrap().matches(message)
    }

    const EVENT: &str = r#"{"level":"ERROR","latency":150,"user":{"id":"u-42","tags":["a","b"]},"gone":null,"ok":true}"#;

    #[test]
    fn comparisons_and_logic() {
        assert!(m(r#"{ $.level = "ERROR" && $.latency > 100 }"#, EVENT));
        assert!(!m(r#"{ $.level = "ERROR" && $.latency > 200 }"#, EVENT));
        assert!(m(r#"{ $.level = "INFO" || $.latency >= 150 }"#, EVENT));
        assert!(m(
            r#"{ ($.level = "INFO" || $.latency <= 150) && $.ok IS TRUE }"#,
            EVENT
        ));
        assert!(!m(r#"{ $.latency < 150 }"#, EVENT));
        assert!(m(r#"{ $.latency = 150 }"#, EVENT));
        assert!(m(r#"{ $.latency != 1 }"#, EVENT));
        assert!(m(r#"{ $.level != "INFO" }"#, EVENT));
        assert!(m(r#"{ $.level = ERROR }"#, EVENT));
        assert!(m(r#"{ $.user.id = "u-*" }"#, EVENT));
        assert!(m(r#"{ $.user.id = "*4*" }"#, EVENT));
        assert!(!m(r#"{ $.user.id = "x*" }"#, EVENT));
        assert!(m(r#"{ $.user.tags[1] = "b" }"#, EVENT));
        assert!(m(r#"{ $.gone IS NULL }"#, EVENT));
        assert!(!m(r#"{ $.level IS NULL }"#, EVENT));
        assert!(m(r#"{ $.missing NOT EXISTS }"#, EVENT));
        assert!(!m(r#"{ $.level NOT EXISTS }"#, EVENT));
        assert!(m(r#"{ $.level EXISTS }"#, EVENT));
        assert!(m(r#"{ $.ok IS TRUE }"#, EVENT));
        assert!(m(r#"{ $.ok IS FALSE || $.level = "ERROR" }"#, EVENT));
        // A missing field or a message that is not JSON matches nothing.
        assert!(!m(r#"{ $.missing = "x" }"#, EVENT));
        assert!(!m(r#"{ $.level = "ERROR" }"#, "ERROR plain text"));
    }

    #[test]
    fn malformed_patterns_are_refused() {
        for p in [
            "{ $.level = }",
            "{ $.level }",
            "{ level = 1 }",
            "{ ($.a = 1 }",
            r#"{ $.a > "x" }"#,
            "{ $.a = 1 extra }",
            "{ $.a = 1",
        ] {
            assert!(Pattern::parse(p).is_err(), "{p}");
        }
    }
}
