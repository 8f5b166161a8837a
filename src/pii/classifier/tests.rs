//! Behaviour of the whole classifier on realistic columns, including the
//! hard negatives that must stay clean.

use super::*;

fn col(name: &str, type_name: &str) -> ColumnInput {
    ColumnInput { column_name: name.into(), type_name: type_name.into(), table_name: "t".into(), ..Default::default() }
}

fn run(input: &ColumnInput, values: &[String]) -> Vec<Detection> {
    above(classify_column(input, values.iter().map(|v| Some(v.as_str()))), 0.5)
}

fn types(d: &[Detection]) -> Vec<&'static str> {
    d.iter().map(|d| d.infotype.as_str()).collect()
}

fn top(d: &[Detection]) -> Option<&'static str> {
    d.first().map(|d| d.infotype.as_str())
}

/// A tiny deterministic generator so the tests need no crates.
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
    fn digits(&mut self, n: usize) -> String {
        (0..n).map(|_| char::from(b'0' + self.below(10) as u8)).collect()
    }
    fn hex(&mut self, n: usize) -> String {
        (0..n).map(|_| char::from_digit(self.below(16) as u32, 16).unwrap()).collect()
    }
}

fn luhn_complete(rng: &mut Rng, prefix: &str, len: usize) -> String {
    let mut body = format!("{prefix}{}", rng.digits(len - prefix.len() - 1));
    for check in 0..10 {
        let candidate = format!("{body}{check}");
        let digits: Vec<u8> = candidate.bytes().map(|b| b - b'0').collect();
        if financial::luhn_valid(&digits) {
            body = candidate;
            break;
        }
    }
    body
}

fn filler(rng: &mut Rng, n: usize) -> Vec<String> {
    let words = [
        "great", "product", "arrived", "late", "box", "was", "fine", "thanks", "again", "would", "buy", "colour",
        "size",
    ];
    (0..n)
        .map(|_| (0..12).map(|_| words[rng.below(words.len() as u64) as usize]).collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn emails_are_found_even_in_one_percent_of_free_text() {
    let mut rng = Rng(7);
    let mut values = filler(&mut rng, 990);
    for i in 0..10 {
        values.push(format!("please reply to customer{i}@example.org about the refund, order pending"));
    }
    let d = run(&col("notes", "text"), &values);
    assert_eq!(top(&d), Some("email"), "{d:?}");
    assert_eq!(d[0].matches, 10);
    assert_eq!(d[0].sampled, 1000);
}

#[test]
fn clean_free_text_has_no_findings() {
    let mut rng = Rng(11);
    let values = filler(&mut rng, 1000);
    assert!(run(&col("notes", "text"), &values).is_empty());
}

#[test]
fn luhn_failing_16_digit_numbers_are_not_cards() {
    let mut rng = Rng(3);
    let values: Vec<String> = (0..1000)
        .map(|_| {
            let valid = luhn_complete(&mut rng, "4", 16);
            // Break the check digit.
            let last = valid.as_bytes()[15] - b'0';
            format!("{}{}", &valid[..15], (last + 1) % 10)
        })
        .collect();
    let d = run(&col("col_17", "text"), &values);
    assert!(!types(&d).contains(&"credit_card"), "{d:?}");
}

#[test]
fn random_16_digit_ids_pass_luhn_only_by_chance() {
    let mut rng = Rng(5);
    let values: Vec<String> = (0..1000).map(|_| format!("4{}", rng.digits(15))).collect();
    let d = run(&col("ref", "text"), &values);
    assert!(!types(&d).contains(&"credit_card"), "{d:?}");
}

#[test]
fn real_cards_are_found_with_a_meaningless_name() {
    let mut rng = Rng(9);
    let values: Vec<String> = (0..500)
        .map(|i| match i % 3 {
            0 => luhn_complete(&mut rng, "4", 16),
            1 => luhn_complete(&mut rng, "5", 16),
            _ => luhn_complete(&mut rng, "37", 15),
        })
        .collect();
    let d = run(&col("col_3", "text"), &values);
    assert_eq!(top(&d), Some("credit_card"), "{d:?}");
}

#[test]
fn order_ids_shaped_like_phone_numbers_are_not_phones() {
    let mut rng = Rng(13);
    let values: Vec<String> =
        (0..1000).map(|_| format!("{}-{}-{}", rng.digits(3), rng.digits(3), rng.digits(4))).collect();
    let d = run(&col("order_ref", "text"), &values);
    assert!(!types(&d).contains(&"phone"), "{d:?}");
    let d = run(&col("col_9", "text"), &values);
    assert!(!types(&d).contains(&"phone"), "random digits break NANP rules: {d:?}");
}

#[test]
fn phones_in_many_formats() {
    let values: Vec<String> = [
        "+1-363-717-0669x0743",
        "683.353.3740",
        "(415) 555-2671",
        "+49(0)8377835337",
        "+33 5 63 08 37 78",
        "05 81 90 74 39",
        "+44 20 7946 0958",
        "090-743 91 50",
        "+48 797 439 150",
        "080-9150-0080",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let d = run(&col("contact", "text"), &values);
    assert_eq!(top(&d), Some("phone"), "{d:?}");
}

#[test]
fn product_uuids_are_not_tracking_ids_but_visitor_uuids_are() {
    let mut rng = Rng(17);
    let values: Vec<String> = (0..300)
        .map(|_| format!("{}-{}-4{}-a{}-{}", rng.hex(8), rng.hex(4), rng.hex(3), rng.hex(3), rng.hex(12)))
        .collect();
    assert!(run(&col("product_id", "uuid"), &values).is_empty());
    let d = run(&col("visitor_id", "uuid"), &values);
    assert_eq!(top(&d), Some("user_tracking_id"), "{d:?}");
    let d = run(&col("col_4", "text"), &values);
    assert!(d.is_empty(), "a UUID alone says nothing: {d:?}");
}

#[test]
fn version_strings_are_not_ip_addresses() {
    let mut rng = Rng(19);
    let values: Vec<String> = (0..400)
        .map(|i| {
            if i % 3 == 0 {
                format!("{}.{}.{}", rng.below(12), rng.below(20), rng.below(30))
            } else {
                format!("{}.{}.{}.{}", rng.below(12), rng.below(10), rng.below(20), rng.below(30))
            }
        })
        .collect();
    let d = run(&col("version", "text"), &values);
    assert!(!types(&d).contains(&"ipv4"), "{d:?}");
    let d = run(&col("col_2", "text"), &values);
    assert!(!types(&d).contains(&"ipv4"), "{d:?}");
    let ips: Vec<String> = (0..400)
        .map(|_| format!("{}.{}.{}.{}", 1 + rng.below(222), rng.below(256), rng.below(256), 1 + rng.below(254)))
        .collect();
    assert_eq!(top(&run(&col("col_2", "text"), &ips)), Some("ipv4"));
}

#[test]
fn checksums_of_non_personal_data_are_not_findings() {
    let mut rng = Rng(23);
    let values: Vec<String> = (0..500).map(|_| rng.hex(64)).collect();
    assert!(run(&col("checksum", "text"), &values).is_empty());
    assert!(run(&col("sha256", "text"), &values).is_empty());
    let d = run(&col("email_sha256", "text"), &values);
    assert_eq!(top(&d), Some("user_tracking_id"), "a hashed e-mail tracks a person: {d:?}");
}

#[test]
fn secrets_with_known_prefixes() {
    let values = vec![
        "AKIAIOSFODNN7EXAMPLE".to_string(),
        "ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789".to_string(),
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc".to_string(),
        "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx".to_string(),
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"
            .to_string(),
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----".to_string(),
    ];
    let d = run(&col("col_5", "text"), &values);
    assert_eq!(top(&d), Some("secret"), "{d:?}");
    assert!(d[0].evidence.iter().any(|e| e.contains("aws_access_key_id")), "{:?}", d[0].evidence);
}

#[test]
fn names_need_values_and_context() {
    let values: Vec<String> = [
        "Kathryn Coffey",
        "Susan Lee",
        "William Porter",
        "Horst-Günter Beyer",
        "Luce Simon",
        "Sander Kolster",
        "田中 裕太",
        "Urszula Żal",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(top(&run(&col("col_1", "text"), &values)), Some("person_name"));
    let companies: Vec<String> = ["Smith LLC", "Johnson, Miller and Brown", "Schmidt GmbH", "Acme Inc", "Garcia Group"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert!(run(&col("vendor", "text"), &companies).is_empty());
    let cities: Vec<String> = ["Lake Jennifer", "North Timothytown", "Port Jessica", "East Michaelton", "New Sarah"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert!(run(&col("col_1", "text"), &cities).is_empty());
}

#[test]
fn birth_dates_need_a_name_or_people_around_them() {
    let mut rng = Rng(29);
    let dobs: Vec<String> = (0..300)
        .map(|_| format!("{}-{:02}-{:02}", 1940 + rng.below(65), 1 + rng.below(12), 1 + rng.below(28)))
        .collect();
    assert_eq!(top(&run(&col("dob", "date"), &dobs)), Some("date_of_birth"));
    assert!(run(&col("col_8", "date"), &dobs).is_empty());
    let recent: Vec<String> = (0..300)
        .map(|_| format!("{}-{:02}-{:02}", 2019 + rng.below(6), 1 + rng.below(12), 1 + rng.below(28)))
        .collect();
    assert!(run(&col("order_date", "date"), &recent).is_empty());
    // Pass 2: a date column spread like birth dates next to names.
    let names: Vec<String> =
        (0..300).map(|i| ["Anna Schmidt", "John Smith", "Maria Garcia"][i % 3].to_string()).collect();
    let table = vec![
        (
            ColumnInput {
                column_name: "col_1".into(),
                type_name: "text".into(),
                table_name: "t".into(),
                neighbours: vec!["col_8".into()],
                references: None,
            },
            ColumnProfile::from_values(names.iter().map(|s| Some(s.as_str()))),
        ),
        (
            ColumnInput {
                column_name: "col_8".into(),
                type_name: "date".into(),
                table_name: "t".into(),
                neighbours: vec!["col_1".into()],
                references: None,
            },
            ColumnProfile::from_values(dobs.iter().map(|s| Some(s.as_str()))),
        ),
    ];
    let result = classify_table(&table, &[]);
    assert!(above(result[1].clone(), 0.5).iter().any(|d| d.infotype == InfoType::DateOfBirth), "{:?}", result[1]);
}

#[test]
fn ssn_rules_separate_real_from_random() {
    let mut rng = Rng(31);
    let real: Vec<String> = (0..300)
        .map(|_| format!("{:03}-{:02}-{:04}", 1 + rng.below(665), 1 + rng.below(98), 1 + rng.below(9998)))
        .collect();
    assert_eq!(top(&run(&col("col_6", "text"), &real)), Some("us_ssn"));
    let random: Vec<String> =
        (0..300).map(|_| format!("{}-{}-{}", rng.digits(3), rng.digits(2), rng.digits(4))).collect();
    assert!(!types(&run(&col("col_6", "text"), &random)).contains(&"us_ssn"));
}

#[test]
fn json_cells_are_searched_inside() {
    let mut values: Vec<String> =
        (0..990).map(|i| format!(r#"{{"event": "click", "x": {i}, "page": "/home"}}"#)).collect();
    for i in 0..10 {
        values
            .push(format!(r#"{{"event": "signup", "user": {{"email": "u{i}@example.com", "ip": "203.0.113.{i}"}}}}"#));
    }
    let d = run(&col("payload", "jsonb"), &values);
    let t = types(&d);
    assert!(t.contains(&"email") && t.contains(&"ipv4"), "{d:?}");
}

#[test]
fn type_and_name_only_columns() {
    // An empty new table: the name is all there is, and it is enough to suggest.
    let d = run(&col("email", "text"), &[]);
    assert_eq!(top(&d), Some("email"));
    assert!(d[0].confidence < 0.8);
    // Booleans never hold PII, whatever they are called.
    assert!(run(&col("email", "boolean"), &["true".into(), "false".into()]).is_empty());
    // A name that disagrees with its values gives nothing.
    let values: Vec<String> = (0..100).map(|i| format!("item {i}")).collect();
    assert!(run(&col("email", "text"), &values).is_empty());
}

#[test]
fn national_ids_with_checksums() {
    let values: Vec<String> =
        ["22179636T", "BCCFRC15M25E852P", "191002A584N", "961112-5825", "45032719961112141X", "280.929.381-30"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    assert_eq!(top(&run(&col("col_7", "text"), &values)), Some("national_id"));
}

#[test]
fn geo_pairs_and_named_coordinates() {
    let mut rng = Rng(37);
    let pairs: Vec<String> = (0..200)
        .map(|_| {
            format!(
                "{:.5}, {:.5}",
                rng.below(18000) as f64 / 100.0 - 90.0 + 0.00123,
                rng.below(36000) as f64 / 100.0 - 180.0 + 0.00456
            )
        })
        .collect();
    assert_eq!(top(&run(&col("col_10", "text"), &pairs)), Some("geo_coordinates"));
    let lats: Vec<String> =
        (0..200).map(|_| format!("{:.6}", rng.below(18000) as f64 / 100.0 - 90.0 + 0.000123)).collect();
    let mut input = col("lat", "double precision");
    input.neighbours = vec!["lng".into()];
    assert_eq!(top(&run(&input, &lats)), Some("geo_coordinates"));
}

#[test]
fn url_credentials_and_ibans() {
    let urls: Vec<String> = vec!["postgres://app:s3cr3t@db:5432/x".into(), "https://example.com/path".into()];
    assert_eq!(top(&run(&col("col_11", "text"), &urls)), Some("url_with_credentials"));
    let ibans: Vec<String> = vec!["DE89370400440532013000".into(), "GB82 WEST 1234 5698 7654 32".into()];
    assert_eq!(top(&run(&col("col_12", "text"), &ibans)), Some("iban"));
}

#[test]
fn addresses_in_other_scripts_need_the_name() {
    let values: Vec<String> = [
        "Petőfi tér 134.",
        "Κολιρίου 76",
        "ш. Ярославское, д. 45",
        "울산광역시 동대문구 서초대거리 518-70",
        "Nad Košinkou 3",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(top(&run(&col("street", "text"), &values)), Some("postal_address"));
    // A number and words alone need the name; a street-type word ("ш.", "ул.", "tér" before a
    // house number written with a full stop, as Hungarian does) does not.
    let shape_only: Vec<String> = values.iter().filter(|v| !v.starts_with("ш.") && !v.contains(" tér ")).cloned().collect();
    assert_eq!(top(&run(&col("col_3", "text"), &["Petőfi tér 134.".to_string(), "Tótvégi utca 242.".to_string()])), Some("postal_address"));
    assert!(run(&col("col_3", "text"), &shape_only).is_empty());
    let typed: Vec<String> =
        ["ул. Садовая 12", "ш. Ярославское, д. 45", "пр. Мира, д. 7"].iter().map(|s| s.to_string()).collect();
    assert_eq!(top(&run(&col("col_3", "text"), &typed)), Some("postal_address"));
}

#[test]
fn a_phone_column_keeps_numbers_that_break_north_american_rules() {
    let mut rng = Rng(41);
    let values: Vec<String> =
        (0..300).map(|_| format!("{} {} {}", rng.digits(3), rng.digits(3), rng.digits(4))).collect();
    assert_eq!(top(&run(&col("phone", "text"), &values)), Some("phone"));
    assert!(!types(&run(&col("col_5", "text"), &values)).contains(&"phone"));
}

#[test]
fn postcodes_with_country_letters_and_few_distinct_surnames() {
    let values: Vec<String> = ["H-7273", "H-1011", "H-6720", "H-9021"].iter().map(|s| s.to_string()).collect();
    assert_eq!(top(&run(&col("postcode", "text"), &values)), Some("postcode"));
    let surnames: Vec<String> =
        (0..300).map(|i| ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng"][i % 5].to_string()).collect();
    assert_eq!(top(&run(&col("last_name", "text"), &surnames)), Some("person_name"));
    let statuses: Vec<String> = (0..300).map(|i| ["Active", "Pending", "Closed"][i % 3].to_string()).collect();
    assert!(run(&col("col_4", "text"), &statuses).is_empty());
}

#[test]
fn phone_numbers_in_text_are_found_by_the_words_around_them() {
    let mut rng = Rng(43);
    let mut values = filler(&mut rng, 995);
    for number in ["01154960500", "(05678) 123456", "0681 241586", "090-743 91 50", "+49 30 901820"] {
        values.push(format!("please call me back on {number} after five, thanks"));
    }
    let d = run(&col("notes", "text"), &values);
    assert_eq!(top(&d), Some("phone"), "{d:?}");
    assert_eq!(d[0].matches, 5);
    // Numbers without such words stay quiet: order 5512 and a 12-digit reference.
    let quiet: Vec<String> =
        (0..300).map(|i| format!("order {i} shipped with reference 4711{:08} today, box size M", i * 7)).collect();
    assert!(run(&col("notes", "text"), &quiet).is_empty());
}

// ---- 1.2.0: the evidence model and the families of issue 16 -------------------------------

const GIVEN: [&str; 10] = ["John", "Mary", "Peter", "Anna", "James", "Laura", "Thomas", "Sarah", "Michael", "Emma"];
const FAMILY: [&str; 15] = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Taylor", "Anderson", "Thomas",
    "Moore", "Martin", "Clark", "Walker",
];

#[test]
fn a_column_name_lowers_broad_name_evidence_but_does_not_cancel_it() {
    let values: Vec<String> = (0..150).map(|i| format!("{} {}", GIVEN[i % 10], FAMILY[(i / 10) % 15])).collect();
    let opaque = classify_column(&col("c1", "text"), values.iter().map(|v| Some(v.as_str())));
    let against = classify_column(&col("field_name", "text"), values.iter().map(|v| Some(v.as_str())));
    let conf = |d: &[Detection]| d.iter().find(|d| d.infotype == InfoType::PersonName).map(|d| d.confidence);
    let (o, a) = (conf(&opaque).unwrap(), conf(&against).unwrap());
    assert!(a >= 0.5 && a < o, "opaque {o}, against {a}");
    let d = against.iter().find(|d| d.infotype == InfoType::PersonName).unwrap();
    assert!(d.evidence.iter().any(|e| e.contains("only lowers")), "{:?}", d.evidence);
}

/// Lower-case pseudo-words from syllables: not in any name list, all different.
fn word(rng: &mut Rng, syllables: usize) -> String {
    const S: [&str; 16] = ["ba", "ko", "mi", "tu", "ran", "del", "so", "vi", "ne", "lo", "ga", "shi", "pe", "du", "ka", "ri"];
    (0..syllables).map(|_| S[rng.below(16) as usize]).collect()
}

fn capitalise(w: &str) -> String {
    let mut c = w.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

#[test]
fn account_names_with_varied_letters_and_numbers_are_online_ids_under_any_name() {
    let mut rng = Rng(5);
    let values: Vec<String> = (0..200)
        .map(|i| if i % 3 == 0 { format!("{}{}", word(&mut rng, 3), rng.below(99) + 1) } else { word(&mut rng, 4) })
        .collect();
    assert!(types(&run(&col("c7", "text"), &values)).contains(&"user_tracking_id"));
    // Product codes: a number after the same few letters.
    let codes: Vec<String> = (0..200)
        .map(|i| if i % 3 == 0 { format!("{}{}", ["item", "part", "unit"][i % 3 / 1 % 3], i) } else { word(&mut rng, 4) })
        .collect();
    assert!(!types(&run(&col("c7", "text"), &codes)).contains(&"user_tracking_id"));
    // Bare names (a domain word, a tag) are not accounts on their own.
    let bare: Vec<String> = (0..200).map(|i| FAMILY[i % 15].to_lowercase() + &"x".repeat(i / 15 % 2)).collect();
    assert!(!types(&run(&col("c7", "text"), &bare)).contains(&"user_tracking_id"));
}

#[test]
fn names_in_latin_script_outside_the_lists_count_by_shape_and_variety() {
    let mut rng = Rng(9);
    let names: Vec<String> =
        (0..200).map(|_| format!("{} {}", capitalise(&word(&mut rng, 3)), capitalise(&word(&mut rng, 3)))).collect();
    assert_eq!(top(&run(&col("c2", "text"), &names)), Some("person_name"));
    // Places and institutions repeat their last words.
    let places: Vec<String> = (0..200)
        .map(|i| format!("{} {}", capitalise(&word(&mut rng, 3)), ["Municipal", "County", "Regional", "Field"][i % 4]))
        .collect();
    assert!(!types(&run(&col("c2", "text"), &places)).contains(&"person_name"));
    // Companies carry a legal form, in any language.
    let companies: Vec<String> = (0..200)
        .map(|i| format!("{} {} {}", GIVEN[i % 10], FAMILY[i % 15], ["s.p.", "d.o.o.", "S.L.", "ООО"][i % 4]))
        .collect();
    assert!(!types(&run(&col("c2", "text"), &companies)).contains(&"person_name"));
}

#[test]
fn addresses_are_recognised_by_their_parts_in_any_script() {
    let mut rng = Rng(13);
    // Bengali digits and words: house number, street, town and postcode.
    let bn_digits = ['০', '১', '২', '৩', '৪', '৫', '৬', '৭', '৮', '৯'];
    let bn = |n: u64| n.to_string().chars().map(|c| bn_digits[c as usize - '0' as usize]).collect::<String>();
    let values: Vec<String> = (0..200)
        .map(|i| {
            format!(
                "বাসা নং {}, {} সড়ক, {} {}",
                bn(rng.below(300) + 1),
                ["পশ্চিম", "উত্তর", "পূর্ব"][i % 3],
                ["ঢাকা", "খুলনা", "রাজশাহী", "সিলেট"][i % 4],
                bn(1000 + rng.below(8999))
            )
        })
        .collect();
    assert_eq!(top(&run(&col("e1", "text"), &values)), Some("postal_address"));
    // Attribute lists and prose with commas are not addresses.
    let prose: Vec<String> = (0..200)
        .map(|i| format!("the parcel was opened on day {i}, and the customer kept the receipt for a refund"))
        .collect();
    assert!(run(&col("e1", "text"), &prose).is_empty());
}

#[test]
fn product_codes_and_stray_numbers_are_not_phone_numbers() {
    // Published EAN-13 examples (GS1's, a pen's barcode, an ISBN-13) pass the check…
    for ean in ["5901234123457", "4006381333931", "9780306406157"] {
        let d: Vec<u8> = ean.bytes().map(|b| b - b'0').collect();
        let sum: u32 = d[..12].iter().zip([1, 3].iter().cycle()).map(|(&x, &w)| x as u32 * w).sum();
        assert_eq!((10 - sum % 10) % 10, d[12] as u32);
    }
    // …and a column of codes completed the same way is product codes, not phone numbers.
    let mut rng = Rng(17);
    let codes: Vec<String> = (0..200)
        .map(|_| {
            let body = format!("{}{}", 1 + rng.below(9), rng.digits(11));
            let sum: u32 = body.bytes().zip([1, 3].iter().cycle()).map(|(b, &w)| (b - b'0') as u32 * w).sum();
            format!("{body}{}", (10 - sum % 10) % 10)
        })
        .collect();
    assert!(!types(&run(&col("x14", "text"), &codes)).contains(&"phone"));
    // Random eleven-digit references, one of which happens to start with 00.
    let mut refs: Vec<String> = (0..199).map(|_| format!("{}{}", 1 + rng.below(9), rng.digits(10))).collect();
    refs.push(format!("00{}", rng.digits(9)));
    assert!(!types(&run(&col("order_no", "text"), &refs)).contains(&"phone"));
}

#[test]
fn korean_thai_and_vietnamese_addresses_by_their_street_words() {
    let mut rng = Rng(21);
    let ko: Vec<String> = (0..100)
        .map(|i| format!("{} {} {}로 {}", ["서울특별시", "경기도", "부산광역시"][i % 3], ["강남구", "수원시", "해운대구"][i % 3], ["테헤란", "중앙", "해운대해변"][i % 3], 1 + rng.below(500)))
        .collect();
    assert_eq!(top(&run(&col("c5", "text"), &ko)), Some("postal_address"));
    let th: Vec<String> =
        (0..100).map(|i| format!("{} หมู่ {} ถ.สุขุมวิท อ.เมือง จ.{}", 1 + rng.below(300), 1 + i % 12, ["ชลบุรี", "ระยอง"][i % 2])).collect();
    assert_eq!(top(&run(&col("c5", "text"), &th)), Some("postal_address"));
    let vi: Vec<String> =
        (0..100).map(|i| format!("{} đường {} phường {}", 1 + rng.below(300), ["Lê Lợi", "Trần Phú", "Hai Bà Trưng"][i % 3], 1 + i % 9)).collect();
    assert_eq!(top(&run(&col("c5", "text"), &vi)), Some("postal_address"));
}

// ---- 1.3.0: names found inside the same table's account names; account names by variety ----

/// Invented words of two or three syllables: in no name list, so only the table can tell.
fn invented_word(rng: &mut Rng) -> String {
    let syllables = [
        "ko", "wa", "ru", "mi", "ta", "ne", "so", "ba", "li", "zu", "fe", "do", "ga", "pi", "he",
        "vu",
    ];
    let k = 2 + rng.below(2) as usize;
    let w: String = (0..k)
        .map(|_| syllables[rng.below(syllables.len() as u64) as usize])
        .collect();
    let mut c = w.chars();
    c.next().unwrap().to_uppercase().chain(c).collect()
}

fn table_of(columns: Vec<(&str, Vec<String>)>) -> Vec<Vec<Detection>> {
    let names: Vec<String> = columns.iter().map(|(n, _)| n.to_string()).collect();
    let input: Vec<(ColumnInput, ColumnProfile)> = columns
        .iter()
        .map(|(n, values)| {
            let mut c = col(n, "text");
            c.neighbours = names.iter().filter(|o| o != n).cloned().collect();
            (
                c,
                ColumnProfile::from_values(values.iter().map(|v| Some(v.as_str()))),
            )
        })
        .collect();
    classify_table(&input, &[])
        .into_iter()
        .map(|d| above(d, 0.5))
        .collect()
}

#[test]
fn single_words_that_the_tables_account_names_are_made_of_are_names() {
    let mut rng = Rng(99);
    let surnames: Vec<String> = (0..120).map(|_| invented_word(&mut rng)).collect();
    let accounts: Vec<String> = surnames
        .iter()
        .map(|s| {
            format!(
                "{}{}{}",
                char::from(b'a' + rng.below(26) as u8),
                s.to_lowercase(),
                rng.below(100)
            )
        })
        .collect();
    let out = table_of(vec![("e1", surnames.clone()), ("e2", accounts.clone())]);
    assert_eq!(top(&out[0]), Some("person_name"), "{:?}", out[0]);
    assert_eq!(top(&out[1]), Some("user_tracking_id"), "{:?}", out[1]);
    // The same words without account names made of them are just words.
    let other: Vec<String> = (0..120)
        .map(|_| {
            format!(
                "{}{}",
                invented_word(&mut rng).to_lowercase(),
                rng.below(10)
            )
        })
        .collect();
    let out = table_of(vec![("e1", surnames), ("e2", other)]);
    assert!(!types(&out[0]).contains(&"person_name"), "{:?}", out[0]);
}

#[test]
fn generic_nouns_alone_do_not_argue_against_names() {
    assert_eq!(names::hints("field").damp(InfoType::PersonName), 1.0);
    assert_eq!(names::hints("item_2").damp(InfoType::PersonName), 1.0);
    assert!(names::hints("field_name").damp(InfoType::PersonName) < 1.0);
    assert!(names::hints("city").damp(InfoType::PersonName) < 1.0);
}

#[test]
fn cyrillic_names_meet_the_lists_through_romanisation() {
    let cell = values::analyse("Мария Иванова");
    assert!(
        cell.signals.has(values::Signal::NameFull),
        "{:?}",
        cell.signals
    );
}

#[test]
fn a_street_type_before_a_name_makes_it_a_street() {
    let cell = values::analyse("Calle de Jacinta Pereira");
    assert!(cell.signals.has(values::Signal::NamePlace), "{:?}", cell.signals);
    let cell = values::analyse("Rua Maria Silva");
    assert!(cell.signals.has(values::Signal::NamePlace), "{:?}", cell.signals);
    assert!(values::analyse("Jacinta Pereira").signals.has(values::Signal::NameFull));
}

#[test]
fn capitalised_words_under_a_bare_name_column_next_to_emails_are_not_names() {
    // Weak evidence three times — words, a column merely called `name`, e-mails next door —
    // make no finding; known given names in the same place do.
    let mut rng = Rng(7);
    let words: Vec<String> = (0..150).map(|_| capitalise(&word(&mut rng, 3))).collect();
    let emails: Vec<String> = (0..150).map(|i| format!("user{i}@example.com")).collect();
    let out = table_of(vec![("name", words), ("email", emails.clone())]);
    assert!(!types(&out[0]).contains(&"person_name"), "{:?}", out[0]);
    let given: Vec<String> = (0..150).map(|i| GIVEN[i % 10].to_string()).collect();
    let out = table_of(vec![("name", given), ("email", emails)]);
    assert!(types(&out[0]).contains(&"person_name"), "{:?}", out[0]);
}

#[test]
fn addresses_of_six_parts_and_with_abbreviations_are_built_like_addresses() {
    // Bengali digits, six parts (flat, building, street, area, town, postcode).
    let bn = "অ্যাপার্টমেন্ট ২, বাড়ী নং ৬৯৮, মধ্য পার্বতীগাঁ ঘাট, চিতলবাড়ি, বরিশাল, ৬৪৩৮";
    assert!(values::analyse(bn).signals.has(values::Signal::AddressParts));
    // Short abbreviations with a full stop (`ք.` town, `բն.` flat) are not sentence ends.
    let hy = "ք. Ագարակ, Գևորգ Հովսեփյան 3, բն. 15";
    assert!(values::analyse(hy).signals.has(values::Signal::AddressParts));
    // Prose still is not an address.
    let prose = "We shipped 3 boxes yesterday. The courier arrived late, sadly. Please check again.";
    assert!(!values::analyse(prose).signals.has(values::Signal::AddressParts));
}

#[test]
fn dotted_quads_under_a_version_name_stay_versions() {
    // IPv4 shapes are not validated evidence: version numbers fit them, so a name such as
    // `firmware` may cancel them (it could not cancel validated values).
    let mut rng = Rng(11);
    let values: Vec<String> = (0..500)
        .map(|_| format!("{}.{}.{}.{}", 1 + rng.below(9), rng.below(10), rng.below(10), rng.below(100)))
        .collect();
    assert!(!types(&run(&col("firmware", "text"), &values)).contains(&"ipv4"));
}

// ---- 1.4.0: the `fake` crate's names, names of any script inside romanised account names ----

/// Invented words in Devanagari: consonant + vowel sign syllables, in no name list.
fn invented_devanagari(rng: &mut Rng) -> String {
    let consonants = ['क', 'त', 'म', 'र', 'ल', 'स', 'न', 'द', 'प', 'ग', 'ह', 'ब'];
    let vowels = ['ा', 'ि', 'ी', 'ु', 'े', 'ो'];
    let k = 2 + rng.below(2) as usize;
    (0..k)
        .flat_map(|_| {
            [
                consonants[rng.below(consonants.len() as u64) as usize],
                vowels[rng.below(vowels.len() as u64) as usize],
            ]
        })
        .collect()
}

#[test]
fn names_in_any_script_meet_the_account_names_made_of_their_romanisation() {
    let mut rng = Rng(1404);
    let names: Vec<String> = (0..120).map(|_| invented_devanagari(&mut rng)).collect();
    // Account names as a generator (or a person) writes them: the name's romanisation by an
    // independent library, with a number.
    let accounts: Vec<String> = names
        .iter()
        .map(|s| format!("{}{}", deunicode::deunicode(s).to_lowercase(), rng.below(100)))
        .collect();
    let out = table_of(vec![("e1", names.clone()), ("e2", accounts)]);
    assert_eq!(top(&out[0]), Some("person_name"), "{:?}", out[0]);
    // The same words next to account names made of other words are just words.
    let other: Vec<String> = (0..120)
        .map(|_| format!("{}{}", deunicode::deunicode(&invented_devanagari(&mut rng)).to_lowercase(), rng.below(100)))
        .collect();
    let out = table_of(vec![("e1", names), ("e2", other)]);
    assert!(!types(&out[0]).contains(&"person_name"), "{:?}", out[0]);
}

#[test]
fn single_names_in_cjk_and_cyrillic_count_by_the_share_the_lists_know() {
    use fake::locales::{Data, JA_JP};
    let mut rng = Rng(77);
    // Japanese given names: one in six from the `fake` crate's table, the rest other kanji
    // pairs no list holds (as a real column holds names the lists miss).
    let kanji: Vec<char> = ['岳', '浦', '沢', '湖', '谷', '峰', '朗', '恵', '彦', '郁', '澄', '稔', '霧', '雫', '蝶', '鶴']
        .into_iter()
        .filter(|c| !dictionary::is_cjk_family_name(&c.to_string()))
        .collect();
    assert!(kanji.len() >= 8);
    let given: Vec<String> = (0..120)
        .map(|i| {
            if i % 6 == 0 {
                JA_JP::NAME_FIRST_NAME[rng.below(JA_JP::NAME_FIRST_NAME.len() as u64) as usize].to_string()
            } else {
                (0..2).map(|_| kanji[rng.below(kanji.len() as u64) as usize]).collect()
            }
        })
        .collect();
    assert_eq!(top(&run(&col("k3", "text"), &given)), Some("person_name"));
    // Towns (a place suffix) and words made of the same characters are not names.
    let towns: Vec<String> = (0..120)
        .map(|_| format!("{}{}市", kanji[rng.below(kanji.len() as u64) as usize], kanji[rng.below(kanji.len() as u64) as usize]))
        .collect();
    assert!(!types(&run(&col("k3", "text"), &towns)).contains(&"person_name"));
    let words: Vec<String> =
        (0..120).map(|_| (0..2).map(|_| kanji[rng.below(kanji.len() as u64) as usize]).collect()).collect();
    assert!(!types(&run(&col("k3", "text"), &words)).contains(&"person_name"));
    // Cyrillic given names the Latin lists know through their romanisation, among rarer ones.
    let known = ["Мария", "Анна", "Иван", "Ольга", "Никита"];
    let cyr: Vec<String> = (0..120)
        .map(|i| {
            if i % 8 == 0 {
                known[i % known.len()].to_string()
            } else {
                let stems = ["Евс", "Мар", "Арх", "Рюр", "Клав", "Ил", "Зос", "Пелаг"];
                let ends = ["ей", "тьян", "ип", "ик", "дия", "ария", "има", "ея"];
                format!("{}{}", stems[rng.below(8) as usize], ends[rng.below(8) as usize])
            }
        })
        .collect();
    assert_eq!(top(&run(&col("k4", "text"), &cyr)), Some("person_name"));
}

#[test]
fn the_fake_crates_latin_names_meet_the_lists_but_not_its_everyday_words() {
    assert!(dictionary::is_given_name("aaliyah") || dictionary::is_given_name("abagail"));
    assert!(dictionary::is_family_name("abernathy"));
    // Short and place or organisation words are left out of its tables.
    assert!(!dictionary::is_given_name("al"));
    assert!(dictionary::is_native_name("佐藤"));
    assert!(!dictionary::is_native_name("市"));
    assert_eq!(dictionary::romanise("张伟"), "zhangwei");
}

#[test]
fn names_of_two_scripts_are_places_but_vietnamese_stays_latin() {
    assert!(values::analyse("Nguyễn Văn Ánh").signals.has(values::Signal::NameFull) || values::analyse("Nguyễn Văn Ánh").signals.has(values::Signal::NameShape));
    assert!(!values::analyse("Nguyễn Văn Ánh").signals.has(values::Signal::NamePlace));
    assert!(values::analyse("جابر Knoll").signals.has(values::Signal::NamePlace));
    assert!(values::analyse("West Петринел").signals.has(values::Signal::NamePlace));
}

#[test]
fn document_numbers_are_told_by_column_names_in_many_languages_and_scripts() {
    let mut rng = Rng(77);
    let passports: Vec<String> =
        (0..120).map(|i| if i % 2 == 0 { rng.digits(9) } else { format!("{}{}", ["P", "X", "C"][i % 3], rng.digits(8)) }).collect();
    for name in ["reisepass_nr", "numero_passeport", "nr_paszportu", "паспорт", "护照号码", "パスポート番号", "여권번호", "αριθμός_διαβατηρίου", "driver_license_no", "Führerschein"] {
        assert!(types(&run(&col(name, "text"), &passports)).contains(&"national_id"), "{name}");
    }
    // The same shapes under order and invoice names, or opaque ones, are not.
    for name in ["bestellnummer", "numero_commande", "invoice_ref", "k7"] {
        assert!(!types(&run(&col(name, "text"), &passports)).contains(&"national_id"), "{name}");
    }
}

#[test]
fn column_names_for_given_and_family_names_are_read_romanised() {
    for name in ["фамилия", "имя", "이름", "名字", "όνομα", "pavardė", "Nachname", "sukunimi", "prezime"] {
        assert!(names::hints(name).positive(InfoType::PersonName) >= 0.8, "{name}");
    }
    assert!(names::hints("номер_заказа").positive(InfoType::PersonName) < 0.3);
}

#[test]
fn the_fake_crates_dutch_turkish_and_persian_names() {
    assert!(dictionary::is_family_name("yilmaz") || dictionary::is_family_name("yılmaz"));
    assert!(dictionary::is_native_name("آناهیتا"));
}

#[test]
fn single_words_a_good_share_of_them_known_names_are_a_name_column() {
    let mut rng = Rng(5);
    let known = ["Laura", "Marius", "Paulina", "Patricia", "Octavian", "Linda", "Victor", "Monika"];
    let stems = ["Dov", "Sau", "Dom", "Fau", "Gin", "Ram", "Vyt", "Žyg", "Aug", "Mant", "Rim", "Ton", "Ger", "Kęst", "Lin", "Nor", "Sig", "Vil"];
    let ends = ["ydas", "lius", "antas", "stas", "tarė", "ūnas", "autas", "imantas", "ustė", "vilė", "ija", "utis"];
    let values: Vec<String> = (0..100)
        .map(|i| {
            if i % 5 == 0 {
                known[rng.below(known.len() as u64) as usize].to_string()
            } else {
                format!("{}{}", stems[rng.below(18) as usize], ends[rng.below(12) as usize])
            }
        })
        .collect();
    let found = run(&col("h1", "text"), &values);
    assert_eq!(top(&found), Some("person_name"), "{found:?}");
    // Colours in CamelCase with a few names among them (`Violet`, `Rose`) are not.
    let colours = ["DarkBlue", "PeachPuff", "Violet", "Rose", "LightCoral", "SteelBlue", "Olive", "FireBrick", "DimGray", "Lime"];
    let c: Vec<String> = (0..100).map(|i| format!("{}{}", colours[i % 10], if i >= 10 { ["", "X"][i % 2] } else { "" })).collect();
    assert!(!types(&run(&col("h2", "text"), &c)).contains(&"person_name"));
}

#[test]
fn short_han_words_made_of_given_name_characters_are_given_names() {
    // Characters of the crate's given names, not of its places, streets, companies or words.
    let chars: Vec<char> = "文辉杰明轩彬华俊伟志鸿远旭睿".chars().filter(|&c| dictionary::is_han_given_name_char(c)).collect();
    assert!(chars.len() >= 8, "{chars:?}");
    let mut rng = Rng(9);
    let names: Vec<String> = (0..100)
        .map(|i| {
            if i % 2 == 0 {
                (0..1 + rng.below(2)).map(|_| chars[rng.below(chars.len() as u64) as usize]).collect()
            } else {
                ["帆", "萍", "晶", "凤英", "桂兰", "秀云", "婷婷", "霞", "洁", "波"][rng.below(10) as usize].to_string()
            }
        })
        .collect();
    assert_eq!(top(&run(&col("entry", "text"), &names)), Some("person_name"));
    assert!(!dictionary::is_han_given_name_char('市'));
}

#[test]
fn street_and_place_names_made_of_person_names_are_places() {
    for v in ["avenue Stéphane Poirier", "rue de Vasseur", "Sofie-Pfister-Gasse", "Joseph-Thaller-Straße", "张街", "杭州路", "شهر ايليا", "علیجانی کوچه"] {
        let s = values::analyse(v).signals;
        assert!(!s.has(values::Signal::NameText) && !s.has(values::Signal::NameCjk) && !s.has(values::Signal::NameGiven), "{v}");
    }
    assert!(values::analyse("Stéphane Poirier").signals.has(values::Signal::NameFull));
    assert!(values::analyse("张伟").signals.has(values::Signal::NameCjk));
}

#[test]
fn passport_series_and_numbers_are_not_phones() {
    let mut rng = Rng(71);
    let values: Vec<String> = (0..60)
        .map(|i| {
            let (a, b, c) = (rng.digits(2), rng.digits(2), rng.digits(6));
            if i % 2 == 0 { format!("{a} {b} {c}") } else { format!("{a}{b} {c}") }
        })
        .filter(|v| !v.starts_with('0'))
        .collect();
    assert!(!types(&run(&col("c3", "text"), &values)).contains(&"phone"));
    assert_eq!(top(&run(&col("номер_паспорта", "text"), &values)), Some("national_id"));
    assert_eq!(top(&run(&col("passport_no", "text"), &values)), Some("national_id"));
}

#[test]
fn national_numbers_with_a_trunk_zero_are_phones_not_bad_north_american_ones() {
    let mut rng = Rng(72);
    let trunk: Vec<String> = (0..60)
        .map(|_| format!("0{}{}-{}-{}", 1 + rng.below(9), rng.digits(1), rng.digits(3), rng.digits(4)))
        .collect();
    assert_eq!(top(&run(&col("c8", "text"), &trunk)), Some("phone"));
    // Random ids of the same grouping start with 0 one time in ten: still ids.
    let ids: Vec<String> = (0..60).map(|_| format!("{}-{}-{}", rng.digits(3), rng.digits(3), rng.digits(4))).collect();
    assert!(!types(&run(&col("c8", "text"), &ids)).contains(&"phone"));
}

#[test]
fn chinese_mobile_numbers_are_phones_and_other_eleven_digit_numbers_are_not() {
    let mut rng = Rng(73);
    let prefixes = ["13", "15", "17", "18", "19"];
    let mobiles: Vec<String> =
        (0..80).map(|_| format!("{}{}", prefixes[rng.below(5) as usize], rng.digits(9))).collect();
    assert_eq!(top(&run(&col("d2", "text"), &mobiles)), Some("phone"));
    let ids: Vec<String> = (0..80).map(|_| format!("{}{}", 1 + rng.below(9), rng.digits(10))).collect();
    assert!(!types(&run(&col("d2", "text"), &ids)).contains(&"phone"));
}

#[test]
fn streets_with_a_house_number_in_other_scripts_are_addresses() {
    let mut rng = Rng(74);
    let streets = ["Մուրացանի", "Ալիխանյան", "Թորամանյան", "Ֆրիկի", "Կորի", "Գլինկայի", "Այասի", "Աբովյան"];
    let values: Vec<String> =
        (0..60).map(|_| format!("{} {}", streets[rng.below(8) as usize], 1 + rng.below(400))).collect();
    assert_eq!(top(&run(&col("m6", "text"), &values)), Some("postal_address"));
    // A handful of product names with a model number repeat: not a column of addresses.
    let products = ["Галактика 5", "Галактика 7", "Орбита 2", "Орбита 3", "Вега 9"];
    let values: Vec<String> = (0..60).map(|_| products[rng.below(5) as usize].to_string()).collect();
    assert!(!types(&run(&col("m6", "text"), &values)).contains(&"postal_address"));
}

#[test]
fn words_with_a_small_number_are_not_addresses_for_one_word_that_is_a_street_type() {
    // Lorem words numbered 1–60, one of them (`Placeat`) starting like a street type: the few
    // values that read as street addresses repeat one word, so they are chance.
    let words = ["Esse", "Atque", "Tenetur", "Earum", "Iure", "Sunt", "Sequi", "Quas", "Modi", "Nobis"];
    let mut rng = Rng(7);
    let mut values: Vec<String> =
        (0..150).map(|i| format!("{} {}", words[i % words.len()], 1 + rng.below(60))).collect();
    for (i, k) in [3usize, 40, 77].iter().enumerate() {
        values[*k] = format!("Placeat {}", 10 + i);
    }
    let d = run(&col("sku_text", "text"), &values);
    assert!(!types(&d).contains(&"postal_address"), "{d:?}");
    // Street addresses whose few whole matches name different streets stay addresses by their shape
    // and name.
    let streets = ["Husova", "Palackého", "Masarykova", "Nádražní", "Komenského", "Školní", "Zahradní", "Lipová"];
    let values: Vec<String> = (0..150)
        .map(|i| match i {
            5 => "náměstí Míru 5".to_string(),
            50 => "náměstí Svobody 12".to_string(),
            100 => "třída Národní 77".to_string(),
            _ => format!("{} {}", streets[i % streets.len()], 1 + rng.below(900)),
        })
        .collect();
    assert!(types(&run(&col("ulice", "text"), &values)).contains(&"postal_address"));
}

#[test]
fn known_given_names_outweigh_a_misleading_column_name() {
    let given = ["Liliana", "Alan", "Martin", "Cristina", "Kristian", "Anna", "Marie", "Thomas", "Laura", "Peter",
                 "Sofia", "Daniel", "Julia", "Robert", "Elena", "Michael", "Sarah", "David", "Maria", "Paul"];
    let values: Vec<String> = (0..150).map(|i| given[(i * 7) % given.len()].to_string()).collect();
    let d = run(&col("product", "text"), &values);
    assert_eq!(top(&d), Some("person_name"), "{d:?}");
    assert!(d[0].evidence.iter().any(|e| e.contains("only lowers the confidence")));
}

#[test]
fn a_given_name_column_next_door_does_not_make_towns_family_names() {
    let towns = ["Biłgoraj", "Oława", "Pruszków", "Szczytno", "Pabianice", "Bartoszyce", "Świdnik", "Starachowice",
                 "Łomża", "Gniezno", "Kutno", "Mielec", "Jarosław", "Otwock", "Zgierz", "Wałcz"];
    let values: Vec<String> = (0..150).map(|i| towns[(i * 5 + i / 16) % towns.len()].to_string()).collect();
    let mut input = col("tag", "text");
    input.neighbours = vec!["first_name".into(), "imie".into()];
    let profile = ColumnProfile::from_values(values.iter().map(|v| Some(v.as_str())));
    let out = classify_table(&[(input, profile)], &[]);
    assert!(above(out[0].clone(), 0.5).is_empty(), "{:?}", out[0]);
}

#[test]
fn african_identity_numbers_in_a_column() {
    // Egypt's national numbers built by the published structure, under an opaque name.
    let mut rng = Rng(11);
    let govs = [1, 2, 12, 21, 88];
    let values: Vec<String> = (0..100)
        .map(|i| {
            format!("2{:02}{:02}{:02}{:02}{}", 50 + rng.below(40), 1 + rng.below(12), 1 + rng.below(28), govs[i % 5], rng.digits(5))
        })
        .collect();
    assert!(types(&run(&col("c_eg", "text"), &values)).contains(&"national_id"));
    let values: Vec<String> = (0..100).map(|_| format!("GHA-{}-{}", rng.digits(9), rng.below(10))).collect();
    assert!(types(&run(&col("id_gh", "text"), &values)).contains(&"national_id"));
    // Random fourteen-digit transaction numbers are no Egyptian ids.
    let values: Vec<String> = (0..100).map(|_| format!("{}{}", 4 + rng.below(5), rng.digits(13))).collect();
    assert!(!types(&run(&col("txn", "text"), &values)).contains(&"national_id"));
}

#[test]
fn fourteen_digit_numbers_starting_with_00_are_not_phones() {
    let mut rng = Rng(23);
    let mut values: Vec<String> = (0..150).map(|_| format!("{}{}", 1 + rng.below(9), rng.digits(13))).collect();
    values[10] = format!("002{}", rng.digits(11));
    values[90] = format!("0049{}", rng.digits(10));
    let d = run(&col("txn_id", "text"), &values);
    assert!(!types(&d).contains(&"phone"), "{d:?}");
    // Numbers dialled abroad with 00 in a whole column are phones.
    let values: Vec<String> = (0..150).map(|_| format!("0049{}", rng.digits(10))).collect();
    assert!(types(&run(&col("c6", "text"), &values)).contains(&"phone"));
}

#[test]
fn the_word_for_name_in_more_languages_is_a_weak_hint() {
    use super::names::hints;
    for w in ["nome", "navn", "nimi", "nama", "pangalan", "emri"] {
        let h = hints(w).positive(InfoType::PersonName);
        assert!(h > 0.0 && h <= 0.3, "{w}: {h}");
    }
    for w in ["mbiemri", "apelido", "ho_ten"] {
        assert!(hints(w).positive(InfoType::PersonName) >= 0.85, "{w}");
    }
}

// ---- 1.9.0: names inside the same row's account name ----

/// Invented family names (no list knows them) and, row by row, account names made of the same row's
/// name (`k` + family + a number, or family + `.` + another word).
fn row_linked_table(rng: &mut Rng, rows: usize) -> (Vec<String>, Vec<String>) {
    let family: Vec<String> = (0..rows).map(|_| invented_word(rng)).collect();
    let accounts: Vec<String> = family
        .iter()
        .map(|f| match rng.below(3) {
            0 => format!("{}{}", char::from(b'a' + rng.below(26) as u8), f.to_lowercase()),
            1 => format!("{}.{}{}", f.to_lowercase(), invented_word(rng).to_lowercase(), rng.below(100)),
            _ => format!("{}_{}{}", f.to_lowercase(), char::from(b'a' + rng.below(26) as u8), rng.below(100)),
        })
        .collect();
    (family, accounts)
}

#[test]
fn names_inside_the_same_rows_account_outweigh_a_misleading_column_name() {
    let mut rng = Rng(1901);
    let (family, accounts) = row_linked_table(&mut rng, 150);
    // Under `brand`, the column-level evidence (names found somewhere among the accounts) is not enough…
    let mut shuffled = accounts.clone();
    shuffled.rotate_left(1);
    let out = table_of(vec![("brand", family.clone()), ("c2", shuffled)]);
    assert!(!types(&out[0]).contains(&"person_name"), "{:?}", out[0]);
    // …the same values beside their own rows' account names are names, and the accounts are accounts.
    let out = table_of(vec![("brand", family), ("category", accounts)]);
    assert_eq!(top(&out[0]), Some("person_name"), "{:?}", out[0]);
    assert_eq!(top(&out[1]), Some("user_tracking_id"), "{:?}", out[1]);
}

#[test]
fn names_inside_the_same_rows_email_address_count_row_by_row() {
    let mut rng = Rng(1902);
    let (family, accounts) = row_linked_table(&mut rng, 120);
    let emails: Vec<String> = accounts.iter().map(|a| format!("{a}@example.org")).collect();
    let profiles = |a: &[String], b: &[String]| {
        (
            ColumnProfile::from_values(a.iter().map(|v| Some(v.as_str()))),
            ColumnProfile::from_values(b.iter().map(|v| Some(v.as_str()))),
        )
    };
    let (names, mail) = profiles(&family, &emails);
    assert!(names_within_row_accounts(&names, &mail) > 0.95);
    // Other rows' accounts: only chance agreement.
    let mut other = emails.clone();
    other.rotate_left(7);
    let (names, mail) = profiles(&family, &other);
    assert!(names_within_row_accounts(&names, &mail) < 0.1);
    // Fewer than 20 rows with both: no evidence either way.
    let (names, mail) = profiles(&family[..15], &emails[..15]);
    assert_eq!(names_within_row_accounts(&names, &mail), 0.0);
}

#[test]
fn a_slug_or_code_made_of_a_title_is_not_an_account_of_a_person() {
    // `Chair` beside `chair` or `chair42`: the account holds nothing but the word.
    let mut rng = Rng(1903);
    let titles: Vec<String> = (0..150).map(|_| invented_word(&mut rng)).collect();
    let slugs: Vec<String> = titles.iter().map(|t| format!("{}{}", t.to_lowercase(), rng.below(100))).collect();
    let out = table_of(vec![("product", titles), ("sku", slugs)]);
    assert!(!types(&out[0]).contains(&"person_name"), "{:?}", out[0]);
}

#[test]
fn names_in_alphabets_our_lists_miss_meet_them_through_their_romanisation() {
    // Georgian given names, single words under an opaque column name: their romanisation
    // (`გიორგი` → `giorgi`) meets the Latin lists in a good share of the column.
    let georgian = [
        "გიორგი", "ნინო", "დავით", "ლევან", "თამარ", "ირაკლი", "მარიამ", "ნიკა", "ელენე", "სალომე", "ლუკა",
        "ზურაბ", "ალექსანდრე", "ანასტასია", "ქეთევან", "მაია", "ნათია", "ლაშა", "გიგა", "ბექა", "თორნიკე", "ხატია",
    ];
    // Six of them (`nino`, `tamar`, `mariam`, `salome`, `anastasia`, `maia`) meet the lists: 27% of the column.
    let values: Vec<String> = georgian.iter().chain(georgian.iter()).map(|s| s.to_string()).collect();
    let d = run(&col("c_1", "text"), &values);
    assert_eq!(top(&d), Some("person_name"), "{d:?}");
    assert!(d[0].evidence.iter().any(|e| e.contains("romanise to known")), "{d:?}");
    // Fewer than ten such values are not enough.
    let values: Vec<String> = georgian.iter().map(|s| s.to_string()).collect();
    assert!(run(&col("c_1", "text"), &values).is_empty());
    // Towns, months and words of the same scripts stay clean.
    let towns = [
        "თბილისი", "ბათუმი", "ქუთაისი", "რუსთავი", "გორი", "ზუგდიდი", "ფოთი", "თელავი", "ხაშური", "სამტრედია",
        "ზესტაფონი", "მარნეული", "ოზურგეთი", "კასპი", "ჭიათურა", "წყალტუბო", "საგარეჯო", "გარდაბანი",
    ];
    let values: Vec<String> = towns.iter().chain(towns.iter().take(8)).map(|s| s.to_string()).collect();
    assert!(run(&col("c_2", "text"), &values).is_empty());
    let words = [
        "Հունվար", "Փետրվար", "Մարտ", "Ապրիլ", "Մայիս", "Հունիս", "Հուլիս", "Օգոստոս", "Սեպտեմբեր", "Հոկտեմբեր",
        "Նոյեմբեր", "Դեկտեմբեր", "տուն", "գիրք", "ջուր", "հաց", "քաղաք", "դպրոց", "աշխատանք", "երկինք",
    ];
    let values: Vec<String> = words.iter().chain(words.iter().take(6)).map(|s| s.to_string()).collect();
    assert!(run(&col("c_3", "text"), &values).is_empty());
}
