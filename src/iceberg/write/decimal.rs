//! Decimal text (as numeric's output function writes it) to the unscaled
//! integer Iceberg stores. Pure logic: no pgrx.

/// A decimal's unscaled value at exactly `scale`; values needing rounding or
/// more digits than `precision` are errors, not silent changes.
pub fn parse_decimal(text: &str, precision: u32, scale: u32) -> Result<i128, String> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int_part, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int_part.is_empty() || !int_part.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("\"{text}\" is not a finite decimal"));
    }
    let frac_trimmed = frac.trim_end_matches('0');
    if frac_trimmed.len() > scale as usize {
        return Err(format!("{text} has more than {scale} decimal places"));
    }
    let int_trimmed = int_part.trim_start_matches('0');
    if int_trimmed.len() + scale as usize > precision as usize {
        return Err(format!("{text} does not fit decimal({precision},{scale})"));
    }
    let mut unscaled = String::from(if int_trimmed.is_empty() { "0" } else { int_trimmed });
    unscaled.push_str(frac_trimmed);
    unscaled.extend(std::iter::repeat_n('0', scale as usize - frac_trimmed.len()));
    let v: i128 = unscaled.parse().map_err(|_| format!("\"{text}\" is not a decimal"))?;
    Ok(if negative { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_exactly() {
        assert_eq!(parse_decimal("12.5", 10, 2), Ok(1250));
        assert_eq!(parse_decimal("12.50", 10, 2), Ok(1250));
        assert_eq!(parse_decimal("-0.07", 10, 2), Ok(-7));
        assert_eq!(parse_decimal("0", 10, 2), Ok(0));
        assert_eq!(parse_decimal("007.10", 4, 2), Ok(710));
        assert_eq!(parse_decimal("42", 5, 0), Ok(42));
        // 38 digits: the widest Iceberg decimal.
        let max = "9".repeat(38);
        assert_eq!(parse_decimal(&max, 38, 0), Ok(max.parse::<i128>().unwrap()));
    }

    #[test]
    fn refuses_rounding_overflow_and_non_numbers() {
        assert!(parse_decimal("12.505", 10, 2).unwrap_err().contains("more than 2 decimal places"));
        assert!(parse_decimal("123456789.5", 10, 2).unwrap_err().contains("does not fit decimal(10,2)"));
        assert!(parse_decimal("1000", 5, 2).is_err());
        assert!(parse_decimal("999.99", 5, 2).is_ok());
        for bad in ["NaN", "Infinity", "-Infinity", "", ".5", "1e5", "1.2.3", "--1"] {
            assert!(parse_decimal(bad, 10, 2).unwrap_err().contains("not a finite decimal"), "{bad}");
        }
    }
}
