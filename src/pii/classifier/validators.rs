//! Validators: checksums and strict parsers that separate real identifiers
//! from strings that merely have the right shape. Each returns a plain bool or
//! a small value; none allocates on the hot path unless it has to.

/// ASCII digits of `s` as numbers 0..=9, skipping the separators a human
/// types (space, dash, dot, slash). `None` if anything else appears.
pub fn digits_of(s: &str, max: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(20);
    for b in s.bytes() {
        match b {
            b'0'..=b'9' => {
                out.push(b - b'0');
                if out.len() > max {
                    return None;
                }
            }
            b' ' | b'-' | b'.' | b'/' => {}
            _ => return None,
        }
    }
    Some(out)
}

pub fn all_same(digits: &[u8]) -> bool {
    digits.windows(2).all(|w| w[0] == w[1])
}

/// The Luhn (mod 10) check used by payment cards and several national ids.
pub fn luhn_valid(digits: &[u8]) -> bool {
    if digits.len() < 2 {
        return false;
    }
    let mut sum = 0u32;
    for (i, &d) in digits.iter().rev().enumerate() {
        let mut v = d as u32;
        if i % 2 == 1 {
            v *= 2;
            if v > 9 {
                v -= 9;
            }
        }
        sum += v;
    }
    sum.is_multiple_of(10)
}

fn prefix_num(digits: &[u8], n: usize) -> u32 {
    digits.iter().take(n).fold(0u32, |acc, &d| acc * 10 + d as u32)
}

/// The card network a number belongs to, judged by its issuer prefix and
/// length. This is what makes a digit string *card-shaped*; Luhn decides
/// whether it is valid.
pub fn card_network(digits: &[u8]) -> Option<&'static str> {
    let len = digits.len();
    if !(13..=19).contains(&len) || all_same(digits) {
        return None;
    }
    let p1 = prefix_num(digits, 1);
    let p2 = prefix_num(digits, 2);
    let p3 = prefix_num(digits, 3);
    let p4 = prefix_num(digits, 4);
    let p6 = prefix_num(digits, 6);
    if p1 == 4 && matches!(len, 13 | 16 | 19) {
        return Some("visa");
    }
    if ((51..=55).contains(&p2) || (2221..=2720).contains(&p4)) && len == 16 {
        return Some("mastercard");
    }
    if (p2 == 34 || p2 == 37) && len == 15 {
        return Some("amex");
    }
    if (p4 == 6011 || (644..=649).contains(&p3) || p2 == 65 || (622126..=622925).contains(&p6)) && len >= 16 {
        return Some("discover");
    }
    if (3528..=3589).contains(&p4) && len >= 16 {
        return Some("jcb");
    }
    if (p4 == 1800 || p4 == 2131) && len == 15 {
        return Some("jcb");
    }
    if ((300..=305).contains(&p3) || p2 == 36 || p2 == 38 || p2 == 39) && len >= 14 {
        return Some("diners");
    }
    if (2200..=2204).contains(&p4) && len == 16 {
        return Some("mir");
    }
    if p2 == 62 && len >= 16 {
        return Some("unionpay");
    }
    if (p2 == 50 || (56..=69).contains(&p2)) && len >= 13 {
        return Some("maestro");
    }
    None
}

/// IBAN lengths by country (ISO 13616 registry, common countries).
fn iban_length(country: &str) -> Option<usize> {
    Some(match country {
        "AD" => 24,
        "AE" => 23,
        "AL" => 28,
        "AT" => 20,
        "AZ" => 28,
        "BA" => 20,
        "BE" => 16,
        "BG" => 22,
        "BH" => 22,
        "BR" => 29,
        "BY" => 28,
        "CH" => 21,
        "CR" => 22,
        "CY" => 28,
        "CZ" => 24,
        "DE" => 22,
        "DK" => 18,
        "DO" => 28,
        "EE" => 20,
        "EG" => 29,
        "ES" => 24,
        "FI" => 18,
        "FO" => 18,
        "FR" => 27,
        "GB" => 22,
        "GE" => 22,
        "GI" => 23,
        "GL" => 18,
        "GR" => 27,
        "GT" => 28,
        "HR" => 21,
        "HU" => 28,
        "IE" => 22,
        "IL" => 23,
        "IQ" => 23,
        "IS" => 26,
        "IT" => 27,
        "JO" => 30,
        "KW" => 30,
        "KZ" => 20,
        "LB" => 28,
        "LC" => 32,
        "LI" => 21,
        "LT" => 20,
        "LU" => 20,
        "LV" => 21,
        "MC" => 27,
        "MD" => 24,
        "ME" => 22,
        "MK" => 19,
        "MR" => 27,
        "MT" => 31,
        "MU" => 30,
        "NL" => 18,
        "NO" => 15,
        "PK" => 24,
        "PL" => 28,
        "PS" => 29,
        "PT" => 25,
        "QA" => 29,
        "RO" => 24,
        "RS" => 22,
        "SA" => 24,
        "SC" => 31,
        "SE" => 24,
        "SI" => 19,
        "SK" => 24,
        "SM" => 27,
        "ST" => 25,
        "SV" => 28,
        "TL" => 23,
        "TN" => 24,
        "TR" => 26,
        "UA" => 29,
        "VA" => 22,
        "VG" => 24,
        "XK" => 20,
        _ => return None,
    })
}

/// Result of looking at a possible IBAN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IbanCheck {
    NotShaped,
    Invalid,
    Valid,
}

/// An IBAN: country code with the registered length, then mod-97 == 1.
/// Spaces in groups of four are allowed.
pub fn iban_check(s: &str) -> IbanCheck {
    let compact: String = s.chars().filter(|c| *c != ' ').collect();
    let bytes = compact.as_bytes();
    if bytes.len() < 15 || bytes.len() > 34 {
        return IbanCheck::NotShaped;
    }
    let shaped = bytes[0].is_ascii_uppercase()
        && bytes[1].is_ascii_uppercase()
        && bytes[2].is_ascii_digit()
        && bytes[3].is_ascii_digit()
        && bytes[4..].iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if !shaped {
        return IbanCheck::NotShaped;
    }
    match iban_length(&compact[..2]) {
        Some(len) if len == bytes.len() => {}
        _ => return IbanCheck::NotShaped,
    }
    let rearranged = bytes[4..].iter().chain(bytes[..4].iter());
    let mut remainder: u32 = 0;
    for &b in rearranged {
        if b.is_ascii_digit() {
            remainder = (remainder * 10 + (b - b'0') as u32) % 97;
        } else {
            let v = (b - b'A') as u32 + 10;
            remainder = (remainder * 100 + v) % 97;
        }
    }
    if remainder == 1 {
        IbanCheck::Valid
    } else {
        IbanCheck::Invalid
    }
}

/// US Social Security Number rules: area not 000, 666 or 900–999, group not
/// 00, serial not 0000, and not one of the numbers published in advertising.
pub fn ssn_valid(area: u32, group: u32, serial: u32) -> bool {
    if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
        return false;
    }
    !matches!((area, group, serial), (78, 5, 1120) | (219, 9, 9999) | (123, 45, 6789))
}

/// Parses "123-45-6789" or "123 45 6789". Returns Some(valid) when shaped.
pub fn ssn_formatted(s: &str) -> Option<bool> {
    let b = s.as_bytes();
    if b.len() != 11 {
        return None;
    }
    let sep = b[3];
    if !(sep == b'-' || sep == b' ') || b[6] != sep {
        return None;
    }
    let part = |r: std::ops::Range<usize>| -> Option<u32> {
        let mut v = 0u32;
        for &c in &b[r] {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + (c - b'0') as u32;
        }
        Some(v)
    };
    Some(ssn_valid(part(0..3)?, part(4..6)?, part(7..11)?))
}

pub fn ssn_digits_valid(d: &[u8]) -> bool {
    d.len() == 9 && ssn_valid(prefix_num(d, 3), prefix_num(&d[3..], 2), prefix_num(&d[5..], 4))
}

/// Dotted-quad IPv4 without leading zeros.
pub fn parse_ipv4(s: &str) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = s.split('.');
    for slot in out.iter_mut() {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if p.len() > 1 && p.starts_with('0') {
            return None;
        }
        let v: u32 = p.parse().ok()?;
        if v > 255 {
            return None;
        }
        *slot = v as u8;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(out)
}

/// IPv4 with an optional /32 host prefix (Postgres inet prints "/32" only
/// for non-host masks, so a shorter prefix means a network, not a host).
pub fn parse_ipv4_host(s: &str) -> Option<[u8; 4]> {
    match s.split_once('/') {
        Some((addr, "32")) => parse_ipv4(addr),
        Some(_) => None,
        None => parse_ipv4(s),
    }
}

/// An IPv6 address (optionally bracketed, with a zone or a /128 prefix).
pub fn is_ipv6(s: &str) -> bool {
    let s = s.trim_start_matches('[').trim_end_matches(']');
    let s = match s.split_once('/') {
        Some((addr, "128")) => addr,
        Some(_) => return false,
        None => s,
    };
    let s = s.split('%').next().unwrap_or(s);
    if s.len() < 3 || s.bytes().filter(|&b| b == b':').count() < 2 {
        return false;
    }
    if !s.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.') {
        return false;
    }
    match s.parse::<std::net::Ipv6Addr>() {
        // "::" and "::1" parse, but carry no information about a person.
        Ok(addr) => !addr.is_unspecified() && !addr.is_loopback(),
        Err(_) => false,
    }
}

/// MAC-48 in the common notations: 00:1a:2b:3c:4d:5e, 00-1A-…, 001a.2b3c.4d5e.
pub fn is_mac(s: &str) -> bool {
    let b = s.as_bytes();
    match b.len() {
        17 => {
            let sep = b[2];
            if sep != b':' && sep != b'-' {
                return false;
            }
            for (i, &c) in b.iter().enumerate() {
                if i % 3 == 2 {
                    if c != sep {
                        return false;
                    }
                } else if !c.is_ascii_hexdigit() {
                    return false;
                }
            }
            // all zeros / all ones are placeholders, not devices
            !(s.eq_ignore_ascii_case("00:00:00:00:00:00")
                || s.eq_ignore_ascii_case("ff:ff:ff:ff:ff:ff")
                || s.eq_ignore_ascii_case("00-00-00-00-00-00")
                || s.eq_ignore_ascii_case("ff-ff-ff-ff-ff-ff"))
        }
        14 => b.iter().enumerate().all(|(i, &c)| if i == 4 || i == 9 { c == b'.' } else { c.is_ascii_hexdigit() }),
        _ => false,
    }
}

/// Decodes base64 or base64url, with or without padding.
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a') as u32 + 26,
            b'0'..=b'9' => (c - b'0') as u32 + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        })
    }
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for &c in s.as_bytes() {
        acc = (acc << 6) | value(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// A JSON Web Token: three base64url parts whose first two decode to JSON
/// objects and whose header names an algorithm.
pub fn is_jwt(s: &str) -> bool {
    let mut parts = s.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    if header.len() < 10 || payload.len() < 4 || !header.starts_with("eyJ") {
        return false;
    }
    if !signature.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return false;
    }
    let decode_object = |part: &str| -> Option<serde_json::Map<String, serde_json::Value>> {
        let bytes = base64_decode(part)?;
        match serde_json::from_slice::<serde_json::Value>(&bytes).ok()? {
            serde_json::Value::Object(map) => Some(map),
            _ => None,
        }
    };
    match (decode_object(header), decode_object(payload)) {
        (Some(h), Some(_)) => h.contains_key("alg") || h.contains_key("typ"),
        _ => false,
    }
}

/// Shannon entropy in bits per character.
pub fn shannon_entropy(s: &str) -> f64 {
    let mut counts = [0u32; 256];
    let mut n = 0u32;
    for b in s.bytes() {
        counts[b as usize] += 1;
        n += 1;
    }
    if n == 0 {
        return 0.0;
    }
    let n = n as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

// ---------------------------------------------------------------- national ids

/// Which national identifier scheme a value validates against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NationalId {
    /// Netherlands BSN (11-proof).
    NlBsn,
    /// Spain DNI/NIE (letter check).
    EsDni,
    /// France NIR / INSEE (mod-97 key).
    FrNir,
    /// Italy codice fiscale (check letter).
    ItCodiceFiscale,
    /// Brazil CPF (two mod-11 digits).
    BrCpf,
    /// Finland HETU (mod-31 check character).
    FiHetu,
    /// Sweden personnummer (Luhn).
    SePersonnummer,
    /// Poland PESEL (weighted mod-10).
    PlPesel,
    /// China resident identity card (ISO 7064 MOD 11-2).
    CnResidentId,
    /// India Aadhaar (Verhoeff).
    InAadhaar,
    /// UK National Insurance number (pattern only).
    UkNino,
}

impl NationalId {
    pub fn as_str(self) -> &'static str {
        match self {
            NationalId::NlBsn => "nl_bsn",
            NationalId::EsDni => "es_dni",
            NationalId::FrNir => "fr_nir",
            NationalId::ItCodiceFiscale => "it_codice_fiscale",
            NationalId::BrCpf => "br_cpf",
            NationalId::FiHetu => "fi_hetu",
            NationalId::SePersonnummer => "se_personnummer",
            NationalId::PlPesel => "pl_pesel",
            NationalId::CnResidentId => "cn_resident_id",
            NationalId::InAadhaar => "in_aadhaar",
            NationalId::UkNino => "uk_nino",
        }
    }

    /// Schemes whose valid values are bare digit strings: a random number of
    /// the right length passes their check often (1 in 10 or 11), so a
    /// column needs many passing values, or a name, before it counts.
    pub fn digits_only(self) -> bool {
        matches!(self, NationalId::NlBsn | NationalId::PlPesel | NationalId::InAadhaar)
    }
}

/// Outcome for a value that has the shape of some national id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NationalIdCheck {
    pub scheme: NationalId,
    pub valid: bool,
}

fn valid_day_month(day: u32, month: u32) -> bool {
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

fn bsn_valid(d: &[u8]) -> bool {
    if d.len() != 9 || all_same(d) {
        return false;
    }
    let mut sum: i32 = 0;
    for (i, &v) in d[..8].iter().enumerate() {
        sum += (9 - i as i32) * v as i32;
    }
    sum -= d[8] as i32;
    sum % 11 == 0
}

fn pesel_valid(d: &[u8]) -> bool {
    if d.len() != 11 || all_same(d) {
        return false;
    }
    let month = prefix_num(&d[2..], 2);
    let day = prefix_num(&d[4..], 2);
    if !valid_day_month(day, month % 20) {
        return false;
    }
    const W: [u32; 10] = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3];
    let sum: u32 = d[..10].iter().zip(W).map(|(&v, w)| v as u32 * w).sum();
    (10 - sum % 10) % 10 == d[10] as u32
}

fn cpf_valid(d: &[u8]) -> bool {
    if d.len() != 11 || all_same(d) {
        return false;
    }
    let check = |n: usize| -> u8 {
        let sum: u32 = d[..n].iter().enumerate().map(|(i, &v)| v as u32 * (n as u32 + 1 - i as u32)).sum();
        ((sum * 10) % 11 % 10) as u8
    };
    check(9) == d[9] && check(10) == d[10]
}

const VERHOEFF_D: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const VERHOEFF_P: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];

pub fn verhoeff_valid(d: &[u8]) -> bool {
    let mut c = 0u8;
    for (i, &v) in d.iter().rev().enumerate() {
        c = VERHOEFF_D[c as usize][VERHOEFF_P[i % 8][v as usize] as usize];
    }
    c == 0
}

fn aadhaar_valid(d: &[u8]) -> bool {
    d.len() == 12 && d[0] >= 2 && !all_same(d) && verhoeff_valid(d)
}

fn nir_check(s: &str) -> Option<bool> {
    // 15 characters: sex, year, month, department (2A/2B for Corsica), commune, order, key.
    let compact: String = s.chars().filter(|c| *c != ' ').collect();
    let b = compact.as_bytes();
    if b.len() != 15 || !matches!(b[0], b'1' | b'2' | b'3' | b'7' | b'8') {
        return None;
    }
    let dept = &compact[5..7];
    let corsica = match dept {
        "2A" | "2a" => Some(19u64),
        "2B" | "2b" => Some(18u64),
        _ => None,
    };
    let digits_ok = b.iter().enumerate().all(|(i, c)| c.is_ascii_digit() || (corsica.is_some() && i == 6));
    if !digits_ok {
        return None;
    }
    let month: u32 = compact[3..5].parse().ok()?;
    if !((1..=12).contains(&month) || (20..=42).contains(&month) || (50..=99).contains(&month)) {
        return None;
    }
    // Corsica's departments 2A and 2B count as 19 and 18 in the key.
    let numeric = match corsica {
        Some(code) => format!("{}{}{}", &compact[..5], code, &compact[7..13]),
        None => compact[..13].to_string(),
    };
    let number: u64 = numeric.parse().ok()?;
    let key: u64 = compact[13..15].parse().ok()?;
    Some(97 - number % 97 == key)
}

fn dni_check(s: &str) -> Option<bool> {
    const LETTERS: &[u8; 23] = b"TRWAGMYFPDXBNJZSQVHLCKE";
    let compact: String = s.chars().filter(|c| *c != '-' && *c != ' ').collect::<String>().to_ascii_uppercase();
    let b = compact.as_bytes();
    if b.len() != 9 || !b[8].is_ascii_uppercase() {
        return None;
    }
    let (lead, body) = match b[0] {
        b'X' => (0u32, &b[1..8]),
        b'Y' => (1, &b[1..8]),
        b'Z' => (2, &b[1..8]),
        b'0'..=b'9' => (0, &b[0..8]),
        _ => return None,
    };
    if !body.iter().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut number = if b[0].is_ascii_digit() { 0 } else { lead };
    for &c in body {
        number = number * 10 + (c - b'0') as u32;
    }
    Some(LETTERS[(number % 23) as usize] == b[8])
}

fn codice_fiscale_check(s: &str) -> Option<bool> {
    let b = s.as_bytes();
    if b.len() != 16 {
        return None;
    }
    let omocode = |c: u8| c.is_ascii_digit() || b"LMNPQRSTUV".contains(&c);
    let shape = b[..6].iter().all(u8::is_ascii_uppercase)
        && omocode(b[6])
        && omocode(b[7])
        && b"ABCDEHLMPRST".contains(&b[8])
        && omocode(b[9])
        && omocode(b[10])
        && b[11].is_ascii_uppercase()
        && b[12..15].iter().all(|&c| omocode(c))
        && b[15].is_ascii_uppercase();
    if !shape {
        return None;
    }
    const ODD: [u32; 26] =
        [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23];
    let mut sum = 0u32;
    for (i, &c) in b[..15].iter().enumerate() {
        let idx = if c.is_ascii_digit() { (c - b'0') as usize } else { (c - b'A') as usize };
        // Positions are counted from 1: odd positions use the odd table.
        sum += if i % 2 == 0 { ODD[idx] } else { idx as u32 };
    }
    Some(b'A' + (sum % 26) as u8 == b[15])
}

fn hetu_check(s: &str) -> Option<bool> {
    const CHECK: &[u8; 31] = b"0123456789ABCDEFHJKLMNPRSTUVWXY";
    let b = s.as_bytes();
    if b.len() != 11 || !b"+-ABCDEFUVWXY".contains(&b[6]) {
        return None;
    }
    if !b[..6].iter().all(u8::is_ascii_digit) || !b[7..10].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let day: u32 = s[0..2].parse().ok()?;
    let month: u32 = s[2..4].parse().ok()?;
    if !valid_day_month(day, month) {
        return None;
    }
    let number: u64 = format!("{}{}", &s[0..6], &s[7..10]).parse().ok()?;
    Some(CHECK[(number % 31) as usize] == b[10].to_ascii_uppercase())
}

fn personnummer_check(s: &str) -> Option<bool> {
    let b = s.as_bytes();
    let (date, tail) = match b.len() {
        11 if b[6] == b'-' || b[6] == b'+' => (&s[0..6], &s[7..11]),
        13 if b[8] == b'-' || b[8] == b'+' => (&s[2..8], &s[9..13]),
        _ => return None,
    };
    if !date.bytes().chain(tail.bytes()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let month: u32 = date[2..4].parse().ok()?;
    let day: u32 = date[4..6].parse().ok()?;
    // Coordination numbers add 60 to the day.
    if !valid_day_month(if day > 60 { day - 60 } else { day }, month) {
        return None;
    }
    let digits: Vec<u8> = date.bytes().chain(tail.bytes()).map(|c| c - b'0').collect();
    Some(luhn_valid(&digits))
}

fn cn_resident_id_check(s: &str) -> Option<bool> {
    let b = s.as_bytes();
    if b.len() != 18
        || !b[..17].iter().all(u8::is_ascii_digit)
        || !(b[17].is_ascii_digit() || b[17] == b'X' || b[17] == b'x')
    {
        return None;
    }
    let year: u32 = s[6..10].parse().ok()?;
    let month: u32 = s[10..12].parse().ok()?;
    let day: u32 = s[12..14].parse().ok()?;
    if !(1900..=2099).contains(&year) || !valid_day_month(day, month) {
        return None;
    }
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = b[..17].iter().zip(W).map(|(&c, w)| (c - b'0') as u32 * w).sum();
    Some(b"10X98765432"[(sum % 11) as usize] == b[17].to_ascii_uppercase())
}

fn nino_check(s: &str) -> Option<bool> {
    let compact: String = s.chars().filter(|c| *c != ' ').collect::<String>().to_ascii_uppercase();
    let b = compact.as_bytes();
    if b.len() != 9 {
        return None;
    }
    let first_ok = |c: u8| c.is_ascii_uppercase() && !b"DFIQUV".contains(&c);
    let second_ok = |c: u8| c.is_ascii_uppercase() && !b"DFIOQUV".contains(&c);
    if !(first_ok(b[0]) && second_ok(b[1]) && b[2..8].iter().all(u8::is_ascii_digit) && b"ABCD".contains(&b[8])) {
        return None;
    }
    Some(!matches!(&compact[..2], "BG" | "GB" | "KN" | "NK" | "NT" | "TN"))
}

/// Tries every national-id scheme whose shape the value has. `digits` is the
/// value's digits when it consists only of digits and separators.
pub fn national_id_check(s: &str, digits: Option<&[u8]>) -> Option<NationalIdCheck> {
    let found = |scheme, valid| Some(NationalIdCheck { scheme, valid });
    let len = s.len();
    if (9..=10).contains(&len) {
        if let Some(valid) = dni_check(s) {
            return found(NationalId::EsDni, valid);
        }
    }
    if len == 16 {
        if let Some(valid) = codice_fiscale_check(s) {
            return found(NationalId::ItCodiceFiscale, valid);
        }
    }
    if len == 11 {
        if let Some(valid) = hetu_check(s) {
            return found(NationalId::FiHetu, valid);
        }
    }
    if len == 11 || len == 13 {
        if let Some(valid) = personnummer_check(s) {
            return found(NationalId::SePersonnummer, valid);
        }
    }
    if len == 18 {
        if let Some(valid) = cn_resident_id_check(s) {
            return found(NationalId::CnResidentId, valid);
        }
    }
    if (9..=13).contains(&len) && s.as_bytes()[0].is_ascii_alphabetic() {
        if let Some(valid) = nino_check(s) {
            return found(NationalId::UkNino, valid);
        }
    }
    if len == 14 && s.as_bytes()[3] == b'.' && s.as_bytes()[7] == b'.' && s.as_bytes()[11] == b'-' {
        if let Some(d) = digits {
            return found(NationalId::BrCpf, cpf_valid(d));
        }
    }
    if (15..=21).contains(&len) {
        if let Some(valid) = nir_check(s) {
            return found(NationalId::FrNir, valid);
        }
    }
    let d = digits?;
    let plain = s.bytes().all(|c| c.is_ascii_digit());
    match d.len() {
        9 if plain => found(NationalId::NlBsn, bsn_valid(d)),
        11 if plain => {
            // PESEL and CPF share the length; report whichever validates.
            if cpf_valid(d) {
                found(NationalId::BrCpf, true)
            } else {
                found(NationalId::PlPesel, pesel_valid(d))
            }
        }
        12 if plain || s.contains(' ') => found(NationalId::InAadhaar, aadhaar_valid(d)),
        _ => None,
    }
}

// ---------------------------------------------------------------- dates

/// A calendar date found in a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FoundDate {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    /// A time of day other than midnight was present.
    pub has_time: bool,
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

fn date_ok(year: i32, month: u32, day: u32) -> bool {
    (1000..=2999).contains(&year) && (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month)
}

fn num(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 4 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// ISO dates and timestamps as Postgres prints them, and the common
/// day-first / month-first forms (1985-03-02, 02.03.1985, 03/02/1985).
pub fn parse_date(s: &str) -> Option<FoundDate> {
    let s = s.trim();
    if s.len() < 8 || s.len() > 40 {
        return None;
    }
    let (date_part, time_part) = match s.find(['T', ' ']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let has_time = match time_part {
        None => false,
        Some(t) => {
            let t = t.trim();
            // "00:00:00", "00:00:00+00", "00:00:00.000Z": midnight means a date stored as a timestamp.
            let clock: String = t.chars().take_while(|c| c.is_ascii_digit() || *c == ':' || *c == '.').collect();
            if clock.is_empty() || !clock.contains(':') {
                return None;
            }
            !clock.chars().all(|c| c == '0' || c == ':' || c == '.')
        }
    };
    let sep = date_part.bytes().find(|b| !b.is_ascii_digit())?;
    if !matches!(sep, b'-' | b'/' | b'.') {
        return None;
    }
    let parts: Vec<&str> = date_part.split(sep as char).collect();
    if parts.len() != 3 {
        return None;
    }
    let (a, b, c) = (num(parts[0])?, num(parts[1])?, num(parts[2])?);
    let found = |year: u32, month: u32, day: u32| {
        if date_ok(year as i32, month, day) {
            Some(FoundDate { year: year as i32, month, day, has_time })
        } else {
            None
        }
    };
    if parts[0].len() == 4 {
        return found(a, b, c);
    }
    if parts[2].len() == 4 && parts[0].len() <= 2 && parts[1].len() <= 2 {
        // Day first unless that is impossible (then month first).
        return found(c, b, a).or_else(|| found(c, a, b));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Vec<u8> {
        digits_of(s, 30).unwrap()
    }

    #[test]
    fn luhn_and_networks() {
        assert!(luhn_valid(&d("4111 1111 1111 1111")));
        assert!(!luhn_valid(&d("4111 1111 1111 1112")));
        assert_eq!(card_network(&d("4111111111111111")), Some("visa"));
        assert_eq!(card_network(&d("378282246310005")), Some("amex"));
        assert_eq!(card_network(&d("5555555555554444")), Some("mastercard"));
        assert_eq!(card_network(&d("1234567812345678")), None);
    }

    #[test]
    fn iban() {
        assert_eq!(iban_check("GB82 WEST 1234 5698 7654 32"), IbanCheck::Valid);
        assert_eq!(iban_check("DE89370400440532013000"), IbanCheck::Valid);
        assert_eq!(iban_check("DE89370400440532013001"), IbanCheck::Invalid);
        assert_eq!(iban_check("DE8937040044053201300"), IbanCheck::NotShaped);
        assert_eq!(iban_check("hello world this is"), IbanCheck::NotShaped);
    }

    #[test]
    fn ssn_rules() {
        assert_eq!(ssn_formatted("138-73-1034"), Some(true));
        assert_eq!(ssn_formatted("666-12-3456"), Some(false));
        assert_eq!(ssn_formatted("914-17-7763"), Some(false));
        assert_eq!(ssn_formatted("123-00-4567"), Some(false));
        assert_eq!(ssn_formatted("078-05-1120"), Some(false));
        assert_eq!(ssn_formatted("555-123-4567"), None);
    }

    #[test]
    fn network_addresses() {
        assert_eq!(parse_ipv4("192.168.1.20"), Some([192, 168, 1, 20]));
        assert_eq!(parse_ipv4("256.1.1.1"), None);
        assert_eq!(parse_ipv4("01.2.3.4"), None);
        assert_eq!(parse_ipv4("1.2.3"), None);
        assert_eq!(parse_ipv4_host("10.0.0.0/8"), None);
        assert!(is_ipv6("8b2d:9a82:4db3:7000:30b4:1d93:dccc:c79c"));
        assert!(is_ipv6("2001:db8::1"));
        assert!(!is_ipv6("::1"));
        assert!(!is_ipv6("12:30:45"));
        assert!(!is_ipv6("b0:01:9f:60:78:48"));
        assert!(is_mac("b0:01:9f:60:78:48"));
        assert!(is_mac("B0-01-9F-60-78-48"));
        assert!(is_mac("b001.9f60.7848"));
        assert!(!is_mac("b0:01:9f-60:78:48"));
    }

    #[test]
    fn jwt() {
        let token = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
        assert!(is_jwt(token));
        assert!(!is_jwt("eyJhbGciOi.notjson.sig"));
        assert!(!is_jwt("a.b.c"));
    }

    #[test]
    fn national_ids_from_generated_samples() {
        let check = |s: &str| national_id_check(s, digits_of(s, 20).as_deref());
        let valid = |s: &str, scheme: NationalId| {
            assert_eq!(check(s), Some(NationalIdCheck { scheme, valid: true }), "{s}");
        };
        valid("214035797", NationalId::NlBsn);
        valid("22179636T", NationalId::EsDni);
        valid("172023201312126", NationalId::FrNir);
        valid("BCCFRC15M25E852P", NationalId::ItCodiceFiscale);
        valid("280.929.381-30", NationalId::BrCpf);
        valid("18724467014", NationalId::BrCpf);
        valid("191002A584N", NationalId::FiHetu);
        valid("961112-5825", NationalId::SePersonnummer);
        valid("77082414171", NationalId::PlPesel);
        valid("45032719961112141X", NationalId::CnResidentId);
        valid("688151252395", NationalId::InAadhaar);
        // Faker's en_IN generator appends a Luhn digit; real Aadhaar numbers use Verhoeff.
        assert_eq!(check("688151252394").map(|c| c.valid), Some(false));
        valid("AB123456C", NationalId::UkNino);
        assert_eq!(check("22179636A").map(|c| c.valid), Some(false));
        assert_eq!(check("BCCFRC15M25E852Q").map(|c| c.valid), Some(false));
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date("1974-08-19").map(|d| (d.year, d.month, d.day)), Some((1974, 8, 19)));
        assert_eq!(parse_date("1974-08-19 00:00:00+00").map(|d| d.has_time), Some(false));
        assert_eq!(parse_date("2024-01-05T13:22:01Z").map(|d| d.has_time), Some(true));
        assert_eq!(parse_date("19.08.1974").map(|d| d.year), Some(1974));
        assert_eq!(parse_date("08/19/1974").map(|d| (d.month, d.day)), Some((8, 19)));
        assert_eq!(parse_date("1974-02-30"), None);
        assert_eq!(parse_date("10.2.3.4"), None);
    }
}
