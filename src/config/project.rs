//! A cheap, read-only look at an agent's project directory — no subprocess,
//! a handful of `stat`s and small reads: is the directory there, which
//! Claude Code files it has, which MCP servers, stacks and databases it
//! shows, a description guessed from its files, and text previews.

use std::fs;
use std::io::{self, Read};
use std::path::Path;

/// The files `describe` reports as present, in this order.
pub const PROJECT_FILES: [&str; 5] = [
    "CLAUDE.md",
    ".mcp.json",
    "README.md",
    "pyproject.toml",
    "package.json",
];

/// How much of a project file is ever read: previews need at most 200
/// lines, descriptions 40.
const MAX_READ_BYTES: u64 = 256 * 1024;

#[derive(Debug)]
pub enum Health {
    Ok,
    Missing,
    Unreadable(io::Error),
}

impl Health {
    /// The tag `list` and `describe` print.
    pub fn label(&self) -> &'static str {
        match self {
            Health::Ok => "OK",
            Health::Missing => "NOT FOUND",
            Health::Unreadable(_) => "UNREADABLE",
        }
    }
}

pub fn health(directory: &Path) -> Health {
    match fs::metadata(directory) {
        Ok(meta) if meta.is_dir() => Health::Ok,
        Ok(_) => Health::Missing,
        Err(err)
            if err.kind() == io::ErrorKind::NotFound
                || matches!(
                    err.raw_os_error(),
                    Some(libc::ENOTDIR | libc::ELOOP | libc::ENAMETOOLONG)
                ) =>
        {
            Health::Missing
        }
        Err(err) => Health::Unreadable(err),
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ProjectScan {
    pub has_claude_md: bool,
    pub has_mcp_config: bool,
    pub has_readme: bool,
    pub mcp_servers: Vec<String>,
    pub stacks: Vec<&'static str>,
    pub dbs: Vec<&'static str>,
}

pub fn scan(directory: &Path) -> ProjectScan {
    ProjectScan {
        has_claude_md: directory.join("CLAUDE.md").exists(),
        has_mcp_config: directory.join(".mcp.json").exists(),
        has_readme: directory.join("README.md").exists(),
        mcp_servers: mcp_servers(directory),
        stacks: stacks(directory),
        dbs: dbs(directory),
    }
}

/// Server names from `.mcp.json`, then `.claude/settings.local.json`,
/// de-duplicated in order. A file that is missing or not shaped as
/// `{"mcpServers": {...}}` contributes nothing.
pub fn mcp_servers(directory: &Path) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for file in [".mcp.json", ".claude/settings.local.json"] {
        let Some(text) =
            read_prefix(&directory.join(file)).and_then(|(t, complete)| complete.then_some(t))
        else {
            continue;
        };
        let Ok(serde_json::Value::Object(root)) = serde_json::from_str(&text) else {
            continue;
        };
        if let Some(serde_json::Value::Object(servers)) = root.get("mcpServers") {
            for name in servers.keys() {
                if !names.contains(name) {
                    names.push(name.clone());
                }
            }
        }
    }
    names
}

pub fn stacks(directory: &Path) -> Vec<&'static str> {
    let has = |name: &str| directory.join(name).exists();
    let mut out = Vec::new();
    for (present, label) in [
        (has("Dockerfile"), "Docker"),
        (
            has("docker-compose.yaml") || has("docker-compose.yml"),
            "Docker Compose",
        ),
        (has("Cargo.toml"), "Rust"),
        (has("go.mod"), "Go"),
        (has("requirements.txt") || has("pyproject.toml"), "Python"),
        (has("package.json"), "Node.js"),
    ] {
        if present {
            out.push(label);
        }
    }
    out
}

pub fn dbs(directory: &Path) -> Vec<&'static str> {
    let dir = |name: &str| directory.join(name).is_dir();
    let has = |name: &str| directory.join(name).exists();
    let mut out = Vec::new();
    for (present, label) in [
        (dir("prisma") || has("schema.prisma"), "Prisma"),
        (dir("alembic") || has("alembic.ini"), "Alembic"),
        (dir("migrations"), "migrations"),
    ] {
        if present {
            out.push(label);
        }
    }
    out
}

/// Guesses a one-line description from the project's files, in the
/// original's order of preference, joined with ` | `.
pub fn auto_description(directory: &Path) -> String {
    let text = |name: &str| strict_text(&directory.join(name));
    let mut parts: Vec<String> = Vec::new();

    let from_claude_md = text("CLAUDE.md")
        .map(|content| {
            split_lines(content.trim())
                .take(40)
                .map(str::trim)
                .filter(|line| {
                    !line.is_empty() && !line.starts_with('#') && !line.starts_with("--")
                })
                .take(2)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .filter(|summary| !summary.is_empty());
    match from_claude_md {
        Some(summary) => parts.push(summary),
        None => {
            if let Some(line) = text("README.md").and_then(|content| {
                split_lines(content.trim())
                    .take(20)
                    .map(str::trim)
                    .find(|line| {
                        !line.is_empty()
                            && !line.starts_with(['#', '[', '!'])
                            && line.chars().count() > 20
                    })
                    .map(str::to_owned)
            }) {
                parts.push(line);
            }
        }
    }
    if let Some(description) = text("pyproject.toml").and_then(|c| pyproject_description(&c)) {
        parts.push(description);
    }
    if let Some(description) = text("package.json").and_then(|c| package_description(&c)) {
        parts.push(description);
    }
    let servers = mcp_servers(directory);
    if !servers.is_empty() {
        parts.push(format!("MCP: {}", servers.join(", ")));
    }
    let stacks = stacks(directory);
    if !stacks.is_empty() {
        parts.push(format!("Stack: {}", stacks.join(", ")));
    }
    let dbs = dbs(directory);
    if !dbs.is_empty() {
        parts.push(format!("DB: {}", dbs.join(", ")));
    }
    if parts.is_empty() {
        let base = directory
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        return format!("Agent in {base}");
    }
    parts.join(" | ")
}

/// The first `description = …` line of a pyproject file (any table), with
/// surrounding quotes stripped. A `description` line without `=` is skipped.
fn pyproject_description(content: &str) -> Option<String> {
    let line = split_lines(content)
        .map(str::trim)
        .find(|line| line.starts_with("description") && line.contains('='))?;
    let value = line.split_once('=').map_or("", |(_, v)| v).trim();
    let value = value.trim_matches('"').trim_matches('\'');
    (!value.is_empty()).then(|| value.to_owned())
}

fn package_description(content: &str) -> Option<String> {
    match serde_json::from_str::<serde_json::Value>(content).ok()? {
        serde_json::Value::Object(root) => match root.get("description") {
            Some(serde_json::Value::String(text)) if !text.trim().is_empty() => Some(text.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// The start of a text file, for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub text: String,
    pub truncated: bool,
}

/// The first `lines` lines of `file`, cut to `max(200, lines × 200)`
/// characters. Undecodable bytes become U+FFFD; an unreadable file gives an
/// empty, untruncated preview.
pub fn preview(file: &Path, lines: usize) -> Preview {
    let Some((content, complete)) = read_prefix(file) else {
        return Preview {
            text: String::new(),
            truncated: false,
        };
    };
    let char_cap = (lines * 200).max(200);
    let mut all = split_lines(&content);
    let kept: Vec<&str> = all.by_ref().take(lines).collect();
    let mut truncated = all.next().is_some() || !complete;
    let mut text = kept.join("\n");
    if let Some((cut, _)) = text.char_indices().nth(char_cap) {
        text.truncate(cut);
        truncated = true;
    }
    Preview { text, truncated }
}

/// Splits on `\n`, `\r\n` and lone `\r`, like Python's universal newlines.
fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    let text = text.strip_suffix('\n').unwrap_or(text);
    let text = text.strip_suffix('\r').unwrap_or(text);
    let empty = text.is_empty();
    text.split('\n')
        .flat_map(|line| line.strip_suffix('\r').unwrap_or(line).split('\r'))
        .filter(move |_| !empty)
}

/// Reads up to `MAX_READ_BYTES`, lossily decoded, and whether that was the
/// whole file. `None` when the file cannot be read.
fn read_prefix(file: &Path) -> Option<(String, bool)> {
    let mut bytes = Vec::new();
    fs::File::open(file)
        .ok()?
        .take(MAX_READ_BYTES + 1)
        .read_to_end(&mut bytes)
        .ok()?;
    let complete = bytes.len() as u64 <= MAX_READ_BYTES;
    bytes.truncate(MAX_READ_BYTES as usize);
    Some((String::from_utf8_lossy(&bytes).into_owned(), complete))
}

/// Reads a file that must be valid UTF-8 (a cut at the read limit may split
/// the last character; that tail is dropped). `None` when unreadable.
fn strict_text(file: &Path) -> Option<String> {
    let mut bytes = Vec::new();
    fs::File::open(file)
        .ok()?
        .take(MAX_READ_BYTES)
        .read_to_end(&mut bytes)
        .ok()?;
    match String::from_utf8(bytes) {
        Ok(text) => Some(text),
        Err(err) if err.utf8_error().error_len().is_none() => {
            let valid = err.utf8_error().valid_up_to();
            let mut bytes = err.into_bytes();
            bytes.truncate(valid);
            String::from_utf8(bytes).ok()
        }
        Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
        let tmp = tempfile::tempdir().unwrap();
        for (name, content) in files {
            let path = tmp.path().join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            if name.ends_with('/') {
                fs::create_dir_all(&path).unwrap();
            } else {
                fs::write(path, content).unwrap();
            }
        }
        tmp
    }

    #[test]
    fn health_tells_ok_from_missing() {
        let tmp = project(&[("file", "x")]);
        assert!(matches!(health(tmp.path()), Health::Ok));
        assert!(matches!(health(&tmp.path().join("gone")), Health::Missing));
        assert!(matches!(health(&tmp.path().join("file")), Health::Missing));
        assert!(matches!(
            health(&tmp.path().join("file/below")),
            Health::Missing
        ));
    }

    #[test]
    fn scan_finds_servers_stacks_and_dbs_in_order() {
        let tmp = project(&[
            (
                ".mcp.json",
                r#"{"mcpServers": {"postgres": {}, "sentry": {}}}"#,
            ),
            (
                ".claude/settings.local.json",
                r#"{"mcpServers": {"sentry": {}, "redis": {}}}"#,
            ),
            ("package.json", "{}"),
            ("Dockerfile", ""),
            ("pyproject.toml", ""),
            ("docker-compose.yml", ""),
            ("migrations/", ""),
            ("schema.prisma", ""),
        ]);
        let scan = scan(tmp.path());
        assert_eq!(scan.mcp_servers, ["postgres", "sentry", "redis"]);
        assert_eq!(
            scan.stacks,
            ["Docker", "Docker Compose", "Python", "Node.js"]
        );
        assert_eq!(scan.dbs, ["Prisma", "migrations"]);
        assert!(scan.has_mcp_config && !scan.has_claude_md && !scan.has_readme);
    }

    #[test]
    fn malformed_mcp_files_are_skipped() {
        let tmp = project(&[
            (".mcp.json", "{not json"),
            (".claude/settings.local.json", r#"{"mcpServers": ["a"]}"#),
        ]);
        assert!(mcp_servers(tmp.path()).is_empty());
    }

    #[test]
    fn description_prefers_claude_md_then_adds_the_rest() {
        let tmp = project(&[
            (
                "CLAUDE.md",
                "\n# Title\n-- note\nFirst line.\n\n  Second line.  \nThird.\n",
            ),
            ("README.md", "A readme line that is long enough to count"),
            (
                "pyproject.toml",
                "[project]\ndescription\ndescription = \"'Quoted tool'\"\n",
            ),
            ("package.json", r#"{"description": "Node bits"}"#),
            (".mcp.json", r#"{"mcpServers": {"db": {}}}"#),
            ("go.mod", ""),
            ("alembic.ini", ""),
        ]);
        assert_eq!(
            auto_description(tmp.path()),
            "First line. Second line. | Quoted tool | Node bits | MCP: db | Stack: Go, Python, Node.js | DB: Alembic"
        );
    }

    #[test]
    fn description_falls_back_to_readme_then_to_the_directory_name() {
        let tmp = project(&[(
            "README.md",
            "# T\n[badge]\n![img]\nshort\nThis line is longer than twenty.\n",
        )]);
        assert_eq!(
            auto_description(tmp.path()),
            "This line is longer than twenty."
        );
        let empty = tempfile::tempdir().unwrap();
        let name = empty
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert_eq!(auto_description(empty.path()), format!("Agent in {name}"));
    }

    #[test]
    fn undecodable_files_are_skipped_for_descriptions() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("CLAUDE.md"), b"caf\xff is broken\n").unwrap();
        assert!(auto_description(tmp.path()).starts_with("Agent in "));
    }

    #[test]
    fn previews_cut_by_lines_and_by_characters() {
        let tmp = project(&[("CLAUDE.md", "one\r\ntwo\rthree\nfour\n")]);
        let file = tmp.path().join("CLAUDE.md");
        assert_eq!(
            preview(&file, 2),
            Preview {
                text: "one\ntwo".into(),
                truncated: true
            }
        );
        assert_eq!(
            preview(&file, 10),
            Preview {
                text: "one\ntwo\nthree\nfour".into(),
                truncated: false
            }
        );
        let long = tmp.path().join("long.md");
        fs::write(&long, "é".repeat(500)).unwrap();
        let p = preview(&long, 1);
        assert_eq!(p.text.chars().count(), 200);
        assert!(p.truncated);
        assert_eq!(
            preview(&tmp.path().join("missing.md"), 5),
            Preview {
                text: String::new(),
                truncated: false
            }
        );
    }
}
