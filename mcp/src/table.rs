//! Query results as a plain text table (psql's aligned format, one line per
//! row) and as JSON, both bounded in size.

use serde_json::{json, Value};

/// A value longer than this is cut (and the cut is said).
pub const MAX_CELL_CHARS: usize = 1000;
/// The whole table stops growing at this many characters.
pub const MAX_TABLE_CHARS: usize = 200_000;

pub struct Column {
    pub name: String,
    pub type_name: String,
}

pub struct ResultSet {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Option<String>>>,
    /// The query had more rows than were fetched.
    pub more_rows: bool,
    /// Reading stopped early because the values were too large.
    pub size_limited: bool,
    pub max_rows: usize,
}

/// Cuts `s` to `max` characters; says whether it did.
fn cut(s: &str, max: usize) -> (String, bool) {
    match s.char_indices().nth(max) {
        Some((i, _)) => (format!("{}…", &s[..i]), true),
        None => (s.to_string(), false),
    }
}

/// One line per row: control characters are shown escaped.
fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

pub struct Rendered {
    pub text: String,
    pub structured: Value,
}

pub fn render(rs: &ResultSet) -> Rendered {
    let mut cells_cut = false;
    let mut budget_hit = false;
    let mut used = 0usize;
    let mut shown: Vec<Vec<Option<String>>> = Vec::new();
    for row in &rs.rows {
        let mut out = Vec::with_capacity(row.len());
        let mut size = 0;
        for v in row {
            out.push(v.as_ref().map(|s| {
                let (c, was_cut) = cut(s, MAX_CELL_CHARS);
                cells_cut |= was_cut;
                size += c.len();
                c
            }));
        }
        if used + size > MAX_TABLE_CHARS && !shown.is_empty() {
            budget_hit = true;
            break;
        }
        used += size;
        shown.push(out);
    }

    let display: Vec<Vec<String>> = shown
        .iter()
        .map(|r| r.iter().map(|v| v.as_deref().map(one_line).unwrap_or_else(|| "NULL".into())).collect())
        .collect();
    let headers: Vec<String> = rs.columns.iter().map(|c| one_line(&c.name)).collect();
    let widths: Vec<usize> = (0..headers.len())
        .map(|i| {
            display.iter().map(|r| r[i].chars().count()).chain([headers[i].chars().count()]).max().unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| -> String {
        let parts: Vec<String> =
            cells.iter().zip(&widths).map(|(c, w)| format!(" {}{} ", c, " ".repeat(w - c.chars().count()))).collect();
        parts.join("|").trim_end().to_string()
    };
    let mut text = String::new();
    if !headers.is_empty() {
        text.push_str(&line(&headers));
        text.push('\n');
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
        text.push_str(&rule.join("+"));
        text.push('\n');
        for r in &display {
            text.push_str(&line(r));
            text.push('\n');
        }
    }
    let n = shown.len();
    let budget_hit = budget_hit || rs.size_limited;
    let truncated = rs.more_rows || budget_hit;
    text.push_str(&format!("({} row{})\n", n, if n == 1 { "" } else { "s" }));
    if rs.more_rows && !budget_hit {
        text.push_str(&format!(
            "Truncated: the query returns more than {} rows; only the first {} are shown. \
             Aggregate, filter or add LIMIT/ORDER BY to see what you need.\n",
            rs.max_rows, n
        ));
    } else if budget_hit {
        text.push_str(&format!(
            "Truncated: only the first {n} rows are shown, the result is too large \
             (more than {MAX_TABLE_CHARS} characters to show, or {} MB to read). Select fewer or narrower columns.\n",
            crate::db::MAX_FETCH_BYTES >> 20
        ));
    }
    if cells_cut {
        text.push_str(&format!("Values longer than {MAX_CELL_CHARS} characters are cut (ending in …).\n"));
    }
    let structured = json!({
        "columns": rs.columns.iter().map(|c| json!({"name": c.name, "type": c.type_name})).collect::<Vec<_>>(),
        "rows": shown,
        "row_count": n,
        "truncated": truncated,
        "max_rows": rs.max_rows,
        "values_cut": cells_cut,
    });
    Rendered { text, structured }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs(rows: Vec<Vec<Option<&str>>>, more: bool) -> ResultSet {
        ResultSet {
            columns: vec![
                Column { name: "id".into(), type_name: "int4".into() },
                Column { name: "name".into(), type_name: "text".into() },
            ],
            rows: rows.into_iter().map(|r| r.into_iter().map(|v| v.map(String::from)).collect()).collect(),
            more_rows: more,
            size_limited: false,
            max_rows: 2,
        }
    }

    #[test]
    fn aligned_table_with_nulls_and_escapes() {
        let r = render(&rs(vec![vec![Some("1"), Some("a\nb")], vec![Some("22"), None]], false));
        assert_eq!(r.text, " id | name\n----+------\n 1  | a\\nb\n 22 | NULL\n(2 rows)\n");
        assert_eq!(r.structured["rows"][1][1], Value::Null);
        assert_eq!(r.structured["rows"][0][1], "a\nb");
        assert_eq!(r.structured["truncated"], false);
    }

    #[test]
    fn truncation_is_said() {
        let r = render(&rs(vec![vec![Some("1"), Some("x")], vec![Some("2"), Some("y")]], true));
        assert!(r.text.contains("Truncated: the query returns more than 2 rows"), "{}", r.text);
        assert_eq!(r.structured["truncated"], true);
        let long = "é".repeat(MAX_CELL_CHARS + 5);
        let r = render(&rs(vec![vec![Some("1"), Some(&long)]], false));
        assert!(r.text.contains("are cut"));
        assert_eq!(r.structured["rows"][0][1].as_str().unwrap().chars().count(), MAX_CELL_CHARS + 1);
    }
}
