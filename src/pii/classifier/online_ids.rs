//! Detector family: online identifiers that follow a person around — social
//! handles (`@name`) and account user names. A user name looks like many
//! other tokens (product codes, words), so its shape alone is weak evidence:
//! it counts when the column's name says so, or when the values carry the
//! `@` that handles are written with.

/// `@jane_doe`, `@Jane.Doe42`: an at sign and a handle (letters, digits, `_`, `.`).
pub fn handle(v: &str) -> bool {
    let Some(rest) = v.strip_prefix('@') else {
        return false;
    };
    (2..=30).contains(&rest.len())
        && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        && rest.bytes().any(|b| b.is_ascii_alphabetic())
        && !rest.starts_with('.')
        && !rest.ends_with('.')
}

/// `jdoe`, `been_1835`, `Wasco1982`, `maria.rossi`: the shape of an account
/// name — one token of letters, digits and `._-`, starting with a letter.
pub fn username_shape(v: &str) -> bool {
    let b = v.as_bytes();
    (3..=32).contains(&b.len())
        && b[0].is_ascii_alphabetic()
        && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || c == b'-')
        && b.iter().filter(|c| c.is_ascii_alphabetic()).count() >= 2
        && !b.ends_with(b".")
}

/// `jesus42`, `Wasco1982`, `been_1835`, `anna.k_07`: letters (at least three, not all capitals:
/// `SKU1234` is a code) and then a number of one to four digits. Returns the letters.
pub fn numbered_account(v: &str) -> Option<&str> {
    let stem = v.trim_end_matches(|c: char| c.is_ascii_digit());
    let number = v.len() - stem.len();
    if !(1..=4).contains(&number) {
        return None;
    }
    let letters = stem.trim_end_matches(['_', '.', '-']);
    let n_letters = letters.bytes().filter(|b| b.is_ascii_alphabetic()).count();
    if n_letters < 3 || letters.bytes().any(|b| b.is_ascii_digit()) || !letters.bytes().any(|b| b.is_ascii_lowercase()) {
        return None;
    }
    Some(letters)
}

/// Whether a lowercase run of letters is a name, an initial and a name
/// (`sjones`), or two names run together (`andrewvazquez`), by `is_name`.
pub fn built_from_names(letters: &str, is_name: &dyn Fn(&str) -> bool) -> bool {
    if !letters.is_ascii() || letters.len() < 3 {
        return false;
    }
    if is_name(letters) || (letters.len() >= 5 && is_name(&letters[1..])) {
        return true;
    }
    (3..=letters.len().saturating_sub(3)).any(|k| is_name(&letters[..k]) && is_name(&letters[k..]))
}

/// `P06690743`, `AB1234567`, `C01X00T47`: one or two letters and digits, as
/// passport and identity-card numbers are printed (plain digit numbers are
/// judged with the other digit strings).
pub fn document_number_shape(v: &str) -> bool {
    let b = v.as_bytes();
    if !(8..=10).contains(&b.len()) || !b.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) {
        return false;
    }
    let letters = b.iter().filter(|c| c.is_ascii_uppercase()).count();
    b[0].is_ascii_uppercase() && (1..=3).contains(&letters) && b.len() - letters >= 6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles() {
        assert!(handle("@jane_doe"));
        assert!(handle("@Jane.Doe42"));
        assert!(!handle("@"));
        assert!(!handle("@12345"));
        assert!(!handle("jane@example.com"));
        assert!(!handle("@home now"));
    }

    #[test]
    fn names_run_together() {
        let names = |w: &str| matches!(w, "andrew" | "vazquez" | "jones" | "maria");
        assert!(built_from_names("andrewvazquez", &names));
        assert!(built_from_names("sjones", &names));
        assert!(built_from_names("maria", &names));
        assert!(!built_from_names("mariax", &names));
        assert!(!built_from_names("beaches", &names));
    }

    #[test]
    fn numbered_accounts() {
        assert_eq!(numbered_account("jesus42"), Some("jesus"));
        assert_eq!(numbered_account("been_1835"), Some("been"));
        assert_eq!(numbered_account("Wasco1982"), Some("Wasco"));
        assert_eq!(numbered_account("SKU1234"), None);
        assert_eq!(numbered_account("ab12"), None);
        assert_eq!(numbered_account("anna"), None);
        assert_eq!(numbered_account("order123456"), None);
        assert_eq!(numbered_account("x9y8z7"), None);
    }

    #[test]
    fn document_numbers() {
        assert!(document_number_shape("P06690743"));
        assert!(document_number_shape("C01X00T47"));
        assert!(!document_number_shape("12345678"));
        assert!(!document_number_shape("ABCDEFGH1"));
        assert!(!document_number_shape("p06690743"));
    }

    #[test]
    fn user_names() {
        assert!(username_shape("been_1835"));
        assert!(username_shape("Wasco1982"));
        assert!(username_shape("maria.rossi"));
        assert!(!username_shape("1835_been"));
        assert!(!username_shape("two words"));
        assert!(!username_shape("x"));
    }
}
