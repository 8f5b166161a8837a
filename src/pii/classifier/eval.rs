//! Evaluation maths for `lake.eval_classifier`: column-level precision,
//! recall and F2 per infotype and for the binary "any PII" question, from
//! labelled and predicted infotype sets. Plain Rust, no Postgres.

use std::collections::BTreeSet;

use super::InfoType;

/// One judged column: the infotypes a user labelled and those predicted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Judged {
    pub labelled: BTreeSet<String>,
    pub predicted: BTreeSet<String>,
}

/// Counts and ratios for one infotype (or `any_pii`).
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    pub infotype: String,
    pub labelled: i32,
    pub predicted: i32,
    pub true_positives: i32,
    /// None when nothing was predicted.
    pub precision: Option<f32>,
    /// None when nothing was labelled.
    pub recall: Option<f32>,
    pub f2: Option<f32>,
}

pub fn ratio(num: i32, den: i32) -> Option<f32> {
    if den == 0 {
        None
    } else {
        Some(num as f32 / den as f32)
    }
}

/// F-beta with beta = 2: recall weighs twice as much as precision. Nothing
/// predicted while something was labelled scores 0; nothing labelled has no F2.
pub fn f2(precision: Option<f32>, recall: Option<f32>) -> Option<f32> {
    let (p, r) = (precision.unwrap_or(0.0), recall?);
    if p + r == 0.0 {
        Some(0.0)
    } else {
        Some(5.0 * p * r / (4.0 * p + r))
    }
}

fn scores(name: String, columns: &[Judged], is_labelled: &dyn Fn(&Judged) -> bool, is_predicted: &dyn Fn(&Judged) -> bool) -> Scores {
    let labelled = columns.iter().filter(|c| is_labelled(c)).count() as i32;
    let predicted = columns.iter().filter(|c| is_predicted(c)).count() as i32;
    let tp = columns.iter().filter(|c| is_labelled(c) && is_predicted(c)).count() as i32;
    let precision = ratio(tp, predicted);
    let recall = ratio(tp, labelled);
    Scores { infotype: name, labelled, predicted, true_positives: tp, precision, recall, f2: f2(precision, recall) }
}

/// One row per infotype that was labelled or predicted anywhere (known
/// infotypes in their declared order, then unknown labels alphabetically),
/// then `any_pii`.
pub fn summarise(columns: &[Judged]) -> Vec<Scores> {
    let mut types: BTreeSet<String> = BTreeSet::new();
    for c in columns {
        types.extend(c.labelled.iter().cloned());
        types.extend(c.predicted.iter().cloned());
    }
    let known = |t: &str| InfoType::parse(t).map(|i| i as usize).unwrap_or(usize::MAX);
    let mut ordered: Vec<String> = types.into_iter().collect();
    ordered.sort_by_key(|t| (known(t), t.clone()));
    let mut rows: Vec<Scores> = ordered
        .iter()
        .map(|t| scores(t.clone(), columns, &|c| c.labelled.contains(t), &|c| c.predicted.contains(t)))
        .collect();
    rows.push(scores("any_pii".into(), columns, &|c| !c.labelled.is_empty(), &|c| !c.predicted.is_empty()));
    rows
}

/// How one column's labels and predictions compare.
pub fn outcome(c: &Judged) -> &'static str {
    if c.labelled == c.predicted {
        if c.labelled.is_empty() {
            "clean"
        } else {
            "correct"
        }
    } else if c.labelled.is_empty() {
        "false positive"
    } else if c.predicted.is_empty() {
        "missed"
    } else {
        "partly"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(labelled: &[&str], predicted: &[&str]) -> Judged {
        Judged {
            labelled: labelled.iter().map(|s| s.to_string()).collect(),
            predicted: predicted.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn approx(a: Option<f32>, b: f32) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-6)
    }

    #[test]
    fn f2_weighs_recall_twice() {
        // Hand-computed: P = 0.5, R = 1 -> 5·0.5 / (2 + 1) = 0.8333…; P = 1, R = 0.5 -> 2.5 / 4.5.
        assert!(approx(f2(Some(0.5), Some(1.0)), 2.5 / 3.0));
        assert!(approx(f2(Some(1.0), Some(0.5)), 2.5 / 4.5));
        assert_eq!(f2(None, Some(0.0)), Some(0.0));
        assert_eq!(f2(Some(1.0), None), None);
        assert_eq!(f2(Some(0.0), Some(0.0)), Some(0.0));
    }

    #[test]
    fn ratio_of_nothing_is_none() {
        assert_eq!(ratio(0, 0), None);
        assert_eq!(ratio(3, 4), Some(0.75));
    }

    #[test]
    fn per_infotype_and_any_pii() {
        let cols = vec![
            col(&["email"], &["email"]),
            col(&["email"], &[]),
            col(&["phone"], &["email"]),
            col(&[], &["phone"]),
            col(&[], &[]),
            col(&["my_label"], &["my_label"]),
        ];
        let rows = summarise(&cols);
        let names: Vec<&str> = rows.iter().map(|r| r.infotype.as_str()).collect();
        // known infotypes in declaration order, then the unknown label, then any_pii
        assert_eq!(names, ["email", "phone", "my_label", "any_pii"]);
        let email = &rows[0];
        assert_eq!((email.labelled, email.predicted, email.true_positives), (2, 2, 1));
        assert!(approx(email.precision, 0.5) && approx(email.recall, 0.5) && approx(email.f2, 0.5));
        let phone = &rows[1];
        assert_eq!((phone.labelled, phone.predicted, phone.true_positives), (1, 1, 0));
        assert_eq!(phone.f2, Some(0.0));
        let any = rows.last().unwrap();
        // labelled: 4 columns; predicted: 4; both: email/email, phone/email, my_label -> 3
        assert_eq!((any.labelled, any.predicted, any.true_positives), (4, 4, 3));
        assert!(approx(any.precision, 0.75) && approx(any.recall, 0.75));
    }

    #[test]
    fn empty_input_has_only_any_pii_without_ratios() {
        let rows = summarise(&[]);
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].precision, rows[0].recall, rows[0].f2), (None, None, None));
    }

    #[test]
    fn outcomes() {
        assert_eq!(outcome(&col(&[], &[])), "clean");
        assert_eq!(outcome(&col(&["email"], &["email"])), "correct");
        assert_eq!(outcome(&col(&[], &["email"])), "false positive");
        assert_eq!(outcome(&col(&["email"], &[])), "missed");
        assert_eq!(outcome(&col(&["email"], &["email", "phone"])), "partly");
    }
}
