//! The catalog's human parts as YAML (lake.export_catalog / lake.load_catalog),
//! so teams keep them in git next to their models. SQL builds and reads the
//! document as jsonb; this module only converts between jsonb and YAML text,
//! with saphyr. Plain Rust.

use std::borrow::Cow;

use saphyr::{LoadableYamlNode, Mapping, Scalar, Yaml, YamlEmitter};
use saphyr_parser::{Event, Parser};
use serde_json::{Map, Number, Value};

/// Deepest nesting of collections a YAML document may have here. saphyr's
/// loader, and the walkers over what it loads, recurse once per level on
/// the backend's stack, which Postgres' stack check does not watch: a
/// `- - - - …` line 50,000 deep crashed the server.
pub const MAX_YAML_DEPTH: usize = 64;
/// Most nodes a document may hold once its aliases are expanded (the
/// loader copies the anchored node for every alias: "billion laughs").
pub const MAX_YAML_NODES: u64 = 1_000_000;

/// Why a document was refused before loading, and where (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError {
    pub message: String,
    pub line: usize,
    pub column: usize,
}

/// Refuse a document nested deeper than [`MAX_YAML_DEPTH`] or expanding to
/// more than [`MAX_YAML_NODES`] nodes, reading only the parser's events
/// (the parser is a state machine: it does not recurse). Syntax errors are
/// left to the loader, which reports them in its own words.
pub fn check_shape(text: &str) -> Result<(), ShapeError> {
    struct Open {
        anchor: usize,
        nodes: u64,
        /// collection levels of this node, itself included
        levels: usize,
    }
    let mut open: Vec<Open> = Vec::new();
    // anchor id -> (nodes, levels) of the node it names
    let mut anchors: std::collections::HashMap<usize, (u64, usize)> = std::collections::HashMap::new();
    let mut total: u64 = 0;
    for event in Parser::new_from_str(text) {
        let Ok((event, span)) = event else { return Ok(()) };
        let at = |message: String| ShapeError { message, line: span.start.line(), column: span.start.col() + 1 };
        // a finished node: (anchor, nodes, collection levels)
        let mut finished: Option<(usize, u64, usize)> = None;
        match event {
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                open.push(Open { anchor, nodes: 1, levels: 1 });
                total += 1;
                if open.len() > MAX_YAML_DEPTH {
                    return Err(at(format!("the document nests deeper than {MAX_YAML_DEPTH} levels")));
                }
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(o) = open.pop() {
                    finished = Some((o.anchor, o.nodes, o.levels));
                }
            }
            Event::Scalar(_, _, anchor, _) => {
                total += 1;
                finished = Some((anchor, 1, 0));
            }
            Event::Alias(id) => {
                let (nodes, levels) = anchors.get(&id).copied().unwrap_or((1, 0));
                total = total.saturating_add(nodes);
                if open.len() + levels > MAX_YAML_DEPTH {
                    return Err(at(format!("an alias makes the document nest deeper than {MAX_YAML_DEPTH} levels")));
                }
                finished = Some((0, nodes, levels));
            }
            _ => {}
        }
        if total > MAX_YAML_NODES {
            return Err(at(format!("the document expands to more than {MAX_YAML_NODES} values (aliases count as copies)")));
        }
        if let Some((anchor, nodes, levels)) = finished {
            if anchor > 0 {
                anchors.insert(anchor, (nodes, levels));
            }
            if let Some(parent) = open.last_mut() {
                parent.nodes = parent.nodes.saturating_add(nodes);
                parent.levels = parent.levels.max(levels + 1);
            }
        }
    }
    Ok(())
}

/// `doc` as a YAML document (multi-line texts as literal blocks).
pub fn to_yaml(doc: &Value) -> String {
    let mut out = String::new();
    let mut emitter = YamlEmitter::new(&mut out);
    emitter.multiline(true);
    // a String writer cannot fail
    let _ = emitter.dump(&yaml_of(doc));
    out.push('\n');
    out
}

fn yaml_of(v: &Value) -> Yaml<'static> {
    match v {
        Value::Null => Yaml::Value(Scalar::Null),
        Value::Bool(b) => Yaml::Value(Scalar::Boolean(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Yaml::Value(Scalar::Integer(i)),
            None => Yaml::Value(Scalar::String(Cow::Owned(n.to_string()))),
        },
        Value::String(s) => Yaml::Value(Scalar::String(Cow::Owned(s.clone()))),
        Value::Array(a) => Yaml::Sequence(a.iter().map(yaml_of).collect()),
        Value::Object(o) => {
            let mut m = Mapping::new();
            for (k, v) in o {
                m.insert(Yaml::Value(Scalar::String(Cow::Owned(k.clone()))), yaml_of(v));
            }
            Yaml::Mapping(m)
        }
    }
}

/// The one document of `text` as JSON; an error message (with line and
/// column) when it is not YAML or uses what JSON cannot hold.
pub fn from_yaml(text: &str) -> Result<Value, String> {
    check_shape(text).map_err(|e| format!("not accepted: {} (line {}, column {})", e.message, e.line, e.column))?;
    let docs = Yaml::load_from_str(text).map_err(|e| format!("not valid YAML: {e}"))?;
    match docs.len() {
        0 => Ok(Value::Object(Map::new())),
        1 => json_of(&docs[0], "the document"),
        n => Err(format!("expected one YAML document, found {n}")),
    }
}

fn json_of(y: &Yaml, at: &str) -> Result<Value, String> {
    Ok(match y {
        Yaml::Value(Scalar::Null) => Value::Null,
        Yaml::Value(Scalar::Boolean(b)) => Value::Bool(*b),
        Yaml::Value(Scalar::Integer(i)) => Value::Number((*i).into()),
        Yaml::Value(Scalar::FloatingPoint(f)) => {
            Number::from_f64(f.into_inner()).map(Value::Number).ok_or_else(|| format!("{at}: a number JSON cannot hold"))?
        }
        Yaml::Value(Scalar::String(s)) => Value::String(s.to_string()),
        Yaml::Representation(s, _, _) => Value::String(s.to_string()),
        Yaml::Sequence(items) => {
            Value::Array(items.iter().enumerate().map(|(i, v)| json_of(v, &format!("{at}[{i}]"))).collect::<Result<_, _>>()?)
        }
        Yaml::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match k {
                    Yaml::Value(Scalar::String(s)) => s.to_string(),
                    Yaml::Value(Scalar::Integer(i)) => i.to_string(),
                    Yaml::Value(Scalar::Boolean(b)) => b.to_string(),
                    Yaml::Representation(s, _, _) => s.to_string(),
                    _ => return Err(format!("{at}: mapping keys must be plain text")),
                };
                let value = json_of(v, &format!("{at}.{key}"))?;
                out.insert(key, value);
            }
            Value::Object(out)
        }
        Yaml::Tagged(_, inner) => json_of(inner, at)?,
        Yaml::Alias(_) => return Err(format!("{at}: YAML aliases are not supported")),
        Yaml::BadValue => return Err(format!("{at}: a value YAML cannot read")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trip_keeps_awkward_texts() {
        let doc = json!({
            "townlake_catalog": 1,
            "datasets": {
                "shop.orders": {
                    "owners": ["ana@example.com"],
                    "team": null,
                    "tags": ["curated", "yes", "123", "null", "-x", "a: b"],
                    "doc": "Orders\nsecond line\n  indented\n",
                    "notes": ["Always exclude internal accounts (customer_id < 3)", " padded ", "# not a comment", ""],
                    "columns": {"amount": {"doc": "EUR, incl. VAT: 19%", "terms": ["GMV"]}}
                }
            },
            "glossary": {"GMV": "gross merchandise value"},
            "pages": {"m": {"title": "T", "body": "# Orders\n\n```sql\nSELECT 1;\n```", "datasets": [], "terms": ["GMV"]}}
        });
        let text = to_yaml(&doc);
        assert_eq!(from_yaml(&text).unwrap(), doc, "{text}");
    }

    #[test]
    fn deep_or_exploding_documents_are_refused_before_loading() {
        // 50,000 levels crashed the backend (stack overflow in the loader)
        let deep = format!("{}x", "- ".repeat(50_000));
        assert!(check_shape(&deep).unwrap_err().message.contains("deeper than 64"));
        assert!(from_yaml(&deep).unwrap_err().contains("deeper than 64"));
        let indented: String = (0..5_000).map(|i| format!("{}-\n", " ".repeat(i))).collect();
        assert!(check_shape(&indented).is_err());
        let flow = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(check_shape(&flow).is_err());
        // nine levels of ten aliases each: 10^9 nodes once expanded
        let mut laughs = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let refs = vec![format!("*a{}", i - 1); 10].join(", ");
            laughs.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        assert!(check_shape(&laughs).unwrap_err().message.contains("expands"));
        // aliases nesting an anchored node deeper than the limit
        let mut tall = String::from("a: &t ");
        tall.push_str(&"[".repeat(40));
        tall.push_str(&"]".repeat(40));
        tall.push_str("\nb: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[*t]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n");
        assert!(check_shape(&tall).unwrap_err().message.contains("alias"));
        // ordinary documents pass, and so do syntax errors (the loader reports them)
        assert!(check_shape("a: [1, {b: 2}]\nc:\n  - d\n  - e: f\n").is_ok());
        assert!(check_shape("a: [1, 2\n").is_ok());
        let fine = format!("{}x", "- ".repeat(60));
        assert!(from_yaml(&fine).is_ok());
    }

    #[test]
    fn bad_yaml_is_an_error_with_a_position() {
        let e = from_yaml("datasets:\n  a: [1, 2\n").unwrap_err();
        assert!(e.starts_with("not valid YAML"), "{e}");
        assert!(e.contains("line"), "{e}");
        assert!(from_yaml("a: 1\n---\nb: 2\n").unwrap_err().contains("one YAML document"));
        // anchors and aliases resolve to the value they name
        assert_eq!(from_yaml("a: &x 1\nb: *x\n").unwrap(), json!({"a": 1, "b": 1}));
        assert_eq!(from_yaml("").unwrap(), json!({}));
    }
}
