//! The catalog's human parts as YAML (lake.export_catalog / lake.load_catalog),
//! so teams keep them in git next to their models. SQL builds and reads the
//! document as jsonb; this module only converts between jsonb and YAML text,
//! with saphyr. Plain Rust.

use std::borrow::Cow;

use saphyr::{LoadableYamlNode, Mapping, Scalar, Yaml, YamlEmitter};
use serde_json::{Map, Number, Value};

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
