//! Detector family: payment data — card numbers (issuer prefix, length and
//! Luhn) and IBANs (registered country length and ISO 7064 mod-97).

use super::validators::{all_same, prefix_num};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pii::classifier::validators::digits_of;

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
}
