//! Looks at one cell: which kinds of personal data it holds (as a whole, or
//! inside free text or JSON), each validated rather than only matched.

use std::sync::OnceLock;

use regex::Regex;

use super::dictionary::{
    fold, is_cjk_family_name, is_family_name, is_given_name, is_name_affix, is_organisation_marker, is_place_marker,
    starts_with_cjk_family_name, transliterate,
};
use super::names;
use super::financial::{card_network, iban_check, luhn_valid, IbanCheck};
use super::network::{is_ipv6, is_mac, parse_ipv4_host};
use super::validators::{
    all_same, digits_of, is_jwt, parse_date, shannon_entropy, ssn_digits_valid, ssn_formatted, FoundDate,
};
use super::{credentials, national_ids, online_ids};
use super::InfoType;

/// One observation about a cell. A cell counts at most once per signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Signal {
    EmailWhole,
    EmailText,
    PhoneIntl,
    PhoneNational,
    PhoneDigits,
    PhoneText,
    /// Shaped like a North American number (3-3-4 digits)…
    PhoneNanpShaped,
    /// …but an area code or exchange starts with 0 or 1, which real ones never do.
    PhoneNanpInvalid,
    Ipv4Whole,
    Ipv4Text,
    /// All four parts below 32: more like a version number than an address.
    Ipv4Small,
    VersionString,
    Ipv6Whole,
    Ipv6Text,
    MacWhole,
    MacText,
    NameFull,
    NameShape,
    NameGiven,
    NameFamily,
    NameCjk,
    NameText,
    NameOrganisation,
    NamePlace,
    SingleWordCap,
    AddressWhole,
    AddressText,
    /// A house number and words in any script: an address only if the name says so.
    AddressShape,
    PostcodeDistinct,
    PostcodeNumeric,
    Date,
    DobText,
    CardShaped,
    CardValid,
    CardText,
    IbanShaped,
    IbanValid,
    IbanText,
    SsnFormatted,
    SsnFormattedInvalid,
    SsnDigits,
    SsnText,
    NatIdShaped,
    NatIdValid,
    NatIdDigitsShaped,
    NatIdDigitsValid,
    GeoPair,
    GeoFloat,
    UrlCreds,
    SecretKnown,
    Jwt,
    Pem,
    PasswordHash,
    HighEntropy,
    PasswordLike,
    Uuid,
    HexId,
    OpaqueId,
    /// `@handle`.
    Handle,
    /// One token shaped like an account name: evidence only with a telling column name.
    UsernameShape,
    /// An account name built from a known given or family name (`maria42`, `john.smith`).
    UsernameNamed,
    /// Two to four words in a script our name lists do not cover, each shaped like a name part.
    NameShapeScript,
    /// A document-number shape (`P06690743`, `AB1234567`, nine digits): a passport or
    /// identity-card number only when the column's name says so.
    DocNumberShape,
    /// Digits separated by dots only (`06.12.34.56.78`, `10.22.33.44`): phones or versions.
    DottedDigits,
    /// An account name of letters and a short number (`jesus42`, `Wasco1982`, `been_1835`).
    UsernameDigits,
    /// Two to four capitalised Latin words, no known name among them: a name only when the
    /// column has many different last words (like `NameShapeScript`).
    NameShapeLatin,
    /// Parts separated by commas or lines, one with a number, in any script: the structure of
    /// a postal address (`ক্রম ১২, পশ্চিম সড়ক, ঢাকা ১২০৫`).
    AddressParts,
    /// Thirteen bare digits…
    Ean13Shaped,
    /// …passing the EAN-13 check: in a column of them, product codes, not phone numbers.
    Ean13,
    /// One word in a script other than Latin that the `name-variants` crate's tables know as a
    /// name (`রহিম`, `טליה`): rare among other words of that script, so a share of them counts.
    NameNative,
    /// A family name by its build (`Nováková`, `Petrov`, `Jensen`, `Beridze`; `morphology.rs`): alone,
    /// or the family-name part of a capitalised name. Rare among towns and words, so a share counts.
    NameMorph,
    /// Initials with a capitalised word (`J. Smith`, `Novák, A.`, `A. B. Okafor`).
    NameInitials,
    /// One capitalised word, not joined with hyphens, that is itself a known given or family name
    /// (`Paulina`, not `Hans-Werner-Schmiedecke-Straße`).
    NameKnownWhole,
    /// One word in a script other than Latin, Cyrillic and Greek whose romanisation by `deunicode` is a
    /// given or family name our Latin lists (or `name-variants`' romanisations) know: `გიორგი` →
    /// `giorgi`, `Արմեն` → `armen`. Rare among towns, words and months of those scripts (3% or fewer of
    /// the different values of any development column of them), so a share of a column counts.
    NameRomanisedKnown,
    /// One to three Han characters, every one of them a character of given names (`dictionary.rs`):
    /// `玉梅`, `晶`, `康弘`.
    NameHanGiven,
    /// Fourteen to twenty bare digits (transaction and account numbers; a number dialled abroad with
    /// `00` among them is chance).
    LongDigits,
    /// A word with a capital inside it after a small letter (`DarkBlue`, `PeachPuff`): colours,
    /// identifiers and brands, not how names are written (but `McNeil`, `DeShawn`, `MacLeod` are).
    CamelWord,
    /// Eleven bare digits of China's mobile numbering plan (`1[3-9]` and nine digits): a phone number
    /// when nearly the whole column is written so (random eleven-digit ids start so one time in 14).
    PhoneMobileCn,
    /// A national number written with its trunk prefix (`051-038-2374`, `(0)30 1234567`): a 0 and a
    /// digit other than 0 first. North American numbers never start so, so a column of them is not
    /// judged by North American area-code rules.
    PhoneTrunk,
    /// A street and house number in a script other than Latin: one to four words and a number
    /// (`Մուրացանի 160`, `צור 26`, `9/4 तिवारी`, `მუხაძის ქ. 84`), no street-type word needed.
    AddressStreetNumber,
    /// …whose number is above 12 or written with a slash or a letter (`9/4`, `12a`): house numbers
    /// spread so, the numbers after words in lists, editions and months (`… 7`, `… 12`) do not.
    AddressStreetNumberHigh,
    FreeText,
    Json,
}

pub const N_SIGNALS: usize = Signal::Json as usize + 1;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SignalSet(u128);

impl SignalSet {
    pub fn set(&mut self, s: Signal) {
        self.0 |= 1u128 << (s as u8);
    }
    pub fn has(&self, s: Signal) -> bool {
        self.0 & (1u128 << (s as u8)) != 0
    }
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }
    pub fn union(&mut self, other: SignalSet) {
        self.0 |= other.0;
    }
    pub fn indices(&self) -> impl Iterator<Item = usize> + '_ {
        (0..N_SIGNALS).filter(move |i| self.0 & (1u128 << i) != 0)
    }
}

/// What one cell holds.
#[derive(Debug, Default, Clone)]
pub struct CellFindings {
    pub signals: SignalSet,
    /// Infotypes a JSON key announced for a plausible value (bit = InfoType index).
    pub keyed: u32,
    pub date: Option<FoundDate>,
    pub float: Option<f64>,
    /// National-id schemes the value passes (bit = `NationalId` index).
    pub national_ids: u64,
    /// Hash of the word that varies between people: the last word of a name-shaped value,
    /// the letters of an account name with a number.
    pub last_word: Option<u64>,
    pub card_network: Option<&'static str>,
    pub secret_kind: Option<&'static str>,
}

impl CellFindings {
    fn set(&mut self, s: Signal) {
        self.signals.set(s);
    }
    fn has(&self, s: Signal) -> bool {
        self.signals.has(s)
    }
    fn key(&mut self, t: InfoType) {
        self.keyed |= 1 << (t as u32);
    }
}

/// Empty strings and the usual stand-ins for "no value".
pub fn is_placeholder(v: &str) -> bool {
    if v.len() > 12 {
        return false;
    }
    matches!(
        v.to_ascii_lowercase().as_str(),
        "" | "-"
            | "--"
            | "n/a"
            | "na"
            | "none"
            | "null"
            | "nil"
            | "unknown"
            | "?"
            | "[]"
            | "{}"
            | "undefined"
            | "redacted"
            | "***"
            | "xxx"
            | "tbd"
            | "not set"
            | "empty"
            | "\"\""
            | "''"
            | "nan"
    )
}

/// Analyses one cell.
pub fn analyse(value: &str) -> CellFindings {
    let mut cell = CellFindings::default();
    let v = value.trim();
    if v.is_empty() {
        return cell;
    }
    let first = v.as_bytes()[0];
    if (first == b'{' || first == b'[') && v.len() >= 2 {
        if let Ok(json) = serde_json::from_str::<serde_json::Value>(v) {
            cell.set(Signal::Json);
            let mut budget = 400;
            walk_json(&json, None, 0, &mut budget, &mut cell);
            return cell;
        }
    }
    let is_text = v.contains('\n') || (v.len() > 40 && v.contains(' ') && v.chars().count() > 40);
    if is_text {
        cell.set(Signal::FreeText);
        // Multi-line postal addresses are "text" too: look at each line whole.
        if v.len() < 200 {
            for line in v.lines() {
                let line = line.trim();
                if address_line(line) {
                    cell.set(Signal::AddressWhole);
                }
            }
            if multi_line_address(v) {
                cell.set(Signal::AddressWhole);
            }
        }
        scan_text(v, &mut cell);
    } else {
        whole_value(v, &mut cell);
        if v.contains(' ') && cell.signals.is_empty() {
            scan_text(v, &mut cell);
        }
    }
    if !cell.has(Signal::AddressWhole) && v.contains([',', '\n', '،']) && address_parts(v) {
        cell.set(Signal::AddressParts);
    }
    cell
}

/// GS1's EAN-13 check digit: weights 1 and 3 alternating from the left.
fn ean13_valid(d: &[u8]) -> bool {
    let sum: u32 = d[..12].iter().enumerate().map(|(i, &x)| x as u32 * if i % 2 == 0 { 1 } else { 3 }).sum();
    (10 - sum % 10) % 10 == d[12] as u32
}

/// The structure of a postal address in any script: two to five parts separated by commas or
/// line breaks (two to six: flat, building, street, area, town, postcode), short ones (five words at most), at least two with letters, and one with words
/// and a number (house number, postcode) written in any digits; nothing of prose (sentences end with a full stop), code or user
/// agents (`;`, `=`, `/` after a letter).
fn address_parts(v: &str) -> bool {
    let chars = v.chars().count();
    if !(8..=160).contains(&chars) || v.contains('@') || v.contains("://") || v.contains(';') || v.contains('=') {
        return false;
    }
    // Sentences end with a full stop after a word; abbreviations (`ք.`, `ул.`, `бн.`, `Nr.`) are short.
    let pieces: Vec<&str> = v.split(". ").collect();
    let sentence_ends = pieces[..pieces.len() - 1]
        .iter()
        .filter(|before| before.rsplit(' ').next().is_some_and(|w| w.chars().count() >= 4))
        .count();
    if v.ends_with('.') && !v.ends_with(" .") || sentence_ends > 1 {
        return false;
    }
    let mut prev_alpha = false;
    for c in v.chars() {
        if c == '/' && prev_alpha {
            return false;
        }
        prev_alpha = c.is_alphabetic();
    }
    let parts: Vec<&str> = v.split([',', '\n', '،']).map(str::trim).filter(|p| !p.is_empty()).collect();
    // Address parts are short (street and number, postcode and town), not clauses.
    if !(2..=6).contains(&parts.len()) || parts.iter().any(|p| p.chars().count() > 60 || p.split_whitespace().count() > 5) {
        return false;
    }
    // A house number or postcode: a number of at most seven digits (references are longer).
    let short_number = v
        .split(|c: char| !c.is_numeric())
        .any(|g| !g.is_empty() && g.chars().count() <= 7);
    if !short_number {
        return false;
    }
    let wordy = parts.iter().filter(|p| p.chars().filter(|c| c.is_alphabetic()).count() >= 2).count();
    // A number written with words in one part (`Oxford Street 12`, `Dhaka 1205`): a bare year
    // among attributes (`Sedan, Blue, 2019`) is not a house number.
    let numbered = parts.iter().any(|p| {
        p.chars().any(|c| c.is_numeric()) && p.chars().filter(|c| c.is_alphabetic()).count() >= 2
    });
    let digits = v.chars().filter(|c| c.is_numeric()).count();
    wordy >= 2 && numbered && digits * 2 <= chars
}

// ---------------------------------------------------------------- whole values

/// Digits of other numeral systems (Bengali `০১৪০৯`, Devanagari, Arabic-Indic and Persian, Thai, Tamil,
/// full-width …) as ASCII, when the value is nothing but digits and a phone number's separators
/// (`+৮৮০-১৩২৭-৬৫৬৭৫৭` → `+880-1327-656757`); `None` otherwise.
fn native_digits_to_ascii(v: &str) -> Option<String> {
    const ZEROS: [u32; 17] = [
        0x0660, 0x06F0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66, 0x0E50, 0x0ED0,
        0x0F20, 0x1040, 0x17E0, 0xFF10,
    ];
    let mut native = false;
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if c.is_ascii_digit() || " -.()/+".contains(c) {
            out.push(c);
            continue;
        }
        let digit = ZEROS.iter().find_map(|&z| (z..z + 10).contains(&(c as u32)).then(|| c as u32 - z))?;
        native = true;
        out.push(char::from(b'0' + digit as u8));
    }
    native.then_some(out)
}

fn whole_value(v: &str, cell: &mut CellFindings) {
    if let Some(ascii) = native_digits_to_ascii(v) {
        return whole_value(&ascii, cell);
    }
    let bytes = v.as_bytes();
    let mut n_digits = 0usize;
    let mut n_alpha = 0usize;
    let mut n_space = 0usize;
    let mut n_colon = 0usize;
    let mut n_dot = 0usize;
    let mut has_at = false;
    let mut ascii = true;
    for &b in bytes {
        match b {
            b'0'..=b'9' => n_digits += 1,
            b'a'..=b'z' | b'A'..=b'Z' => n_alpha += 1,
            b' ' => n_space += 1,
            b':' => n_colon += 1,
            b'.' => n_dot += 1,
            b'@' => has_at = true,
            0x80..=0xff => ascii = false,
            _ => {}
        }
    }
    let len = v.len();

    if has_at {
        if is_email(v) {
            cell.set(Signal::EmailWhole);
            return;
        }
        if v.contains("://") && url_has_credentials(v) {
            cell.set(Signal::UrlCreds);
            return;
        }
    }
    if known_secret(v, cell) {
        return;
    }
    let hash_prefix = bytes[0] == b'$' || v.starts_with("pbkdf2_") || v.starts_with("bcrypt") || v.starts_with("{SSHA");
    if hash_prefix && password_hash(v) {
        cell.set(Signal::PasswordHash);
        return;
    }

    if (len == 17 || len == 14) && is_mac(v) {
        cell.set(Signal::MacWhole);
        return;
    }
    // Only digits and separators: cards, phones, SSNs, national ids, postcodes, dates.
    let numeric_shape = n_alpha == 0 && n_digits > 0 && ascii;
    if numeric_shape {
        if let Some(date) = parse_date(v) {
            cell.set(Signal::Date);
            cell.date = Some(date);
            return;
        }
        if n_dot == 3 && n_colon == 0 {
            if let Some(ip) = parse_ipv4_host(v) {
                cell.set(Signal::Ipv4Whole);
                if ip.iter().all(|&o| o < 32) {
                    cell.set(Signal::Ipv4Small);
                }
                return;
            }
        }
        if geo_pair(v) {
            cell.set(Signal::GeoPair);
            return;
        }
        if let Some(f) = geo_float(v) {
            cell.set(Signal::GeoFloat);
            cell.float = Some(f);
        }
        // Identifiers first: "280.929.381-30" is a CPF, not version 280.929.381.
        numeric_identifiers(v, cell);
        if cell.signals.is_empty() && version_string(v) {
            cell.set(Signal::VersionString);
        }
        return;
    }

    if n_colon >= 2 && is_ipv6(v) {
        cell.set(Signal::Ipv6Whole);
        return;
    }
    if (len == 17 || len == 14) && is_mac(v) {
        cell.set(Signal::MacWhole);
        return;
    }
    if n_colon == 0 && n_dot == 3 && parse_ipv4_host(v).is_some() {
        cell.set(Signal::Ipv4Whole);
        return;
    }
    if version_string(v) {
        cell.set(Signal::VersionString);
        return;
    }
    if let Some(date) = parse_date(v) {
        cell.set(Signal::Date);
        cell.date = Some(date);
        return;
    }
    if geo_pair(v) {
        cell.set(Signal::GeoPair);
        return;
    }
    // Letters and digits mixed: IBANs, national ids, postcodes, phone numbers with extensions.
    if n_digits > 0 && ascii {
        match iban_check(v) {
            IbanCheck::Valid => {
                cell.set(Signal::IbanShaped);
                cell.set(Signal::IbanValid);
                return;
            }
            IbanCheck::Invalid => {
                cell.set(Signal::IbanShaped);
                return;
            }
            IbanCheck::NotShaped => {}
        }
        if let Some(m) = national_ids::check(v) {
            cell.set(Signal::NatIdShaped);
            if m.is_valid() {
                cell.set(Signal::NatIdValid);
                cell.national_ids = m.valid;
                return;
            }
        }
        if postcode_distinct(v) {
            cell.set(Signal::PostcodeDistinct);
            return;
        }
        if postcode_numeric_formatted(v) {
            // "H-7273", "D-10115": a country letter before the number.
            cell.set(Signal::PostcodeNumeric);
            return;
        }
        if phone_with_extension(v, cell) {
            return;
        }
    }
    if n_digits > 0 && address_line(v) {
        cell.set(Signal::AddressWhole);
        return;
    }
    if n_digits > 0 && (cjk_address(v) || !ascii && regexes().other_script_address.is_match(v)) {
        cell.set(Signal::AddressWhole);
        return;
    }
    if n_digits == 0 && !ascii && cjk_address(v) {
        cell.set(Signal::AddressWhole);
        return;
    }
    if n_digits == 0 {
        person_name(v, cell);
        if !cell.signals.is_empty() {
            return;
        }
    }
    if n_space == 0 {
        if online_ids::handle(v) {
            cell.set(Signal::Handle);
            return;
        }
        if online_ids::username_shape(v) {
            cell.set(Signal::UsernameShape);
            // A bare name (`martin`) is a word as much as an account; an account name built from
            // names joins two of them, an initial and one, or a name and a number.
            let parts: Vec<String> = v
                .split(|c: char| !c.is_ascii_alphabetic())
                .filter(|p| p.len() >= 3)
                .map(|p| p.to_ascii_lowercase())
                .collect();
            let is_name = |w: &str| is_given_name(w) || is_family_name(w);
            let has_number = v.bytes().any(|b| b.is_ascii_digit());
            // The crate's romanisations are looked up for whole parts only (`deshmukh42`): every
            // split of every value would cost a lookup each.
            let named = parts.iter().any(|p| {
                let whole = is_name(p) || romanised_name(p);
                (whole || online_ids::built_from_names(p, &|w: &str| is_name(w))) && (!whole || has_number || parts.len() >= 2)
            });
            if named {
                cell.set(Signal::UsernameNamed);
            }
            if let Some(stem) = online_ids::numbered_account(v) {
                cell.set(Signal::UsernameDigits);
                let mut h = std::collections::hash_map::DefaultHasher::new();
                std::hash::Hash::hash(&stem.to_ascii_lowercase(), &mut h);
                cell.last_word = Some(std::hash::Hasher::finish(&h));
            }
        }
        if online_ids::document_number_shape(v) {
            cell.set(Signal::DocNumberShape);
        }
        opaque_token(v, cell);
    }
    if cell.signals.is_empty() && n_digits > 0 && address_shape(v) {
        cell.set(Signal::AddressShape);
    }
    if n_digits > 0 {
        if let Some(high) = street_and_number_script(v) {
            cell.set(Signal::AddressStreetNumber);
            if high {
                cell.set(Signal::AddressStreetNumberHigh);
            }
        }
    }
}

/// A house number (`160`, `9/4`, `12a`) and one to four words in a script other than Latin, the number
/// first or last (`Մուրացանի 160`, `צור 26`, `9/4 तिवारी`, `მუხაძის ქ. 84`, `שכ 14 53`). Streets of
/// many countries are written so without a street-type word; product names and codes in those scripts
/// rarely are, and the column rule asks for nearly all values to be different and for house numbers
/// spread beyond 12. `Some(high)`: whether the number is above 12 or written with a slash or a letter.
fn street_and_number_script(v: &str) -> Option<bool> {
    let tokens: Vec<&str> = v.split_whitespace().collect();
    if !(2..=7).contains(&tokens.len()) {
        return None;
    }
    let is_number = |t: &str| {
        let t = t.trim_end_matches([',', '.']);
        let b = t.as_bytes();
        !b.is_empty()
            && b.len() <= 9
            && b[0].is_ascii_digit()
            && t.chars().filter(|c| c.is_alphabetic()).count() <= 1
            && t.chars().all(|c| c.is_ascii_digit() || c == '/' || c == '-' || c.is_alphabetic())
    };
    let lead = tokens.iter().take_while(|t| is_number(t)).count();
    let trail = tokens[lead..].iter().rev().take_while(|t| is_number(t)).count();
    let words = &tokens[lead..tokens.len() - trail];
    if lead + trail == 0 || lead + trail > 2 || !(1..=4).contains(&words.len()) {
        return None;
    }
    // A year is no house number: `Москва 2019`, `Март 2021`, `มกราคม 2567` (Buddhist era), `۱۳۹۸`-era
    // Persian years written in digits are editions and dates.
    let numbers: Vec<&str> = tokens[..lead].iter().chain(&tokens[tokens.len() - trail..]).copied().collect();
    let year = |t: &&str| t.len() == 4 && t.parse::<u32>().is_ok_and(|y| (1300..=2600).contains(&y));
    if numbers.iter().all(year) {
        return None;
    }
    let (mut latin, mut other) = (0usize, 0usize);
    for w in words {
        let letters = w.chars().filter(|c| c.is_alphabetic()).count();
        if letters == 0 || w.chars().any(|c| c.is_ascii_digit()) {
            return None;
        }
        for c in w.chars().filter(|c| c.is_alphabetic()) {
            if c.is_ascii_alphabetic() || ('\u{00c0}'..='\u{024f}').contains(&c) {
                latin += 1;
            } else {
                other += 1;
            }
        }
    }
    if other < 2 || latin * 5 > other {
        return None;
    }
    let high = numbers.iter().any(|t| {
        let lead_digits: String = t.chars().take_while(char::is_ascii_digit).collect();
        lead_digits.parse::<u32>().map_or(true, |x| x > 40) || t.contains('/') || t.chars().any(char::is_alphabetic)
    });
    Some(high)
}

/// A house number and at least one word of letters, in any script
/// ("Petőfi tér 134.", "Κολιρίου 76", "ш. Ярославское, д. 45").
fn address_shape(v: &str) -> bool {
    let chars = v.chars().count();
    if !(5..=80).contains(&chars) || v.contains('@') || v.contains("://") {
        return false;
    }
    let digits = v.chars().filter(char::is_ascii_digit).count();
    let words = v.split_whitespace().filter(|w| w.chars().filter(|c| c.is_alphabetic()).count() >= 2).count();
    let number_groups = v.split(|c: char| !c.is_ascii_digit()).filter(|g| !g.is_empty() && g.len() <= 5).count();
    (1..=10).contains(&words) && number_groups >= 1 && digits * 10 <= chars * 4
}

/// Strict enough for real addresses, loose enough for plus tags and subdomains.
pub fn is_email(v: &str) -> bool {
    let Some((local, domain)) = v.rsplit_once('@') else {
        return false;
    };
    if local.is_empty() || local.len() > 64 || domain.len() < 4 || domain.len() > 253 {
        return false;
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return false;
    }
    if !local.bytes().all(|b| b.is_ascii_alphanumeric() || b"._%+-'!#$&*=?^`{|}~/".contains(&b)) {
        return false;
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return false;
    }
    for label in &labels {
        if label.is_empty() || label.len() > 63 || label.starts_with('-') || label.ends_with('-') {
            return false;
        }
        if !label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return false;
        }
    }
    let tld = labels[labels.len() - 1];
    tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic())
}

fn url_has_credentials(v: &str) -> bool {
    let Some(m) = regexes().url_creds.captures(v) else {
        return false;
    };
    let password = m.get(2).map(|p| p.as_str()).unwrap_or("");
    !password_is_placeholder(password)
}

fn password_is_placeholder(p: &str) -> bool {
    p.is_empty()
        || p.chars().all(|c| c == '*' || c == 'x' || c == 'X' || c == '.')
        || p.starts_with("${")
        || p.starts_with('<')
        || p.starts_with('{')
        || p.starts_with('%')
        || matches!(p.to_ascii_lowercase().as_str(), "password" | "pass" | "secret" | "changeme" | "redacted")
}

fn known_secret(v: &str, cell: &mut CellFindings) -> bool {
    let r = regexes();
    if v.contains("-----BEGIN") && r.pem.is_match(v) {
        cell.set(Signal::Pem);
        cell.secret_kind = Some("pem_private_key");
        return true;
    }
    if v.starts_with("eyJ") && (is_jwt(v) || credentials::is_jose_token(v)) {
        cell.set(Signal::Jwt);
        cell.secret_kind = Some("jwt");
        return true;
    }
    if let Some(kind) = credentials::known_token(v) {
        cell.set(Signal::SecretKnown);
        cell.secret_kind = Some(kind);
        return true;
    }
    false
}

fn password_hash(v: &str) -> bool {
    regexes().password_hash.is_match(v)
}

fn version_string(v: &str) -> bool {
    regexes().version.is_match(v)
}

/// "40.71427, -74.00597", "(40.7, -74.0)", "POINT(-74.00597 40.71427)".
pub fn geo_pair(v: &str) -> bool {
    let inner = v.trim();
    let (inner, lon_first) = if let Some(rest) = inner.strip_prefix("POINT").or_else(|| inner.strip_prefix("point")) {
        (rest.trim(), true)
    } else {
        (inner, false)
    };
    let inner = inner.trim_start_matches(['(', '[']).trim_end_matches([')', ']']).trim();
    let mut parts = inner.split([',', ';', ' ']).filter(|p| !p.is_empty());
    let (Some(a), Some(b), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let (Some(x), Some(y)) = (coordinate(a), coordinate(b)) else {
        return false;
    };
    let fits = |lat: f64, lon: f64| lat.abs() <= 90.0 && lon.abs() <= 180.0;
    if lon_first {
        fits(y, x)
    } else {
        fits(x, y) || fits(y, x)
    }
}

/// A decimal number with at least three decimals (coordinates are precise;
/// prices and ratios usually are not).
fn coordinate(s: &str) -> Option<f64> {
    let (_, decimals) = s.split_once('.')?;
    if decimals.len() < 3 || !decimals.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let f: f64 = s.parse().ok()?;
    if f.abs() > 180.0 || f == f.trunc() {
        return None;
    }
    Some(f)
}

fn geo_float(v: &str) -> Option<f64> {
    let (_, decimals) = v.split_once('.')?;
    if decimals.len() < 4 {
        return None;
    }
    coordinate(v)
}

/// Digits with separators only: cards, SSNs, national ids, phones, postcodes.
fn numeric_identifiers(v: &str, cell: &mut CellFindings) {
    let Some(digits) = digits_of(v, 24) else {
        // Something like "+49 (0)30 1234567": phones keep their punctuation.
        phone(v, cell);
        return;
    };
    let n = digits.len();
    let plain = v.bytes().all(|b| b.is_ascii_digit());
    // National ids first, without stopping: eleven digits pass some scheme
    // by chance, so phones and cards stay candidates and the column decides.
    // SSN issuance rules are judged on every 3-2-4 value (an ITIN breaks them, as
    // random numbers do), so the column can tell SSNs from noise.
    let ssn = ssn_formatted(v);
    if let Some(valid) = ssn {
        cell.set(if valid { Signal::SsnFormatted } else { Signal::SsnFormattedInvalid });
    }
    // A card's issuer prefix and Luhn digit outweigh a national id of the same length (a 15-digit
    // Amex number can pass France's NIR key by chance).
    if (13..=19).contains(&n) {
        if let Some(network) = card_network(&digits) {
            cell.set(Signal::CardShaped);
            if luhn_valid(&digits) {
                cell.set(Signal::CardValid);
                cell.card_network = Some(network);
                // Thirteen-digit Visa numbers are long retired; thirteen-digit
                // national ids (South Africa's, Luhn too) are not.
                if n != 13 {
                    return;
                }
            }
        }
    }
    if plain && n == 13 {
        // Recorded, not decisive: the column decides whether these are product codes
        // (random digits pass the check one time in ten).
        cell.set(Signal::Ean13Shaped);
        if ean13_valid(&digits) {
            cell.set(Signal::Ean13);
        }
    }
    let id = national_ids::check(v);
    if let Some(m) = id {
        if m.specific {
            cell.set(Signal::NatIdShaped);
            cell.set(Signal::NatIdValid);
            cell.national_ids = m.valid;
            return;
        }
        cell.set(Signal::NatIdDigitsShaped);
        if m.is_valid() {
            cell.set(Signal::NatIdDigitsValid);
            cell.national_ids = m.valid;
        }
    }
    if ssn.is_some() {
        return;
    }
    if plain && (8..=9).contains(&n) {
        cell.set(Signal::DocNumberShape);
    }
    if plain && n == 9 && ssn_digits_valid(&digits) {
        cell.set(Signal::SsnDigits);
    }
    if plain && (4..=6).contains(&n) {
        cell.set(Signal::PostcodeNumeric);
        return;
    }
    if postcode_numeric_formatted(v) {
        cell.set(Signal::PostcodeNumeric);
        return;
    }
    phone(v, cell);
}

fn phone_with_extension(v: &str, cell: &mut CellFindings) -> bool {
    let lower = v.to_ascii_lowercase();
    let cut = lower.find(" ext").or_else(|| lower.find('x')).or_else(|| lower.find('#'));
    let Some(i) = cut else {
        return false;
    };
    let (number, ext) = v.split_at(i);
    let ext_digits = ext.trim_start_matches(|c: char| !c.is_ascii_digit());
    if ext_digits.is_empty() || ext_digits.len() > 6 || !ext_digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let before = cell.signals;
    phone(number.trim(), cell);
    cell.signals != before
}

/// Classifies a telephone number by how it is written.
fn phone(v: &str, cell: &mut CellFindings) {
    let b = v.as_bytes();
    if b.len() < 7 || b.len() > 25 {
        return;
    }
    if !b.iter().all(|&c| c.is_ascii_digit() || b" -.()/+".contains(&c)) {
        return;
    }
    if b.iter().skip(1).any(|&c| c == b'+') {
        return;
    }
    let digits: Vec<u8> = b.iter().filter(|c| c.is_ascii_digit()).map(|c| c - b'0').collect();
    let n = digits.len();
    let separators = b.iter().filter(|&&c| b" -.()/".contains(&c)).count();
    // "00" dials abroad too, but only before a country code (never 0) and a full number.
    let dial_out = v.starts_with("00") && b.len() > 2 && b[2] != b'0' && digits.len() >= 11;
    let international = b[0] == b'+' || dial_out || v.starts_with("(+");
    if all_same(&digits) {
        return;
    }
    if international {
        if separators == 0 && b[0] != b'+' && (14..=20).contains(&n) {
            // Bare digits that start with 00: a number dialled abroad, or one of a column of long ids.
            cell.set(Signal::LongDigits);
        }
        let national_digits = if v.starts_with("00") { n - 2 } else { n };
        if (8..=15).contains(&national_digits) {
            cell.set(Signal::PhoneIntl);
            if let Some(rest) = v.strip_prefix("+1").or_else(|| v.strip_prefix("001")) {
                nanp(rest, cell);
            }
        }
        return;
    }
    if separators == 0 {
        if (10..=13).contains(&n) {
            cell.set(Signal::PhoneDigits);
        } else if (14..=20).contains(&n) {
            cell.set(Signal::LongDigits);
        }
        if n == 11 && b.len() == 11 && digits[0] == 1 && digits[1] >= 3 {
            cell.set(Signal::PhoneMobileCn);
        }
        return;
    }
    let trunk = v.trim_start_matches('(');
    if trunk.starts_with('0') && trunk.as_bytes().get(1).is_some_and(|c| (b'1'..=b'9').contains(c)) {
        cell.set(Signal::PhoneTrunk);
    }
    // Group sizes tell phone numbers from ids, dates and postcodes.
    let groups: Vec<usize> = v.split(|c: char| !c.is_ascii_digit()).filter(|g| !g.is_empty()).map(str::len).collect();
    if groups.iter().any(|&g| g > 8) {
        return;
    }
    // A group of six digits after two groups of two, or after one of four that does not start with a
    // trunk 0, is a document's series and number (a Russian internal passport, `44 96 189015`,
    // `1831 299986`): telephone numbers end in groups of two to four digits.
    let spaced = b.iter().all(|&c| c.is_ascii_digit() || c == b' ');
    if spaced && (groups == [2, 2, 6] || (groups == [4, 6] && b[0] != b'0')) {
        cell.set(Signal::DocNumberShape);
        return;
    }
    // Dotted numbers with one-digit parts are versions and OIDs ("10.0.19041.1"),
    // not phone numbers, which group their digits in twos to fours.
    let dotted = b.iter().all(|&c| c.is_ascii_digit() || c == b'.');
    if dotted && (groups.contains(&1) || groups.len() > 5) {
        cell.set(Signal::VersionString);
        return;
    }
    if dotted {
        cell.set(Signal::DottedDigits);
    }
    let enough = n >= 10 || (n >= 8 && groups.len() >= 3);
    if enough && n <= 13 {
        cell.set(Signal::PhoneNational);
        nanp(v, cell);
    }
}

/// North American numbers: area code and exchange start with 2–9.
fn nanp(v: &str, cell: &mut CellFindings) {
    let groups: Vec<&str> = v.split(|c: char| !c.is_ascii_digit()).filter(|g| !g.is_empty()).collect();
    let parts: Vec<&str> = match groups.as_slice() {
        ["1", a, b, c] | [a, b, c] => vec![a, b, c],
        _ => return,
    };
    if parts[0].len() != 3 || parts[1].len() != 3 || parts[2].len() != 4 {
        return;
    }
    cell.set(Signal::PhoneNanpShaped);
    let first = |s: &str| s.as_bytes()[0];
    if first(parts[0]) < b'2' || first(parts[1]) < b'2' {
        cell.set(Signal::PhoneNanpInvalid);
    }
}

/// Postcode formats specific enough to recognise without a column name.
fn postcode_distinct(v: &str) -> bool {
    regexes().postcode_distinct.is_match(v)
}

fn postcode_numeric_formatted(v: &str) -> bool {
    regexes().postcode_numeric.is_match(v)
}

fn address_line(v: &str) -> bool {
    let r = regexes();
    if v.len() < 6 || v.len() > 120 {
        return false;
    }
    r.address_number_first.is_match(v)
        || r.address_suffix_number.is_match(v)
        || r.address_type_first.is_match(v)
        || r.address_fr.is_match(v)
        || r.city_state_zip.is_match(v)
}

/// "Flat 5\nSmith Road", "Studio 51\nAdams Coves": a unit line, then a street.
fn multi_line_address(v: &str) -> bool {
    let r = regexes();
    let lines: Vec<&str> = v.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    lines.windows(2).any(|w| r.address_unit.is_match(w[0]) && r.street_without_number.is_match(w[1]))
}

fn cjk_address(v: &str) -> bool {
    regexes().cjk_address.is_match(v)
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30ff | 0x3400..=0x4dbf | 0x4e00..=0x9fff | 0xac00..=0xd7af | 0xf900..=0xfaff)
}

const NAME_PARTICLES: &[&str] = &[
    "de", "van", "der", "den", "von", "da", "del", "di", "le", "la", "du", "dos", "das", "ten", "ter", "y", "e", "zu",
    "bin", "al", "el", "des", "della", "dei", "vom",
];
const PLACE_SUFFIX_WORDS: &[&str] = &[
    "city", "village", "county", "town", "island", "bay", "beach", "springs", "falls", "heights", "park", "river",
    "valley", "hills", "mountain", "lake", "port", "borough", "shire", "ville",
];

/// Person names: capitalised words with a known given or family name in the
/// right place; CJK names starting with a common family name.
/// A given or family name written in its own (non-Latin) script, from the
/// `name-variants` crate's tables (Arabic, Cyrillic, Devanagari, Greek, Hangul,
/// Hebrew, Thai, Bengali, Tamil, CJK). Latin spellings are left to our own
/// dictionary: the crate's romanisations include common words.
fn native_script_name(word: &str) -> bool {
    let mut chars = word.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    if first.is_ascii() || ('\u{00C0}'..='\u{024F}').contains(&first) || chars.next().is_none() {
        return false;
    }
    name_variants::lookup_key(word).is_some() || super::dictionary::is_native_name(word)
}

/// A Latin-script spelling of a name in the `name-variants` crate's romanisation tables
/// (Indian, Arabic, Persian, Chinese, Japanese, Korean, Turkish, Indonesian … names).
/// Only forms of five letters or more: its short romanisations are also everyday words.
pub fn romanised_name(folded: &str) -> bool {
    folded.len() >= 5 && folded.bytes().all(|b| b.is_ascii_lowercase()) && name_variants::lookup_key(folded).is_some()
}

/// Scripts with upper and lower case, where a name starts with a capital.
/// (Georgian's capitals are not used in names.)
fn bicameral(c: char) -> bool {
    matches!(c as u32, 0x41..=0x24F | 0x370..=0x3FF | 0x1F00..=0x1FFF | 0x400..=0x52F | 0x531..=0x58F)
}

/// Vowel signs and other combining marks of Brahmic, Thai, Arabic and Hebrew
/// writing, which are not alphabetic characters on their own.
fn combining_mark(c: char) -> bool {
    matches!(c as u32,
        0x300..=0x36F | 0x591..=0x5C7 | 0x610..=0x61A | 0x64B..=0x65F | 0x670 | 0x6D6..=0x6ED
        | 0x900..=0x903 | 0x93A..=0x94F | 0x951..=0x957 | 0x962..=0x963 | 0x981..=0x983 | 0x9BC..=0x9D7
        | 0xB82..=0xBCD | 0xE31 | 0xE34..=0xE3A | 0xE47..=0xE4E | 0x200C | 0x200D)
}

/// A capital letter after a small one inside a word, other than after the name prefixes that
/// take one (`Mc`, `Mac`, `De`, `Di`, `Da`, `Du`, `La`, `Le`, `Van`, `O'`).
fn camel_word(w: &str) -> bool {
    let chars: Vec<char> = w.chars().collect();
    (1..chars.len()).any(|i| {
        chars[i].is_uppercase() && chars[i - 1].is_lowercase() && {
            let prefix: String = chars[..i].iter().collect();
            !matches!(prefix.as_str(), "Mc" | "Mac" | "De" | "Di" | "Da" | "Du" | "La" | "Le" | "Van")
        }
    })
}

fn person_name(v: &str, cell: &mut CellFindings) {
    if v.len() > 80 {
        return;
    }
    if v.chars().any(is_cjk) {
        if v.chars().all(|c| is_cjk(c) || c == ' ' || c == '・' || c == '　') {
            let len = v.chars().filter(|c| is_cjk(*c)).count();
            if len <= 4 {
                // A short CJK word: a given or family name alone, or any word.
                cell.set(Signal::SingleWordCap);
            }
            // A street or place by its last character (`张街`, `杭州路`, `李村`, `桂英市`).
            if v.chars().count() >= 2 && v.trim_end().ends_with(['街', '路', '道', '巷', '弄', '市', '县', '縣', '区', '區', '省', '镇', '鎮', '村', '町', '通']) {
                cell.set(Signal::NamePlace);
                return;
            }
            if starts_with_cjk_family_name(v) || v.split([' ', '　', '・']).any(native_script_name) {
                cell.set(Signal::NameCjk);
            } else if is_cjk_family_name(v.trim()) {
                cell.set(Signal::NameFamily);
            }
            // A given or family name alone, known in its own script: the single-word rule of the
            // column (a share of such names among words) decides, as for other scripts.
            if !v.trim().contains([' ', '　', '・']) && native_script_name(v.trim()) {
                cell.set(Signal::NameNative);
            }
            let t = v.trim();
            if (1..=3).contains(&t.chars().count()) && t.chars().all(super::dictionary::is_han_given_name_char) {
                cell.set(Signal::NameHanGiven);
            }
        }
        return;
    }
    let swapped = v.contains(',');
    let raw_words: Vec<&str> = v.split([' ', ',']).filter(|w| !w.is_empty()).collect();
    if raw_words.is_empty() || raw_words.len() > 6 {
        return;
    }
    let mut words: Vec<(&str, String)> = Vec::with_capacity(raw_words.len());
    for w in &raw_words {
        if !w.chars().all(|c| c.is_alphabetic() || c == '-' || c == '\'' || c == '.' || c == '’' || c == '&' || combining_mark(c)) {
            return;
        }
        let folded = fold(w);
        if is_organisation_marker(&folded) {
            cell.set(Signal::NameOrganisation);
            return;
        }
        words.push((w, folded));
    }
    // Drop honorifics and particles; they neither prove nor disprove a name.
    let core: Vec<&(&str, String)> =
        words.iter().filter(|(_, f)| !is_name_affix(f) && !NAME_PARTICLES.contains(&f.as_str())).collect();
    if core.is_empty() {
        return;
    }
    // Scripts without letter case (Arabic, Hebrew, Devanagari, Thai, Georgian …)
    // count as capitalised: only cased scripts can say a word is not a name.
    let capitalised = |w: &str| {
        let mut chars = w.chars();
        match chars.next() {
            Some(c) if !bicameral(c) => c.is_alphabetic(),
            Some(c) if c.is_uppercase() => chars.clone().count() == 0 || chars.any(|c| c.is_lowercase()),
            _ => false,
        }
    };
    // Initials (`J.`, `A.-M.`) stand for given names: one or two of them and one or two
    // capitalised words of two letters or more are a name written short (`J. Smith`, `Novák, A.`).
    let initial = |w: &str| {
        let letters: Vec<char> = w.chars().filter(|c| *c != '.' && *c != '-').collect();
        w.ends_with('.') && !letters.is_empty() && letters.len() <= 2 && letters.iter().all(|c| c.is_uppercase())
    };
    let initials = core.iter().filter(|(w, _)| initial(w)).count();
    if initials >= 1
        && initials <= 2
        && (2..=4).contains(&core.len())
        && core.iter().filter(|(w, _)| !initial(w)).all(|(w, _)| capitalised(w) && w.chars().count() >= 2 && !w.contains('.'))
    {
        cell.set(Signal::NameInitials);
        if let Some((w, _)) = core.iter().rev().find(|(w, _)| !initial(w)) {
            if super::morphology::family_name_built(w) {
                cell.set(Signal::NameMorph);
            }
        }
        return;
    }
    let all_caps = core.iter().all(|(w, _)| capitalised(w));
    if core.len() >= 2 && (is_place_marker(&core[0].1) || street_type_prefix(core[0].0)) {
        cell.set(Signal::NamePlace);
        return;
    }
    if core.len() >= 2 && PLACE_SUFFIX_WORDS.contains(&core[core.len() - 1].1.as_str()) {
        cell.set(Signal::NamePlace);
        return;
    }
    // A street type last in Devanagari, Bengali or Tamil (`जैन मार्ग`, `शाही पथ`, `তেরতলা রোড`,
    // `காந்தி சாலை`): a street named after a person or a place, written without a house number.
    if (2..=4).contains(&core.len()) && south_asian_street_word(core[core.len() - 1].0) {
        cell.set(Signal::NamePlace);
        cell.set(Signal::AddressWhole);
        return;
    }
    if core.len() >= 2
        && (arabic_script_place_word(core[0].0) || arabic_script_place_word(core[core.len() - 1].0)
            || street_word(core[core.len() - 1].0))
    {
        cell.set(Signal::NamePlace);
        return;
    }
    // A street type last (`Dustin Land`, `Moore Mountain`, `Clayton Flats`) names a street, unless
    // the word is also a family name (`John Hill`, `Mary Wells`).
    if !swapped
        && core.len() >= 2
        && en_street_type(&core[core.len() - 1].1)
        && !is_family_name(&core[core.len() - 1].1)
    {
        cell.set(Signal::NamePlace);
        return;
    }
    // Words of two scripts, Latin and another (`جابر Knoll`, `West Петринел`): a generated or
    // translated place, not how a person's name is written.
    let is_latin = |w: &str| {
        w.chars().all(|c| c <= '\u{024F}' || ('\u{1E00}'..='\u{1EFF}').contains(&c) || combining_mark(c))
    };
    if core.len() >= 2 && core.iter().any(|(w, _)| is_latin(w)) && core.iter().any(|(w, _)| !is_latin(w)) {
        cell.set(Signal::NamePlace);
        return;
    }
    // Cyrillic and Greek names meet the (Latin) lists through their usual romanisation.
    let given = |f: &str| {
        f.split('-')
            .any(|p| is_given_name(p) || transliterate(p).is_some_and(|t| is_given_name(&t)))
    };
    let family = |f: &str| {
        f.split('-')
            .any(|p| is_family_name(p) || transliterate(p).is_some_and(|t| is_family_name(&t)))
    };
    if core.len() == 1 {
        let (w, f) = core[0];
        if f.chars().count() < 2 || !capitalised(w) {
            return;
        }
        if street_word(w) {
            cell.set(Signal::NamePlace);
            return;
        }
        cell.set(Signal::SingleWordCap);
        if super::morphology::family_name_built(w) {
            cell.set(Signal::NameMorph);
        }
        if camel_word(w) {
            cell.set(Signal::CamelWord);
        } else if !f.contains('-') && (given(f) || family(f)) {
            cell.set(Signal::NameKnownWhole);
        }
        // In a script other than Latin, a name our Latin lists know through its romanisation
        // counts as a known name of that script too (the column's single-word rule weighs it).
        let other_script = w.chars().next().is_some_and(|c| !c.is_ascii() && c > '\u{024F}');
        if given(f) {
            cell.set(Signal::NameGiven);
            if other_script {
                cell.set(Signal::NameNative);
            }
        } else if family(f) {
            cell.set(Signal::NameFamily);
            if other_script {
                cell.set(Signal::NameNative);
            }
        } else if native_script_name(w) {
            cell.set(Signal::NameNative);
        }
        if other_script && super::dictionary::transliterate(w).is_none() {
            let r = super::dictionary::romanise(w);
            if r.len() >= 4
                && (super::dictionary::is_given_name(&r) || super::dictionary::is_family_name(&r) || romanised_name(&r))
            {
                cell.set(Signal::NameRomanisedKnown);
            }
        }
        return;
    }
    if core.len() > 4 {
        return;
    }
    let first = core[0].1.as_str();
    let last = core[core.len() - 1].1.as_str();
    let known = if swapped {
        family(first) || given(last)
    } else {
        given(first) || family(last) || (family(first) && given(last))
    } || core.iter().any(|(w, _)| native_script_name(w));
    // The family-name part (last, or first before a comma) built like a family name.
    let family_part = if swapped { core[0].0 } else { core[core.len() - 1].0 };
    if all_caps && super::morphology::family_name_built(family_part) {
        cell.set(Signal::NameMorph);
    }
    if all_caps && known {
        cell.set(Signal::NameFull);
    } else if !all_caps && given(first) && family(last) {
        // "john smith" / "JOHN SMITH": both parts must be known.
        cell.set(Signal::NameFull);
    } else if all_caps && core.iter().all(|(w, _)| w.chars().count() >= 2) {
        cell.set(Signal::NameShape);
        let latin = core.iter().all(|(w, _)| w.chars().all(|c| c <= '\u{024F}' || combining_mark(c)));
        if latin && core.iter().all(|(_, f)| f.chars().count() >= 2 && !f.contains('.')) {
            cell.set(Signal::NameShapeLatin);
            let mut h = std::collections::hash_map::DefaultHasher::new();
            std::hash::Hash::hash(&core[core.len() - 1].1, &mut h);
            cell.last_word = Some(std::hash::Hasher::finish(&h));
        }
        // Our lists cover Latin and CJK names; elsewhere the shape and the
        // column's variety of family names must carry the evidence.
        let uncovered = core.iter().all(|(w, _)| w.chars().next().is_some_and(|c| !c.is_ascii() && c > '\u{024F}'));
        if uncovered {
            cell.set(Signal::NameShapeScript);
            let mut h = std::collections::hash_map::DefaultHasher::new();
            std::hash::Hash::hash(&core[core.len() - 1].1, &mut h);
            cell.last_word = Some(std::hash::Hasher::finish(&h));
        }
    }
}

/// An English street type (`Street`, `Crescent`, `Flats`), in lower case.
fn en_street_type(folded: &str) -> bool {
    static SET: OnceLock<std::collections::HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| EN_STREET_TYPES.split('|').filter(|w| w.len() >= 3).collect())
        .contains(folded.trim_end_matches('.'))
}

/// A short phrase opened by a street type (`avenue Stéphane Poirier`, `rue de Vasseur`) or closed by
/// one (`Hans-Werner-Schmiedecke-Straße`): the names in it name the street.
fn street_name_phrase(v: &str) -> bool {
    let words: Vec<&str> = v.split_whitespace().collect();
    words.len() <= 6
        && (words.first().is_some_and(|w| street_type_prefix(w)) || words.last().is_some_and(|w| street_word(w)))
}

/// One word that is a street name by its ending (`Mohrstraße`, `Sofie-Pfister-Gasse`, `Veitweg`,
/// `Mannerheimintie`): a person's name in it names the street.
fn street_word(word: &str) -> bool {
    const ENDINGS: &[&str] = &[
        "straße", "strasse", "str.", "gasse", "allee", "platz", "weg", "gatan", "vägen", "katu", "kuja", "straat",
        "laan", "plein", "gracht", "gade", "utca", "iela", "tänav", "gatvė", "ulica", "caddesi", "sokak", "sokağı",
    ];
    let lower = word.to_lowercase();
    let last = lower.rsplit('-').next().unwrap_or(&lower);
    ENDINGS.iter().any(|e| last == *e || (lower.len() > e.len() + 2 && lower.ends_with(e)))
        || (lower.contains('-') && (en_street_type(last) || street_type_prefix(last)))
}

/// Words that name a place or a street in Persian and Arabic, first or last in a place's name
/// (`شهر …` town, `استان …` province, `… کوچه` lane).
fn arabic_script_place_word(word: &str) -> bool {
    matches!(
        word,
        "شهر" | "استان" | "شهرستان" | "دهستان" | "بخش" | "روستای" | "روستا" | "خیابان" | "کوچه" | "بلوار" | "میدان" | "جاده"
            | "بزرگراه" | "آزادراه" | "تونل" | "کوی" | "بن‌بست" | "شارع" | "طريق" | "حي" | "مدينة" | "قرية" | "ميدان"
    )
}

/// Street-type words that end a street name in Nepali, Hindi and Marathi (Devanagari), Bengali and
/// Tamil: road, path, lane, square, quarter, corner (`मार्ग`, `रोड`, `पथ`, `बाटो`, `चोक`, `टोल`, `সড়ক`,
/// `சாலை`, `தெரு`).
fn south_asian_street_word(word: &str) -> bool {
    matches!(
        word,
        "मार्ग" | "रोड" | "पथ" | "बाटो" | "चोक" | "चौक" | "गल्ली" | "गली" | "टोल" | "सडक" | "सड़क" | "लेन" | "कुना" | "चौर"
            | "टार" | "रस्ता" | "सड़क़" | "সড়ক" | "রোড" | "লেন" | "গলি" | "சாலை" | "தெரு" | "வீதி"
    )
}

/// A word that opens a street name in the languages that put the street type first
/// (`Calle`, `Rua`, `Via`, `ulica`, `улица`): a person's name after it names the street.
fn street_type_prefix(word: &str) -> bool {
    static SET: OnceLock<std::collections::HashSet<String>> = OnceLock::new();
    SET.get_or_init(|| {
        PREFIX_STREET_TYPES
            .split('|')
            .map(|w| w.replace("\\.", ".").trim_end_matches('?').trim_end_matches('.').to_lowercase())
            .filter(|w| w.chars().count() >= 2)
            .collect()
    })
    .contains(word.trim_end_matches('.').to_lowercase().as_str())
}

/// Opaque identifiers and secrets without a known prefix.
fn opaque_token(v: &str, cell: &mut CellFindings) {
    let len = v.len();
    let b = v.as_bytes();
    let uuid_dashes = len == 36 && b[8] == b'-' && b[13] == b'-' && b[18] == b'-' && b[23] == b'-';
    if uuid_dashes && b.iter().enumerate().all(|(i, c)| matches!(i, 8 | 13 | 18 | 23) || c.is_ascii_hexdigit()) {
        cell.set(Signal::Uuid);
        return;
    }
    if len == 38 && b[0] == b'{' && b[37] == b'}' {
        return opaque_token(&v[1..37], cell);
    }
    let hex = b.iter().all(u8::is_ascii_hexdigit);
    if hex && (16..=128).contains(&len) && len.is_multiple_of(2) {
        let letters = b.iter().any(u8::is_ascii_alphabetic);
        let digits = b.iter().any(u8::is_ascii_digit);
        if letters && digits {
            cell.set(Signal::HexId);
            return;
        }
    }
    // Google Analytics client ids: "1234567890.1609459200".
    if let Some((a, c)) = v.split_once('.') {
        if (8..=10).contains(&a.len()) && c.len() == 10 && a.bytes().chain(c.bytes()).all(|x| x.is_ascii_digit()) {
            cell.set(Signal::OpaqueId);
            return;
        }
    }
    let base64ish = b.iter().all(|c| c.is_ascii_alphanumeric() || b"+/=_-.".contains(c));
    let upper = b.iter().filter(|c| c.is_ascii_uppercase()).count();
    let lower = b.iter().filter(|c| c.is_ascii_lowercase()).count();
    let digit = b.iter().filter(|c| c.is_ascii_digit()).count();
    if base64ish && (16..=512).contains(&len) && upper > 0 && lower > 0 && digit > 0 {
        let entropy = shannon_entropy(v);
        let needed = if len < 32 { 3.5 } else { 4.0 };
        if entropy >= needed {
            if len <= 64 {
                cell.set(Signal::OpaqueId);
            }
            if len >= 20 {
                cell.set(Signal::HighEntropy);
            }
            return;
        }
    }
    // Plain passwords: short, no spaces, three or more character classes.
    if (6..=64).contains(&len) && !v.contains(' ') {
        let symbol = b.iter().filter(|c| c.is_ascii_punctuation()).count();
        let classes = [upper > 0, lower > 0, digit > 0, symbol > 0].iter().filter(|&&x| x).count();
        if classes >= 3 && symbol > 0 || classes == 4 {
            cell.set(Signal::PasswordLike);
        }
    }
}

// ---------------------------------------------------------------- free text

/// Searches inside free text for the kinds of data that are recognisable on
/// their own (validated where a check exists).
fn scan_text(v: &str, cell: &mut CellFindings) {
    let r = regexes();
    let has = |c: char| v.contains(c);
    if has('@') {
        if r.email_in_text.find_iter(v).any(|m| is_email(m.as_str())) {
            cell.set(Signal::EmailText);
        }
        if v.contains("://") && url_has_credentials(v) {
            cell.set(Signal::UrlCreds);
        }
    }
    if v.contains("-----BEGIN") && r.pem.is_match(v) {
        cell.set(Signal::Pem);
        cell.secret_kind = Some("pem_private_key");
    }
    if v.contains("eyJ") && r.jwt_in_text.find_iter(v).any(|m| is_jwt(m.as_str())) {
        cell.set(Signal::Jwt);
        cell.secret_kind = Some("jwt");
    }
    if let Some(kind) = credentials::find_in_text(v) {
        cell.set(Signal::SecretKnown);
        cell.secret_kind = Some(kind);
    }
    let digit_count = v.bytes().filter(u8::is_ascii_digit).count();
    if digit_count >= 7 {
        for m in r.phone_in_text.find_iter(v) {
            let s = m.as_str().trim();
            let mut probe = CellFindings::default();
            phone(s, &mut probe);
            let us_invalid = probe.has(Signal::PhoneNanpInvalid);
            if (probe.has(Signal::PhoneIntl) || probe.has(Signal::PhoneNational)) && !us_invalid {
                cell.set(Signal::PhoneText);
                break;
            }
        }
        if !cell.has(Signal::PhoneText) && r.phone_fr_in_text.is_match(v) {
            cell.set(Signal::PhoneText);
        }
        if !cell.has(Signal::PhoneText) {
            // Any national format, when the words around it say it is a phone number.
            let announced = r.phone_after_keyword.captures_iter(v).any(|c| {
                c.get(1).is_some_and(|m| {
                    let digits = m.as_str().bytes().filter(u8::is_ascii_digit).count();
                    (8..=15).contains(&digits)
                })
            });
            if announced {
                cell.set(Signal::PhoneText);
            }
        }
        for m in r.card_in_text.find_iter(v) {
            if let Some(d) = digits_of(m.as_str(), 24) {
                if card_network(&d).is_some() && luhn_valid(&d) {
                    cell.set(Signal::CardText);
                    break;
                }
            }
        }
        for m in r.ssn_in_text.find_iter(v) {
            if ssn_formatted(m.as_str()) == Some(true) {
                cell.set(Signal::SsnText);
                break;
            }
        }
        if has('.') {
            for m in r.ipv4_in_text.find_iter(v) {
                let before = &v[..m.start()];
                let after = &v[m.end()..];
                // "version 10.2.3.4", "Chrome/61.0.85.0", "rv:1.9.2.20", "v1.2.3.4": versions, not hosts.
                let word_before =
                    before.rsplit(|c: char| c.is_whitespace() || "([,;\"'=".contains(c)).next().unwrap_or("");
                let versiony = before.trim_end().to_ascii_lowercase().ends_with("version")
                    || before.trim_end().to_ascii_lowercase().ends_with(" ver")
                    || word_before.ends_with('/')
                    || word_before.eq_ignore_ascii_case("rv:")
                    || word_before.ends_with(['v', 'V'])
                    || after.starts_with('.') && after[1..].starts_with(|c: char| c.is_ascii_digit());
                if !versiony && parse_ipv4_host(m.as_str()).is_some() {
                    cell.set(Signal::Ipv4Text);
                    break;
                }
            }
        }
        if r.iban_in_text.find_iter(v).any(|m| iban_check(m.as_str()) == IbanCheck::Valid) {
            cell.set(Signal::IbanText);
        }
        if r.dob_in_text.captures_iter(v).any(|c| c.get(1).and_then(|d| parse_date(d.as_str())).is_some()) {
            cell.set(Signal::DobText);
        }
    }
    if v.bytes().filter(|&b| b == b':').count() >= 2 {
        if r.ipv6_in_text.find_iter(v).any(|m| is_ipv6(m.as_str().trim_end_matches(':'))) {
            cell.set(Signal::Ipv6Text);
        }
        if r.mac_in_text.find_iter(v).any(|m| is_mac(m.as_str())) {
            cell.set(Signal::MacText);
        }
    } else if has('-') && r.mac_in_text.find_iter(v).any(|m| is_mac(m.as_str())) {
        cell.set(Signal::MacText);
    }
    if digit_count > 0 && (r.address_in_text_en.is_match(v) || r.address_in_text_de.is_match(v)) {
        cell.set(Signal::AddressText);
    }
    if names_in_text(v) && !street_name_phrase(v) {
        cell.set(Signal::NameText);
    }
}

/// Capitalised words that follow a given name without being a family name
/// ("Will You", "May The").
const COMMON_CAPITALISED: &[&str] = &[
    "the",
    "a",
    "an",
    "and",
    "or",
    "but",
    "if",
    "in",
    "on",
    "at",
    "to",
    "for",
    "of",
    "is",
    "are",
    "was",
    "i",
    "you",
    "he",
    "she",
    "we",
    "they",
    "it",
    "my",
    "your",
    "his",
    "her",
    "our",
    "this",
    "that",
    "be",
    "not",
    "no",
    "yes",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
    "street",
    "avenue",
    "road",
    "inc",
    "llc",
    "ltd",
    "gmbh",
    "group",
    "company",
    "corp",
    "university",
    "hospital",
    "bank",
    "park",
    "river",
    "lake",
    "city",
    "county",
    "state",
    "award",
    "prize",
    "foundation",
    "institute",
    "center",
    "centre",
];

/// A given name followed by a family name, both capitalised ("… call Maria
/// Schneider back …"), or an honorific and a family name ("Dr. Weber").
fn names_in_text(v: &str) -> bool {
    let words: Vec<&str> = v
        .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | ':' | '(' | ')' | '"' | '!' | '?'))
        .filter(|w| !w.is_empty())
        .collect();
    let cap = |w: &str| {
        w.chars().next().is_some_and(char::is_uppercase)
            && w.chars().skip(1).all(|c| c.is_lowercase() || c == '-' || c == '\'')
    };
    for pair in words.windows(2) {
        let a = pair[0];
        let b = pair[1].trim_end_matches('.');
        if !cap(b) || b.chars().count() < 2 {
            continue;
        }
        let fb = fold(b);
        let fa = fold(a);
        // A known given name and a capitalised word that is not sentence-like.
        if cap(a)
            && is_given_name(&fa)
            && (is_family_name(&fb) || !COMMON_CAPITALISED.contains(&fb.as_str()))
            && fa != fb
        {
            return true;
        }
        if matches!(a, "Mr." | "Mrs." | "Ms." | "Dr." | "Mr" | "Mrs" | "Ms" | "Herr" | "Frau" | "Mme" | "Sr." | "Sra.")
            && is_family_name(&fb)
        {
            return true;
        }
    }
    false
}

// ---------------------------------------------------------------- JSON

/// Walks a JSON document: every string leaf is analysed whole; weak kinds
/// (names, dates, postcodes, coordinates, ids) count only under a key that
/// names them.
fn walk_json(value: &serde_json::Value, key: Option<&str>, depth: usize, budget: &mut i32, cell: &mut CellFindings) {
    use serde_json::Value;
    *budget -= 1;
    if *budget < 0 || depth > 8 {
        return;
    }
    match value {
        Value::Object(map) => {
            if let (Some(lat), Some(lon)) = (
                map.get("lat").or_else(|| map.get("latitude")),
                map.get("lng").or_else(|| map.get("lon")).or_else(|| map.get("longitude")),
            ) {
                if lat.as_f64().or_else(|| lat.as_str().and_then(|s| s.parse().ok())).is_some_and(|x| x.abs() <= 90.0)
                    && lon
                        .as_f64()
                        .or_else(|| lon.as_str().and_then(|s| s.parse().ok()))
                        .is_some_and(|x| x.abs() <= 180.0)
                {
                    cell.set(Signal::GeoPair);
                }
            }
            for (k, v) in map {
                walk_json(v, Some(k), depth + 1, budget, cell);
            }
        }
        Value::Array(items) => {
            if key.is_some_and(|k| k == "coordinates") && items.len() == 2 && items.iter().all(|x| x.is_f64()) {
                cell.set(Signal::GeoPair);
            }
            for v in items.iter().take(100) {
                walk_json(v, key, depth + 1, budget, cell);
            }
        }
        Value::String(s) => json_leaf(s, key, cell),
        Value::Number(n) => json_leaf(&n.to_string(), key, cell),
        _ => {}
    }
}

/// Signals that stand on their own, wherever they appear.
const SELF_EVIDENT: &[Signal] = &[
    Signal::EmailWhole,
    Signal::EmailText,
    Signal::PhoneIntl,
    Signal::PhoneText,
    Signal::Ipv4Text,
    Signal::Ipv6Whole,
    Signal::Ipv6Text,
    Signal::MacWhole,
    Signal::MacText,
    Signal::NameText,
    Signal::AddressWhole,
    Signal::AddressText,
    Signal::DobText,
    Signal::CardValid,
    Signal::CardText,
    Signal::IbanValid,
    Signal::IbanText,
    Signal::SsnFormatted,
    Signal::SsnText,
    Signal::NatIdValid,
    Signal::GeoPair,
    Signal::UrlCreds,
    Signal::SecretKnown,
    Signal::Jwt,
    Signal::Pem,
    Signal::PasswordHash,
];

fn json_leaf(s: &str, key: Option<&str>, cell: &mut CellFindings) {
    let s = s.trim();
    if s.is_empty() || is_placeholder(s) {
        return;
    }
    let leaf = analyse(s);
    let mut strong = SignalSet::default();
    for &sig in SELF_EVIDENT {
        if leaf.has(sig) {
            strong.set(sig);
        }
    }
    // A bare IPv4 in JSON is fairly self-evident too, unless it looks like a version.
    if leaf.has(Signal::Ipv4Whole) && !leaf.has(Signal::Ipv4Small) {
        strong.set(Signal::Ipv4Whole);
    }
    cell.signals.union(strong);
    if leaf.secret_kind.is_some() {
        cell.secret_kind = leaf.secret_kind;
    }
    cell.national_ids |= leaf.national_ids;
    let Some(key) = key else {
        return;
    };
    let hints = names::hints(key);
    let announced = |t: InfoType| hints.positive(t) >= 0.5;
    let plausible = |t: InfoType| -> bool {
        use InfoType::*;
        match t {
            PersonName => {
                leaf.has(Signal::NameFull)
                    || leaf.has(Signal::NameShape)
                    || leaf.has(Signal::SingleWordCap)
                    || leaf.has(Signal::NameCjk)
            }
            DateOfBirth => leaf.date.is_some(),
            Postcode => leaf.has(Signal::PostcodeNumeric) || leaf.has(Signal::PostcodeDistinct),
            Phone => leaf.has(Signal::PhoneNational) || leaf.has(Signal::PhoneDigits) || leaf.has(Signal::PhoneIntl),
            GeoCoordinates => leaf.has(Signal::GeoFloat) || leaf.has(Signal::GeoPair),
            UserTrackingId => leaf.has(Signal::Uuid) || leaf.has(Signal::HexId) || leaf.has(Signal::OpaqueId),
            Secret => leaf.has(Signal::HighEntropy) || leaf.has(Signal::PasswordLike) || leaf.has(Signal::OpaqueId),
            UsSsn => leaf.has(Signal::SsnDigits) || leaf.has(Signal::SsnFormatted),
            NationalId => leaf.has(Signal::NatIdDigitsValid) || leaf.has(Signal::NatIdValid),
            PostalAddress => s.chars().any(|c| c.is_alphabetic()) && s.len() >= 5,
            Ipv4 => leaf.has(Signal::Ipv4Whole),
            CreditCard => leaf.has(Signal::CardValid),
            _ => false,
        }
    };
    for t in InfoType::ALL {
        if announced(t) && plausible(t) {
            cell.key(t);
        }
    }
}

// ---------------------------------------------------------------- regexes

pub struct Regexes {
    url_creds: Regex,
    pem: Regex,
    jwt_in_text: Regex,
    password_hash: Regex,
    version: Regex,
    postcode_distinct: Regex,
    postcode_numeric: Regex,
    address_number_first: Regex,
    address_suffix_number: Regex,
    address_type_first: Regex,
    address_fr: Regex,
    address_unit: Regex,
    street_without_number: Regex,
    city_state_zip: Regex,
    cjk_address: Regex,
    /// Korean road-name, Thai and Vietnamese addresses by their administrative and street words.
    other_script_address: Regex,
    email_in_text: Regex,
    phone_in_text: Regex,
    phone_fr_in_text: Regex,
    phone_after_keyword: Regex,
    card_in_text: Regex,
    ssn_in_text: Regex,
    ipv4_in_text: Regex,
    ipv6_in_text: Regex,
    mac_in_text: Regex,
    iban_in_text: Regex,
    dob_in_text: Regex,
    address_in_text_en: Regex,
    address_in_text_de: Regex,
}

/// English street types (USPS suffixes and British ones).
const EN_STREET_TYPES: &str = "street|st|avenue|ave|road|rd|lane|ln|drive|dr|boulevard|blvd|court|ct|way|place|pl|terrace|ter|square|sq|trail|trl|parkway|pkwy|circle|cir|highway|hwy|crescent|close|grove|gardens|garden|row|mews|walk|alley|plaza|path|pike|loop|run|crossing|xing|extension|extensions|ext|cape|cove|coves|spring|springs|ridge|ridges|hill|hills|heights|view|views|vista|point|points|pass|port|ports|harbor|harbour|harbors|island|islands|isle|junction|junctions|key|keys|knoll|knolls|lake|lakes|landing|manor|manors|meadow|meadows|mill|mills|mission|motorway|mount|mountain|mountains|neck|orchard|oval|park|parks|pine|pines|plain|plains|prairie|ranch|rapid|rapids|rest|river|route|shoal|shoals|shore|shores|skyway|spur|spurs|station|stravenue|stream|summit|throughway|trace|track|trafficway|tunnel|turnpike|underpass|union|unions|valley|valleys|via|viaduct|village|villages|ville|wall|ways|well|wells|green|greens|glen|glens|fork|forks|ford|fords|forest|forge|forges|gateway|falls|field|fields|flat|flats|estate|estates|expressway|creek|crest|crossroad|curve|dale|dam|divide|bend|bluff|bluffs|bottom|branch|bridge|brook|brooks|burg|burgs|bypass|camp|canyon|causeway|center|centre|centers|club|common|commons|corner|corners|course|courts|lock|locks|lodge|loaf|light|lights|haven|hollow|inlet|freeway|fall|ferry|arcade|annex|avenues|beach|cliff|cliffs|circles|drives|grove|groves|hills|lane|lanes|parkways|roads|squares|streets|trails|wharf|parade|broadway|esplanade|quay|rise|chase|drove|end|gate|hey|wynd|approach|grange";
/// Street words written as a suffix of the street's name, before the number
/// (German, Dutch, Swedish, Finnish, Danish, Norwegian).
const SUFFIX_STREET_TYPES: &str = "straße|strasse|str\\.|weg|gasse|allee|platz|ring|damm|ufer|chaussee|steig|pfad|markt|graben|straat|laan|plein|gracht|dreef|steeg|kade|singel|hof|pad|dijk|wal|plantsoen|gatan|vägen|gränd|torget|backe|backen|stigen|stig|gången|slingan|allén|katu|kuja|tie|polku|bulevardi|väylä|kaari|rinne|piha|tori|ranta|raitti|aukio|portti|mäki|kulma|vej|gade|gata|veien|gata|vegen|stræde|plads|allé|vænget|vegur|stræti|braut|utca|út|tér|körút|sétány|iela|tänav|mnt\\.|maantee|puiestee|gatvė|prospektas|ulica|cesta|trg|ulice|náměstí|nám\\.|třída|sokak|sokağı|cadde|caddesi|bulvarı|küçəsi|prospekti|straatweg|steenweg|chaussée|rue";
/// Street words written first (Spanish, Italian, Portuguese, Polish, Catalan).
const PREFIX_STREET_TYPES: &str = "rue|avenue|boulevard|chemin|allée|impasse|quai|cours|passage|sentier|faubourg|pátio|patio|puerta|calle|c/|avenida|avda\\.?|av\\.|paseo|plaza|camino|carretera|ronda|vía|via|viale|piazza|piazzale|corso|largo|vicolo|strada|contrada|borgo|incrocio|stretto|rotonda|piazzetta|lungomare|travesía|travessa|pasaje|pasadizo|cañada|callejón|glorieta|urbanización|rambla|alameda|acceso|cuesta|rua|rodovia|praça|estrada|trevo|ladeira|quadra|vila|viela|setor|ul\\.|ulica|al\\.|aleja|pl\\.|plac|os\\.|osiedle|canale|passeig|carrer|avinguda|jardim|parque|residencial|conjunto|chácara|núcleo|lagoa|morro|sítio|loteamento|favela|colonia|privada|prolongación|callejon|circuito|andador|cerrada|retorno|calzada|ул\\.|улица|пр\\.|просп\\.|проспект|пер\\.|переулок|бул\\.|бульвар|ш\\.|шоссе|наб\\.|набережная|пл\\.|площадь|алл\\.|аллея|вул\\.|вулиця|мкр\\.|микрорайон|οδός|οδ\\.|λεωφ\\.|λεωφόρος|strada|str\\.|bulevardul|bd\\.|calea|aleea|șoseaua|splaiul|intrarea|rruga|rr\\.|triq|jalan|jl\\.|gang|đường|phố|ngõ|mtaa|barabara|sráid|bóthar|carrera|cra\\.|diagonal|transversal|náměstí|nám\\.|trg|شارع|خیابان|کوچه|רחוב|רח'";

pub fn regexes() -> &'static Regexes {
    static R: OnceLock<Regexes> = OnceLock::new();
    R.get_or_init(|| {
        let re = |s: &str| Regex::new(s).expect("built-in regex");
        Regexes {
            url_creds: re(r"[A-Za-z][A-Za-z0-9+.-]{1,15}://([^\s/:@]+):([^\s/@]+)@[^\s/]+"),
            pem: re(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
            jwt_in_text: re(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),
            password_hash: re(
                r"^(?:\$(?:2[abxy]?|argon2(?:id|i|d)|[156]|y|sha1|scrypt|pbkdf2(?:-sha(?:1|256|512))?)\$\S{20,}|(?:pbkdf2_sha256|pbkdf2_sha1|bcrypt_sha256|argon2|sha1|md5)\$\S{20,}|\{(?:SSHA|SHA|SSHA256|SSHA512|CRYPT)\}\S{16,})$",
            ),
            version: re(r"^(?:[vV]\d{1,4}(?:\.\d{1,4}){1,3}|\d{1,4}(?:\.\d{1,3}){2,3})(?:[-+~][0-9A-Za-z.-]+)?$"),
            postcode_distinct: re(concat!(
                r"^(?:[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}", // UK
                r"|[ABCEGHJ-NPRSTVXY]\d[A-Z] ?\d[A-Z]\d", // Canada
                r"|[1-9]\d{3} ?(?:[A-RT-Z][A-Z]|S[BCE-RT-Z])", // Netherlands
                r")$"
            )),
            postcode_numeric: re(r"^(?:\d{5}-\d{4}|\d{5}-\d{3}|\d{4}-\d{3}|\d{3}-\d{4}|\d{2}-\d{3}|\d{3} \d{2}|[A-Z]{1,3}-\d{4,5})$"),
            address_number_first: re(&format!(
                r"(?i)^\d{{1,6}}[a-z]?(?:[-/]\d+)?,?\s+(?:[\p{{L}}.'’-]+\s+){{0,5}}(?:{EN_STREET_TYPES})\.?(?:\s+(?:apt\.?|suite|unit|ste\.?|\#|flat|floor|fl\.?)\s*[\w-]+)?\s*(?:$|,)"
            )),
            address_suffix_number: re(&format!(
                r"(?i)^[\p{{L}}.'’-]*(?:[\s-][\p{{L}}.'’-]+){{0,4}}[\s-]?(?:{SUFFIX_STREET_TYPES})\s+(?:(?:no|nr)[.:]?\s*|№\s*)?\d{{1,5}}\.?\s?[a-z]?(?:\s?/\s?\d+)?(?:\s*$|,)"
            )),
            address_type_first: re(&format!(
                r"(?i)^(?:{PREFIX_STREET_TYPES})\s*[\p{{L}}\s.'’-]{{2,60}}?,?\s*(?:(?:n[º°o.]|д\.|дом|№)\s*)?\d{{1,5}}\b"
            )),
            address_fr: re(
                r"(?i)^\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?:rue|avenue|av\.|boulevard|bd|chemin|allée|allee|place|impasse|quai|route|cours|square|passage|voie|rond-point|faubourg|sentier|esplanade|parvis|promenade)\b",
            ),
            address_unit: re(r"(?i)^(?:flat|studio|apartment|apt\.?|unit|suite)\s+[\w-]+$"),
            street_without_number: re(&format!(r"(?i)^(?:[\p{{L}}.'’-]+\s+){{1,4}}(?:{EN_STREET_TYPES})\.?$")),
            city_state_zip: re(r"^[\p{L} .'’-]{2,40},\s*[A-Z]{2}\s+\d{5}(?:-\d{4})?$"),
            cjk_address: re(
                r"\p{Han}{1,12}(?:省|市|区|區|县|縣|都|道|府|県|町|村|路|街|巷|弄|大道)[\p{Han}\w\-－]{0,24}?(?:号|號|座|栋|棟|室|丁目|番地|番|楼|樓|单元)",
            ),
            other_script_address: re(concat!(
                // Korea: province or city, county or district, road (로/길/가) and building number.
                r"\p{Hangul}{1,12}(?:도|시)\s+\p{Hangul}{1,10}(?:시|군|구)\s+(?:\p{Hangul}{1,10}(?:시|군|구)\s+)?[\p{Hangul}\d]{1,20}(?:로|길|가)\s*\d",
                // Thailand: a house number, then village, road, sub-district, district or province words.
                r"|^\d+[/\d]*\s+(?:หมู่|ถ\.|ถนน|ซ\.|ซอย|ต\.|ตำบล|อ\.|อำเภอ|แขวง|เขต|จ\.|จังหวัด)",
                // Vietnam: a house number and a street word (đường, phố, ngõ, hẻm).
                r"|(?i)^(?:số\s+)?\d+[/\d]*\s+(?:đường|phố|ngõ|ngách|hẻm)\s",
            )),
            email_in_text: re(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}\b"),
            phone_in_text: re(concat!(
                r"(?:\+\d{1,3}[\s.-]?(?:\(0\)\s?)?\(?\d{1,4}\)?(?:[\s.-]?\d{2,4}){2,5}",
                r"|\(\d{3}\)\s?\d{3}[\s.-]\d{4}\b",
                r"|\b\d{3}[.-]\d{3}[.-]\d{4}\b)"
            )),
            phone_fr_in_text: re(r"\b0[1-9](?:[\s.]\d{2}){4}\b"),
            phone_after_keyword: re(
                r"(?i)\b(?:call(?:ed)?|phone|tel\.?|telephone|mobile|cell|ring|whatsapp|fax|sms|text(?:ed)?|reach\s+(?:me|us|him|her))\b[^0-9+\n]{0,24}(\+?[\d(][\d\s().\-/]{6,22}\d)",
            ),
            card_in_text: re(r"\b(?:\d[ -]?){12,18}\d\b"),
            ssn_in_text: re(r"\b\d{3}-\d{2}-\d{4}\b"),
            ipv4_in_text: re(r"\b(?:\d{1,3}\.){3}\d{1,3}\b"),
            ipv6_in_text: re(r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}"),
            mac_in_text: re(r"\b[0-9A-Fa-f]{2}(?:[:-][0-9A-Fa-f]{2}){5}\b"),
            iban_in_text: re(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b"),
            dob_in_text: re(
                r"(?i)\b(?:born(?:\s+on)?|d\.?o\.?b\.?|date\s+of\s+birth|birth\s*date|birthday|geboren(?:\s+am)?|née?\s+le|fecha\s+de\s+nacimiento|data\s+di\s+nascita)\s*[:=]?\s*(\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4})",
            ),
            address_in_text_en: re(&format!(
                r"\b\d{{1,5}}\s+(?:[A-Z][\p{{L}}'’-]*\s+){{1,3}}(?:{})\b",
                "Street|St|Avenue|Ave|Road|Rd|Lane|Ln|Drive|Dr|Boulevard|Blvd|Court|Ct|Way|Place|Pl|Terrace|Square|Trail|Parkway|Circle|Highway|Crescent|Close|Grove|Gardens"
            )),
            address_in_text_de: re(
                r"\b[A-ZÄÖÜ][\p{L}-]*(?:straße|strasse|str\.|weg|gasse|allee|platz)\s+\d{1,4}[a-z]?\b",
            ),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sigs(v: &str) -> CellFindings {
        analyse(v)
    }

    #[test]
    fn whole_values() {
        assert!(sigs("jane.doe+news@example.co.uk").has(Signal::EmailWhole));
        assert!(!sigs("not an email@").has(Signal::EmailWhole));
        assert!(sigs("+1-363-717-0669x0743").has(Signal::PhoneIntl));
        assert!(sigs("(555) 234-5678").has(Signal::PhoneNational));
        assert!(sigs("+49(0)8377835337").has(Signal::PhoneIntl));
        assert!(sigs("05 81 90 74 39").has(Signal::PhoneNational));
        assert!(sigs("683.353.3740x6812").has(Signal::PhoneNational));
        assert!(sigs("123-045-6789").has(Signal::PhoneNanpInvalid));
        // A passport's series and number, not a phone number; a trunk 0 keeps a 4-6 grouping a phone.
        for v in ["44 96 189015", "1831 299986"] {
            let s = sigs(v);
            assert!(s.has(Signal::DocNumberShape) && !s.has(Signal::PhoneNational), "{v}");
        }
        assert!(sigs("0161 496000").has(Signal::PhoneNational));
        assert!(sigs("051-038-2374").has(Signal::PhoneTrunk));
        assert!(!sigs("415-555-2671").has(Signal::PhoneTrunk));
        assert!(sigs("13242189233").has(Signal::PhoneMobileCn));
        assert!(sigs("83214710783742").has(Signal::LongDigits));
        let s = sigs("00211900531114");
        assert!(s.has(Signal::LongDigits) && s.has(Signal::PhoneIntl));
        assert!(!sigs("+211900531114").has(Signal::LongDigits));
        assert!(!sigs("12242189233").has(Signal::PhoneMobileCn) && !sigs("1324218923").has(Signal::PhoneMobileCn));
        for v in ["Մուրացանի 160", "צור 26", "9/4 तिवारी", "მუხაძის ქ. 84", "שכ 14 53", "14720 مجتهدی خیابان"] {
            assert!(sigs(v).has(Signal::AddressStreetNumber), "{v}");
        }
        assert!(sigs("Մուրացանի 160").has(Signal::AddressStreetNumberHigh));
        assert!(sigs("+৮৮০-১৩২৭-৬৫৬৭৫৭").has(Signal::PhoneIntl));
        assert!(sigs("۰۹۱۲ ۳۴۵ ۶۷۸۹").has(Signal::PhoneNational));
        assert!(!sigs("১২৩").has(Signal::PhoneNational));
        assert!(!sigs("Մուրացանի 6").has(Signal::AddressStreetNumberHigh));
        // Words numbered up to 40 (editions, boxes, levels) are no spread of house numbers.
        assert!(!sigs("Մուրացանի 27").has(Signal::AddressStreetNumberHigh));
        assert!(sigs("Մուրացանի 41").has(Signal::AddressStreetNumberHigh));
        for v in ["Main Street 5", "iPhone 12", "Ленина", "2019", "42 43 44 Москва", "Москва 2019", "Март 2021", "มกราคม 2567"] {
            assert!(!sigs(v).has(Signal::AddressStreetNumber), "{v}");
        }
        assert!(sigs("4111 1111 1111 1111").has(Signal::CardValid));
        assert!(!sigs("4111 1111 1111 1112").has(Signal::CardValid));
        assert!(sigs("4111 1111 1111 1112").has(Signal::CardShaped));
        assert!(sigs("138-73-1034").has(Signal::SsnFormatted));
        assert!(sigs("DE89 3704 0044 0532 0130 00").has(Signal::IbanValid));
        assert!(sigs("223.96.53.229").has(Signal::Ipv4Whole));
        assert!(sigs("10.2.3.4").has(Signal::Ipv4Small));
        assert!(sigs("1.2.3").has(Signal::VersionString));
        assert!(sigs("2001:db8::8a2e:370:7334").has(Signal::Ipv6Whole));
        assert!(sigs("b0:01:9f:60:78:48").has(Signal::MacWhole));
        assert!(sigs("Kathryn Coffey").has(Signal::NameFull));
        assert!(sigs("Dr. Gavin King").has(Signal::NameFull));
        assert!(sigs("Horst-Günter Beyer").has(Signal::NameFull));
        assert!(sigs("鈴木 花子").has(Signal::NameCjk));
        assert!(sigs("Lake Jennifer").has(Signal::NamePlace));
        assert!(sigs("Smith, Jones and Brown").has(Signal::NameOrganisation));
        assert!(!sigs("Ergonomic Steel Chair").has(Signal::NameFull));
        assert!(sigs("812 Wood Street Apt. 704").has(Signal::AddressWhole));
        assert!(sigs("Slavko-Blümel-Straße 49/98").has(Signal::AddressWhole));
        assert!(sigs("468, chemin Jacqueline Didier").has(Signal::AddressWhole));
        assert!(sigs("Paseo de Sofía Perera 8").has(Signal::AddressWhole));
        assert!(sigs("Incrocio Pierluigi, 295 Appartamento 62").has(Signal::AddressWhole));
        assert!(sigs("plac Dąbrowskiej 34/49").has(Signal::AddressWhole));
        assert!(sigs("Idrottsgränd 62").has(Signal::AddressWhole));
        assert!(sigs("Petőfi utca 12").has(Signal::AddressWhole));
        assert!(sigs("Brīvības iela 112").has(Signal::AddressWhole));
        assert!(sigs("Atatürk Caddesi No: 5").has(Signal::AddressWhole));
        assert!(sigs("Strada Mihai Eminescu 14").has(Signal::AddressWhole));
        assert!(sigs("Jalan Merdeka 45").has(Signal::AddressWhole));
        assert!(sigs("Triq il-Kbira 7").has(Signal::AddressWhole));
        assert!(!sigs("Apr. 12").has(Signal::AddressWhole));
        assert!(!sigs("Intel Processor 5").has(Signal::AddressWhole));
        assert!(sigs("Moore Mountain").has(Signal::NamePlace));
        for v in ["जैन मार्ग", "शाही पथ", "तुलाधर रोड", "রাজা রোড", "காந்தி சாலை"] {
            let s = sigs(v);
            assert!(s.has(Signal::NamePlace) && s.has(Signal::AddressWhole), "{v}");
        }
        assert!(!sigs("राम शर्मा").has(Signal::AddressWhole));
        assert!(!sigs("John Hill").has(Signal::NamePlace));
        assert!(sigs("J. Kowalski").has(Signal::NameInitials));
        assert!(sigs("Nováková, A.").has(Signal::NameMorph));
        assert!(sigs("Petrosyan").has(Signal::NameMorph));
        assert!(sigs("Зоя Петрова").has(Signal::NameMorph));
        assert!(!sigs("Berlin").has(Signal::NameMorph));
        assert!(sigs("2785 Paula Springs\nNorth Timothytown, AZ 61517").has(Signal::AddressWhole));
        assert!(sigs("Studio 51\nAdams Coves").has(Signal::AddressWhole));
        assert!(sigs("柳州路F座").has(Signal::AddressWhole));
        assert!(sigs("SW1A 1AA").has(Signal::PostcodeDistinct));
        assert!(sigs("8851 QG").has(Signal::PostcodeDistinct));
        assert!(sigs("97906").has(Signal::PostcodeNumeric));
        assert!(sigs("1974-08-19").date.is_some());
        assert!(sigs("40.68066, -73.47429").has(Signal::GeoPair));
        assert!(sigs("POINT(-73.47429 40.68066)").has(Signal::GeoPair));
        assert!(sigs("-73.474291").has(Signal::GeoFloat));
        assert!(sigs("postgres://app:hunter2@db.internal:5432/prod").has(Signal::UrlCreds));
        assert!(!sigs("postgres://app:${DB_PASSWORD}@db.internal:5432/prod").has(Signal::UrlCreds));
        assert!(sigs("AKIAIOSFODNN7EXAMPLE").has(Signal::SecretKnown));
        assert!(sigs("ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789").has(Signal::SecretKnown));
        assert!(sigs("sk_live_4eC39HqLyjWDarjtT1zdp7dc").has(Signal::SecretKnown));
        assert!(sigs("xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx").has(Signal::SecretKnown));
        assert!(sigs("$2b$12$KIXQJ3Jq9u5b8h3u2Vb5UeW8sZ1lK4t2mY7dQ9rX0cV6nB3aF1gHi").has(Signal::PasswordHash));
        assert!(sigs("6436637c-d4bd-47ab-9dfc-74eeecabea9f").has(Signal::Uuid));
        assert!(sigs("e3b5363759fd13390810e1d1b5bd9b42").has(Signal::HexId));
        assert!(sigs("!gd5+4BvwW").has(Signal::PasswordLike));
    }

    #[test]
    fn inside_text_and_json() {
        let t = sigs("Customer wrote from jane@example.org, call back on +44 20 7946 0958 about order 5512.");
        assert!(t.has(Signal::EmailText) && t.has(Signal::PhoneText) && t.has(Signal::FreeText));
        let t = sigs("Please update the card on file 4111-1111-1111-1111 before Friday, thanks a lot!");
        assert!(t.has(Signal::CardText));
        let t = sigs("Upgraded the agent to version 10.2.3.4 on all hosts this morning, no issues seen.");
        assert!(!t.has(Signal::Ipv4Text));
        let t = sigs("Login failed from 203.0.113.77 three times in a row, account locked for now.");
        assert!(t.has(Signal::Ipv4Text));
        let t = sigs("Spoke with Maria Schneider about the delivery, she will be home after five.");
        assert!(t.has(Signal::NameText));
        let j = sigs(r#"{"user": {"first_name": "Anna", "email": "anna@example.com", "dob": "1990-02-03"}}"#);
        assert!(j.has(Signal::Json) && j.has(Signal::EmailWhole));
        assert!(j.keyed & (1 << InfoType::PersonName as u32) != 0);
        assert!(j.keyed & (1 << InfoType::DateOfBirth as u32) != 0);
        let j = sigs(r#"{"sku": "A-100", "qty": 3, "price": 9.99}"#);
        assert!(j.signals.indices().all(|i| i == Signal::Json as usize) && j.keyed == 0);
    }
}
