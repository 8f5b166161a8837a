//! Detector family: national identifiers and identity-document numbers.
//!
//! Each scheme is checked by the algorithm its issuer publishes (weighted
//! mod-11 and mod-10 sums, ISO 7064, Luhn, Verhoeff, mod-97, letter tables,
//! embedded birth dates); schemes without a check digit (the UK NINO, India's
//! PAN, Denmark's CPR since 2007) are checked for structure only. A value can
//! fit several schemes of the same length (eleven digits: PESEL, CPF,
//! Steuer-IdNr, OIB, fødselsnummer, …); `check` reports every scheme it passes
//! and the column scorer looks at the best single scheme, because a random
//! number passes *some* eleven-digit check far more often than any one.

use super::financial::luhn_valid;
use super::validators::{all_same, days_in_month, prefix_num};

macro_rules! schemes {
    ($($variant:ident => $name:literal, $doc:literal;)*) => {
        /// Which national identifier scheme a value validates against.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum NationalId {
            $(#[doc = $doc] $variant,)*
        }

        impl NationalId {
            pub const ALL: &'static [NationalId] = &[$(NationalId::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(NationalId::$variant => $name,)*
                }
            }
        }
    };
}

schemes! {
    NlBsn => "nl_bsn", "Netherlands BSN (11-proof).";
    EsDni => "es_dni", "Spain DNI/NIE (letter check).";
    FrNir => "fr_nir", "France NIR / INSEE (mod-97 key).";
    ItCodiceFiscale => "it_codice_fiscale", "Italy codice fiscale (check letter).";
    BrCpf => "br_cpf", "Brazil CPF (two mod-11 digits).";
    FiHetu => "fi_hetu", "Finland HETU (mod-31 check character).";
    SePersonnummer => "se_personnummer", "Sweden personnummer (Luhn over the date and number).";
    PlPesel => "pl_pesel", "Poland PESEL (weighted mod-10, birth date).";
    CnResidentId => "cn_resident_id", "China resident identity card (ISO 7064 MOD 11-2).";
    InAadhaar => "in_aadhaar", "India Aadhaar (Verhoeff).";
    UkNino => "uk_nino", "UK National Insurance number (structure).";
    DeIdnr => "de_steuer_idnr", "Germany tax id (ISO 7064 MOD 11,10).";
    HrOib => "hr_oib", "Croatia OIB (ISO 7064 MOD 11,10).";
    NoFodselsnummer => "no_fodselsnummer", "Norway fødselsnummer / D-number (two mod-11 digits, birth date).";
    DkCpr => "dk_cpr", "Denmark CPR (birth date; structure).";
    CzRodneCislo => "cz_sk_rodne_cislo", "Czech/Slovak birth number (divisible by 11, birth date).";
    RoCnp => "ro_cnp", "Romania CNP (weights 279146358279, birth date).";
    BgEgn => "bg_egn", "Bulgaria EGN (weighted mod-11, birth date).";
    EeIsikukood => "ee_lt_personal_code", "Estonia isikukood / Lithuania asmens kodas (two-stage mod-11, birth date).";
    BeNationalNumber => "be_national_number", "Belgium national register number (mod-97, birth date).";
    PtNif => "pt_nif", "Portugal NIF (weighted mod-11).";
    JpMyNumber => "jp_my_number", "Japan Individual Number (weighted mod-11).";
    KrRrn => "kr_rrn", "South Korea resident registration number (weighted mod-11, birth date).";
    AuTfn => "au_tfn", "Australia tax file number (weighted mod-11).";
    CaSin => "ca_sin", "Canada social insurance number (Luhn).";
    IlTeudatZehut => "il_teudat_zehut", "Israel identity number (Luhn-style).";
    MxCurp => "mx_curp", "Mexico CURP (structure, birth date, mod-10 check).";
    ZaId => "za_id", "South Africa identity number (Luhn, birth date).";
    TrTcKimlik => "tr_tc_kimlik", "Türkiye T.C. Kimlik No (two check digits).";
    GbNhs => "gb_nhs", "UK NHS number (weighted mod-11).";
    ChAhv => "ch_ahv", "Switzerland AHV/AVS number (756 prefix, EAN-13).";
    IsKennitala => "is_kennitala", "Iceland kennitala (weighted mod-11, birth date).";
    GrAmka => "gr_amka", "Greece AMKA (Luhn, birth date).";
    RuInn => "ru_inn", "Russia personal INN (two weighted mod-11 digits).";
    ClRut => "cl_rut", "Chile RUT/RUN (mod-11, K check).";
    EcCedula => "ec_cedula", "Ecuador cédula (province, mod-10).";
    UsItin => "us_itin", "US ITIN (9xx with the issued group ranges).";
    InPan => "in_pan", "India PAN (structure, holder type P).";
    PassportMrz => "passport_mrz", "Passport number with its ICAO 9303 check digit.";
    ThIdCard => "th_id_card", "Thailand personal identification number (weighted mod-11).";
    AtSvnr => "at_svnr", "Austria social insurance number (weighted mod-11 check in the fourth digit).";
    UaRntrc => "ua_rntrc", "Ukraine taxpayer number RNOKPP (weighted mod-11).";
    TwNationalId => "tw_national_id", "Taiwan national identification card (area letter, weighted mod-10).";
    LvPersonasKods => "lv_personas_kods", "Latvia personal code (weights 1,6,3,7,9,10,5,8,4,2; birth date in the old form).";
    HuSzemelyiSzam => "hu_szemelyi_szam", "Hungary personal identification number (weighted mod-11, birth date).";
    EgNationalId => "eg_national_id", "Egypt national number (century digit, birth date, governorate code; structure).";
    GhGhanaCard => "gh_ghana_card", "Ghana Card personal id number (GHA-, nine digits, check digit; structure).";
    TzNida => "tz_nida", "Tanzania NIDA number (birth date YYYYMMDD and twelve digits; structure).";
    RwNationalId => "rw_national_id", "Rwanda national id (1, birth year, sex digit 7/8; structure).";
    UgNin => "ug_nin", "Uganda national identification number (CM/CF, birth year; structure).";
}

/// The schemes a value fits and those it passes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IdMatch {
    /// Bit per `NationalId` (its index) the value passes.
    pub valid: u64,
    /// The value passed a scheme whose printed form it has (letters where the
    /// scheme has them, or its own grouping: `280.929.381-30`, `756.1234.5678.97`).
    /// Otherwise it is digits that a random number passes often by chance,
    /// and only a column of passing values counts.
    pub specific: bool,
}

impl IdMatch {
    pub fn is_valid(&self) -> bool {
        self.valid != 0
    }
    pub fn schemes(&self) -> impl Iterator<Item = NationalId> + '_ {
        NationalId::ALL.iter().copied().filter(move |s| self.valid & (1u64 << (*s as u32)) != 0)
    }
    fn add(&mut self, scheme: NationalId, valid: bool) {
        if valid {
            self.valid |= 1u64 << (scheme as u32);
        }
    }
}

/// Known-scheme validity of one value (for tests and callers that want one answer).
pub fn validates_as(s: &str, scheme: NationalId) -> bool {
    check(s).is_some_and(|m| m.valid & (1u64 << (scheme as u32)) != 0)
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


fn date_valid(year: i32, month: u32, day: u32) -> bool {
    (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month)
}

fn num(d: &[u8]) -> u64 {
    d.iter().fold(0u64, |acc, &v| acc * 10 + v as u64)
}

/// ISO 7064 MOD 11,10 (German tax id, Croatian OIB).
fn iso7064_11_10(d: &[u8]) -> bool {
    let mut product = 10u32;
    for &v in &d[..d.len() - 1] {
        let mut sum = (v as u32 + product) % 10;
        if sum == 0 {
            sum = 10;
        }
        product = (2 * sum) % 11;
    }
    let check = (11 - product) % 10;
    check == d[d.len() - 1] as u32
}

fn weighted(d: &[u8], w: &[u32]) -> u32 {
    d.iter().zip(w).map(|(&v, &w)| v as u32 * w).sum()
}

fn de_idnr_valid(d: &[u8]) -> bool {
    d.len() == 11 && d[0] != 0 && !all_same(d) && iso7064_11_10(d)
}

fn hr_oib_valid(d: &[u8]) -> bool {
    d.len() == 11 && !all_same(d) && iso7064_11_10(d)
}

fn no_fnr_valid(d: &[u8]) -> bool {
    if d.len() != 11 {
        return false;
    }
    let mut day = prefix_num(d, 2);
    let mut month = prefix_num(&d[2..], 2);
    if day > 40 {
        day -= 40; // D-number
    }
    if month > 40 {
        month -= 40; // H-number
    }
    if !date_valid(2000, month, day) {
        return false;
    }
    let k = |w: &[u32], n: usize| -> Option<u8> {
        let r = 11 - weighted(&d[..n], w) % 11;
        match r {
            11 => Some(0),
            10 => None,
            r => Some(r as u8),
        }
    };
    k(&[3, 7, 6, 1, 8, 9, 4, 5, 2], 9) == Some(d[9]) && k(&[5, 4, 3, 2, 7, 6, 5, 4, 3, 2], 10) == Some(d[10])
}

fn yymmdd_ok(d: &[u8], month_offsets: &[u32]) -> bool {
    let yy = prefix_num(d, 2) as i32;
    let mm = prefix_num(&d[2..], 2);
    let dd = prefix_num(&d[4..], 2);
    month_offsets.iter().any(|&o| mm > o && date_valid(2000 + yy, mm - o, dd))
}

fn cz_rc_valid(d: &[u8]) -> bool {
    if d.len() != 10 || !yymmdd_ok(d, &[0, 20, 50, 70]) {
        return false;
    }
    let n = num(d);
    n.is_multiple_of(11) || (num(&d[..9]) % 11 == 10 && d[9] == 0)
}

fn ro_cnp_valid(d: &[u8]) -> bool {
    if d.len() != 13 || d[0] == 0 || !yymmdd_ok(&d[1..], &[0]) {
        return false;
    }
    let r = weighted(d, &[2, 7, 9, 1, 4, 6, 3, 5, 8, 2, 7, 9]) % 11;
    (if r == 10 { 1 } else { r }) == d[12] as u32
}

fn bg_egn_valid(d: &[u8]) -> bool {
    if d.len() != 10 || !yymmdd_ok(d, &[0, 20, 40]) {
        return false;
    }
    let r = weighted(d, &[2, 4, 8, 5, 10, 9, 7, 3, 6]) % 11;
    (if r == 10 { 0 } else { r }) == d[9] as u32
}

fn ee_ik_valid(d: &[u8]) -> bool {
    if d.len() != 11 || !(1..=6).contains(&d[0]) || !yymmdd_ok(&d[1..], &[0]) {
        return false;
    }
    let mut r = weighted(d, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 1]) % 11;
    if r == 10 {
        r = weighted(d, &[3, 4, 5, 6, 7, 8, 9, 1, 2, 3]) % 11;
        if r == 10 {
            r = 0;
        }
    }
    r == d[10] as u32
}

/// Latvia's personas kods: `DDMMYY-CNNNN` (C the century, 0–2) with its check digit
/// (1101 − Σ wᵢdᵢ) mod 11, or the 2017 form starting `32` without a date and with the same check.
fn lv_personas_kods_valid(d: &[u8]) -> bool {
    if d.len() != 11 || all_same(d) {
        return false;
    }
    let new_form = d[0] == 3 && d[1] == 2;
    if !new_form {
        let (dd, mm, yy) = (prefix_num(d, 2), prefix_num(&d[2..], 2), prefix_num(&d[4..], 2) as i32);
        if d[6] > 2 || !date_valid(1800 + 100 * d[6] as i32 + yy, mm, dd) {
            return false;
        }
    }
    let r = (1101 - weighted(d, &[1, 6, 3, 7, 9, 10, 5, 8, 4, 2]) as i64).rem_euclid(11);
    r < 10 && r as u8 == d[10]
}

/// Hungary's személyi azonosító: sex and century digit (1–8), `YYMMDD`, a serial, and a check
/// digit Σ i·dᵢ mod 11 for people born before 1997, Σ (11 − i)·dᵢ mod 11 since.
fn hu_szemelyi_szam_valid(d: &[u8]) -> bool {
    if d.len() != 11 || !(1..=8).contains(&d[0]) {
        return false;
    }
    let century = match d[0] {
        1 | 2 => 1900,
        3 | 4 => 1800,
        _ => 2000,
    };
    let year = century + prefix_num(&d[1..], 2) as i32;
    if !date_valid(year, prefix_num(&d[3..], 2), prefix_num(&d[5..], 2)) {
        return false;
    }
    let r = if year < 1997 {
        weighted(d, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    } else {
        weighted(d, &[10, 9, 8, 7, 6, 5, 4, 3, 2, 1])
    } % 11;
    r < 10 && r as u8 == d[10]
}

fn be_nn_valid(d: &[u8]) -> bool {
    if d.len() != 11 {
        return false;
    }
    let body = num(&d[..9]);
    let key = num(&d[9..]);
    // Born in 2000 or later: a 2 is put before the number.
    97 - body % 97 == key || 97 - (2_000_000_000 + body) % 97 == key
}

fn pt_nif_valid(d: &[u8]) -> bool {
    if d.len() != 9 || !matches!(d[0], 1 | 2 | 3 | 5 | 6 | 8 | 9) {
        return false;
    }
    let r = 11 - weighted(d, &[9, 8, 7, 6, 5, 4, 3, 2]) % 11;
    (if r >= 10 { 0 } else { r }) == d[8] as u32
}

fn jp_my_number_valid(d: &[u8]) -> bool {
    if d.len() != 12 || all_same(d) {
        return false;
    }
    let sum: u32 = (1..=11u32).map(|n| d[11 - n as usize] as u32 * if n <= 6 { n + 1 } else { n - 5 }).sum();
    let r = sum % 11;
    (if r <= 1 { 0 } else { 11 - r }) == d[11] as u32
}

/// Numbers issued since October 2020 carry no check digit: a birth date and a
/// century/sex digit are all there is to check (the printed `yymmdd-nnnnnnn`
/// form is what makes such a value specific).
fn kr_rrn_valid(d: &[u8]) -> bool {
    d.len() == 13 && yymmdd_ok(d, &[0])
}

fn th_id_valid(d: &[u8]) -> bool {
    if d.len() != 13 || d[0] == 0 || all_same(d) {
        return false;
    }
    let sum: u32 = d[..12].iter().enumerate().map(|(i, &v)| v as u32 * (13 - i as u32)).sum();
    (11 - sum % 11) % 10 == d[12] as u32
}

fn at_svnr_valid(d: &[u8]) -> bool {
    // The last six digits are usually, not always, the birth date: not checked.
    if d.len() != 10 || d[0] == 0 || all_same(d) {
        return false;
    }
    weighted(d, &[3, 7, 9, 0, 5, 8, 4, 2, 1, 6]) % 11 == d[3] as u32
}

fn ua_rntrc_valid(d: &[u8]) -> bool {
    if d.len() != 10 || all_same(d) {
        return false;
    }
    let sum: i32 = d[..9].iter().zip([-1i32, 5, 7, 9, 4, 6, 10, 5, 7]).map(|(&v, w)| v as i32 * w).sum();
    (sum.rem_euclid(11) % 10) as u8 == d[9]
}

fn tw_id_check(s: &str) -> Option<bool> {
    let b = s.as_bytes();
    if b.len() != 10 || !b[0].is_ascii_uppercase() || !matches!(b[1], b'1' | b'2' | b'8' | b'9') {
        return None;
    }
    if !b[1..].iter().all(u8::is_ascii_digit) {
        return None;
    }
    // Area letters in the order of their codes 10..35.
    const AREAS: &[u8; 26] = b"ABCDEFGHJKLMNPQRSTUVXYWZIO";
    let code = AREAS.iter().position(|&c| c == b[0])? as u32 + 10;
    let mut sum = code / 10 + (code % 10) * 9;
    for (i, &c) in b[1..9].iter().enumerate() {
        sum += (c - b'0') as u32 * (8 - i as u32);
    }
    sum += (b[9] - b'0') as u32;
    Some(sum.is_multiple_of(10))
}

fn au_tfn_valid(d: &[u8]) -> bool {
    d.len() == 9 && !all_same(d) && weighted(d, &[1, 4, 3, 7, 5, 8, 6, 9, 10]).is_multiple_of(11)
}

fn ca_sin_valid(d: &[u8]) -> bool {
    d.len() == 9 && !matches!(d[0], 0 | 8) && !all_same(d) && luhn_valid(d)
}

fn il_id_valid(d: &[u8]) -> bool {
    d.len() == 9 && !all_same(d) && luhn_valid(d)
}

fn za_id_valid(d: &[u8]) -> bool {
    d.len() == 13 && yymmdd_ok(d, &[0]) && d[10] <= 1 && luhn_valid(d)
}

fn tr_tc_valid(d: &[u8]) -> bool {
    if d.len() != 11 || d[0] == 0 {
        return false;
    }
    let odd: u32 = [0, 2, 4, 6, 8].iter().map(|&i| d[i] as u32).sum();
    let even: u32 = [1, 3, 5, 7].iter().map(|&i| d[i] as u32).sum();
    let d10 = ((odd * 7 + 100 - even) % 10) as u8;
    let d11 = (d[..10].iter().map(|&v| v as u32).sum::<u32>() % 10) as u8;
    d10 == d[9] && d11 == d[10]
}

fn gb_nhs_valid(d: &[u8]) -> bool {
    if d.len() != 10 || all_same(d) {
        return false;
    }
    let r = 11 - weighted(d, &[10, 9, 8, 7, 6, 5, 4, 3, 2]) % 11;
    match r {
        11 => d[9] == 0,
        10 => false,
        r => r == d[9] as u32,
    }
}

fn ean13_valid(d: &[u8]) -> bool {
    let sum: u32 = d[..12].iter().enumerate().map(|(i, &v)| v as u32 * if i % 2 == 0 { 1 } else { 3 }).sum();
    (10 - sum % 10) % 10 == d[12] as u32
}

fn ch_ahv_valid(d: &[u8]) -> bool {
    d.len() == 13 && prefix_num(d, 3) == 756 && ean13_valid(d)
}

fn is_kennitala_valid(d: &[u8]) -> bool {
    if d.len() != 10 || !matches!(d[9], 0 | 8 | 9) {
        return false;
    }
    let mut day = prefix_num(d, 2);
    if day > 40 {
        day -= 40; // companies
    }
    if !date_valid(2000, prefix_num(&d[2..], 2), day) {
        return false;
    }
    let r = 11 - weighted(d, &[3, 2, 7, 6, 5, 4, 3, 2]) % 11;
    (if r == 11 { 0 } else { r }) == d[8] as u32
}

fn gr_amka_valid(d: &[u8]) -> bool {
    d.len() == 11 && date_valid(2000, prefix_num(&d[2..], 2), prefix_num(d, 2)) && luhn_valid(d)
}

fn ru_inn_valid(d: &[u8]) -> bool {
    if d.len() != 12 || all_same(d) {
        return false;
    }
    let c1 = weighted(d, &[7, 2, 4, 10, 3, 5, 9, 4, 6, 8]) % 11 % 10;
    let c2 = weighted(d, &[3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8]) % 11 % 10;
    c1 == d[10] as u32 && c2 == d[11] as u32
}

fn ec_ci_valid(d: &[u8]) -> bool {
    if d.len() != 10 || !(1..=24).contains(&prefix_num(d, 2)) || d[2] >= 6 {
        return false;
    }
    let sum: u32 = d[..9]
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let p = v as u32 * if i % 2 == 0 { 2 } else { 1 };
            if p > 9 {
                p - 9
            } else {
                p
            }
        })
        .sum();
    (10 - sum % 10) % 10 == d[9] as u32
}

fn dk_cpr_shape(s: &str) -> Option<bool> {
    let b = s.as_bytes();
    if b.len() != 11 || b[6] != b'-' || !b[..6].iter().chain(&b[7..]).all(u8::is_ascii_digit) {
        return None;
    }
    let d: Vec<u8> = b[..6].iter().map(|c| c - b'0').collect();
    Some(date_valid(2000, prefix_num(&d[2..], 2), prefix_num(&d, 2)))
}

fn itin_check(s: &str) -> Option<bool> {
    let b = s.as_bytes();
    if b.len() != 11 || b[3] != b'-' || b[6] != b'-' || b[0] != b'9' {
        return None;
    }
    if !b.iter().enumerate().all(|(i, c)| i == 3 || i == 6 || c.is_ascii_digit()) {
        return None;
    }
    let group = (b[4] - b'0') as u32 * 10 + (b[5] - b'0') as u32;
    Some(matches!(group, 50..=65 | 70..=88 | 90..=92 | 94..=99))
}

fn pan_check(s: &str) -> Option<bool> {
    let b = s.as_bytes();
    if b.len() != 10
        || !b[..5].iter().all(u8::is_ascii_uppercase)
        || !b[5..9].iter().all(u8::is_ascii_digit)
        || !b[9].is_ascii_uppercase()
    {
        return None;
    }
    // The fourth letter is the holder type: P for a person (C, H, F, … for others).
    Some(b[3] == b'P')
}

fn curp_value(c: u8) -> Option<u32> {
    match c {
        b'0'..=b'9' => Some((c - b'0') as u32),
        b'A'..=b'N' => Some((c - b'A') as u32 + 10),
        b'O'..=b'Z' => Some((c - b'O') as u32 + 25),
        _ => None,
    }
}

fn curp_check(s: &str) -> Option<bool> {
    let b = s.as_bytes();
    if b.len() != 18
        || !b[..4].iter().all(u8::is_ascii_uppercase)
        || !b[4..10].iter().all(u8::is_ascii_digit)
        || !matches!(b[10], b'H' | b'M' | b'X')
        || !b[11..16].iter().all(u8::is_ascii_uppercase)
        || !b[16].is_ascii_alphanumeric()
        || !b[17].is_ascii_digit()
    {
        return None;
    }
    let d: Vec<u8> = b[4..10].iter().map(|c| c - b'0').collect();
    if !yymmdd_ok(&d, &[0]) {
        return Some(false);
    }
    let mut sum = 0u32;
    for (i, &c) in b[..17].iter().enumerate() {
        sum += curp_value(c)? * (18 - i as u32);
    }
    Some((10 - sum % 10) % 10 == (b[17] - b'0') as u32)
}

fn rut_check(s: &str) -> Option<bool> {
    let compact: String = s.chars().filter(|c| *c != '.').collect();
    let (body, check) = compact.split_once('-')?;
    if !(7..=8).contains(&body.len()) || !body.bytes().all(|c| c.is_ascii_digit()) || check.len() != 1 {
        return None;
    }
    let c = check.as_bytes()[0].to_ascii_uppercase();
    if !(c.is_ascii_digit() || c == b'K') {
        return None;
    }
    let mut sum = 0u32;
    for (i, b) in body.bytes().rev().enumerate() {
        sum += (b - b'0') as u32 * (2 + (i as u32 % 6));
    }
    let r = 11 - sum % 11;
    let want = match r {
        11 => b'0',
        10 => b'K',
        r => b'0' + r as u8,
    };
    Some(want == c)
}

/// ICAO 9303 check digit over a machine-readable-zone field.
pub fn icao_check_digit(field: &[u8]) -> Option<u8> {
    let mut sum = 0u32;
    for (i, &c) in field.iter().enumerate() {
        let v = match c {
            b'0'..=b'9' => (c - b'0') as u32,
            b'A'..=b'Z' => (c - b'A') as u32 + 10,
            b'<' => 0,
            _ => return None,
        };
        sum += v * [7, 3, 1][i % 3];
    }
    Some((sum % 10) as u8)
}

/// A nine-character document number followed by its check digit, letters and digits mixed.
fn passport_check(s: &str) -> Option<bool> {
    let b = s.as_bytes();
    if b.len() != 10 || !b[9].is_ascii_digit() || !b[..9].iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) {
        return None;
    }
    if !b[..9].iter().any(u8::is_ascii_uppercase) || !b[..9].iter().any(u8::is_ascii_digit) {
        return None;
    }
    Some(icao_check_digit(&b[..9])? == b[9] - b'0')
}

/// Egypt's national number: 14 digits, a century digit (2: 1900s, 3: 2000s), the birth date as YYMMDD,
/// a governorate code of the published list (01–04 cities, 11–19 Lower Egypt, 21–29 Upper Egypt,
/// 31–35 frontier governorates, 88 born abroad), a serial whose last digit gives the sex, and a check
/// digit whose algorithm is not published (so structure only).
fn eg_national_id_valid(d: &[u8]) -> bool {
    if d.len() != 14 || !matches!(d[0], 2 | 3) {
        return false;
    }
    let year = if d[0] == 2 { 1900 } else { 2000 } + prefix_num(&d[1..], 2) as i32;
    let gov = prefix_num(&d[7..], 2);
    date_valid(year, prefix_num(&d[3..], 2), prefix_num(&d[5..], 2))
        && matches!(gov, 1..=4 | 11..=19 | 21..=29 | 31..=35 | 88)
}

/// Tanzania's NIDA number: the holder's birth date (YYYYMMDD) and twelve more digits, printed
/// `19850312-12345-00001-23` (structure only).
fn tz_nida_valid(d: &[u8]) -> bool {
    d.len() == 20 && {
        let year = prefix_num(d, 4) as i32;
        (1900..=2030).contains(&year) && date_valid(year, prefix_num(&d[4..], 2), prefix_num(&d[6..], 2))
    }
}

/// Rwanda's national id: sixteen digits, 1 (a citizen), the birth year, 7 or 8 for the sex, a serial
/// and issue digits (structure only).
fn rw_national_id_valid(d: &[u8]) -> bool {
    d.len() == 16 && d[0] == 1 && (1900..=2030).contains(&prefix_num(&d[1..], 4)) && matches!(d[5], 7 | 8)
}

/// Ghana Card: `GHA-` and nine digits, a dash and a check digit (`GHA-123456789-0`).
fn ghana_card_check(s: &str) -> Option<bool> {
    let rest = s.strip_prefix("GHA-").or_else(|| s.strip_prefix("gha-"))?;
    let b = rest.as_bytes();
    (b.len() == 11 && b[9] == b'-' && b[..9].iter().all(u8::is_ascii_digit) && b[10].is_ascii_digit()).then_some(true)
}

/// Uganda's NIN: `CM` (male) or `CF` (female), the two digits of the birth year and ten letters and
/// digits, fourteen characters in all (structure only).
fn ug_nin_check(s: &str) -> Option<bool> {
    let b = s.as_bytes();
    if b.len() != 14 || b[0] != b'C' || !matches!(b[1], b'M' | b'F') {
        return None;
    }
    let body = &b[4..];
    (b[2].is_ascii_digit()
        && b[3].is_ascii_digit()
        && body.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && body.iter().any(u8::is_ascii_digit))
    .then_some(true)
}

/// The scheme whose printed grouping `s` has, among those whose grouping
/// phone numbers do not share.
fn printed_format(s: &str, d: &[u8]) -> Option<NationalId> {
    let groups: Vec<usize> = s.split([' ', '-', '.', '/']).map(str::len).collect();
    let seps: String = s.chars().filter(|c| matches!(c, ' ' | '-' | '.' | '/')).collect();
    match (groups.as_slice(), seps.as_str()) {
        ([3, 3, 3, 2], "..-") => Some(NationalId::BrCpf),
        ([3, 4, 4, 2], "...") if prefix_num(d, 3) == 756 => Some(NationalId::ChAhv),
        ([2, 2, 2, 3, 2], "..-.") => Some(NationalId::BeNationalNumber),
        ([6, 7], "-") => Some(NationalId::KrRrn),
        ([6, 4], "/") => Some(NationalId::CzRodneCislo),
        ([2, 3, 3, 3], "   ") => Some(NationalId::DeIdnr),
        ([4, 4, 4], "   ") => Some(NationalId::InAadhaar),
        ([1, 4, 5, 2, 1], "----") => Some(NationalId::ThIdCard),
        ([6, 5], "-") => Some(NationalId::LvPersonasKods),
        _ => None,
    }
}

/// Every scheme `s` has the shape of, and which of them it passes; `None`
/// when it has the shape of none. Separators a human types (space, dash,
/// dot, slash) are allowed where the schemes print them.
pub fn check(s: &str) -> Option<IdMatch> {
    let len = s.len();
    if !(9..=23).contains(&len) {
        return None;
    }
    let mut m = IdMatch::default();
    let mut shaped = false;
    let mut try_shape = |scheme, r: Option<bool>, m: &mut IdMatch| {
        if let Some(valid) = r {
            shaped = true;
            m.add(scheme, valid);
            m.specific |= valid;
        }
    };
    let first = s.as_bytes()[0];
    if first.is_ascii_alphabetic() || s.bytes().any(|c| c.is_ascii_alphabetic()) {
        if len <= 10 {
            try_shape(NationalId::TwNationalId, tw_id_check(s), &mut m);
            try_shape(NationalId::EsDni, dni_check(s), &mut m);
            try_shape(NationalId::InPan, pan_check(s), &mut m);
            try_shape(NationalId::PassportMrz, passport_check(s), &mut m);
        }
        if len == 16 {
            try_shape(NationalId::ItCodiceFiscale, codice_fiscale_check(s), &mut m);
        }
        if len == 11 {
            try_shape(NationalId::FiHetu, hetu_check(s), &mut m);
        }
        if len == 18 {
            try_shape(NationalId::CnResidentId, cn_resident_id_check(s), &mut m);
            try_shape(NationalId::MxCurp, curp_check(s), &mut m);
        }
        if (9..=13).contains(&len) && first.is_ascii_alphabetic() {
            try_shape(NationalId::UkNino, nino_check(s), &mut m);
        }
        if (15..=21).contains(&len) {
            try_shape(NationalId::FrNir, nir_check(s), &mut m);
        }
        if s.ends_with(['K', 'k']) {
            try_shape(NationalId::ClRut, rut_check(s), &mut m);
        }
        if len == 15 {
            try_shape(NationalId::GhGhanaCard, ghana_card_check(s), &mut m);
        }
        if len == 14 {
            try_shape(NationalId::UgNin, ug_nin_check(s), &mut m);
        }
        return shaped.then_some(m);
    }
    // Digits and separators only.
    let mut d: Vec<u8> = Vec::with_capacity(20);
    for b in s.bytes() {
        match b {
            b'0'..=b'9' => d.push(b - b'0'),
            b' ' | b'-' | b'.' | b'/' => {}
            _ => return None,
        }
    }
    let printed = printed_format(s, &d);
    if len == 11 || len == 13 {
        try_shape(NationalId::SePersonnummer, personnummer_check(s), &mut m);
    }
    if len == 18 {
        try_shape(NationalId::CnResidentId, cn_resident_id_check(s), &mut m);
    }
    if (15..=21).contains(&len) {
        try_shape(NationalId::FrNir, nir_check(s), &mut m);
    }
    try_shape(NationalId::DkCpr, dk_cpr_shape(s), &mut m);
    try_shape(NationalId::UsItin, itin_check(s), &mut m);
    if s.contains('-') {
        try_shape(NationalId::ClRut, rut_check(s), &mut m);
    }
    if all_same(&d) {
        return shaped.then_some(m);
    }
    let mut by_length = |scheme, valid: bool, m: &mut IdMatch| {
        shaped = true;
        m.add(scheme, valid);
        m.specific |= valid && printed == Some(scheme);
    };
    match d.len() {
        9 => {
            by_length(NationalId::NlBsn, bsn_valid(&d), &mut m);
            by_length(NationalId::PtNif, pt_nif_valid(&d), &mut m);
            by_length(NationalId::AuTfn, au_tfn_valid(&d), &mut m);
            by_length(NationalId::CaSin, ca_sin_valid(&d), &mut m);
            by_length(NationalId::IlTeudatZehut, il_id_valid(&d), &mut m);
        }
        10 => {
            by_length(NationalId::CzRodneCislo, cz_rc_valid(&d), &mut m);
            by_length(NationalId::BgEgn, bg_egn_valid(&d), &mut m);
            by_length(NationalId::GbNhs, gb_nhs_valid(&d), &mut m);
            by_length(NationalId::IsKennitala, is_kennitala_valid(&d), &mut m);
            by_length(NationalId::EcCedula, ec_ci_valid(&d), &mut m);
            by_length(NationalId::AtSvnr, at_svnr_valid(&d), &mut m);
            by_length(NationalId::UaRntrc, ua_rntrc_valid(&d), &mut m);
        }
        11 => {
            by_length(NationalId::PlPesel, pesel_valid(&d), &mut m);
            by_length(NationalId::BrCpf, cpf_valid(&d), &mut m);
            by_length(NationalId::DeIdnr, de_idnr_valid(&d), &mut m);
            by_length(NationalId::HrOib, hr_oib_valid(&d), &mut m);
            by_length(NationalId::NoFodselsnummer, no_fnr_valid(&d), &mut m);
            by_length(NationalId::EeIsikukood, ee_ik_valid(&d), &mut m);
            by_length(NationalId::BeNationalNumber, be_nn_valid(&d), &mut m);
            by_length(NationalId::TrTcKimlik, tr_tc_valid(&d), &mut m);
            by_length(NationalId::GrAmka, gr_amka_valid(&d), &mut m);
            by_length(NationalId::LvPersonasKods, lv_personas_kods_valid(&d), &mut m);
            by_length(NationalId::HuSzemelyiSzam, hu_szemelyi_szam_valid(&d), &mut m);
        }
        12 => {
            by_length(NationalId::InAadhaar, aadhaar_valid(&d), &mut m);
            by_length(NationalId::JpMyNumber, jp_my_number_valid(&d), &mut m);
            by_length(NationalId::RuInn, ru_inn_valid(&d), &mut m);
        }
        13 => {
            by_length(NationalId::RoCnp, ro_cnp_valid(&d), &mut m);
            by_length(NationalId::ZaId, za_id_valid(&d), &mut m);
            by_length(NationalId::KrRrn, kr_rrn_valid(&d), &mut m);
            by_length(NationalId::ChAhv, ch_ahv_valid(&d), &mut m);
            by_length(NationalId::ThIdCard, th_id_valid(&d), &mut m);
        }
        14 => by_length(NationalId::EgNationalId, eg_national_id_valid(&d), &mut m),
        16 => by_length(NationalId::RwNationalId, rw_national_id_valid(&d), &mut m),
        20 => {
            // Printed 8-5-5-2 with dashes, Tanzania's own grouping.
            let groups: Vec<usize> = s.split('-').map(str::len).collect();
            let valid = tz_nida_valid(&d);
            m.specific |= valid && groups == [8, 5, 5, 2];
            by_length(NationalId::TzNida, valid, &mut m);
        }
        _ => {}
    }
    shaped.then_some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Examples: the specifications' own published examples where they give one
    // (ICAO 9303's L898902C3, the Swedish Tax Agency's 811218-9876, …), and
    // otherwise numbers built by python-stdnum's implementation of each scheme
    // (an implementation independent of this one).
    #[test]
    fn african_identity_numbers() {
        // Egypt: 2 (1900s) 85-03-12, governorate 01 (Cairo), serial, check digit.
        assert!(validates_as("28503120101234", NationalId::EgNationalId));
        assert!(validates_as("30107152112345", NationalId::EgNationalId), "3: born in the 2000s, Giza");
        assert!(!validates_as("28513120101234", NationalId::EgNationalId), "month 13");
        assert!(!validates_as("28503120501234", NationalId::EgNationalId), "governorate 05 does not exist");
        assert!(!validates_as("48503120101234", NationalId::EgNationalId), "century digit 4");
        let gh = check("GHA-123456789-0").unwrap();
        assert!(gh.specific && validates_as("GHA-123456789-0", NationalId::GhGhanaCard));
        assert!(check("GHA-12345678-01").is_none());
        assert!(validates_as("19850312-12345-00001-23", NationalId::TzNida));
        assert!(check("19850312-12345-00001-23").unwrap().specific);
        assert!(!validates_as("19851312-12345-00001-23", NationalId::TzNida), "month 13");
        assert!(validates_as("1198780012345012", NationalId::RwNationalId));
        assert!(!validates_as("1198750012345012", NationalId::RwNationalId), "sex digit 5");
        assert!(!validates_as("2198780012345012", NationalId::RwNationalId));
        assert!(validates_as("CM85012ABC123D", NationalId::UgNin));
        assert!(check("CM1234ABCD").is_none(), "a product code starting CM is too short");
        assert!(check("CX85012ABC123D").is_none());
    }

    #[test]
    fn latvian_and_hungarian_personal_numbers() {
        // Built and accepted by python-stdnum's lv.pvn.
        for v in ["080546-24908", "050244-14113", "180591-12273", "170963-27981"] {
            assert!(validates_as(v, NationalId::LvPersonasKods), "{v}");
            assert!(check(v).unwrap().specific, "{v}: the DDMMYY-NNNNN print is Latvia's");
        }
        assert!(!validates_as("080546-24909", NationalId::LvPersonasKods));
        // Built by Faker's hu_HU provider (its own implementation of the rule).
        for v in ["25804083149", "28810082886", "15201277230", "24006111187"] {
            assert!(validates_as(v, NationalId::HuSzemelyiSzam), "{v}");
        }
        assert!(!validates_as("25804083148", NationalId::HuSzemelyiSzam));
        assert!(!validates_as("25813083149", NationalId::HuSzemelyiSzam), "month 13");
    }

    #[test]
    fn published_and_independently_generated_examples() {
        let ok = |s: &str, scheme: NationalId| assert!(validates_as(s, scheme), "{s} should pass {scheme:?}");
        ok("214035797", NationalId::NlBsn);
        ok("22179636T", NationalId::EsDni);
        ok("X1234567L", NationalId::EsDni);
        ok("172023201312126", NationalId::FrNir);
        ok("BCCFRC15M25E852P", NationalId::ItCodiceFiscale);
        ok("280.929.381-30", NationalId::BrCpf);
        ok("18724467014", NationalId::BrCpf);
        ok("191002A584N", NationalId::FiHetu);
        ok("131052-308T", NationalId::FiHetu);
        ok("811218-9876", NationalId::SePersonnummer);
        ok("77082414171", NationalId::PlPesel);
        ok("44051401458", NationalId::PlPesel);
        ok("360426199101010071", NationalId::CnResidentId);
        ok("688151252395", NationalId::InAadhaar);
        ok("AB123456C", NationalId::UkNino);
        ok("36574261809", NationalId::DeIdnr);
        ok("94577403194", NationalId::HrOib);
        ok("15108695088", NationalId::NoFodselsnummer);
        ok("211062-5629", NationalId::DkCpr);
        ok("7103192745", NationalId::CzRodneCislo);
        ok("1630615123457", NationalId::RoCnp);
        ok("7523169263", NationalId::BgEgn);
        ok("36805280109", NationalId::EeIsikukood);
        ok("85073003328", NationalId::BeNationalNumber);
        ok("151620466", NationalId::PtNif);
        ok("123456789018", NationalId::JpMyNumber);
        ok("971013-9019902", NationalId::KrRrn);
        ok("123 456 782", NationalId::AuTfn);
        ok("661-920-579", NationalId::CaSin);
        ok("039337423", NationalId::IlTeudatZehut);
        ok("BOXW010820HNERVN09", NationalId::MxCurp);
        ok("7503305044089", NationalId::ZaId);
        ok("17291716060", NationalId::TrTcKimlik);
        ok("943 476 5919", NationalId::GbNhs);
        ok("756.9217.0769.85", NationalId::ChAhv);
        ok("120174-3399", NationalId::IsKennitala);
        ok("01013099997", NationalId::GrAmka);
        ok("500100732259", NationalId::RuInn);
        ok("76086428-5", NationalId::ClRut);
        ok("12.531.909-2", NationalId::ClRut);
        ok("1714307103", NationalId::EcCedula);
        ok("912-90-3456", NationalId::UsItin);
        ok("ABCPD1234E", NationalId::InPan);
        ok("L898902C36", NationalId::PassportMrz);
        ok("6260181590830", NationalId::ThIdCard);
        ok("3768426846", NationalId::AtSvnr);
        ok("3848372616", NationalId::UaRntrc);
        ok("A123456789", NationalId::TwNationalId);
    }

    #[test]
    fn altered_numbers_fail() {
        let bad = |s: &str, scheme: NationalId| assert!(!validates_as(s, scheme), "{s} should fail {scheme:?}");
        bad("36574261808", NationalId::DeIdnr);
        bad("94577403195", NationalId::HrOib);
        bad("15108695089", NationalId::NoFodselsnummer);
        bad("1630615123458", NationalId::RoCnp);
        bad("7503305044088", NationalId::ZaId);
        bad("17291716061", NationalId::TrTcKimlik);
        bad("943 476 5918", NationalId::GbNhs);
        bad("756.9217.0769.84", NationalId::ChAhv);
        bad("500100732258", NationalId::RuInn);
        bad("76086428-4", NationalId::ClRut);
        bad("L898902C37", NationalId::PassportMrz);
        bad("6260181590831", NationalId::ThIdCard);
        bad("3778426846", NationalId::AtSvnr);
        bad("3848372617", NationalId::UaRntrc);
        bad("A123456788", NationalId::TwNationalId);
        bad("ABCCD1234E", NationalId::InPan);
        bad("912-40-3456", NationalId::UsItin);
        bad("BOXW010820HNERVN08", NationalId::MxCurp);
        bad("22179636A", NationalId::EsDni);
        bad("BCCFRC15M25E852Q", NationalId::ItCodiceFiscale);
        bad("688151252394", NationalId::InAadhaar);
    }

    #[test]
    fn random_digits_pass_any_one_scheme_rarely() {
        // A simple LCG: ~10% or fewer of random 11-digit numbers pass each check.
        let mut x: u64 = 0x2545F4914F6CDD1D;
        let mut counts = std::collections::BTreeMap::new();
        for _ in 0..5000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let s = format!("{:011}", (x >> 11) % 100_000_000_000);
            if let Some(m) = check(&s) {
                for scheme in m.schemes() {
                    *counts.entry(scheme).or_insert(0) += 1;
                }
            }
        }
        for (scheme, n) in counts {
            assert!(n < 5000 / 8, "{scheme:?} passes {n} of 5000 random numbers");
        }
    }

    #[test]
    fn not_identifiers() {
        assert_eq!(check("hello world"), None);
        assert_eq!(check("12345"), None);
        assert!(check("11111111111").is_none_or(|m| !m.is_valid()));
    }
}
