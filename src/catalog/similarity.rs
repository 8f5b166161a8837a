//! Typo-tolerant matching for catalog search when pg_trgm is not installed:
//! how well the words of a query occur among the words of a name.

use std::collections::HashSet;

/// Trigrams of one lower-case word, padded as pg_trgm pads them (two spaces
/// in front, one behind), so short words still have a few.
fn trigrams(word: &str) -> HashSet<[char; 3]> {
    let padded: Vec<char> = "  ".chars().chain(word.chars()).chain(" ".chars()).collect();
    padded.windows(3).map(|w| [w[0], w[1], w[2]]).collect()
}

/// Catalog names, descriptions and queries are short; the function is open
/// to every role, so its work is bounded whatever it is given (the pairwise
/// comparison would otherwise grow with the square of the input and run
/// for minutes, deaf to cancels).
const MAX_QUERY_WORDS: usize = 32;
const MAX_TEXT_WORDS: usize = 2048;
const MAX_WORD_CHARS: usize = 48;

/// The distinct lower-case words of `text`, at most `limit`, each cut to
/// `MAX_WORD_CHARS` characters.
fn words(text: &str, limit: usize) -> Vec<String> {
    let mut seen = HashSet::new();
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().take(MAX_WORD_CHARS).collect::<String>().to_lowercase())
        .filter(|w| seen.insert(w.clone()))
        .take(limit)
        .collect()
}

/// For each word of `query`, the best trigram overlap (Jaccard) with a word
/// of `text`, averaged over the query's words: 1 when every query word is in
/// `text`, near 0 when none resembles one.
pub fn word_similarity(query: &str, text: &str) -> f32 {
    let targets: Vec<HashSet<[char; 3]>> = words(text, MAX_TEXT_WORDS).iter().map(|w| trigrams(w)).collect();
    let query_words = words(query, MAX_QUERY_WORDS);
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
    fn huge_inputs_cost_a_bounded_amount_of_work() {
        let started = std::time::Instant::now();
        let query = "ab ".repeat(50_000) + &"xy".repeat(100_000);
        let text: String = (0..200_000).map(|i| format!("w{i} ")).collect();
        let score = word_similarity(&query, &text);
        assert!((0.0..=1.0).contains(&score));
        // unbounded, this pairing took minutes
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());
        // repeated words count once: the same answer as the words once
        assert_eq!(word_similarity("orders orders", "customer orders orders"), word_similarity("orders", "customer orders"));
    }

    #[test]
    fn empty_inputs_and_other_scripts() {
        assert_eq!(word_similarity("", "customers"), 0.0);
        assert_eq!(word_similarity("!!", "customers"), 0.0);
        assert_eq!(word_similarity("customers", ""), 0.0);
        assert_eq!(word_similarity("Заказы", "заказы клиентов"), 1.0);
    }
}
