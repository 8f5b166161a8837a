//! The YAML project format (dbt-like): models and pipelines with their
//! settings, read with saphyr's marked nodes so that every error names the
//! file, the model and the line.
//!
//! ```yaml
//! defaults:
//!   owner: analytics
//!   timezone: Europe/Berlin
//! models:
//!   - name: daily_revenue
//!     sql: SELECT day, sum(amount) AS revenue FROM sales GROUP BY day
//!     target: marts.daily_revenue
//!     materialization: table
//!     schedule: "@daily"
//! ```

use std::collections::BTreeMap;
use std::fmt;

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

use super::cron::{parse_time_zone, Schedule};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Materialization {
    View,
    Table,
    Incremental,
}

impl Materialization {
    pub fn as_str(self) -> &'static str {
        match self {
            Materialization::View => "view",
            Materialization::Table => "table",
            Materialization::Incremental => "incremental",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "view" => Some(Self::View),
            "table" => Some(Self::Table),
            "incremental" => Some(Self::Incremental),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    Append,
    Merge,
    DeleteInsert,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Append => "append",
            Strategy::Merge => "merge",
            Strategy::DeleteInsert => "delete+insert",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "append" => Some(Self::Append),
            "merge" => Some(Self::Merge),
            "delete+insert" => Some(Self::DeleteInsert),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlap {
    Skip,
    Queue,
}

impl Overlap {
    pub fn as_str(self) -> &'static str {
        match self {
            Overlap::Skip => "skip",
            Overlap::Queue => "queue",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "skip" => Some(Self::Skip),
            "queue" => Some(Self::Queue),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PipelineMode {
    Replace,
    Append,
}

impl PipelineMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PipelineMode::Replace => "replace",
            PipelineMode::Append => "append",
        }
    }
}

/// Run settings shared by models and pipelines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSettings {
    pub schedule: Option<String>,
    pub timezone: String,
    pub owner: Option<String>,
    pub retries: u32,
    pub retry_delay_seconds: u32,
    pub timeout_seconds: Option<u32>,
    pub overlap: Overlap,
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    pub name: String,
    pub sql: String,
    pub target: String,
    pub materialization: Materialization,
    pub strategy: Strategy,
    pub unique_key: Vec<String>,
    pub partition_by: Option<String>,
    /// fail | append_new_columns | sync (incremental models).
    pub on_schema_change: String,
    pub tags: Vec<String>,
    pub description: Option<String>,
    pub columns: Vec<(String, String)>,
    pub depends_on: Vec<String>,
    pub run: RunSettings,
    /// 1-based line of the model's entry in the file.
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pipeline {
    pub name: String,
    pub source: String,
    pub target: String,
    pub mode: PipelineMode,
    pub watermark_column: Option<String>,
    /// Partitioning of an Iceberg target the definition creates.
    pub partition_by: Option<String>,
    /// The Iceberg server a missing target is created on (None: a heap
    /// table; absent from the YAML: lake_local).
    pub target_server: Option<String>,
    pub description: Option<String>,
    pub run: RunSettings,
    pub line: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Project {
    pub models: Vec<Model>,
    pub pipelines: Vec<Pipeline>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// `model "x"` or `pipeline "y"` when the error is inside one.
    pub item: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for ProjectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.file, self.line, self.column)?;
        if let Some(item) = &self.item {
            write!(f, "{}: ", item)?;
        }
        f.write_str(&self.message)
    }
}

const MODEL_KEYS: &[&str] = &[
    "name", "sql", "target", "materialization", "strategy", "unique_key", "partition_by", "schedule", "timezone",
    "tags", "owner", "description", "columns", "depends_on", "retries", "retry_delay", "timeout", "overlap",
    "enabled", "on_schema_change",
];
const PIPELINE_KEYS: &[&str] = &[
    "name", "source", "target", "mode", "watermark_column", "partition_by", "target_server", "schedule", "timezone",
    "owner", "description", "retries", "retry_delay", "timeout", "overlap", "enabled",
];
const DEFAULT_KEYS: &[&str] = &["schedule", "timezone", "owner", "retries", "retry_delay", "timeout", "overlap", "tags"];
const TOP_KEYS: &[&str] = &["version", "name", "defaults", "models", "pipelines"];

/// Whether `s` may name a model or pipeline: a plain SQL identifier, so it
/// reads the same in `lake.run_now('x')`, the DAG and NOTIFY payloads.
pub fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && s.len() <= 63
}

/// `30`, `"45s"`, `"10m"`, `"2h"` as seconds.
pub fn parse_duration(s: &str) -> Option<u32> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last()? {
        (i, 's') => (&s[..i], 1),
        (i, 'm') => (&s[..i], 60),
        (i, 'h') => (&s[..i], 3600),
        _ => (s, 1),
    };
    num.trim().parse::<u32>().ok()?.checked_mul(mult)
}

struct Ctx<'a> {
    file: &'a str,
    item: Option<String>,
}

impl Ctx<'_> {
    fn at(&self, node: &MarkedYaml, message: impl Into<String>) -> ProjectError {
        ProjectError {
            file: self.file.to_string(),
            line: node.span.start.line(),
            column: node.span.start.col() + 1,
            item: self.item.clone(),
            message: message.into(),
            hint: None,
        }
    }

    fn hinted(&self, node: &MarkedYaml, message: impl Into<String>, hint: impl Into<String>) -> ProjectError {
        ProjectError { hint: Some(hint.into()), ..self.at(node, message) }
    }
}

fn untag<'a, 'b>(node: &'b MarkedYaml<'a>) -> &'b MarkedYaml<'a> {
    match &node.data {
        YamlData::Tagged(_, inner) => untag(inner),
        _ => node,
    }
}

fn kind(node: &MarkedYaml) -> &'static str {
    match &untag(node).data {
        YamlData::Mapping(_) => "a mapping",
        YamlData::Sequence(_) => "a list",
        YamlData::Value(Scalar::Null) => "empty",
        YamlData::Value(_) | YamlData::Representation(..) => "a scalar",
        _ => "an unsupported node (alias or bad value)",
    }
}

/// The key/value pairs of a mapping node, with unknown keys rejected.
fn mapping<'a, 'b>(
    ctx: &Ctx,
    node: &'b MarkedYaml<'a>,
    what: &str,
    allowed: &[&str],
) -> Result<Vec<(String, &'b MarkedYaml<'a>)>, ProjectError> {
    let pairs = raw_mapping(ctx, node, what)?;
    check_keys(ctx, &pairs, what, allowed)?;
    Ok(pairs.into_iter().map(|(k, _, v)| (k, v)).collect())
}

type Pair<'a, 'b> = (String, &'b MarkedYaml<'a>, &'b MarkedYaml<'a>);

fn raw_mapping<'a, 'b>(ctx: &Ctx, node: &'b MarkedYaml<'a>, what: &str) -> Result<Vec<Pair<'a, 'b>>, ProjectError> {
    let YamlData::Mapping(m) = &untag(node).data else {
        return Err(ctx.at(node, format!("{} must be a mapping, not {}", what, kind(node))));
    };
    let mut out = vec![];
    for (k, v) in m.iter() {
        let key = match &untag(k).data {
            YamlData::Value(Scalar::String(s)) => s.to_string(),
            _ => return Err(ctx.at(k, format!("keys of {} must be strings", what))),
        };
        out.push((key, k, v));
    }
    Ok(out)
}

fn check_keys(ctx: &Ctx, pairs: &[Pair], what: &str, allowed: &[&str]) -> Result<(), ProjectError> {
    for (key, k, _) in pairs {
        if !allowed.contains(&key.as_str()) {
            let near = allowed.iter().find(|a| similar(a, &key));
            let hint = match near {
                Some(n) => format!("did you mean \"{}\"?", n),
                None => format!("allowed keys: {}", allowed.join(", ")),
            };
            return Err(ctx.hinted(k, format!("unknown key \"{}\" in {}", key, what), hint));
        }
    }
    Ok(())
}

/// Close enough to be a typo: same letters but one edit (or a British spelling).
fn similar(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for j in 0..=b.len() {
        d[0][j] = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let c = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + c);
        }
    }
    d[a.len()][b.len()] <= 2
}

fn string(ctx: &Ctx, node: &MarkedYaml, key: &str) -> Result<String, ProjectError> {
    match &untag(node).data {
        YamlData::Value(Scalar::String(s)) => Ok(s.to_string()),
        YamlData::Value(Scalar::Integer(i)) => Ok(i.to_string()),
        _ => Err(ctx.at(node, format!("\"{}\" must be a string, not {}", key, kind(node)))),
    }
}

fn nonempty(ctx: &Ctx, node: &MarkedYaml, key: &str) -> Result<String, ProjectError> {
    let s = string(ctx, node, key)?;
    if s.trim().is_empty() {
        return Err(ctx.at(node, format!("\"{}\" is empty", key)));
    }
    Ok(s)
}

fn uint(ctx: &Ctx, node: &MarkedYaml, key: &str, max: u32) -> Result<u32, ProjectError> {
    match &untag(node).data {
        YamlData::Value(Scalar::Integer(i)) if *i >= 0 && *i <= max as i64 => Ok(*i as u32),
        _ => Err(ctx.at(node, format!("\"{}\" must be a whole number from 0 to {}", key, max))),
    }
}

fn duration(ctx: &Ctx, node: &MarkedYaml, key: &str) -> Result<u32, ProjectError> {
    let text = match &untag(node).data {
        YamlData::Value(Scalar::Integer(i)) => i.to_string(),
        YamlData::Value(Scalar::String(s)) => s.to_string(),
        _ => String::new(),
    };
    parse_duration(&text).ok_or_else(|| {
        ctx.hinted(node, format!("\"{}\" must be a duration, not \"{}\"", key, text), "write seconds (90) or 45s, 10m, 2h")
    })
}

fn boolean(ctx: &Ctx, node: &MarkedYaml, key: &str) -> Result<bool, ProjectError> {
    match &untag(node).data {
        YamlData::Value(Scalar::Boolean(b)) => Ok(*b),
        _ => Err(ctx.at(node, format!("\"{}\" must be true or false", key))),
    }
}

/// A list of strings; a single string is a list of one.
fn strings(ctx: &Ctx, node: &MarkedYaml, key: &str) -> Result<Vec<String>, ProjectError> {
    match &untag(node).data {
        YamlData::Sequence(items) => items.iter().map(|i| nonempty(ctx, i, key)).collect(),
        YamlData::Value(Scalar::Null) => Ok(vec![]),
        _ => Ok(vec![nonempty(ctx, node, key)?]),
    }
}

fn schedule(ctx: &Ctx, node: &MarkedYaml) -> Result<String, ProjectError> {
    let s = nonempty(ctx, node, "schedule")?;
    Schedule::parse(&s).map_err(|e| ctx.hinted(node, format!("invalid schedule: {}", e.message), e.hint))?;
    Ok(s)
}

fn timezone(ctx: &Ctx, node: &MarkedYaml) -> Result<String, ProjectError> {
    let s = nonempty(ctx, node, "timezone")?;
    parse_time_zone(&s).map_err(|e| ctx.hinted(node, e.message, e.hint))?;
    Ok(s)
}

fn overlap(ctx: &Ctx, node: &MarkedYaml) -> Result<Overlap, ProjectError> {
    let s = string(ctx, node, "overlap")?;
    Overlap::parse(&s).ok_or_else(|| ctx.hinted(node, format!("invalid overlap \"{}\"", s), "use skip or queue"))
}

/// Reads a run setting into `run`; false when `key` is not one.
fn run_setting(ctx: &Ctx, run: &mut RunSettings, key: &str, v: &MarkedYaml) -> Result<bool, ProjectError> {
    match key {
        "schedule" => run.schedule = Some(schedule(ctx, v)?),
        "timezone" => run.timezone = timezone(ctx, v)?,
        "owner" => run.owner = Some(nonempty(ctx, v, key)?),
        "retries" => run.retries = uint(ctx, v, key, 100)?,
        "retry_delay" => run.retry_delay_seconds = duration(ctx, v, key)?,
        "timeout" => run.timeout_seconds = Some(duration(ctx, v, key)?).filter(|s| *s > 0),
        "overlap" => run.overlap = overlap(ctx, v)?,
        "enabled" => run.enabled = boolean(ctx, v, key)?,
        _ => return Ok(false),
    }
    Ok(true)
}

impl Default for RunSettings {
    fn default() -> Self {
        RunSettings {
            schedule: None,
            timezone: "UTC".into(),
            owner: None,
            retries: 0,
            retry_delay_seconds: 60,
            timeout_seconds: None,
            overlap: Overlap::Skip,
            enabled: true,
        }
    }
}

/// The `name` of an item, read first so that every later error names it.
fn item_name(ctx: &Ctx, node: &MarkedYaml, pairs: &[(String, &MarkedYaml)], what: &str) -> Result<String, ProjectError> {
    let Some((_, n)) = pairs.iter().find(|(k, _)| k == "name") else {
        return Err(ctx.at(node, format!("{} has no \"name\"", what)));
    };
    let name = string(ctx, n, "name")?;
    if !valid_name(&name) {
        return Err(ctx.hinted(
            n,
            format!("invalid {} name \"{}\"", what, name),
            "names are lower-case letters, digits and underscores, starting with a letter or underscore, at most 63 characters",
        ));
    }
    Ok(name)
}

fn required<'a, 'b>(
    ctx: &Ctx,
    node: &MarkedYaml,
    pairs: &[(String, &'b MarkedYaml<'a>)],
    key: &str,
) -> Result<&'b MarkedYaml<'a>, ProjectError> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| *v)
        .ok_or_else(|| ctx.at(node, format!("missing required key \"{}\"", key)))
}

fn columns(ctx: &Ctx, node: &MarkedYaml) -> Result<Vec<(String, String)>, ProjectError> {
    match &untag(node).data {
        // columns: {id: "the key", amount: "in cents"}
        YamlData::Mapping(m) => m
            .iter()
            .map(|(k, v)| Ok((nonempty(ctx, k, "column name")?, string(ctx, v, "column description")?)))
            .collect(),
        // columns: [{name: id, description: "the key"}]
        YamlData::Sequence(items) => items
            .iter()
            .map(|i| {
                let pairs = mapping(ctx, i, "a column", &["name", "description"])?;
                let name = nonempty(ctx, required(ctx, i, &pairs, "name")?, "name")?;
                let desc = match pairs.iter().find(|(k, _)| k == "description") {
                    Some((_, d)) => string(ctx, d, "description")?,
                    None => String::new(),
                };
                Ok((name, desc))
            })
            .collect(),
        _ => Err(ctx.at(node, "\"columns\" must be a list or a mapping of column name to description")),
    }
}

fn model(file: &str, node: &MarkedYaml, defaults: &RunSettings, default_tags: &[String]) -> Result<Model, ProjectError> {
    let mut ctx = Ctx { file, item: None };
    let raw = raw_mapping(&ctx, node, "a model")?;
    let pairs: Vec<(String, &MarkedYaml)> = raw.iter().map(|(k, _, v)| (k.clone(), *v)).collect();
    let name = item_name(&ctx, node, &pairs, "model")?;
    ctx.item = Some(format!("model \"{}\"", name));
    check_keys(&ctx, &raw, "a model", MODEL_KEYS)?;
    let mut m = Model {
        sql: nonempty(&ctx, required(&ctx, node, &pairs, "sql")?, "sql")?,
        target: nonempty(&ctx, required(&ctx, node, &pairs, "target")?, "target")?,
        name,
        materialization: Materialization::Table,
        strategy: Strategy::Append,
        unique_key: vec![],
        partition_by: None,
        on_schema_change: "fail".to_string(),
        tags: default_tags.to_vec(),
        description: None,
        columns: vec![],
        depends_on: vec![],
        run: defaults.clone(),
        line: node.span.start.line(),
    };
    let mut strategy_node = None;
    for (k, v) in &pairs {
        if run_setting(&ctx, &mut m.run, k, v)? {
            continue;
        }
        match k.as_str() {
            "materialization" => {
                let s = string(&ctx, v, k)?;
                m.materialization = Materialization::parse(&s).ok_or_else(|| {
                    ctx.hinted(v, format!("invalid materialization \"{}\"", s), "use view, table or incremental")
                })?;
            }
            "strategy" => {
                let s = string(&ctx, v, k)?;
                m.strategy = Strategy::parse(&s)
                    .ok_or_else(|| ctx.hinted(v, format!("invalid strategy \"{}\"", s), "use append, merge or delete+insert"))?;
                strategy_node = Some(*v);
            }
            "unique_key" => m.unique_key = strings(&ctx, v, k)?,
            "partition_by" => m.partition_by = Some(nonempty(&ctx, v, k)?),
            "on_schema_change" => {
                let s = string(&ctx, v, k)?;
                if super::incremental::OnSchemaChange::parse(&s).is_none() {
                    return Err(ctx.hinted(v, format!("invalid on_schema_change \"{}\"", s), "use fail, append_new_columns or sync"));
                }
                m.on_schema_change = s;
            }
            "tags" => m.tags.extend(strings(&ctx, v, k)?),
            "description" => m.description = Some(string(&ctx, v, k)?),
            "columns" => m.columns = columns(&ctx, v)?,
            "depends_on" => m.depends_on = strings(&ctx, v, k)?,
            _ => {}
        }
    }
    if let Some(s) = strategy_node {
        if m.materialization != Materialization::Incremental {
            return Err(ctx.hinted(s, "\"strategy\" applies only to incremental models", "set materialization: incremental"));
        }
    }
    if m.strategy == Strategy::Merge && m.unique_key.is_empty() {
        return Err(ctx.hinted(node, "strategy merge needs a unique_key", "name the column(s) that identify a row: unique_key: [id]"));
    }
    m.tags.sort();
    m.tags.dedup();
    Ok(m)
}

fn pipeline(file: &str, node: &MarkedYaml, defaults: &RunSettings) -> Result<Pipeline, ProjectError> {
    let mut ctx = Ctx { file, item: None };
    let raw = raw_mapping(&ctx, node, "a pipeline")?;
    let pairs: Vec<(String, &MarkedYaml)> = raw.iter().map(|(k, _, v)| (k.clone(), *v)).collect();
    let name = item_name(&ctx, node, &pairs, "pipeline")?;
    ctx.item = Some(format!("pipeline \"{}\"", name));
    check_keys(&ctx, &raw, "a pipeline", PIPELINE_KEYS)?;
    let mut p = Pipeline {
        source: nonempty(&ctx, required(&ctx, node, &pairs, "source")?, "source")?,
        target: nonempty(&ctx, required(&ctx, node, &pairs, "target")?, "target")?,
        name,
        mode: PipelineMode::Replace,
        watermark_column: None,
        partition_by: None,
        target_server: Some("lake_local".into()),
        description: None,
        run: defaults.clone(),
        line: node.span.start.line(),
    };
    // A pipeline's runs never queue: an append run catches up anyway.
    p.run.overlap = Overlap::Skip;
    for (k, v) in &pairs {
        if run_setting(&ctx, &mut p.run, k, v)? {
            if k == "overlap" && p.run.overlap == Overlap::Queue {
                return Err(ctx.hinted(v, "a pipeline's overlap is always skip", "leave overlap out: an append run catches up on every missed tick anyway"));
            }
            continue;
        }
        match k.as_str() {
            "mode" => {
                let s = string(&ctx, v, k)?;
                p.mode = match s.as_str() {
                    "replace" => PipelineMode::Replace,
                    "append" => PipelineMode::Append,
                    _ => return Err(ctx.hinted(v, format!("invalid mode \"{}\"", s), "use replace or append")),
                };
            }
            "watermark_column" => p.watermark_column = Some(nonempty(&ctx, v, k)?),
            "partition_by" => p.partition_by = Some(nonempty(&ctx, v, k)?),
            "target_server" => {
                // null: a missing target is created as a heap table.
                p.target_server = match &untag(v).data {
                    YamlData::Value(Scalar::Null) => None,
                    _ => Some(nonempty(&ctx, v, k)?),
                }
            }
            "description" => p.description = Some(string(&ctx, v, k)?),
            _ => {}
        }
    }
    if p.mode == PipelineMode::Append && p.watermark_column.is_none() {
        return Err(ctx.hinted(node, "mode append needs a watermark_column", "name an increasing column of the source, e.g. watermark_column: id"));
    }
    Ok(p)
}

/// Parses a project document. `file` is only used in error messages.
pub fn parse_project(text: &str, file: &str) -> Result<Project, ProjectError> {
    let ctx = Ctx { file, item: None };
    crate::catalog::yaml::check_shape(text).map_err(|e| ProjectError {
        file: file.to_string(),
        line: e.line,
        column: e.column,
        item: None,
        message: format!("the project is not accepted: {}", e.message),
        hint: Some("project files nest a few levels (models, their settings, lists); flatten the document".into()),
    })?;
    let docs = MarkedYaml::load_from_str(text).map_err(|e| ProjectError {
        file: file.to_string(),
        line: e.marker().line(),
        column: e.marker().col() + 1,
        item: None,
        message: format!("YAML syntax error: {}", e.info()),
        hint: None,
    })?;
    let root = match docs.len() {
        1 => &docs[0],
        0 => {
            return Err(ProjectError {
                file: file.to_string(),
                line: 1,
                column: 1,
                item: None,
                message: "the project is empty".into(),
                hint: Some("write a mapping with a \"models\" list".into()),
            })
        }
        _ => return Err(ctx.at(&docs[1], "a project is one YAML document, this is a second one")),
    };
    let top = mapping(&ctx, root, "the project", TOP_KEYS)?;
    let mut defaults = RunSettings::default();
    let mut default_tags = vec![];
    if let Some((_, d)) = top.iter().find(|(k, _)| k == "defaults") {
        for (k, v) in mapping(&ctx, d, "defaults", DEFAULT_KEYS)? {
            if k == "tags" {
                default_tags = strings(&ctx, v, "tags")?;
            } else {
                run_setting(&ctx, &mut defaults, &k, v)?;
            }
        }
    }
    let mut project = Project::default();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (k, v) in &top {
        let is_models = k == "models";
        if !is_models && k != "pipelines" {
            if k == "version" && !matches!(&untag(v).data, YamlData::Value(Scalar::Integer(1))) {
                return Err(ctx.hinted(v, "unsupported project version", "write version: 1 or leave it out"));
            }
            continue;
        }
        let items = match &untag(v).data {
            YamlData::Sequence(items) => items,
            YamlData::Value(Scalar::Null) => continue,
            _ => return Err(ctx.at(v, format!("\"{}\" must be a list, not {}", k, kind(v)))),
        };
        for item in items {
            let (name, line) = if is_models {
                let m = model(file, item, &defaults, &default_tags)?;
                let r = (m.name.clone(), m.line);
                project.models.push(m);
                r
            } else {
                let p = pipeline(file, item, &defaults)?;
                let r = (p.name.clone(), p.line);
                project.pipelines.push(p);
                r
            };
            // Models and pipelines share one name space: both are run by name.
            if let Some(first) = seen.insert(name.clone(), line) {
                return Err(ProjectError {
                    item: Some(format!("{} \"{}\"", if is_models { "model" } else { "pipeline" }, name)),
                    ..ctx.hinted(item, format!("name \"{}\" is already used on line {}", name, first), "names must be unique within a project")
                });
            }
        }
    }
    Ok(project)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
version: 1
defaults:
  owner: analytics
  timezone: Europe/Berlin
  retries: 2
  tags: [curated]
models:
  - name: clean_events
    description: Events with bad rows removed
    sql: |
      SELECT * FROM raw.events WHERE ts IS NOT NULL
    target: staging.clean_events
    materialization: view
  - name: hourly
    sql: SELECT date_trunc('hour', ts) AS hour, count(*) AS n FROM staging.clean_events GROUP BY 1
    target: marts.hourly
    materialization: incremental
    strategy: merge
    unique_key: hour
    partition_by: day(hour)
    schedule: "*/5 * * * *"
    timeout: 10m
    overlap: queue
    tags: [finance, curated]
    columns:
      hour: start of the hour
      n: events in it
  - name: daily
    sql: SELECT 1 AS x
    target: marts.daily
    depends_on: [hourly]
    retries: 0
    retry_delay: 30s
    columns:
      - name: x
        description: one
pipelines:
  - name: ingest_orders
    source: public.orders
    target: lake.orders
    mode: append
    watermark_column: id
    schedule: every 30 seconds
    partition_by: day(ts)
  - name: mirror_users
    source: SELECT id, name FROM public.users
    target: staging.users
    target_server: null
"#;

    #[test]
    fn a_full_project() {
        let p = parse_project(GOOD, "project.yml").unwrap();
        assert_eq!(p.models.len(), 3);
        let (c, h, d) = (&p.models[0], &p.models[1], &p.models[2]);
        assert_eq!(c.name, "clean_events");
        assert_eq!(c.materialization, Materialization::View);
        assert_eq!(c.sql, "SELECT * FROM raw.events WHERE ts IS NOT NULL\n");
        assert_eq!(c.run.owner.as_deref(), Some("analytics"));
        assert_eq!(c.run.timezone, "Europe/Berlin");
        assert_eq!(c.run.retries, 2);
        assert_eq!(c.line, 9);
        assert_eq!(h.materialization, Materialization::Incremental);
        assert_eq!(h.strategy, Strategy::Merge);
        assert_eq!(h.unique_key, vec!["hour"]);
        assert_eq!(h.partition_by.as_deref(), Some("day(hour)"));
        assert_eq!(h.run.timeout_seconds, Some(600));
        assert_eq!(h.run.overlap, Overlap::Queue);
        assert_eq!(h.tags, vec!["curated", "finance"]);
        assert_eq!(h.columns, vec![("hour".into(), "start of the hour".into()), ("n".into(), "events in it".into())]);
        assert_eq!(d.materialization, Materialization::Table);
        assert_eq!(d.depends_on, vec!["hourly"]);
        assert_eq!(d.run.retries, 0);
        assert_eq!(d.run.retry_delay_seconds, 30);
        assert_eq!(d.columns, vec![("x".into(), "one".into())]);
        let pl = &p.pipelines[0];
        assert_eq!((pl.mode, pl.watermark_column.as_deref()), (PipelineMode::Append, Some("id")));
        assert_eq!(pl.run.schedule.as_deref(), Some("every 30 seconds"));
        assert_eq!((pl.partition_by.as_deref(), pl.target_server.as_deref()), (Some("day(ts)"), Some("lake_local")));
        // defaults apply, but never overlap queue
        assert_eq!((pl.run.retries, pl.run.overlap), (2, Overlap::Skip));
        let m = &p.pipelines[1];
        assert_eq!((m.mode, m.target_server.as_deref(), m.line), (PipelineMode::Replace, None, 46));
    }

    #[test]
    fn a_pipeline_cannot_queue() {
        assert_eq!(
            error("pipelines:\n  - name: p\n    source: s.t\n    target: s.u\n    overlap: queue\n"),
            "p.yml:5:14: pipeline \"p\": a pipeline's overlap is always skip"
        );
    }

    fn error(yaml: &str) -> String {
        parse_project(yaml, "p.yml").unwrap_err().to_string()
    }

    #[test]
    fn errors_name_file_model_and_line() {
        assert_eq!(
            error("models:\n  - name: a\n    sql: SELECT 1\n    target: t\n    materialisation: table\n"),
            "p.yml:5:5: model \"a\": unknown key \"materialisation\" in a model"
        );
        let e = parse_project("models:\n  - name: a\n    sql: SELECT 1\n    target: t\n    materialisation: table\n", "p.yml")
            .unwrap_err();
        assert_eq!(e.hint.as_deref(), Some("did you mean \"materialization\"?"));
        assert_eq!(
            error("models:\n  - name: a\n    sql: SELECT 1\n    target: t\n    materialization: snapshot\n"),
            "p.yml:5:22: model \"a\": invalid materialization \"snapshot\""
        );
        assert_eq!(
            error("models:\n  - name: a\n    target: t\n"),
            "p.yml:2:5: model \"a\": missing required key \"sql\""
        );
        assert_eq!(
            error("models:\n  - name: a\n    sql: SELECT 1\n    target: t\n    schedule: 61 * * * *\n"),
            "p.yml:5:15: model \"a\": invalid schedule: minute value 61 is out of range 0-59"
        );
        assert_eq!(
            error("models:\n  - name: a\n    sql: SELECT 1\n    target: t\n    timezone: Mars/Base\n"),
            "p.yml:5:15: model \"a\": unknown time zone \"Mars/Base\""
        );
        assert_eq!(
            error("models:\n  - name: a\n    sql: x\n    target: t\n  - name: a\n    sql: y\n    target: u\n"),
            "p.yml:5:5: model \"a\": name \"a\" is already used on line 2"
        );
        assert_eq!(
            error("models:\n  - name: A-b\n    sql: x\n    target: t\n"),
            "p.yml:2:11: invalid model name \"A-b\""
        );
        assert_eq!(
            error("models:\n  - name: m\n    sql: x\n    target: t\n    materialization: incremental\n    strategy: merge\n"),
            "p.yml:2:5: model \"m\": strategy merge needs a unique_key"
        );
        assert_eq!(
            error("models:\n  - name: m\n    sql: x\n    target: t\n    strategy: append\n"),
            "p.yml:5:15: model \"m\": \"strategy\" applies only to incremental models"
        );
        assert_eq!(
            error("pipelines:\n  - name: p\n    source: s\n    target: t\n    mode: append\n"),
            "p.yml:2:5: pipeline \"p\": mode append needs a watermark_column"
        );
        assert_eq!(error("models: 3\n"), "p.yml:1:9: \"models\" must be a list, not a scalar");
        assert_eq!(error("modles: []\n"), "p.yml:1:1: unknown key \"modles\" in the project");
        assert_eq!(
            error("models:\n  - name: m\n    sql: x\n    target: t\n    retries: many\n"),
            "p.yml:5:14: model \"m\": \"retries\" must be a whole number from 0 to 100"
        );
        assert_eq!(
            error("models:\n  - name: m\n    sql: x\n    target: t\n    timeout: soon\n"),
            "p.yml:5:14: model \"m\": \"timeout\" must be a duration, not \"soon\""
        );
    }

    #[test]
    fn syntax_errors_have_a_line() {
        let e = parse_project("models:\n  - name: a\n    sql: [unclosed\n", "dir/p.yml").unwrap_err();
        assert!(e.to_string().starts_with("dir/p.yml:"), "{e}");
        assert!(e.message.starts_with("YAML syntax error"), "{e}");
        assert!(e.line >= 3, "{e:?}");
        // duplicate keys are an error in YAML itself
        let e = parse_project("models:\n  - name: a\n    name: b\n    sql: x\n    target: t\n", "p.yml").unwrap_err();
        assert!(e.line == 3 || e.line == 2, "{e:?}");
        assert_eq!(parse_project("", "p.yml").unwrap_err().message, "the project is empty");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Some(90));
        assert_eq!(parse_duration("45s"), Some(45));
        assert_eq!(parse_duration("10m"), Some(600));
        assert_eq!(parse_duration("2h"), Some(7200));
        assert_eq!(parse_duration("2d"), None);
        assert_eq!(parse_duration("m"), None);
    }
}
