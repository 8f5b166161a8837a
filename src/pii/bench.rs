//! Speed benchmark of the classifier: 1,000 columns × 1,000 values, a mix of
//! clean and personal columns, free text and JSON. Not a timed test:
//!
//!     cargo test --release --lib pii::bench -- --ignored --nocapture

use std::time::Instant;

use super::classifier::{classify_column, ColumnInput};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
    fn digits(&mut self, n: usize) -> String {
        (0..n).map(|_| char::from(b'0' + self.below(10) as u8)).collect()
    }
    fn hex(&mut self, n: usize) -> String {
        (0..n).map(|_| char::from_digit(self.below(16) as u32, 16).unwrap_or('0')).collect()
    }
}

const GIVEN: &[&str] = &["Anna", "John", "Maria", "Pierre", "Yuki", "Lars", "Giulia", "Ahmed", "Sofia", "Tomasz"];
const FAMILY: &[&str] = &["Smith", "Müller", "Garcia", "Rossi", "Dubois", "Nowak", "Tanaka", "Jansen", "Silva", "Berg"];
const WORDS: &[&str] = &[
    "order",
    "shipped",
    "quickly",
    "the",
    "package",
    "was",
    "damaged",
    "please",
    "refund",
    "great",
    "service",
    "would",
    "recommend",
    "colour",
    "size",
    "again",
    "thanks",
    "delivery",
    "late",
    "box",
];

fn value(kind: usize, rng: &mut Rng) -> String {
    match kind {
        0 => format!(
            "{}.{}{}@example.com",
            rng.pick(GIVEN).to_lowercase(),
            rng.pick(FAMILY).to_lowercase(),
            rng.below(100)
        ),
        1 => format!("{} {}", rng.pick(GIVEN), rng.pick(FAMILY)),
        2 => format!("+1-{}-{}-{}", 200 + rng.below(800), 200 + rng.below(800), rng.digits(4)),
        3 => (0..25).map(|_| rng.pick(WORDS)).collect::<Vec<_>>().join(" "),
        4 => format!(r#"{{"event": "{}", "n": {}, "path": "/p/{}"}}"#, rng.pick(WORDS), rng.below(1000), rng.below(50)),
        5 => format!("{}-{}-4{}-a{}-{}", rng.hex(8), rng.hex(4), rng.hex(3), rng.hex(3), rng.hex(12)),
        6 => rng.below(1_000_000).to_string(),
        7 => format!("{}.{:02}", rng.below(1000), rng.below(100)),
        8 => format!(
            "20{:02}-{:02}-{:02} 12:{:02}:00",
            15 + rng.below(10),
            1 + rng.below(12),
            1 + rng.below(28),
            rng.below(60)
        ),
        9 => format!("{} {} Street", 1 + rng.below(9999), rng.pick(FAMILY)),
        10 => format!("{}.{}.{}.{}", 1 + rng.below(222), rng.below(256), rng.below(256), 1 + rng.below(254)),
        11 => rng.hex(64),
        12 => rng.pick(&["active", "pending", "closed", "archived"]).to_string(),
        13 => format!(
            "{} {} {}",
            rng.pick(&["Ergonomic", "Rustic", "Sleek"]),
            rng.pick(&["Steel", "Wooden"]),
            rng.pick(&["Chair", "Table", "Lamp"])
        ),
        14 => format!("4{}", rng.digits(15)),
        15 => format!("19{:02}-{:02}-{:02}", 40 + rng.below(60), 1 + rng.below(12), 1 + rng.below(28)),
        16 => format!(
            "{} {}",
            (0..12).map(|_| rng.pick(WORDS)).collect::<Vec<_>>().join(" "),
            if rng.below(100) == 0 { "call +44 20 7946 0958" } else { "" }
        ),
        17 => format!("v{}.{}.{}", rng.below(5), rng.below(20), rng.below(50)),
        18 => {
            if rng.below(2) == 0 {
                "true".into()
            } else {
                "false".into()
            }
        }
        _ => format!("SKU-{}", rng.digits(8)),
    }
}

#[test]
#[ignore = "benchmark; run with --ignored --nocapture"]
fn classify_1000_columns_of_1000_values() {
    let mut rng = Rng(0x5eed);
    let columns: Vec<Vec<String>> = (0..1000).map(|c| (0..1000).map(|_| value(c % 20, &mut rng)).collect()).collect();
    let neighbours: Vec<String> = (0..8).map(|i| format!("col_{i}")).collect();
    let start = Instant::now();
    let mut findings = 0;
    for (i, values) in columns.iter().enumerate() {
        let input = ColumnInput {
            column_name: format!("col_{i}"),
            type_name: "text".into(),
            table_name: format!("table_{}", i / 20),
            neighbours: neighbours.clone(),
            references: None,
        };
        let detections = classify_column(&input, values.iter().map(|v| Some(v.as_str())));
        findings += detections.iter().filter(|d| d.confidence >= 0.5).count();
    }
    let seconds = start.elapsed().as_secs_f64();
    println!("classified 1000 columns x 1000 values in {seconds:.2} s ({findings} findings at 0.5)");
}
