//! Pure logic of incremental models: the partition terms `delete+insert`
//! replaces by, the `on_schema_change` policies and the comparison of a
//! model's columns with its target's. Unit-tested here; the SQL that uses
//! them is in `materialize.rs`.

/// What a run does when the model's SELECT no longer has the columns its
/// target has (or the model produced before).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnSchemaChange {
    /// The run fails and changes nothing.
    Fail,
    /// New columns are added to the target; lost ones stay (NULL in new rows).
    AppendNewColumns,
    /// New columns are added, lost ones dropped, changed types altered.
    Sync,
}

impl OnSchemaChange {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "fail" => Some(Self::Fail),
            "append_new_columns" => Some(Self::AppendNewColumns),
            "sync" => Some(Self::Sync),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fail => "fail",
            Self::AppendNewColumns => "append_new_columns",
            Self::Sync => "sync",
        }
    }
}

/// A time unit of Iceberg's time transforms (and of backfill periods).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Hour,
    Day,
    Month,
    Year,
}

impl TimeUnit {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "hour" | "hours" => Some(Self::Hour),
            "day" | "days" => Some(Self::Day),
            "month" | "months" => Some(Self::Month),
            "year" | "years" => Some(Self::Year),
            _ => None,
        }
    }
    /// The unit as date_trunc and interval literals spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Day => "day",
            Self::Month => "month",
            Self::Year => "year",
        }
    }
}

/// One term of a model's `partition_by`: a column as it is, or a column cut
/// to a time unit (Iceberg's `hour`, `day`, `month`, `year` transforms,
/// computed in UTC as Iceberg does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartitionTerm {
    Identity(String),
    Time(TimeUnit, String),
}

impl PartitionTerm {
    pub fn column(&self) -> &str {
        match self {
            Self::Identity(c) | Self::Time(_, c) => c,
        }
    }
}

/// Why a partition spec cannot drive `delete+insert`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    pub message: String,
    pub hint: String,
}

fn spec_error(message: impl Into<String>, hint: &str) -> SpecError {
    SpecError { message: message.into(), hint: hint.to_string() }
}

/// Splits `a, f(b, c), d` at the commas outside parentheses.
fn split_top(spec: &str) -> Vec<String> {
    let mut out = vec![];
    let mut depth = 0i32;
    let mut cur = String::new();
    for ch in spec.chars() {
        match ch {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(cur.trim().to_string());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    out.push(cur.trim().to_string());
    out
}

/// An identifier as written: a plain lower-case name, or a double-quoted one.
fn identifier(s: &str) -> Option<String> {
    let s = s.trim();
    if let Some(inner) = s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        if inner.is_empty() || inner.replace("\"\"", "").contains('"') {
            return None;
        }
        return Some(inner.replace("\"\"", "\""));
    }
    let ok = !s.is_empty()
        && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    ok.then(|| s.to_ascii_lowercase())
}

/// Parses `partition_by` (the Iceberg partition-spec syntax of
/// `lake.set_partitioning`) into the terms `delete+insert` replaces by.
/// `bucket` and `truncate` are refused: a batch's rows do not name whole
/// buckets in a way a reader could check.
pub fn parse_partition_spec(spec: &str) -> Result<Vec<PartitionTerm>, SpecError> {
    if spec.trim().is_empty() {
        return Err(spec_error("partition_by is empty", "name the column(s) a batch replaces, e.g. day(ts) or region"));
    }
    let mut terms = vec![];
    for part in split_top(spec) {
        if part.is_empty() {
            return Err(spec_error(format!("empty term in partition_by \"{spec}\""), "separate terms with single commas"));
        }
        let term = match part.find('(') {
            None => PartitionTerm::Identity(
                identifier(&part).ok_or_else(|| spec_error(format!("invalid column \"{part}\" in partition_by"), "name an output column of the model"))?,
            ),
            Some(open) => {
                let func = part[..open].trim().to_ascii_lowercase();
                let Some(args) = part[open + 1..].strip_suffix(')') else {
                    return Err(spec_error(format!("invalid term \"{part}\" in partition_by"), "write transform(column), e.g. day(ts)"));
                };
                if func == "bucket" || func == "truncate" {
                    return Err(spec_error(
                        format!("partition term \"{part}\" cannot drive delete+insert"),
                        "replace by identity columns or hour/day/month/year of a time column; keep bucket/truncate in the Iceberg table's own spec",
                    ));
                }
                let col = identifier(args)
                    .ok_or_else(|| spec_error(format!("invalid column in partition term \"{part}\""), "write transform(column), e.g. day(ts)"))?;
                match func.as_str() {
                    "identity" => PartitionTerm::Identity(col),
                    f => PartitionTerm::Time(
                        TimeUnit::parse(f).ok_or_else(|| {
                            spec_error(format!("unknown partition transform \"{func}\""), "use identity, hour, day, month or year")
                        })?,
                        col,
                    ),
                }
            }
        };
        if terms.iter().any(|t: &PartitionTerm| t.column() == term.column()) {
            return Err(spec_error(format!("column \"{}\" appears twice in partition_by", term.column()), "name each column once"));
        }
        terms.push(term);
    }
    Ok(terms)
}

/// A column: its name and its type as format_type prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub type_name: String,
}

/// How the model's columns differ from its target's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SchemaDiff {
    /// Columns of the query the target lacks, in query order.
    pub added: Vec<Column>,
    /// Target columns the model produced before and its query lacks now.
    pub lost: Vec<String>,
    /// Columns in both whose types differ: (name, target type, query type).
    pub retyped: Vec<(String, String, String)>,
}

impl SchemaDiff {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.lost.is_empty() && self.retyped.is_empty()
    }

    /// One line for an error message or the run's metadata.
    pub fn describe(&self) -> String {
        let mut parts = vec![];
        if !self.added.is_empty() {
            parts.push(format!(
                "new columns {}",
                self.added.iter().map(|c| format!("{} ({})", c.name, c.type_name)).collect::<Vec<_>>().join(", ")
            ));
        }
        if !self.lost.is_empty() {
            parts.push(format!("columns no longer selected {}", self.lost.join(", ")));
        }
        if !self.retyped.is_empty() {
            parts.push(format!(
                "changed types {}",
                self.retyped.iter().map(|(c, t, q)| format!("{c} ({t} -> {q})")).collect::<Vec<_>>().join(", ")
            ));
        }
        parts.join("; ")
    }
}

/// Compares the query's columns with the target's. With `produced_before`,
/// a target column the model never produced is the target's own business,
/// never "lost"; without (sync), every target column the query lacks is.
pub fn diff_columns(query: &[Column], target: &[Column], produced_before: Option<&[String]>) -> SchemaDiff {
    let mut d = SchemaDiff::default();
    for q in query {
        match target.iter().find(|t| t.name == q.name) {
            None => d.added.push(q.clone()),
            Some(t) if t.type_name != q.type_name => d.retyped.push((q.name.clone(), t.type_name.clone(), q.type_name.clone())),
            Some(_) => {}
        }
    }
    for t in target {
        if produced_before.map_or(true, |p| p.contains(&t.name)) && !query.iter().any(|q| q.name == t.name) {
            d.lost.push(t.name.clone());
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(n: &str, t: &str) -> Column {
        Column { name: n.into(), type_name: t.into() }
    }

    #[test]
    fn partition_specs() {
        assert_eq!(
            parse_partition_spec("day(ts), region").unwrap(),
            vec![PartitionTerm::Time(TimeUnit::Day, "ts".into()), PartitionTerm::Identity("region".into())]
        );
        assert_eq!(parse_partition_spec(" HOUR( At ) ").unwrap(), vec![PartitionTerm::Time(TimeUnit::Hour, "at".into())]);
        assert_eq!(parse_partition_spec("identity(\"Odd\"\"Name\")").unwrap(), vec![PartitionTerm::Identity("Odd\"Name".into())]);
        assert!(parse_partition_spec("bucket(16, id)").unwrap_err().message.contains("cannot drive delete+insert"));
        assert!(parse_partition_spec("week(ts)").unwrap_err().message.contains("unknown partition transform \"week\""));
        assert!(parse_partition_spec("a,,b").unwrap_err().message.contains("empty term"));
        assert!(parse_partition_spec("a, day(a)").unwrap_err().message.contains("appears twice"));
        assert!(parse_partition_spec("day(ts").unwrap_err().message.contains("invalid term"));
        assert!(parse_partition_spec("a b").is_err());
        assert!(parse_partition_spec("  ").is_err());
    }

    #[test]
    fn schema_diffs() {
        let target = vec![col("id", "integer"), col("n", "bigint"), col("note", "text"), col("extra", "text")];
        let produced = vec!["id".to_string(), "n".to_string(), "note".to_string()];
        let query = vec![col("id", "integer"), col("n", "numeric"), col("region", "text")];
        let d = diff_columns(&query, &target, Some(&produced));
        assert_eq!(d.added, vec![col("region", "text")]);
        assert_eq!(d.lost, vec!["note".to_string()]); // "extra" was never the model's
        assert_eq!(d.retyped, vec![("n".into(), "bigint".into(), "numeric".into())]);
        assert_eq!(d.describe(), "new columns region (text); columns no longer selected note; changed types n (bigint -> numeric)");
        assert!(diff_columns(&target[..3], &target, Some(&produced)).is_empty());
        // sync: every target column the query lacks goes
        assert_eq!(diff_columns(&query, &target, None).lost, vec!["note".to_string(), "extra".to_string()]);
        assert_eq!(OnSchemaChange::parse("sync"), Some(OnSchemaChange::Sync));
        assert_eq!(OnSchemaChange::parse("ignore"), None);
    }
}
