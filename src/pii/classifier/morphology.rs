//! How family names are built, in many languages: the suffixes and prefixes that make a word a
//! family name (`Novák` → `Nováková`, `Petrov`, `Jensen`, `Ioannidis`, `Beridze`, `Petrosyan`).
//! Written for townlake from the public descriptions of each language's naming customs, not from
//! any name list: it knows no name, only how names are formed, so it reaches names no list holds.
//!
//! One word with such an ending proves nothing (`Rostov` is a town, `Saratov` too); a column in
//! which a large share of the values end so is a column of family names. The column rule lives in
//! `ColumnProfile::person_name`; this module only says whether one word is built like a family name.

/// Endings of family names in Latin script, compared with the word in lower case (diacritics kept:
/// Croatian `-ić` and Slovene `-ič` are endings, English `-ic` is not).
const LATIN_SUFFIXES: &[&str] = &[
    // West and South Slavic: Czech and Slovak feminine forms, adjectival names, patronymic -ić/-ič.
    "ová", "ský", "ská", "cký", "cká", "ski", "ska", "cki", "cka", "sky", "wicz", "owicz", "ewicz", "czyk", "czak",
    "ović", "ević", "ić", "ič", "vić", "vič",
    // East Slavic and Turkic names in their usual romanisation.
    "ova", "eva", "yeva", "ov", "ev", "yev", "enko", "chuk", "czuk", "vich", "vych", "yuk",
    // Baltic: Lithuanian masculine -auskas, -evičius, feminine -ienė, -aitė, -ytė, -utė; Latvian -iņš.
    "auskas", "evičius", "avičius", "ienė", "aitė", "ytė", "utė", "iņš", "iņa",
    // Romanian, Greek, Armenian, Georgian, Turkish, Persian.
    "escu", "eanu", "opoulos", "opoulou", "poulos", "idis", "idou", "iadis", "akis", "yan", "shvili", "dze",
    "oğlu", "oglu", "zade", "zadeh", "pour", "nejad",
    // Nordic patronymic names (-sson, -sen, Icelandic -dóttir), Swedish compound names, Finnish -nen.
    "sson", "dóttir", "dottir", "ström", "strom", "qvist", "kvist", "nsen", "rsen", "lsen", "dsen", "tsen", "ksen",
    "ssen", "nen",
    // Spanish patronymic -ez (González, Fernández).
    "ez",
];

/// Endings of family names in Cyrillic, Greek, Armenian, Georgian and Arabic script.
const SCRIPT_SUFFIXES: &[&str] = &[
    // Russian, Bulgarian, Ukrainian, Belarusian, Macedonian, Serbian.
    "ов", "ова", "ев", "ева", "ёв", "ёва", "енко", "чук", "юк", "ович", "евич", "ић", "ски", "ска", "ський", "ська",
    // Greek: -όπουλος, -ίδης, -άκης and their feminine (genitive) forms.
    "πουλος", "πούλου", "ίδης", "ίδου", "ΐδης", "ΐδου", "ιάδης", "ιάδου", "άκης", "άκη", "άτος",
    // Armenian -յան (-yan), older -եան, -ունց.
    "յան", "եան", "ունց",
    // Georgian -შვილი (-shvili), -ძე (-dze), -იანი, Mingrelian -ავა.
    "შვილი", "ძე", "იანი", "ავა",
    // Persian -زاده (-zadeh), -پور (-pour), -نژاد (-nejad).
    "زاده", "پور", "نژاد",
];

/// Whether one word is built like a family name in some language.
pub fn family_name_built(word: &str) -> bool {
    let chars = word.chars().count();
    if chars < 4 {
        return false;
    }
    let first = word.chars().next().unwrap_or(' ');
    // Gaelic and Norman prefixes: McDonald, MacLeod, O'Brien, Fitzgerald (a capital after the
    // prefix, so that `Machine` or `Mach` is not one).
    for prefix in ["Mc", "Mac", "O'", "O’", "Fitz"] {
        if let Some(rest) = word.strip_prefix(prefix) {
            let next = rest.chars().next();
            if rest.chars().count() >= 3
                && next.is_some_and(|c| c.is_uppercase() || (prefix == "Fitz" && c.is_lowercase()))
            {
                return true;
            }
        }
    }
    let lower = word.to_lowercase();
    let latin = first.is_ascii() || ('\u{00C0}'..='\u{024F}').contains(&first);
    let list = if latin { LATIN_SUFFIXES } else { SCRIPT_SUFFIXES };
    // The ending must leave a stem of at least two letters (`Ov` or `Ska` alone is no name).
    if list
        .iter()
        .any(|s| lower.ends_with(s) && chars >= s.chars().count() + 2)
    {
        return true;
    }
    // Arabic family names of the nisba form with the article: ال…ي (al-…i: `الحربي`, `القحطاني`).
    !latin && chars >= 5 && lower.starts_with("ال") && lower.ends_with('ي')
}

#[cfg(test)]
mod tests {
    use super::family_name_built;

    #[test]
    fn family_names_of_many_languages() {
        for w in [
            "Nováková", "Kowalski", "Horvatić", "Kaučič", "Petrov", "Aliyev", "Shevchenko", "Kazlauskas", "Jankauskienė",
            "Popescu", "Papadopoulos", "Petrosyan", "Beridze", "Gelashvili", "Yılmazoğlu", "Hosseinzadeh", "Jónsdóttir",
            "Andersson", "Jensen", "Virtanen", "González", "McDonald", "O'Brien", "Fitzgerald", "Иванова", "Шевченко",
            "Παπαδόπουλος", "Νικολαΐδου", "Պետրոսյան", "ბერიძე", "გელაშვილი", "الحربي", "حسین‌زاده",
        ] {
            assert!(family_name_built(w), "{w}");
        }
    }

    #[test]
    fn other_words_are_not() {
        for w in [
            "Machine", "Mach", "Ov", "Ska", "Paris", "Berlin", "Music", "Public", "Garden", "Teacher", "Москва", "Книга",
            "Αθήνα", "Երևան", "თბილისი", "Oslo", "Madrid", "O'", "Mango",
        ] {
            assert!(!family_name_built(w), "{w}");
        }
    }
}
