//! Typo-tolerant matching for catalog search when pg_trgm is not installed:
//! how well the words of a query occur among the words of a name.

use std::collections::HashSet;

/// Trigrams of one lower-case word, padded as pg_trgm pads them (two spaces
/// in front, one behind), so short words still have a few.
fn trigrams(word: &str) -> HashSet<[char; 3]> {
    let padded: Vec<char> = "  ".chars().chain(word.chars()).chain(" ".chars()).collect();
    padded.windows(3).map(|w| [w[0], w[1], w[2]]).collect()
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// For each word of `query`, the best trigram overlap (Jaccard) with a word
/// of `text`, averaged over the query's words: 1 when every query word is in
/// `text`, near 0 when none resembles one.
pub fn word_similarity(query: &str, text: &str) -> f32 {
    let targets: Vec<HashSet<[char; 3]>> = words(text).iter().map(|w| trigrams(w)).collect();
    let query_words = words(query);
    if query_words.is_empty() || targets.is_empty() {
        return 0.0;
    }
    let total: f32 = query_words
        .iter()
        .map(|w| {
            let q = trigrams(w);
            targets
                .iter()
                .map(|t| {
                    let shared = q.intersection(t).count() as f32;
                    shared / ((q.len() + t.len()) as f32 - shared)
                })
                .fold(0.0f32, f32::max)
        })
        .sum();
    total / query_words.len() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_words_score_one() {
        assert_eq!(word_similarity("customers", "shop customers"), 1.0);
        assert_eq!(word_similarity("Customer ORDERS", "orders_customer"), 1.0);
    }

    #[test]
    fn typos_score_high_and_unrelated_words_low() {
        let typo = word_similarity("custmers", "customers");
        assert!(typo > 0.5 && typo < 1.0, "{typo}");
        assert!(word_similarity("payroll", "customers") < 0.2);
        // half the query matches
        let half = word_similarity("customers payroll", "customers");
        assert!(half > 0.45 && half < 0.6, "{half}");
    }

    #[test]
    fn empty_inputs_and_other_scripts() {
        assert_eq!(word_similarity("", "customers"), 0.0);
        assert_eq!(word_similarity("!!", "customers"), 0.0);
        assert_eq!(word_similarity("customers", ""), 0.0);
        assert_eq!(word_similarity("Заказы", "заказы клиентов"), 1.0);
    }
}
