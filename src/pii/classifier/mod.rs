//! The PII classifier: plain Rust, no Postgres. Given a column's name, type,
//! table and neighbours and a sample of its values, it says which kinds of
//! personal data (infotypes) the column holds, how sure it is, and why.
//!
//! Two passes, as the scanner runs them:
//! 1. per column: every sampled value is analysed (`values`), the counts form
//!    a `ColumnProfile`, and `ColumnProfile::score` weighs value evidence with
//!    what the column's name says (`names`);
//! 2. per table, when any column had a hit: each column is scored again with
//!    what the *other* columns turned out to hold (`TableContext`: a birth date
//!    next to a name and a postcode) and with live statistics the scanner
//!    fetched (`LiveStats`: distinct ratio, value lengths).
//!
//! Scoring, in short: value evidence `v` (how specific the validated matches
//! are, and how many), name evidence `p` and table evidence `c` combine as
//! `1 - (1 - v)(1 - p·a)(1 - c·a)`, where `a` is how broadly the values agree
//! with the infotype (a name cannot turn three 5-digit numbers among
//! thousands of words into a postcode column). Names that argue against an
//! infotype (`order_ref` for phone-shaped ids) multiply the result down.

pub mod credentials;
pub mod dictionary;
pub mod eval;
pub mod financial;
pub mod national_ids;
pub mod network;
pub mod online_ids;
pub mod morphology;
pub mod names;
pub mod validators;
pub mod values;

#[cfg(test)]
mod devrun;
#[cfg(test)]
mod tests;

use std::collections::hash_map::DefaultHasher;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};

use values::{CellFindings, Signal, N_SIGNALS};

/// Bumped whenever detection or scoring changes; the scanner rescans every
/// column whose finding was made by another version.
pub const CLASSIFIER_VERSION: &str = "1.10.0";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InfoType {
    Email,
    Phone,
    Ipv4,
    Ipv6,
    MacAddress,
    PersonName,
    PostalAddress,
    Postcode,
    DateOfBirth,
    CreditCard,
    Iban,
    UsSsn,
    NationalId,
    GeoCoordinates,
    UrlWithCredentials,
    Secret,
    UserTrackingId,
}

pub const N_INFOTYPES: usize = InfoType::UserTrackingId as usize + 1;

/// How a finding should be handled by the review queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sensitivity {
    /// Personal data: masked unless a session opts in.
    Pii,
    /// Credentials and high-risk identifiers: nobody reads them by default.
    Restricted,
}

impl Sensitivity {
    pub fn as_str(self) -> &'static str {
        match self {
            Sensitivity::Pii => "pii",
            Sensitivity::Restricted => "restricted",
        }
    }
}

impl InfoType {
    pub const ALL: [InfoType; N_INFOTYPES] = [
        InfoType::Email,
        InfoType::Phone,
        InfoType::Ipv4,
        InfoType::Ipv6,
        InfoType::MacAddress,
        InfoType::PersonName,
        InfoType::PostalAddress,
        InfoType::Postcode,
        InfoType::DateOfBirth,
        InfoType::CreditCard,
        InfoType::Iban,
        InfoType::UsSsn,
        InfoType::NationalId,
        InfoType::GeoCoordinates,
        InfoType::UrlWithCredentials,
        InfoType::Secret,
        InfoType::UserTrackingId,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InfoType::Email => "email",
            InfoType::Phone => "phone",
            InfoType::Ipv4 => "ipv4",
            InfoType::Ipv6 => "ipv6",
            InfoType::MacAddress => "mac_address",
            InfoType::PersonName => "person_name",
            InfoType::PostalAddress => "postal_address",
            InfoType::Postcode => "postcode",
            InfoType::DateOfBirth => "date_of_birth",
            InfoType::CreditCard => "credit_card",
            InfoType::Iban => "iban",
            InfoType::UsSsn => "us_ssn",
            InfoType::NationalId => "national_id",
            InfoType::GeoCoordinates => "geo_coordinates",
            InfoType::UrlWithCredentials => "url_with_credentials",
            InfoType::Secret => "secret",
            InfoType::UserTrackingId => "user_tracking_id",
        }
    }

    /// The detector family (module) that recognises the infotype's values.
    pub fn detector_family(self) -> &'static str {
        match self {
            InfoType::Email | InfoType::Phone => "contact",
            InfoType::PersonName => "names",
            InfoType::PostalAddress | InfoType::Postcode | InfoType::GeoCoordinates => "location",
            InfoType::DateOfBirth => "dates",
            InfoType::Ipv4 | InfoType::Ipv6 | InfoType::MacAddress => "network",
            InfoType::CreditCard | InfoType::Iban => "financial",
            InfoType::UsSsn | InfoType::NationalId => "national_ids",
            InfoType::UrlWithCredentials | InfoType::Secret => "credentials",
            InfoType::UserTrackingId => "online_ids",
        }
    }

    pub fn parse(s: &str) -> Option<InfoType> {
        InfoType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    pub fn sensitivity(self) -> Sensitivity {
        match self {
            InfoType::CreditCard
            | InfoType::Iban
            | InfoType::UsSsn
            | InfoType::NationalId
            | InfoType::UrlWithCredentials
            | InfoType::Secret => Sensitivity::Restricted,
            _ => Sensitivity::Pii,
        }
    }

    /// Identifiers of one person each: a column of them should have many
    /// distinct values. A handful repeated everywhere is a constant.
    fn is_identifier(self) -> bool {
        matches!(
            self,
            InfoType::Email
                | InfoType::Phone
                | InfoType::CreditCard
                | InfoType::Iban
                | InfoType::UsSsn
                | InfoType::NationalId
                | InfoType::UserTrackingId
                | InfoType::MacAddress
        )
    }
}

/// The family of a Postgres type, from `format_type()` text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeClass {
    Text,
    Json,
    Integer,
    Decimal,
    Boolean,
    Uuid,
    Inet,
    Cidr,
    MacAddr,
    Date,
    Timestamp,
    Time,
    Point,
    Binary,
}

impl TypeClass {
    pub fn from_pg(type_name: &str) -> TypeClass {
        let t = type_name.trim().to_ascii_lowercase();
        if t.ends_with("[]") {
            return TypeClass::Text;
        }
        let base = t.split('(').next().unwrap_or("").trim();
        match base {
            "boolean" | "bool" => TypeClass::Boolean,
            "uuid" => TypeClass::Uuid,
            "inet" => TypeClass::Inet,
            "cidr" => TypeClass::Cidr,
            "macaddr" | "macaddr8" => TypeClass::MacAddr,
            "date" => TypeClass::Date,
            "json" | "jsonb" => TypeClass::Json,
            "point" => TypeClass::Point,
            "bytea" => TypeClass::Binary,
            "smallint" | "integer" | "bigint" | "int" | "int2" | "int4" | "int8" | "smallserial" | "serial"
            | "bigserial" => TypeClass::Integer,
            "numeric" | "decimal" | "real" | "double precision" | "float4" | "float8" | "money" => TypeClass::Decimal,
            "interval" | "tsvector" | "tsquery" | "oid" | "regclass" | "xid" | "pg_lsn" => TypeClass::Binary,
            _ if base.starts_with("timestamp") => TypeClass::Timestamp,
            _ if base.starts_with("time") => TypeClass::Time,
            _ => TypeClass::Text,
        }
    }

    /// Whether a column of this type can hold the infotype at all.
    pub fn admits(self, t: InfoType) -> bool {
        use InfoType::*;
        match self {
            TypeClass::Text | TypeClass::Json => true,
            TypeClass::Integer => matches!(t, Phone | CreditCard | UsSsn | NationalId | Postcode),
            TypeClass::Decimal => matches!(t, Phone | CreditCard | UsSsn | NationalId | Postcode | GeoCoordinates),
            TypeClass::Uuid => matches!(t, UserTrackingId | Secret),
            TypeClass::Inet => matches!(t, Ipv4 | Ipv6),
            TypeClass::MacAddr => t == MacAddress,
            TypeClass::Date | TypeClass::Timestamp => t == DateOfBirth,
            TypeClass::Point => t == GeoCoordinates,
            TypeClass::Boolean | TypeClass::Cidr | TypeClass::Time | TypeClass::Binary => false,
        }
    }
}

/// Everything about a column except its values.
#[derive(Debug, Clone, Default)]
pub struct ColumnInput {
    pub column_name: String,
    /// `format_type()` text, e.g. `character varying(200)`; empty if unknown.
    pub type_name: String,
    pub table_name: String,
    /// The other columns' names.
    pub neighbours: Vec<String>,
    /// The table a foreign key on this column points at.
    pub references: Option<String>,
}

/// Statistics the scanner fetches live for pass 2.
#[derive(Debug, Clone, Copy, Default)]
pub struct LiveStats {
    pub non_null: u64,
    pub distinct: u64,
    pub min_len: u32,
    pub max_len: u32,
    pub avg_len: f64,
}

/// What the other columns of the table hold (pass 2).
#[derive(Debug, Clone, Copy, Default)]
pub struct TableContext {
    /// Best confidence per infotype among the *other* columns.
    pub detected: [f32; N_INFOTYPES],
    /// Share of this column's name-shaped values with a word found inside another column's
    /// account names or e-mail local parts (`Tarihoran` in `paimantarihoran42`).
    pub names_in_accounts: f32,
    /// Share of this column's account names holding a word of another column's name-shaped values.
    pub accounts_with_names: f32,
    /// The same, row by row (since 1.9.0): share of this column's name-shaped values with a word
    /// inside the account name or e-mail local part of the *same row* (`Okafor` beside
    /// `aokafor@…`), among the rows that have both.
    pub names_in_row_accounts: f32,
    /// Share of this column's account names holding a word of the same row's name-shaped value.
    pub accounts_with_row_names: f32,
}

impl TableContext {
    fn has(&self, t: InfoType) -> bool {
        self.detected[t as usize] >= 0.5
    }

    fn direct_identifiers(&self) -> usize {
        [
            InfoType::Email,
            InfoType::Phone,
            InfoType::PersonName,
            InfoType::UsSsn,
            InfoType::NationalId,
            InfoType::DateOfBirth,
        ]
        .iter()
        .filter(|&&t| self.has(t))
        .count()
    }
}

/// One infotype found in a column.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    pub infotype: InfoType,
    /// 0..1.
    pub confidence: f32,
    /// Values that matched the infotype (after validation).
    pub matches: u32,
    /// Values looked at, NULLs included.
    pub sampled: u32,
    /// Why, in words; never a raw value.
    pub evidence: Vec<String>,
}

/// Counts over a column's sampled values: the result of pass 1's value work,
/// reused by pass 2.
#[derive(Debug, Clone)]
pub struct ColumnProfile {
    /// Values given, NULLs included.
    pub sampled: u32,
    /// Values that were not NULL, empty or a placeholder.
    pub non_null: u32,
    signal_counts: [u32; N_SIGNALS],
    /// Cells matching each infotype by any signal (what `matches` reports).
    infotype_cells: [u32; N_INFOTYPES],
    keyed_counts: [u32; N_INFOTYPES],
    birth_years: Vec<i32>,
    dates_with_time: u32,
    floats: Vec<f64>,
    schemes: BTreeMap<&'static str, u32>,
    /// Values passing each national-id scheme (index = `NationalId`).
    id_counts: [u32; 64],
    /// Last words of name-shaped values in scripts our name lists do not cover.
    script_last_words: HashSet<u64>,
    /// The words (digits left out) of the values that read as whole street addresses, up to a few:
    /// one word again and again (`Placeat 40`, `Placeat 7`) is a word, not streets.
    address_whole_words: HashSet<u64>,
    distinct: HashSet<u64>,
    distinct_capped: bool,
    max_len: usize,
    /// Name-shaped values seen, and the Latin (or romanised) words of the first `CROSS_CAP` of
    /// them that have any: compared with other columns' account names in pass 2.
    name_shaped: u32,
    name_words: Vec<Vec<String>>,
    /// The row (position in the sample) of each entry of `name_words`.
    name_rows: Vec<u32>,
    /// Account names and e-mail local parts, lower case (the first `CROSS_CAP`).
    accounts: Vec<String>,
    /// The row (position in the sample) of each entry of `accounts`.
    account_rows: Vec<u32>,
    /// Of those, how many had capitals (codes: `ABCD850101XY1`) or a file extension (`report.pdf`).
    accounts_odd: u32,
}

const CROSS_CAP: usize = 300;

/// How many of `names`' name-shaped values have a word inside one of `accounts`' account names,
/// and how many of those account names hold such a word (both as shares). Words of four letters
/// or more only: shorter ones turn up inside account names by chance.
fn names_within_accounts(names: &ColumnProfile, accounts: &ColumnProfile) -> (f32, f32) {
    if names.name_shaped < 20 || accounts.accounts.len() < 20 {
        return (0.0, 0.0);
    }
    let words: HashSet<&str> = names
        .name_words
        .iter()
        .flatten()
        .map(String::as_str)
        .collect();
    let mut found: HashSet<&str> = HashSet::new();
    let mut holding = 0usize;
    for a in &accounts.accounts {
        let b = a.as_bytes();
        let mut any = false;
        for i in 0..b.len() {
            for j in (i + 4)..=b.len().min(i + 20) {
                if let Some(w) = std::str::from_utf8(&b[i..j])
                    .ok()
                    .and_then(|sub| words.get(sub))
                {
                    found.insert(w);
                    any = true;
                }
            }
        }
        holding += any as usize;
    }
    let named = names
        .name_words
        .iter()
        .filter(|ws| ws.iter().any(|w| found.contains(w.as_str())))
        .count();
    let considered = (names.name_shaped as usize).min(CROSS_CAP);
    (
        named as f32 / considered as f32,
        holding as f32 / accounts.accounts.len() as f32,
    )
}

/// Row by row: of the rows where `names` has a name-shaped value and `accounts` an account name or
/// e-mail local part, the share whose account holds a word (four letters or more) of that row's name
/// and is more than that word alone (`aokafor`, `ada.okafor7`, `okafor_a12` for `Okafor`; not
/// `chair` or `chair42` beside `Chair`: a slug or code made of a title). A few rows agree by chance
/// at most; a column whose every row's account is made of it is the name of that account's holder.
/// (One share, for the name column and the account column alike; zero below 20 such rows.)
fn names_within_row_accounts(names: &ColumnProfile, accounts: &ColumnProfile) -> f32 {
    if names.name_rows.len() < 20 || accounts.account_rows.len() < 20 {
        return 0.0;
    }
    let by_row: HashMap<u32, &str> =
        accounts.account_rows.iter().copied().zip(accounts.accounts.iter().map(String::as_str)).collect();
    let (mut compared, mut matched) = (0u32, 0u32);
    for (row, words) in names.name_rows.iter().zip(&names.name_words) {
        let Some(account) = by_row.get(row) else {
            continue;
        };
        compared += 1;
        let letters: String = account.chars().filter(|c| c.is_ascii_alphabetic()).collect();
        if words.iter().any(|w| account.contains(w.as_str()) && letters != *w) {
            matched += 1;
        }
    }
    if compared < 20 {
        return 0.0;
    }
    matched as f32 / compared as f32
}

const DISTINCT_CAP: usize = 5000;

impl ColumnProfile {
    pub fn new() -> Self {
        ColumnProfile {
            sampled: 0,
            non_null: 0,
            signal_counts: [0; N_SIGNALS],
            infotype_cells: [0; N_INFOTYPES],
            keyed_counts: [0; N_INFOTYPES],
            birth_years: Vec::new(),
            dates_with_time: 0,
            floats: Vec::new(),
            schemes: BTreeMap::new(),
            id_counts: [0; 64],
            script_last_words: HashSet::new(),
            address_whole_words: HashSet::new(),
            distinct: HashSet::new(),
            distinct_capped: false,
            max_len: 0,
            name_shaped: 0,
            name_words: Vec::new(),
            name_rows: Vec::new(),
            accounts: Vec::new(),
            account_rows: Vec::new(),
            accounts_odd: 0,
        }
    }

    /// Builds a profile from sampled values (`None` is SQL NULL).
    pub fn from_values<'a, I>(values: I) -> Self
    where
        I: IntoIterator<Item = Option<&'a str>>,
    {
        let mut p = ColumnProfile::new();
        for v in values {
            p.add(v);
        }
        p
    }

    pub fn add(&mut self, value: Option<&str>) {
        self.sampled += 1;
        let Some(raw) = value else {
            return;
        };
        let v = raw.trim();
        if values::is_placeholder(v) {
            return;
        }
        self.non_null += 1;
        self.max_len = self.max_len.max(v.len());
        if self.distinct.len() < DISTINCT_CAP {
            let mut h = DefaultHasher::new();
            v.hash(&mut h);
            self.distinct.insert(h.finish());
        } else {
            self.distinct_capped = true;
        }
        let cell = values::analyse(v);
        if cell.signals.has(Signal::AddressWhole) && self.address_whole_words.len() < 8 {
            let mut h = DefaultHasher::new();
            v.chars().filter(|c| c.is_alphabetic()).collect::<String>().to_lowercase().hash(&mut h);
            self.address_whole_words.insert(h.finish());
        }
        self.record(&cell);
        self.keep_for_table_pass(v, &cell);
    }

    /// Keeps what pass 2 compares across columns: the words of name-shaped values, and account names.
    fn keep_for_table_pass(&mut self, v: &str, cell: &CellFindings) {
        let s = &cell.signals;
        if s.has(Signal::SingleWordCap) || s.has(Signal::NameFull) || s.has(Signal::NameShape) {
            self.name_shaped += 1;
            if self.name_words.len() < CROSS_CAP && (self.name_shaped as usize) <= CROSS_CAP {
                let words: Vec<String> = v
                    .split(|c: char| c.is_whitespace() || c == ',' || c == '-')
                    .filter_map(|w| {
                        let f = dictionary::fold(w);
                        let latin = if f.is_ascii() {
                            f
                        } else if let Some(t) = dictionary::transliterate(w) {
                            t
                        } else {
                            // Other scripts: their usual romanisation, as account names write them.
                            dictionary::romanise(w)
                        };
                        (latin.len() >= 4 && latin.bytes().all(|b| b.is_ascii_lowercase()))
                            .then_some(latin)
                    })
                    .collect();
                if !words.is_empty() {
                    self.name_words.push(words);
                    self.name_rows.push(self.sampled - 1);
                }
            }
        } else if self.accounts.len() < CROSS_CAP {
            if s.has(Signal::UsernameShape) {
                let extension = v.rsplit_once('.').is_some_and(|(_, e)| {
                    (2..=4).contains(&e.len()) && e.bytes().all(|b| b.is_ascii_lowercase())
                });
                if extension || v.bytes().any(|b| b.is_ascii_uppercase()) {
                    self.accounts_odd += 1;
                }
                self.accounts.push(v.to_ascii_lowercase());
                self.account_rows.push(self.sampled - 1);
            } else if s.has(Signal::EmailWhole) {
                if let Some((local, _)) = v.split_once('@') {
                    self.accounts.push(local.to_ascii_lowercase());
                    self.account_rows.push(self.sampled - 1);
                }
            }
        }
    }

    fn record(&mut self, cell: &CellFindings) {
        for i in cell.signals.indices() {
            self.signal_counts[i] += 1;
        }
        let mut hit = [false; N_INFOTYPES];
        for i in cell.signals.indices() {
            if let Some(t) = signal_infotype(i) {
                hit[t as usize] = true;
            }
        }
        for t in InfoType::ALL {
            if cell.keyed & (1 << t as u32) != 0 {
                self.keyed_counts[t as usize] += 1;
                hit[t as usize] = true;
            }
        }
        if let Some(d) = cell.date {
            hit[InfoType::DateOfBirth as usize] = true;
            self.birth_years.push(d.year);
            if d.has_time {
                self.dates_with_time += 1;
            }
        }
        if let Some(f) = cell.float {
            self.floats.push(f);
        }
        if let Some(h) = cell.last_word {
            if self.script_last_words.len() < DISTINCT_CAP {
                self.script_last_words.insert(h);
            }
        }
        if cell.national_ids != 0 {
            for scheme in national_ids::NationalId::ALL {
                if cell.national_ids & (1u64 << (*scheme as u32)) != 0 {
                    self.id_counts[*scheme as usize] += 1;
                }
            }
        }
        if let Some(network) = cell.card_network {
            *self.schemes.entry(network).or_default() += 1;
        }
        if let Some(kind) = cell.secret_kind {
            *self.schemes.entry(kind).or_default() += 1;
        }
        for (slot, h) in self.infotype_cells.iter_mut().zip(hit) {
            if h {
                *slot += 1;
            }
        }
    }

    fn count(&self, s: Signal) -> u32 {
        self.signal_counts[s as usize]
    }

    fn keyed(&self, t: InfoType) -> u32 {
        self.keyed_counts[t as usize]
    }

    /// Distinct share of non-null sampled values.
    pub fn distinct_ratio(&self) -> f32 {
        if self.non_null == 0 {
            return 0.0;
        }
        if self.distinct_capped {
            return 1.0;
        }
        self.distinct.len() as f32 / self.non_null as f32
    }

    /// Whether any infotype came close to the threshold: pass 2 runs only for
    /// tables where something did.
    pub fn any_hit(&self, input: &ColumnInput) -> bool {
        self.score(input, &TableContext::default(), None).iter().any(|d| d.confidence >= 0.3)
    }

    /// All infotypes with a confidence above 0.05, most confident first.
    pub fn score(&self, input: &ColumnInput, table: &TableContext, live: Option<&LiveStats>) -> Vec<Detection> {
        let ctx = Context::new(input, table, live, self);
        let mut out = Vec::new();
        for t in InfoType::ALL {
            if !ctx.type_class.admits(t) {
                continue;
            }
            let mut notes = Vec::new();
            let confidence = self.confidence(t, &ctx, &mut notes);
            if confidence > 0.05 {
                out.push(Detection {
                    infotype: t,
                    confidence: (confidence * 1000.0).round() / 1000.0,
                    matches: self.infotype_cells[t as usize],
                    sampled: self.sampled,
                    evidence: notes,
                });
            }
        }
        out.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        out
    }
}

impl Default for ColumnProfile {
    fn default() -> Self {
        Self::new()
    }
}

/// Which infotype a signal is evidence for (for the `matches` count).
fn signal_infotype(i: usize) -> Option<InfoType> {
    use InfoType::*;
    use Signal as S;
    const MAP: &[(Signal, InfoType)] = &[
        (S::EmailWhole, Email),
        (S::EmailText, Email),
        (S::PhoneIntl, Phone),
        (S::PhoneNational, Phone),
        (S::PhoneDigits, Phone),
        (S::PhoneText, Phone),
        (S::Ipv4Whole, Ipv4),
        (S::Ipv4Text, Ipv4),
        (S::Ipv6Whole, Ipv6),
        (S::Ipv6Text, Ipv6),
        (S::MacWhole, MacAddress),
        (S::MacText, MacAddress),
        (S::NameFull, PersonName),
        (S::NameShape, PersonName),
        (S::NameGiven, PersonName),
        (S::NameFamily, PersonName),
        (S::NameCjk, PersonName),
        (S::NameText, PersonName),
        (S::AddressWhole, PostalAddress),
        (S::AddressText, PostalAddress),
        (S::AddressShape, PostalAddress),
        (S::PostcodeDistinct, Postcode),
        (S::PostcodeNumeric, Postcode),
        (S::DobText, DateOfBirth),
        (S::CardValid, CreditCard),
        (S::CardText, CreditCard),
        (S::IbanValid, Iban),
        (S::IbanText, Iban),
        (S::SsnFormatted, UsSsn),
        (S::SsnDigits, UsSsn),
        (S::SsnText, UsSsn),
        (S::NatIdValid, NationalId),
        (S::NatIdDigitsValid, NationalId),
        (S::GeoPair, GeoCoordinates),
        (S::GeoFloat, GeoCoordinates),
        (S::UrlCreds, UrlWithCredentials),
        (S::SecretKnown, Secret),
        (S::Jwt, Secret),
        (S::Pem, Secret),
        (S::PasswordHash, Secret),
        (S::HighEntropy, Secret),
        (S::Uuid, UserTrackingId),
        (S::HexId, UserTrackingId),
        (S::OpaqueId, UserTrackingId),
        (S::Handle, UserTrackingId),
        (S::UsernameNamed, UserTrackingId),
        (S::NameShapeScript, PersonName),
        (S::NameMorph, PersonName),
        (S::NameInitials, PersonName),
    ];
    MAP.iter().find(|(s, _)| *s as usize == i).map(|(_, t)| *t)
}

/// Context shared by the per-infotype scorers of one column.
struct Context<'a> {
    input: &'a ColumnInput,
    table: &'a TableContext,
    live: Option<&'a LiveStats>,
    type_class: TypeClass,
    name: names::NameHints,
    neighbour_names: [f32; N_INFOTYPES],
    people_table: bool,
    references_people: bool,
    personal_neighbours: f32,
}

impl<'a> Context<'a> {
    fn new(input: &'a ColumnInput, table: &'a TableContext, live: Option<&'a LiveStats>, _p: &ColumnProfile) -> Self {
        Context {
            input,
            table,
            live,
            type_class: if input.type_name.is_empty() { TypeClass::Text } else { TypeClass::from_pg(&input.type_name) },
            name: names::hints(&input.column_name),
            neighbour_names: names::neighbour_hints(&input.neighbours),
            people_table: names::is_people_table(&input.table_name),
            references_people: input.references.as_deref().is_some_and(names::is_people_table),
            personal_neighbours: names::personal_neighbourhood(&input.neighbours),
        }
    }
}

/// Value evidence for self-evident kinds: even one match counts, and many
/// count fully.
fn strong(quality: f32, matches: u32, n: u32) -> f32 {
    if matches == 0 || n == 0 {
        return 0.0;
    }
    let ratio = matches as f32 / n as f32;
    let factor = if ratio >= 0.3 {
        1.0
    } else {
        match matches {
            1 => 0.8,
            2 => 0.9,
            _ => 0.96,
        }
    };
    quality * factor
}

/// How broadly the values agree: 1 when most values match, falling towards
/// 0 when only a few do.
fn agreement(matches: u32, n: u32) -> f32 {
    if n == 0 {
        return 0.0;
    }
    let ratio = matches as f32 / n as f32;
    (ratio / 0.6).min(1.0).powf(0.7)
}

/// Value evidence for kinds that are only suggestive: scaled by agreement.
fn weak(quality: f32, matches: u32, n: u32) -> f32 {
    quality * agreement(matches, n)
}

fn r(part: u32, whole: u32) -> f32 {
    if whole == 0 {
        0.0
    } else {
        part as f32 / whole as f32
    }
}

fn pct(part: u32, whole: u32) -> String {
    if whole == 0 {
        "0%".into()
    } else {
        format!("{:.0}%", 100.0 * part as f32 / whole as f32)
    }
}

/// A checksum family whose validated share among shape-matching values is no
/// better than chance is noise (random 16-digit ids pass Luhn 1 time in 10).
fn checksum_noise(shaped: u32, valid: u32, what: &str, notes: &mut Vec<String>) -> bool {
    if shaped >= 10 && (valid as f32) < 0.5 * shaped as f32 {
        notes.push(format!("only {valid} of {shaped} {what} pass the checksum: chance level, ignored"));
        true
    } else {
        false
    }
}

impl ColumnProfile {
    fn confidence(&self, t: InfoType, ctx: &Context, notes: &mut Vec<String>) -> f32 {
        use InfoType::*;
        let n = self.non_null;
        let name_pos = ctx.name.positive(t);
        let damp = ctx.name.damp(t);
        if damp < 1.0 {
            notes.push("the column name argues against it".into());
        }
        if n == 0 {
            // No values yet (new table): the name is all there is.
            if name_pos > 0.0 {
                notes.push(format!("no values sampled; column name suggests {}", t.as_str()));
            }
            return 0.7 * name_pos * damp;
        }
        let (v, agree, context) = match t {
            Email => self.email(ctx, notes),
            Phone => self.phone(ctx, notes),
            Ipv4 => self.ipv4(ctx, notes),
            Ipv6 => {
                let m = self.count(Signal::Ipv6Whole) + self.count(Signal::Ipv6Text) + self.keyed(Ipv6);
                let q = if ctx.type_class == TypeClass::Inet { 0.97 } else { 0.92 };
                note_matches(notes, m, n, "valid IPv6 addresses");
                (strong(q, m, n), 1.0, 0.0)
            }
            MacAddress => {
                let m = self.count(Signal::MacWhole) + self.count(Signal::MacText);
                let q = if ctx.type_class == TypeClass::MacAddr { 0.95 } else { 0.85 };
                note_matches(notes, m, n, "MAC addresses");
                (strong(q, m, n), 1.0, 0.0)
            }
            PersonName => self.person_name(ctx, notes),
            PostalAddress => {
                let whole = self.count(Signal::AddressWhole);
                let text = self.count(Signal::AddressText);
                let keyed = self.keyed(PostalAddress);
                let shape = self.count(Signal::AddressShape);
                let parts = self.count(Signal::AddressParts);
                note_matches(notes, whole + text, n, "street addresses");
                if shape > 0 {
                    notes.push(format!("{shape} of {n} values are a number with words, as addresses are"));
                }
                // Addresses in any script: most values built of short parts (street and number,
                // postcode and town), nearly all different.
                let v_parts = if parts + whole >= 10 && r(parts + whole, n) >= 0.6 && self.distinct_ratio() >= 0.8 {
                    notes.push(format!("{parts} of {n} values are built like addresses (parts with a number)"));
                    weak(0.65, parts + whole, n)
                } else {
                    0.0
                };
                // Streets with a house number in a script other than Latin, without a street-type
                // word (`Մուրացանի 160`, `צור 26`): nearly the whole column, nearly all different, the
                // numbers spread as house numbers are (not words numbered 1 to 40).
                let street_no = self.count(Signal::AddressStreetNumber);
                let high = self.count(Signal::AddressStreetNumberHigh);
                let v_street_no = if street_no >= 10
                    && r(street_no, n) >= 0.7
                    && self.distinct_ratio() >= 0.8
                    && high as f32 >= 0.3 * street_no as f32
                {
                    notes.push(format!("{street_no} of {n} values are a street and house number in a non-Latin script"));
                    weak(0.65, street_no, n)
                } else {
                    0.0
                };
                // A few whole addresses in a column of one word and a number each (`Placeat 40`,
                // `ซอย 12` among `Quas 7`, `กล่อง 3`) are words that happen to be street types:
                // counted by their share, not as sparse addresses.
                let chance_whole =
                    whole >= 1 && r(whole, n) < 0.1 && r(shape, n) >= 0.8 && {
                        let words = self.address_whole_words.len() as u32;
                        words == 1 || (words == 2 && whole >= 4)
                    };
                if chance_whole {
                    notes.push("the few street addresses are words with a number like the rest of the column".into());
                }
                let v = weak(0.85, whole, n)
                    .max(if chance_whole { 0.0 } else { strong(0.7, whole, n) })
                    .max(strong(0.7, text, n))
                    .max(strong(0.75, keyed, n))
                    .max(weak(0.2, shape + whole, n))
                    .max(v_parts)
                    .max(v_street_no);
                let street_no = if v_street_no > 0.0 { street_no } else { 0 };
                (v, agreement((whole + text + keyed + shape + parts).max(street_no), n), 0.0)
            }
            Postcode => self.postcode(ctx, notes),
            DateOfBirth => self.date_of_birth(ctx, notes),
            CreditCard => {
                let shaped = self.count(Signal::CardShaped);
                let valid = self.count(Signal::CardValid);
                let noise = checksum_noise(shaped, valid, "card-shaped numbers", notes);
                let text = self.count(Signal::CardText);
                let keyed = self.keyed(CreditCard);
                if !noise {
                    note_matches(notes, valid + text, n, "Luhn-valid card numbers with a known issuer prefix");
                }
                // Thirteen-digit national ids (South Africa's) pass Luhn too.
                // …and so do a few values of any id column by chance.
                let id_column = self.count(Signal::NatIdValid) + self.count(Signal::NatIdDigitsValid) >= n / 2
                    && valid * 5 <= n;
                let ids = self.digits_are_national_ids() || id_column;
                let whole = if noise || ids { 0.0 } else { strong(0.92, valid, n) };
                (whole.max(strong(0.9, text, n)).max(strong(0.9, keyed, n)), 1.0, 0.0)
            }
            Iban => {
                let shaped = self.count(Signal::IbanShaped);
                let valid = self.count(Signal::IbanValid);
                let noise = checksum_noise(shaped, valid, "IBAN-shaped values", notes);
                let text = self.count(Signal::IbanText);
                note_matches(notes, valid + text, n, "IBANs passing mod-97");
                let whole = if noise { 0.0 } else { strong(0.96, valid, n) };
                (whole.max(strong(0.95, text, n)), 1.0, 0.0)
            }
            UsSsn => self.ssn(ctx, notes),
            NationalId => self.national_id(ctx, notes),
            GeoCoordinates => self.geo(ctx, notes),
            UrlWithCredentials => {
                let m = self.count(Signal::UrlCreds);
                note_matches(notes, m, n, "URLs with an embedded user and password");
                (strong(0.95, m, n), 1.0, 0.0)
            }
            Secret => self.secret(ctx, notes),
            UserTrackingId => self.tracking_id(ctx, notes),
        };
        if v <= 0.0 {
            return 0.0;
        }
        if name_pos > 0.0 && agree > 0.0 {
            notes.push(format!("column name suggests {}", t.as_str()));
        }
        // One line a reviewer can compare across findings: which detector, how
        // much of the column agrees, and what the name and the table added.
        notes.push(format!(
            "detector {}: value evidence {v:.2}, {:.0}% of values agree, name {:+.2}{}, table context {context:.2}",
            t.detector_family(),
            100.0 * self.infotype_cells[t as usize] as f32 / n as f32,
            name_pos,
            if damp < 1.0 { format!(" (against: x{damp:.2})") } else { String::new() },
        ));
        let mut conf = 1.0 - (1.0 - v) * (1.0 - 0.95 * name_pos * agree) * (1.0 - context * agree);
        // Names raise or lower confidence; they do not veto values that were
        // validated (a checksum, a registered structure, a decodable header):
        // a column called `version_ref` full of phone numbers holds phone numbers.
        let validated = match t {
            Email | CreditCard | Iban | NationalId | UsSsn | UrlWithCredentials | Secret | Ipv6 | MacAddress => true,
            // A dotted quad within 0–255 is no validation: version numbers pass it. Nor are
            // bare digits: phones are validated by their written grouping and prefixes.
            Phone => {
                (r(self.count(Signal::PhoneIntl) + self.count(Signal::PhoneNational) + self.count(Signal::PhoneText), n) >= 0.6
                    || r(self.count(Signal::PhoneMobileCn), n) >= 0.9)
                    && agree >= 0.9
            }
            _ => false,
        };
        if validated && damp < 1.0 && v * 0.9 > conf * damp {
            notes.push("validated values outweigh the column name".into());
            conf = v * 0.9;
        } else if t == PersonName && damp < 1.0 && v >= 0.8 && agree >= 0.6 && 0.68 * v > conf * damp {
            // Most of the column known given names, or names with a known given or family name:
            // a column called `product` or `category` of them holds names; the name lowers the
            // confidence, it does not cancel it.
            notes.push("the values (known names, or names of the same row's account) outweigh the column name, which only lowers the confidence".into());
            conf = 0.68 * v;
        } else if damp < 1.0 && v >= 0.5 && agree >= 0.9 && t != Ipv4 && 0.6 * v * agree > conf * damp {
            // Strong evidence across the whole column (names with known given names, account
            // names with numbers): the name lowers the confidence, it does not cancel it.
            // Not for dotted quads: a column called `firmware` or `version` of them holds exactly
            // the version numbers they are shaped like.
            notes.push("the values outweigh the column name, which only lowers the confidence".into());
            conf = 0.6 * v * agree;
        } else {
            conf *= damp;
        }
        // Identifiers repeated everywhere are constants (a sender address), not people.
        if t.is_identifier() {
            let (rows, distinct) = match ctx.live {
                Some(l) if l.non_null > 0 => (l.non_null as f32, l.distinct as f32),
                _ => (n as f32, self.distinct_ratio() * n as f32),
            };
            if rows >= 50.0 && distinct / rows < 0.02 && distinct <= 5.0 {
                notes.push(format!("only {distinct:.0} distinct values in {rows:.0} rows: a constant, not people"));
                conf *= 0.5;
            }
        }
        conf.clamp(0.0, 1.0)
    }

    fn email(&self, _ctx: &Context, notes: &mut Vec<String>) -> (f32, f32, f32) {
        let n = self.non_null;
        let whole = self.count(Signal::EmailWhole);
        let text = self.count(Signal::EmailText);
        let m = self.infotype_cells[InfoType::Email as usize];
        note_matches(notes, m, n, "valid e-mail addresses");
        let v = strong(0.97, whole, n).max(strong(0.95, text, n)).max(strong(0.95, m, n));
        (v, 1.0, 0.0)
    }

    fn phone(&self, ctx: &Context, notes: &mut Vec<String>) -> (f32, f32, f32) {
        let n = self.non_null;
        let intl = self.count(Signal::PhoneIntl);
        let national = self.count(Signal::PhoneNational);
        let digits = self.count(Signal::PhoneDigits);
        let text = self.count(Signal::PhoneText);
        let keyed = self.keyed(InfoType::Phone);
        let nanp_shaped = self.count(Signal::PhoneNanpShaped);
        let nanp_invalid = self.count(Signal::PhoneNanpInvalid);
        // Real North American numbers never start an area code or exchange with 0/1;
        // random ids shaped like them do about a third of the time.
        // A column that says it holds phone numbers keeps them (test data, foreign numbers).
        // …but national numbers written with a trunk 0 (`051-038-2374`) are not North American: a column
        // nearly all of which start so is judged as numbers of another country (random ids start with
        // 0 one time in ten).
        let trunk = self.count(Signal::PhoneTrunk);
        let trunk_column = nanp_shaped >= 10 && trunk as f32 >= 0.9 * (national + intl).max(1) as f32;
        if trunk_column {
            notes.push(format!("{trunk} of {n} numbers start with a trunk 0: national numbers, not North American"));
        }
        let nanp_noise = nanp_shaped >= 10
            && nanp_invalid as f32 > 0.15 * nanp_shaped as f32
            && ctx.name.positive(InfoType::Phone) < 0.7
            && !trunk_column;
        if nanp_noise {
            notes.push(format!(
                "{nanp_invalid} of {nanp_shaped} North-American-shaped numbers have impossible area codes or exchanges: ids, not phones"
            ));
        }
        let formatted = if nanp_noise {
            national.saturating_sub(nanp_shaped) + intl.saturating_sub(nanp_shaped)
        } else {
            national + intl
        };
        let intl_ok = if nanp_noise { intl.saturating_sub(nanp_shaped) } else { intl };
        // Bare digits that nearly all pass one national-id checksum are ids.
        // (An id starting with 00 reads like a number dialled abroad: a few such do not count.)
        let (formatted, digits, intl_ok) = if self.digits_are_national_ids() && intl_ok * 10 <= n {
            notes.push("the digits pass a national-id checksum: ids, not phone numbers".into());
            (0, 0, 0)
        } else {
            (formatted, digits, intl_ok)
        };
        // Thirteen digits that nearly all pass the EAN-13 check are product codes (random
        // digits pass it one time in ten).
        let ean = self.count(Signal::Ean13);
        let thirteen = self.count(Signal::Ean13Shaped);
        let (formatted, digits, intl_ok) = if thirteen >= 10 && ean as f32 >= 0.8 * thirteen as f32 {
            notes.push(format!("{ean} of {thirteen} thirteen-digit values pass the EAN-13 check: product codes, not phone numbers"));
            (formatted.saturating_sub(ean), digits.saturating_sub(ean), intl_ok.saturating_sub(ean))
        } else {
            (formatted, digits, intl_ok)
        };
        // Eleven bare digits of China's mobile plan in nearly the whole column, with several different
        // network prefixes (`13…`, `15…`, `18…`): a column of mobile numbers, as a written grouping is.
        let cn_mobile = self.count(Signal::PhoneMobileCn);
        let formatted = if cn_mobile >= 10
            && cn_mobile as f32 >= 0.9 * n as f32
            && self.distinct_ratio() >= 0.8
            && !self.digits_are_national_ids()
        {
            notes.push(format!("{cn_mobile} of {n} values are eleven-digit mobile numbers of China's numbering plan"));
            formatted + cn_mobile
        } else {
            formatted
        };
        // One number that reads as dialled abroad (`00…`) among bare digits is chance: among ten to
        // thirteen digits, and among longer ones (fourteen-digit transaction numbers start with 00
        // one time in a hundred).
        let bare = digits + self.count(Signal::LongDigits);
        let intl_ok = if bare >= 10 && intl_ok * 20 <= bare { 0 } else { intl_ok };
        // Dotted numbers in a column of version strings are versions too.
        let dotted = self.count(Signal::DottedDigits);
        let versions = self.count(Signal::VersionString);
        let formatted = if versions >= 5 && versions as f32 >= 0.2 * (versions + dotted) as f32 {
            notes.push(format!("{versions} values are version strings: dotted numbers here are versions"));
            formatted.saturating_sub(dotted)
        } else {
            formatted
        };
        note_matches(notes, formatted + text + keyed, n, "phone numbers in national or international format");
        let mut v = strong(0.85, intl_ok, n)
            .max(strong(0.75, text, n))
            .max(weak(0.78, formatted, n))
            .max(strong(0.5, formatted, n))
            .max(strong(0.8, keyed, n));
        let numeric_type = matches!(ctx.type_class, TypeClass::Integer | TypeClass::Decimal);
        let digit_evidence = weak(if numeric_type { 0.25 } else { 0.3 }, digits + formatted, n);
        if digits > 0 {
            notes.push(format!("{} of {n} values are 10–13 digit numbers", digits));
        }
        v = v.max(digit_evidence);
        let agree = agreement(formatted + digits + text + keyed + intl_ok, n);
        (v, agree, 0.0)
    }

    fn ipv4(&self, ctx: &Context, notes: &mut Vec<String>) -> (f32, f32, f32) {
        let n = self.non_null;
        let whole = self.count(Signal::Ipv4Whole);
        let small = self.count(Signal::Ipv4Small);
        let versions = self.count(Signal::VersionString);
        let text = self.count(Signal::Ipv4Text);
        let keyed = self.keyed(InfoType::Ipv4);
        let version_like =
            whole >= 5 && (small as f32 >= 0.6 * whole as f32 || versions as f32 >= 0.2 * (whole + versions) as f32);
        if version_like {
            notes.push(format!(
                "{whole} dotted quads, but {} have only small parts and {versions} other values are version strings: version numbers",
                small
            ));
        }
        note_matches(notes, whole + text, n, "valid IPv4 addresses");
        let q = if ctx.type_class == TypeClass::Inet { 0.97 } else { 0.88 };
        let whole_v = if version_like { 0.1 * strong(q, whole, n) } else { strong(q, whole, n) };
        (whole_v.max(strong(0.8, text, n)).max(strong(0.85, keyed, n)), if version_like { 0.0 } else { 1.0 }, 0.0)
    }

    fn person_name(&self, ctx: &Context, notes: &mut Vec<String>) -> (f32, f32, f32) {
        let n = self.non_null;
        let full = self.count(Signal::NameFull) + self.count(Signal::NameCjk) + self.count(Signal::NameInitials);
        let shape = self.count(Signal::NameShape);
        let given = self.count(Signal::NameGiven);
        let family = self.count(Signal::NameFamily);
        let single = self.count(Signal::SingleWordCap);
        let other_phrases = self.count(Signal::NameOrganisation) + self.count(Signal::NamePlace);
        let text = self.count(Signal::NameText);
        let keyed = self.keyed(InfoType::PersonName);
        let r = |m: u32| m as f32 / n as f32;
        let distinct_values = match ctx.live {
            Some(l) if l.non_null > 0 => l.distinct as f32,
            _ => self.distinct_ratio() * n as f32,
        };
        let mut agree = agreement(full + shape + single + keyed + text, n);
        let v_values = if r(full) >= 0.25 && r(full + shape) >= 0.5 {
            notes.push(format!("{} of {n} values are names with a known given or family name", full));
            0.9
        } else if r(full) >= 0.1 && r(full + shape) >= 0.5 {
            notes.push(format!("{} of {n} values are names with a known given or family name", full));
            0.6
        } else if r(given) >= 0.3 && r(single) >= 0.6 {
            notes.push(format!("{given} of {n} values are known given names"));
            0.8
        } else if r(given + family) >= 0.2 && r(single) >= 0.6 {
            // Single words, a minority known names: surnames, or towns named after people.
            notes.push(format!("{} of {n} values are known given or family names", given + family));
            if r(given + family) >= 0.35 {
                0.5
            } else {
                0.4
            }
        } else if r(single) >= 0.6 {
            // Single capitalised words: a surname column, or a status column
            // (a handful of values repeated).
            if distinct_values < 15.0 && n >= 50 && ctx.name.positive(InfoType::PersonName) < 0.85 {
                agree *= 0.3;
            }
            0.15
        } else if r(full + shape) >= 0.5 {
            0.2
        } else if self.count(Signal::NameFull) >= 3 && r(single) < 0.5 {
            // Sparse names among other text (a CJK word that starts like a family name is not enough).
            let latin = self.count(Signal::NameFull);
            notes.push(format!("{latin} of {n} values are names"));
            strong(0.6, latin, n)
        } else {
            0.0
        };
        // A given name before a capitalised word can be chance in prose: one or
        // two such mentions are not enough.
        // Among short phrases (job titles, company and place names) a few such pairs are
        // chance as well: there a few mentions count only in a column of prose.
        let prose = r(self.count(Signal::FreeText)) >= 0.3;
        let v_text = match text {
            0 => 0.0,
            // …and more of them too, while they are a small share of the column (street names
            // such as `Yrjö-Koskisen katu`).
            _ if !prose && r(text) < 0.1 => 0.0,
            1 => 0.35,
            2 => 0.45,
            3 => 0.55,
            _ => strong(0.72, text, n),
        };
        if text > 0 {
            notes.push(format!("{text} of {n} texts mention a given name followed by a family name"));
        }
        // Names in a script our lists do not cover: most values name-shaped, nearly all
        // different, with many different last words (family names vary; job titles,
        // towns and product names repeat their words).
        let script = self.count(Signal::NameShapeScript);
        let script_words = self.script_last_words.len() as f32;
        // The same in Latin script for names our lists do not know (Yoruba, Indian, Zulu …):
        // stricter, because Latin capitalised phrases are often titles or places — nearly all
        // values two-to-four-word names, nearly all different, last words rarely repeated, no
        // company or place words.
        let latin = self.count(Signal::NameShapeLatin);
        let v_latin = if latin >= 10
            && r(latin + full) >= 0.8
            && self.distinct_ratio() >= 0.9
            && script_words >= 0.5 * (latin + script) as f32
            && r(other_phrases) < 0.05
        {
            notes.push(format!(
                "{latin} of {n} values are shaped like names (capitalised words) with {script_words:.0} different last words"
            ));
            0.55
        } else {
            0.0
        };
        let v_script = if script >= 10
            && r(script + full) >= 0.7
            && self.distinct_ratio() >= 0.8
            && script_words >= 0.3 * script as f32
        {
            notes.push(format!(
                "{script} of {n} values are shaped like names in a script without name lists here, with {script_words:.0} different last words"
            ));
            0.6
        } else {
            0.0
        };
        // Given + family names inside street addresses name the street.
        let addresses =
            self.count(Signal::AddressWhole) + self.count(Signal::AddressShape) + self.count(Signal::AddressParts);
        let street_names = r(addresses) >= 0.3;
        let v_text = if street_names { v_text * 0.3 } else { v_text };
        // …and so do the few whole names among addresses ("Fazenda Júlia Sousa, 39").
        let v_values = if street_names && v_values < 0.9 { v_values * 0.3 } else { v_values };
        // Names that the same table's account names or e-mail addresses are made of
        // (`Tarihoran` next to `paimantarihoran42`), in any script that romanises.
        let in_accounts = ctx.table.names_in_accounts;
        let v_accounts = if in_accounts >= 0.35 && (r(single) >= 0.6 || r(full + shape) >= 0.5) {
            notes.push(format!(
                "{:.0}% of the values are found inside another column's account names or e-mail addresses",
                100.0 * in_accounts
            ));
            0.75
        } else {
            0.0
        };
        let v_accounts = if street_names { v_accounts * 0.3 } else { v_accounts };
        // Since 1.9.0, row by row: half or more of the rows' values inside the same row's account
        // name or e-mail address (`Okafor` beside `aokafor@…`) — the holder's name, in any language,
        // whatever the column is called: as strong as a column of known names.
        let in_row = ctx.table.names_in_row_accounts;
        let v_row = if in_row >= 0.5 && (r(single) >= 0.6 || r(full + shape) >= 0.5) {
            notes.push(format!(
                "{:.0}% of the values are found inside the same row's account name or e-mail address",
                100.0 * in_row
            ));
            if street_names {
                0.25
            } else {
                0.85
            }
        } else {
            0.0
        };
        // Single words in a non-Latin script, a share of them names the crate's tables know:
        // among that script's other words (towns, words, job titles) they are about one in a hundred.
        let native = self.count(Signal::NameNative);
        let v_native = if native >= 8 && r(native) >= 0.08 && r(single) >= 0.8 {
            notes.push(format!("{native} of {n} values are names in their own script"));
            0.6
        } else {
            0.0
        };
        // Since 1.10.0: single words in a script other than Latin, Cyrillic and Greek whose romanisation
        // is a name our Latin lists know (`გიორგი` → `giorgi`), 12% or more of a column of nearly all
        // single, mostly different words. Among towns, words, months and stop words of those scripts at
        // most 3% of the different values romanise to a known name; among given names 17–24%.
        let romanised_known = self.count(Signal::NameRomanisedKnown);
        let v_romanised = if romanised_known >= 10
            && r(romanised_known) >= 0.12
            && r(single) >= 0.8
            && self.distinct_ratio() >= 0.5
            && !street_names
        {
            notes.push(format!("{romanised_known} of {n} values romanise to known given or family names"));
            0.6
        } else {
            0.0
        };
        // Single words of which a good share are themselves known given or family names, in a
        // column of nearly all different single words (given names of languages our lists cover
        // in part: Lithuanian, Romanian, Slovene, Indonesian …). Among towns, words, months, job
        // titles and street names of those languages whole known names are rare, or the column
        // repeats a few values (months, sites) or writes its words in CamelCase (colours).
        let known_whole = self.count(Signal::NameKnownWhole);
        let v_known = if known_whole >= 10
            && r(known_whole) >= 0.12
            && r(single) >= 0.9
            && self.distinct_ratio() >= 0.7
            && r(self.count(Signal::CamelWord)) < 0.1
            && r(other_phrases) < 0.05
            && !street_names
        {
            notes.push(format!("{known_whole} of {n} single words are known given or family names"));
            0.55
        } else {
            0.0
        };
        // Short Han words made only of the characters given names are made of (`玉梅`, `晶`, `康弘`),
        // a quarter or more of a column of nearly all single words: Chinese given names (the crate's
        // characters cover about a third of them). Words, towns and job titles use other characters
        // in nearly every value (about one in a hundred passes).
        let han_given = self.count(Signal::NameHanGiven);
        let v_han = if han_given >= 10 && r(han_given) >= 0.25 && r(single) >= 0.8 && self.distinct_ratio() >= 0.3 {
            notes.push(format!("{han_given} of {n} values are written only with characters of given names"));
            0.6
        } else {
            0.0
        };
        // Family names by their build, in any language that builds them so (`Nováková`, `Petrov`,
        // `Jensen`, `Beridze`, `Petrosyan`; `morphology.rs`): among towns, words and street names of
        // those languages at most about one in five ends so, among family names most do. Single
        // words or whole names, nearly none of them companies or places.
        let morph = self.count(Signal::NameMorph);
        let v_morph = if morph >= 10
            && r(morph) >= 0.3
            && (r(single) >= 0.8 || r(full + shape) >= 0.7)
            && r(other_phrases) < 0.1
            && self.distinct_ratio() >= 0.3
        {
            notes.push(format!("{morph} of {n} values are built like family names (suffixes such as -ová, -ov, -sen, -dze, -yan)"));
            if street_names {
                0.18
            } else {
                0.6
            }
        } else {
            0.0
        };
        let mut v = v_values
            .max(v_text)
            .max(v_script)
            .max(v_latin)
            .max(v_accounts)
            .max(v_row)
            .max(v_native)
            .max(v_romanised)
            .max(v_morph)
            .max(v_known)
            .max(v_han)
            .max(strong(0.85, keyed, n));
        if r(other_phrases) >= 0.3 {
            notes.push("many values are company or place names".into());
            v *= 0.3;
        }
        // Pass 2: a surname column sits next to e-mails, phones, birth dates.
        // Only for values that are names in part (known given or family names) or under a name that
        // says so: capitalised words alone (towns, languages, street names) in a table with e-mails,
        // under a column merely called `name`, are weak evidence three times, not a finding.
        let mut context = 0.0f32;
        let some_names = v_values >= 0.5 || ctx.name.positive(InfoType::PersonName) >= 0.85;
        if some_names && (ctx.people_table || ctx.table.has(InfoType::Email) || ctx.table.has(InfoType::DateOfBirth)) {
            context = 0.35;
        }
        // Only for words some of which are names by our lists or their build: towns, countries,
        // colours and words sit next to a given-name column as often as family names do.
        let lexical = given + family + morph + known_whole + native + han_given + romanised_known;
        if ctx.neighbour_names[InfoType::PersonName as usize] >= 0.85 && r(single) >= 0.6 && r(lexical) >= 0.05 {
            // `first_name` next door makes a column of single capitalised words likely `last_name`.
            context = context.max(0.45);
        }
        if context > 0.0 && v_values >= 0.15 {
            notes.push("the table holds other personal data".into());
        }
        (v, agree, if v_values >= 0.15 { context } else { 0.0 })
    }

    fn postcode(&self, ctx: &Context, notes: &mut Vec<String>) -> (f32, f32, f32) {
        let n = self.non_null;
        let distinct = self.count(Signal::PostcodeDistinct);
        let numeric = self.count(Signal::PostcodeNumeric);
        let keyed = self.keyed(InfoType::Postcode);
        note_matches(notes, distinct + numeric + keyed, n, "postcode-shaped values");
        let v = weak(0.62, distinct, n).max(weak(0.15, distinct + numeric, n)).max(strong(0.75, keyed, n));
        let agree = agreement(distinct + numeric + keyed, n);
        let mut context = 0.0f32;
        // Counters and ids in number columns next to an address are not
        // postcodes; there only the column's own name can say so.
        let numeric_type = matches!(ctx.type_class, TypeClass::Integer | TypeClass::Decimal);
        if numeric_type {
            return (v, agree, 0.0);
        }
        if names::mentions_address_parts(&ctx.input.neighbours) {
            context = 0.4;
        }
        if ctx.table.has(InfoType::PostalAddress) {
            context = context.max(0.45);
        }
        if ctx.table.has(InfoType::PersonName) && (context > 0.0 || ctx.table.has(InfoType::DateOfBirth)) {
            context += 0.15;
        }
        if context > 0.0 {
            notes.push("neighbouring columns are address parts or personal data".into());
        }
        (v, agree, context)
    }

    fn date_of_birth(&self, ctx: &Context, notes: &mut Vec<String>) -> (f32, f32, f32) {
        let n = self.non_null;
        let dates = self.birth_years.len() as u32;
        let text = self.count(Signal::DobText);
        let keyed = self.keyed(InfoType::DateOfBirth);
        let this_year = current_year();
        let mut v = 0.0f32;
        let mut birth_like = false;
        if dates > 0 {
            let ages: Vec<i32> = self.birth_years.iter().map(|y| this_year - y).collect();
            let plausible = ages.iter().filter(|&&a| (0..=110).contains(&a)).count() as f32 / dates as f32;
            let mean = ages.iter().map(|&a| a as f32).sum::<f32>() / dates as f32;
            let spread = (ages.iter().map(|&a| (a as f32 - mean).powi(2)).sum::<f32>() / dates as f32).sqrt();
            let timed = self.dates_with_time as f32 / dates as f32;
            birth_like = plausible >= 0.9 && timed <= 0.1 && (dates < 8 || (spread >= 6.0 && mean >= 15.0));
            if birth_like {
                notes.push(format!(
                    "{dates} of {n} values are dates; ages spread like birth dates (mean {mean:.0}, spread {spread:.0} years)"
                ));
                v = weak(if dates >= 8 { 0.3 } else { 0.15 }, dates, n);
            } else {
                v = weak(0.03, dates, n);
            }
        }
        v = v.max(strong(0.85, text, n)).max(strong(0.85, keyed, n));
        if text > 0 {
            notes.push(format!("{text} of {n} texts give a birth date"));
        }
        let mut context = 0.0f32;
        if birth_like {
            if ctx.people_table || ctx.table.has(InfoType::PersonName) || ctx.personal_neighbours >= 1.0 {
                context = 0.45;
            }
            if ctx.table.has(InfoType::PersonName)
                && (ctx.table.has(InfoType::Postcode) || ctx.table.has(InfoType::PostalAddress))
            {
                context = 0.6;
                notes.push("quasi-identifier combination: name, birth date and postcode in one table".into());
            } else if context > 0.0 {
                notes.push("the table describes people".into());
            }
        }
        let agree = if birth_like { agreement(dates, n) } else { 0.3 * agreement(dates, n) };
        (v, agree.max(agreement(text + keyed, n)), context)
    }

    fn ssn(&self, _ctx: &Context, notes: &mut Vec<String>) -> (f32, f32, f32) {
        let n = self.non_null;
        let formatted = self.count(Signal::SsnFormatted);
        let invalid = self.count(Signal::SsnFormattedInvalid);
        let digits = self.count(Signal::SsnDigits);
        let text = self.count(Signal::SsnText);
        let keyed = self.keyed(InfoType::UsSsn);
        let shaped = formatted + invalid;
        // Random 3-2-4 numbers break the issuance rules about one time in nine.
        let noise = shaped >= 10 && invalid as f32 > 0.05 * shaped as f32;
        if noise {
            notes.push(format!("{invalid} of {shaped} SSN-shaped values break the issuance rules: not SSNs"));
        } else {
            note_matches(notes, formatted + text, n, "SSNs passing the issuance rules");
        }
        let whole = if noise { 0.0 } else { strong(0.85, formatted, n) };
        let v = whole.max(strong(0.8, text, n)).max(weak(0.2, digits, n)).max(strong(0.85, keyed, n));
        (v, agreement(formatted + digits + text + keyed, n), 0.0)
    }

    /// The national-id scheme most values pass, and how many pass it.
    fn best_national_id(&self) -> Option<(national_ids::NationalId, u32)> {
        national_ids::NationalId::ALL
            .iter()
            .map(|&s| (s, self.id_counts[s as usize]))
            .filter(|&(_, c)| c > 0)
            .max_by_key(|&(s, c)| (c, std::cmp::Reverse(s)))
    }

    /// Whether the column is bare digits that nearly all pass one national-id
    /// scheme: validated evidence that outweighs phone and card shapes.
    fn digits_are_national_ids(&self) -> bool {
        let d_shaped = self.count(Signal::NatIdDigitsShaped);
        let best = self.best_national_id().map(|(_, c)| c).unwrap_or(0);
        d_shaped >= 10 && best as f32 >= 0.9 * d_shaped as f32 && d_shaped as f32 >= 0.5 * self.non_null as f32
    }

    fn national_id(&self, _ctx: &Context, notes: &mut Vec<String>) -> (f32, f32, f32) {
        let n = self.non_null;
        let shaped = self.count(Signal::NatIdShaped);
        let valid = self.count(Signal::NatIdValid);
        let d_shaped = self.count(Signal::NatIdDigitsShaped);
        let d_valid = self.count(Signal::NatIdDigitsValid);
        let keyed = self.keyed(InfoType::NationalId);
        let (best_scheme, best) = self.best_national_id().map(|(s, c)| (Some(s), c)).unwrap_or((None, 0));
        let noise = checksum_noise(shaped, valid, "id-shaped values", notes);
        let formatted = if noise { 0.0 } else { strong(0.85, valid, n) };
        // Bare digits pass some scheme's check by chance (1 in 10 or 11 per
        // scheme); a column where nearly all pass the *same* scheme holds ids.
        let digits = if d_shaped >= 20 && best as f32 >= 0.9 * d_shaped as f32 {
            weak(0.9, best, n)
        } else if d_shaped >= 10 && best as f32 >= 0.8 * d_shaped as f32 {
            weak(0.6, best, n)
        } else if d_shaped < 10 && best > 0 && best == d_shaped {
            weak(0.3, best, n)
        } else {
            0.0
        };
        if valid + d_valid > 0 {
            let best_note = match best_scheme {
                Some(s) => format!("; most pass {} ({best})", s.as_str()),
                None => String::new(),
            };
            notes.push(format!("{} of {n} values pass a national-id or document-number check{best_note}", valid + d_valid));
        }
        let doc = self.count(Signal::DocNumberShape);
        let v = formatted.max(digits).max(strong(0.85, keyed, n)).max(weak(0.2, doc, n));
        (
            v,
            agreement(valid + best.min(d_valid) + keyed, n)
                .max(if d_shaped > 0 { agreement(d_shaped, n) * 0.5 } else { 0.0 })
                .max(agreement(doc, n)),
            0.0,
        )
    }

    fn geo(&self, ctx: &Context, notes: &mut Vec<String>) -> (f32, f32, f32) {
        let n = self.non_null;
        let pairs = self.count(Signal::GeoPair);
        let floats = self.count(Signal::GeoFloat);
        let keyed = self.keyed(InfoType::GeoCoordinates);
        if ctx.type_class == TypeClass::Point {
            notes.push("a point column".into());
            return (0.55, 1.0, 0.0);
        }
        note_matches(notes, pairs, n, "latitude/longitude pairs");
        let v_pairs = weak(0.85, pairs, n).max(strong(0.7, pairs, n)).max(strong(0.8, keyed, n));
        let v_floats = weak(0.15, floats, n);
        let lat_range = self.floats.iter().all(|f| f.abs() <= 90.0);
        let mut context = 0.0;
        if floats > 0 {
            notes.push(format!("{floats} of {n} values are precise decimals in coordinate range"));
            let partner = ctx.neighbour_names[InfoType::GeoCoordinates as usize] >= 0.8;
            if partner || ctx.table.has(InfoType::GeoCoordinates) {
                context = 0.45;
                notes.push("a neighbouring column is the other coordinate".into());
            }
            let toks = names::tokens(&ctx.input.column_name);
            if toks.iter().any(|t| t == "lat" || t == "latitude") && !lat_range {
                return (0.0, 0.0, 0.0);
            }
        }
        (v_pairs.max(v_floats), agreement(pairs + floats + keyed, n), context)
    }

    fn secret(&self, ctx: &Context, notes: &mut Vec<String>) -> (f32, f32, f32) {
        let n = self.non_null;
        let known = self.count(Signal::SecretKnown) + self.count(Signal::Jwt) + self.count(Signal::Pem);
        let hashes = self.count(Signal::PasswordHash);
        let high = self.count(Signal::HighEntropy);
        let password_like = self.count(Signal::PasswordLike);
        let ids = self.count(Signal::Uuid) + self.count(Signal::HexId) + self.count(Signal::OpaqueId);
        let keyed = self.keyed(InfoType::Secret);
        if known > 0 {
            let kinds: Vec<String> = self
                .schemes
                .iter()
                .filter(|(k, _)| k.contains("key") || k.contains("token") || **k == "jwt")
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            notes.push(format!("{known} of {n} values are credentials with a known format ({})", kinds.join(", ")));
        }
        if hashes > 0 {
            notes.push(format!("{hashes} of {n} values are password hashes"));
        }
        if high > 0 {
            notes.push(format!("{high} of {n} values are high-entropy strings"));
        }
        let v = strong(0.96, known, n)
            .max(strong(0.85, hashes, n))
            .max(weak(0.3, high, n))
            .max(weak(0.2, password_like + high, n))
            .max(weak(0.15, ids, n))
            .max(strong(0.8, keyed, n));
        let _ = ctx;
        (v, agreement(known + hashes + high + password_like + ids + keyed, n), 0.0)
    }

    fn tracking_id(&self, ctx: &Context, notes: &mut Vec<String>) -> (f32, f32, f32) {
        let n = self.non_null;
        let ids = self.count(Signal::Uuid) + self.count(Signal::HexId) + self.count(Signal::OpaqueId);
        let keyed = self.keyed(InfoType::UserTrackingId);
        let handles = self.count(Signal::Handle);
        // Account names: only a column of many different ones, and only with
        // a name that says so, lifts them above the threshold.
        let user_names = if self.distinct_ratio() >= 0.7 { self.count(Signal::UsernameShape) } else { 0 };
        if ids + keyed + handles + user_names == 0 {
            return (0.0, 0.0, 0.0);
        }
        if ids > 0 {
            notes.push(format!("{} of {n} values are opaque identifiers (UUIDs, hashes, tokens)", ids));
        }
        if handles > 0 {
            notes.push(format!("{handles} of {n} values are @handles"));
        }
        if user_names > 0 {
            notes.push(format!("{user_names} of {n} values are shaped like account names"));
        }
        // Account names made of people's names are people's accounts, whatever the column is called.
        let named = if self.distinct_ratio() >= 0.8 { self.count(Signal::UsernameNamed) } else { 0 };
        let v_named: f32 = if named as f32 >= 0.3 * n as f32 && user_names as f32 >= 0.8 * n as f32 {
            notes.push(format!("{named} of {n} account names are built from given or family names"));
            0.6
        } else {
            0.0
        };
        // Account names with a number (`jesus42`) whose letters vary from value to value (a code
        // such as `item42` repeats its letters), among many different account-name shapes.
        let numbered = self.count(Signal::UsernameDigits);
        let stems = self.script_last_words.len() as f32;
        let v_numbered = if self.distinct_ratio() >= 0.9
            && user_names as f32 >= 0.9 * n as f32
            && numbered as f32 >= 0.15 * n as f32
            && stems >= 0.8 * numbered as f32
        {
            notes.push(format!("{numbered} of {n} account names carry a number after letters that differ, {named} are built from names"));
            0.6
        } else {
            0.0
        };
        // Account names built from the words of the same table's name column.
        let v_linked =
            if ctx.table.accounts_with_names >= 0.3 && user_names as f32 >= 0.8 * n as f32 {
                notes.push(format!(
                    "{:.0}% of the account names hold a name from another column of the table",
                    100.0 * ctx.table.accounts_with_names
                ));
                0.7
            } else {
                0.0
            };
        // Since 1.9.0, row by row: half or more of the account names hold the same row's name.
        let v_row_linked = if ctx.table.accounts_with_row_names >= 0.5 && user_names as f32 >= 0.8 * n as f32 {
            notes.push(format!(
                "{:.0}% of the account names hold the name in another column of the same row",
                100.0 * ctx.table.accounts_with_row_names
            ));
            0.85
        } else {
            0.0
        };
        // Account names by shape and variety: nearly every value a different single token of
        // letters (and digits), none joined by hyphens as slugs and domain words are, in a table
        // that holds other personal data — transliterated names (`rhmaanarghy`) no list knows.
        let plain = self
            .accounts
            .iter()
            .filter(|a| !a.contains('-'))
            .count()
            .saturating_sub(self.accounts_odd as usize);
        let personal_table = ctx.people_table || ctx.table.direct_identifiers() >= 1;
        let v_variety = if personal_table
            && self.distinct_ratio() >= 0.95
            && user_names as f32 >= 0.95 * n as f32
            && self.accounts.len() >= 20
            && plain as f32 >= 0.98 * self.accounts.len() as f32
        {
            notes.push(format!(
                "{user_names} of {n} values are different account-name tokens, in a table with other personal data"
            ));
            0.55
        } else {
            0.0
        };
        let v_named = v_named.max(v_numbered).max(v_linked).max(v_row_linked).max(v_variety);
        let v = weak(0.12, ids, n)
            .max(strong(0.8, keyed, n))
            .max(weak(0.85, handles, n).max(strong(0.6, handles, n)))
            .max(weak(0.3, user_names, n))
            .max(v_named);
        let mut context = 0.0f32;
        if names::is_bare_key(&ctx.input.column_name) {
            if ctx.people_table {
                context = 0.75;
                notes.push("the key of a table of people".into());
            } else if ctx.table.direct_identifiers() >= 2 {
                context = 0.6;
                notes.push("the key of rows that hold direct identifiers".into());
            }
        }
        if ctx.references_people {
            context = context.max(0.8);
            notes.push("a foreign key to a table of people".into());
        }
        (v, agreement(ids + keyed + handles + user_names, n), context)
    }
}

fn note_matches(notes: &mut Vec<String>, m: u32, n: u32, what: &str) {
    if m > 0 {
        notes.push(format!("{m} of {n} values ({}) are {what}", pct(m, n)));
    }
}

fn current_year() -> i32 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(1_700_000_000);
    1970 + (secs / 31_556_952) as i32
}

/// Pass 1 for one column: its values and its own name only.
pub fn classify_column<'a, I>(input: &ColumnInput, values: I) -> Vec<Detection>
where
    I: IntoIterator<Item = Option<&'a str>>,
{
    ColumnProfile::from_values(values).score(input, &TableContext::default(), None)
}

/// Pass 2 over a whole table: every column scored again with what the other
/// columns hold. `live` (one entry per column, or empty) carries statistics
/// fetched from the table itself.
pub fn classify_table(columns: &[(ColumnInput, ColumnProfile)], live: &[Option<LiveStats>]) -> Vec<Vec<Detection>> {
    let first: Vec<Vec<Detection>> =
        columns.iter().map(|(input, profile)| profile.score(input, &TableContext::default(), None)).collect();
    // Name columns against account-name columns. A wide table is bounded to its 16 most
    // name-like and 4 most account-like columns, so the pass stays cheap.
    let mut name_cols: Vec<usize> = (0..columns.len()).filter(|&i| columns[i].1.name_shaped >= 20).collect();
    name_cols.sort_by_key(|&i| std::cmp::Reverse(columns[i].1.name_shaped));
    name_cols.truncate(16);
    let mut account_cols: Vec<usize> = (0..columns.len()).filter(|&i| columns[i].1.accounts.len() >= 20).collect();
    account_cols.sort_by_key(|&i| std::cmp::Reverse(columns[i].1.accounts.len()));
    account_cols.truncate(4);
    let mut names_in_accounts = vec![0.0f32; columns.len()];
    let mut accounts_with_names = vec![0.0f32; columns.len()];
    let mut names_in_row_accounts = vec![0.0f32; columns.len()];
    let mut accounts_with_row_names = vec![0.0f32; columns.len()];
    for &i in &name_cols {
        for &j in &account_cols {
            if i != j {
                let (named, holding) = names_within_accounts(&columns[i].1, &columns[j].1);
                names_in_accounts[i] = names_in_accounts[i].max(named);
                accounts_with_names[j] = accounts_with_names[j].max(holding);
                let same_row = names_within_row_accounts(&columns[i].1, &columns[j].1);
                names_in_row_accounts[i] = names_in_row_accounts[i].max(same_row);
                accounts_with_row_names[j] = accounts_with_row_names[j].max(same_row);
            }
        }
    }
    columns
        .iter()
        .enumerate()
        .map(|(i, (input, profile))| {
            let mut table = TableContext::default();
            for (j, detections) in first.iter().enumerate() {
                if i == j {
                    continue;
                }
                for d in detections {
                    let slot = &mut table.detected[d.infotype as usize];
                    *slot = slot.max(d.confidence);
                }
            }
            table.names_in_accounts = names_in_accounts[i];
            table.accounts_with_names = accounts_with_names[i];
            table.names_in_row_accounts = names_in_row_accounts[i];
            table.accounts_with_row_names = accounts_with_row_names[i];
            let stats = live.get(i).copied().flatten();
            profile.score(input, &table, stats.as_ref())
        })
        .collect()
}

/// Detections at or above `threshold`.
pub fn above(detections: Vec<Detection>, threshold: f32) -> Vec<Detection> {
    detections.into_iter().filter(|d| d.confidence >= threshold).collect()
}
