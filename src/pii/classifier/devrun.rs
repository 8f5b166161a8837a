//! A development aid, not a test: runs the classifier over a labelled column set dumped to JSON by
//! `bench/pii/eval/dump.py` (development set only) and prints the columns where it disagrees with
//! the labels, without a cluster. `PII_DEV_JSON=/tmp/dev.json cargo test --lib devrun -- --ignored --nocapture`
//!
//! `predict` is the offline path of `bench/pii/eval/harness.py --offline`: it writes the classifier's
//! verdict per column to a file the harness scores (any set; it prints nothing per column).

use super::*;

fn family(t: &str) -> &'static str {
    match t {
        "person_name" => "person_name",
        "us_ssn" | "national_id" => "national_id",
        "email" | "phone" => "contact",
        "postal_address" | "postcode" => "address",
        "user_tracking_id" => "online_id",
        "secret" | "url_with_credentials" => "credential",
        "ipv4" | "ipv6" | "mac_address" => "network",
        "credit_card" | "iban" => "financial",
        "date_of_birth" => "date_of_birth",
        "geo_coordinates" => "geo",
        _ => "other",
    }
}

fn table_input(t: &serde_json::Value) -> Vec<(ColumnInput, ColumnProfile)> {
    let tname = t["table"].as_str().unwrap();
    let cols = t["columns"].as_array().unwrap();
    let names: Vec<String> = cols
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    cols.iter()
        .map(|c| {
            let name = c["name"].as_str().unwrap().to_string();
            let values: Vec<Option<String>> = c["values"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect();
            let input = ColumnInput {
                column_name: name.clone(),
                type_name: c["type"].as_str().unwrap().to_string(),
                table_name: tname.to_string(),
                neighbours: names.iter().filter(|n| **n != name).cloned().collect(),
                references: None,
            };
            (
                input,
                ColumnProfile::from_values(values.iter().map(|v| v.as_deref())),
            )
        })
        .collect()
}

/// The verdicts (infotypes at or above 0.5) for every column of a set dumped by `harness.py --offline`,
/// written to `PII_PRED_JSON` as `{"version", "columns": [{"table", "column", "infotypes"}]}`.
#[test]
#[ignore]
fn predict() {
    let (Ok(path), Ok(out_path)) = (std::env::var("PII_EVAL_JSON"), std::env::var("PII_PRED_JSON")) else {
        return;
    };
    let tables: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = Vec::new();
    for t in tables.as_array().unwrap() {
        let input = table_input(t);
        let verdicts = classify_table(&input, &[]);
        for ((i, _), dets) in input.iter().zip(verdicts) {
            let mut types: Vec<&str> = dets
                .iter()
                .filter(|d| d.confidence >= 0.5)
                .map(|d| d.infotype.as_str())
                .collect();
            types.sort_unstable();
            types.dedup();
            out.push(serde_json::json!({"table": t["table"], "column": i.column_name, "infotypes": types}));
        }
    }
    let doc = serde_json::json!({"version": CLASSIFIER_VERSION, "columns": out});
    std::fs::write(out_path, serde_json::to_string(&doc).unwrap()).unwrap();
}

#[test]
#[ignore]
fn devrun() {
    let Ok(path) = std::env::var("PII_DEV_JSON") else {
        return;
    };
    let tables: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let (mut labelled, mut predicted, mut tp) = (0, 0, 0);
    let mut per: std::collections::BTreeMap<&str, (u32, u32, u32)> = Default::default();
    for t in tables.as_array().unwrap() {
        let tname = t["table"].as_str().unwrap();
        let cols = t["columns"].as_array().unwrap();
        let input = table_input(t);
        if std::env::var("PII_DEBUG").is_ok() {
            for (i, p) in &input {
                let n = p.non_null.max(1) as f32;
                println!(
                    "SIG {tname}.{} parts {:.2} single {:.2} given {:.2} family {:.2} full {:.2} shape {:.2} d {:.2} lexical {:.3} native {} known {} morph {} han {}",
                    i.column_name,
                    p.count(values::Signal::AddressParts) as f32 / n,
                    p.count(values::Signal::SingleWordCap) as f32 / n,
                    p.count(values::Signal::NameGiven) as f32 / n,
                    p.count(values::Signal::NameFamily) as f32 / n,
                    p.count(values::Signal::NameFull) as f32 / n,
                    p.count(values::Signal::NameShape) as f32 / n,
                    p.distinct_ratio(),
                    (p.count(values::Signal::NameGiven)
                        + p.count(values::Signal::NameFamily)
                        + p.count(values::Signal::NameMorph)
                        + p.count(values::Signal::NameKnownWhole)
                        + p.count(values::Signal::NameNative)
                        + p.count(values::Signal::NameHanGiven)) as f32
                        / n,
                    p.count(values::Signal::NameNative),
                    p.count(values::Signal::NameKnownWhole),
                    p.count(values::Signal::NameMorph),
                    p.count(values::Signal::NameHanGiven),
                );
            }
        }
        let out = classify_table(&input, &[]);
        for (c, dets) in cols.iter().zip(out) {
            let want: std::collections::BTreeSet<&str> = c["families"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap())
                .collect();
            let got: std::collections::BTreeSet<&str> = dets
                .iter()
                .filter(|d| d.confidence >= 0.5)
                .map(|d| family(d.infotype.as_str()))
                .collect();
            for f in want.union(&got) {
                let e = per.entry(f).or_default();
                e.0 += want.contains(f) as u32;
                e.1 += got.contains(f) as u32;
                e.2 += (want.contains(f) && got.contains(f)) as u32;
            }
            labelled += !want.is_empty() as u32;
            predicted += !got.is_empty() as u32;
            tp += (!want.is_empty() && !got.is_empty()) as u32;
            if want != got {
                let best: Vec<String> = dets
                    .iter()
                    .filter(|d| d.confidence >= 0.2)
                    .map(|d| format!("{}={:.2}", d.infotype.as_str(), d.confidence))
                    .collect();
                println!(
                    "  {tname}.{}: labelled {want:?} predicted {got:?} [{}] ({})",
                    c["name"],
                    best.join(" "),
                    c["source"]
                );
                if std::env::var("PII_SHOW").is_ok_and(|s| s == format!("{tname}.{}", c["name"].as_str().unwrap())) {
                    let values: Vec<&str> = c["values"].as_array().unwrap().iter().take(8).filter_map(|v| v.as_str()).collect();
                    println!("    values {values:?}");
                    for d in dets.iter().filter(|d| d.confidence >= 0.2) {
                        println!("    {} {:.2}: {}", d.infotype.as_str(), d.confidence, d.evidence.join("; "));
                    }
                }
            }
        }
    }
    for (f, (l, p, t)) in per {
        println!(
            "{f:14} labelled {l:3} predicted {p:3} tp {t:3}  P {:.3} R {:.3}",
            t as f32 / p.max(1) as f32,
            t as f32 / l.max(1) as f32
        );
    }
    println!(
        "any_pii        labelled {labelled} predicted {predicted} tp {tp}  P {:.3} R {:.3}",
        tp as f32 / predicted as f32,
        tp as f32 / labelled as f32
    );
}

#[test]
#[ignore]
fn devcell() {
    if let Ok(v) = std::env::var("PII_CELL") {
        println!("{:?}", values::analyse(&v).signals);
    }
}

#[test]
#[ignore]
fn devcolumn() {
    if let (Ok(path), Ok(name)) = (std::env::var("PII_COLUMN_FILE"), std::env::var("PII_COLUMN_NAME")) {
        let text = std::fs::read_to_string(path).unwrap();
        for d in classify_column(&ColumnInput { column_name: name, type_name: "text".into(), ..Default::default() }, text.lines().map(Some)) {
            println!("{} {:.2}: {}", d.infotype.as_str(), d.confidence, d.evidence.join("; "));
        }
    }
}
