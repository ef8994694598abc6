//! A cheap, read-only look at an agent's project directory — no subprocess,
//! a handful of `stat`s and small reads: is the directory there, which of
//! its agent CLI's files it has (`AgentFiles`, from the agent's backend),
//! which MCP servers, stacks and databases it shows, a description guessed
//! from its files, and text previews.
//!
//! Every file is read through `open_in_project`, which reads only regular
//! files that resolve inside the project: a `CLAUDE.md` that is a symlink
//! to `~/.ssh/id_rsa` must not end up in a description or a preview that a
//! calling agent reads, and a FIFO must not hang a listing.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::state::regular::open_regular;

/// The files an agent CLI reads in a project on its own; its backend says
/// which.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentFiles {
    /// The instructions it follows.
    pub instructions: &'static str,
    /// Where it finds the project's MCP servers, the main file first.
    pub mcp_configs: &'static [McpConfig],
}

/// A file naming MCP servers, and where in it they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum McpConfig {
    /// A JSON object whose member `key` maps server names to servers.
    Json {
        path: &'static str,
        key: &'static str,
    },
    /// A TOML file with one `[table.NAME]` table per server.
    TomlTables {
        path: &'static str,
        table: &'static str,
    },
}

impl McpConfig {
    pub fn path(&self) -> &'static str {
        match self {
            McpConfig::Json { path, .. } | McpConfig::TomlTables { path, .. } => path,
        }
    }

    /// The server names in the file's text, in order; none when it is not
    /// shaped as expected.
    fn server_names(&self, text: &str) -> Vec<String> {
        match self {
            McpConfig::Json { key, .. } => match serde_json::from_str(text) {
                Ok(serde_json::Value::Object(root)) => match root.get(*key) {
                    Some(serde_json::Value::Object(servers)) => servers.keys().cloned().collect(),
                    _ => Vec::new(),
                },
                _ => Vec::new(),
            },
            McpConfig::TomlTables { table, .. } => toml_table_names(text, table),
        }
    }
}

/// The `NAME`s of `[table.NAME]` headers (bare or quoted), without a TOML
/// parser: discovery shows names only, and a header is one line.
fn toml_table_names(text: &str, table: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let inner = line.trim().strip_prefix('[')?.strip_suffix(']')?.trim();
            let name = inner.strip_prefix(table)?.strip_prefix('.')?.trim();
            let name = match name.strip_prefix('"') {
                Some(quoted) => quoted.strip_suffix('"')?,
                None => name,
            };
            (!name.is_empty() && !name.contains(['.', '[', ']', '"'])).then(|| name.to_owned())
        })
        .collect()
}

/// The files `describe` reports as present, in this order.
pub fn listed_files(files: &AgentFiles) -> Vec<&'static str> {
    let mut listed = vec![files.instructions];
    listed.extend(files.mcp_configs.first().map(McpConfig::path));
    listed.extend(["README.md", "pyproject.toml", "package.json"]);
    listed
}

/// How much of a project file is ever read: previews need at most 200
/// lines, descriptions 40.
const MAX_READ_BYTES: u64 = 256 * 1024;

#[derive(Debug)]
pub enum Health {
    Ok,
    Missing,
    Unreadable(io::Error),
    /// A remote agent's host did not answer (why, in ssh's words).
    Unreachable(String),
}

impl Health {
    /// The tag `list` and `describe` print.
    pub fn label(&self) -> &'static str {
        match self {
            Health::Ok => "OK",
            Health::Missing => "NOT FOUND",
            Health::Unreadable(_) => "UNREADABLE",
            Health::Unreachable(_) => "UNREACHABLE",
        }
    }
}

pub fn health(directory: &Path) -> Health {
    match fs::metadata(directory) {
        Ok(meta) if meta.is_dir() => Health::Ok,
        Ok(_) => Health::Missing,
        Err(err) => health_of_error(err),
    }
}

/// A directory that is gone (or not a directory) is missing; anything
/// else — permissions, I/O — means we could not tell.
fn health_of_error(err: io::Error) -> Health {
    if err.kind() == io::ErrorKind::NotFound
        || matches!(
            err.raw_os_error(),
            Some(libc::ENOTDIR | libc::ELOOP | libc::ENAMETOOLONG)
        )
    {
        Health::Missing
    } else {
        Health::Unreadable(err)
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ProjectScan {
    /// The CLI's instructions file is there.
    pub has_instructions: bool,
    /// Its main MCP config file is there.
    pub has_mcp_config: bool,
    pub has_readme: bool,
    pub mcp_servers: Vec<String>,
    pub stacks: Vec<&'static str>,
    pub dbs: Vec<&'static str>,
}

/// Health and project facts from one listing of the directory: a listing
/// that succeeds proves the directory is there, so the health check costs
/// nothing extra.
pub fn survey(directory: &Path, files: &AgentFiles) -> (Health, ProjectScan) {
    match Listing::read(directory) {
        Ok(listing) => (Health::Ok, scan(&listing, files)),
        Err(err) => (health_of_error(err), ProjectScan::default()),
    }
}

/// Where a project's top-level entries and small files are read from:
/// this machine's file system (`Listing`), or what one ssh round trip
/// brought back from an agent's host (`RemoteListing`).
pub trait ProjectSource {
    /// A top-level entry exists.
    fn has(&self, name: &str) -> bool;
    fn has_dir(&self, name: &str) -> bool;
    /// A (possibly nested) regular file is there.
    fn has_file(&self, path: &str) -> bool;
    /// A file's whole text, when it can be read in full.
    fn text(&self, path: &str) -> Option<String>;
}

/// The project facts discovery shows, from any source.
pub fn scan(source: &impl ProjectSource, files: &AgentFiles) -> ProjectScan {
    ProjectScan {
        has_instructions: source.has(files.instructions),
        has_mcp_config: files
            .mcp_configs
            .first()
            .is_some_and(|config| source.has_file(config.path())),
        has_readme: source.has("README.md"),
        mcp_servers: mcp_servers_in(source, files),
        stacks: stacks_in(source),
        dbs: dbs_in(source),
    }
}

/// A remote project as one survey found it: its top-level entries (those
/// ending in `/` directories) and the texts of the files asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteListing {
    pub entries: Vec<String>,
    pub files: Vec<(String, String)>,
}

impl ProjectSource for RemoteListing {
    fn has(&self, name: &str) -> bool {
        self.entries
            .iter()
            .any(|entry| entry.strip_suffix('/').unwrap_or(entry) == name)
    }

    fn has_dir(&self, name: &str) -> bool {
        self.entries
            .iter()
            .any(|entry| entry.strip_suffix('/') == Some(name))
    }

    fn has_file(&self, path: &str) -> bool {
        self.files.iter().any(|(file, _)| file == path)
    }

    fn text(&self, path: &str) -> Option<String> {
        self.files
            .iter()
            .find(|(file, _)| file == path)
            .map(|(_, text)| text.clone())
    }
}

impl RemoteListing {
    /// The first `lines` lines of a file it holds, as `preview` cuts them.
    pub fn preview(&self, name: &str, lines: usize) -> Preview {
        match self.text(name) {
            Some(text) => cut_preview(&text, true, lines),
            None => Preview {
                text: String::new(),
                truncated: false,
            },
        }
    }
}

/// The top-level entries of a project directory, read once: listing a
/// directory is one system call where checking each interesting name is
/// one each, and discovery looks at every agent on every call.
struct Listing {
    directory: PathBuf,
    /// A project root has tens of entries: a linear scan beats hashing.
    entries: Vec<(OsString, fs::FileType)>,
}

impl Listing {
    fn read(directory: &Path) -> io::Result<Listing> {
        let entries = fs::read_dir(directory)?
            .flatten()
            .filter_map(|entry| entry.file_type().ok().map(|kind| (entry.file_name(), kind)))
            .collect();
        Ok(Listing {
            directory: directory.to_path_buf(),
            entries,
        })
    }

    /// An unreadable directory lists as empty.
    fn read_or_empty(directory: &Path) -> Listing {
        Listing::read(directory).unwrap_or_else(|_| Listing {
            directory: directory.to_path_buf(),
            entries: Vec::new(),
        })
    }

    fn kind(&self, name: &str) -> Option<&fs::FileType> {
        self.entries
            .iter()
            .find(|(entry, _)| entry == OsStr::new(name))
            .map(|(_, kind)| kind)
    }

    /// Exists, following a symlink as `Path::exists` does.
    fn has(&self, name: &str) -> bool {
        match self.kind(name) {
            Some(kind) if kind.is_symlink() => self.directory.join(name).exists(),
            Some(_) => true,
            None => false,
        }
    }

    /// For a top-level name, whether it exists; for a nested path, whether
    /// its top-level directory does (the only part the listing knows).
    fn may_have(&self, path: &str) -> bool {
        match path.split_once('/') {
            Some((top, _)) => self.has_dir(top),
            None => self.has(path),
        }
    }
}

impl ProjectSource for Listing {
    fn has(&self, name: &str) -> bool {
        Listing::has(self, name)
    }

    fn has_dir(&self, name: &str) -> bool {
        match self.kind(name) {
            Some(kind) if kind.is_symlink() => self.directory.join(name).is_dir(),
            Some(kind) => kind.is_dir(),
            None => false,
        }
    }

    fn has_file(&self, path: &str) -> bool {
        self.may_have(path) && (Listing::has(self, path) || self.directory.join(path).is_file())
    }

    /// Only files the listing shows are opened: most projects have none.
    fn text(&self, path: &str) -> Option<String> {
        if !self.may_have(path) {
            return None;
        }
        read_prefix(&self.directory, path)
            .ok()
            .and_then(|(text, complete)| complete.then_some(text))
    }
}

/// Server names from the CLI's MCP config files in order, de-duplicated.
/// A file that is missing or not shaped as its `McpConfig` says
/// contributes nothing.
pub fn mcp_servers(directory: &Path, files: &AgentFiles) -> Vec<String> {
    mcp_servers_in(&Listing::read_or_empty(directory), files)
}

fn mcp_servers_in(source: &impl ProjectSource, files: &AgentFiles) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for config in files.mcp_configs {
        let Some(text) = source.text(config.path()) else {
            continue;
        };
        for name in config.server_names(&text) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    names
}

pub fn stacks(directory: &Path) -> Vec<&'static str> {
    stacks_in(&Listing::read_or_empty(directory))
}

fn stacks_in(source: &impl ProjectSource) -> Vec<&'static str> {
    let has = |name: &str| source.has(name);
    [
        (has("Dockerfile"), "Docker"),
        (
            has("docker-compose.yaml") || has("docker-compose.yml"),
            "Docker Compose",
        ),
        (has("Cargo.toml"), "Rust"),
        (has("go.mod"), "Go"),
        (has("requirements.txt") || has("pyproject.toml"), "Python"),
        (has("package.json"), "Node.js"),
    ]
    .into_iter()
    .filter_map(|(present, label)| present.then_some(label))
    .collect()
}

pub fn dbs(directory: &Path) -> Vec<&'static str> {
    dbs_in(&Listing::read_or_empty(directory))
}

fn dbs_in(source: &impl ProjectSource) -> Vec<&'static str> {
    [
        (
            source.has_dir("prisma") || source.has("schema.prisma"),
            "Prisma",
        ),
        (
            source.has_dir("alembic") || source.has("alembic.ini"),
            "Alembic",
        ),
        (source.has_dir("migrations"), "migrations"),
    ]
    .into_iter()
    .filter_map(|(present, label)| present.then_some(label))
    .collect()
}

/// Guesses a one-line description from the project's files, in the
/// original's order of preference, joined with ` | `.
pub fn auto_description(directory: &Path, files: &AgentFiles) -> String {
    let text = |name: &str| strict_text(directory, name);
    let mut parts: Vec<String> = Vec::new();

    let from_instructions = text(files.instructions)
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
    match from_instructions {
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
    let servers = mcp_servers(directory, files);
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

/// The first `lines` lines of the project file `name`, cut to
/// `max(200, lines × 200)` characters. Undecodable bytes become U+FFFD; an
/// unreadable file gives an empty, untruncated preview, and one behind a
/// symlink leading outside the project a preview saying so.
pub fn preview(directory: &Path, name: &str, lines: usize) -> Preview {
    let (content, complete) = match read_prefix(directory, name) {
        Ok(read) => read,
        Err(unread) => {
            let text = match unread {
                Unread::Outside => {
                    format!("{name} is a symlink leading outside the project; not shown")
                }
                Unread::Unavailable => String::new(),
            };
            return Preview {
                text,
                truncated: false,
            };
        }
    };
    cut_preview(&content, complete, lines)
}

/// The first `lines` lines of `content` (`complete`: all of the file).
fn cut_preview(content: &str, complete: bool, lines: usize) -> Preview {
    let char_cap = (lines * 200).max(200);
    let mut all = split_lines(content);
    let kept: Vec<&str> = all.by_ref().take(lines).collect();
    let mut truncated = all.next().is_some() || !complete;
    let mut text = kept.join("\n");
    let kept = crate::chars::prefix(&text, char_cap).len();
    if kept < text.len() {
        text.truncate(kept);
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

/// Why a project file was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unread {
    /// The path resolves outside the project: the file itself or a
    /// directory on the way is a symlink leading out.
    Outside,
    /// Missing, unreadable, or not a regular file (a FIFO, a device).
    Unavailable,
}

/// Opens `name` (relative to the project `directory`) for reading if its
/// fully resolved path lies inside the resolved project and is a regular
/// file. A symlink that stays inside the project is followed. The resolved
/// path is opened with `O_NOFOLLOW`, so a last component swapped for a
/// symlink after the check is refused rather than followed, and with
/// `O_NONBLOCK`, so a FIFO is refused rather than waited on.
fn open_in_project(directory: &Path, name: &str) -> Result<fs::File, Unread> {
    let root = fs::canonicalize(directory).map_err(|_| Unread::Unavailable)?;
    let real = fs::canonicalize(directory.join(name)).map_err(|_| Unread::Unavailable)?;
    if !real.starts_with(&root) {
        return Err(Unread::Outside);
    }
    open_regular(&real, fs::OpenOptions::new().read(true)).map_err(|_| Unread::Unavailable)
}

/// Reads up to `MAX_READ_BYTES` of a project file, lossily decoded, and
/// whether that was the whole file.
fn read_prefix(directory: &Path, name: &str) -> Result<(String, bool), Unread> {
    let mut bytes = Vec::new();
    open_in_project(directory, name)?
        .take(MAX_READ_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|_| Unread::Unavailable)?;
    let complete = bytes.len() as u64 <= MAX_READ_BYTES;
    bytes.truncate(MAX_READ_BYTES as usize);
    Ok((String::from_utf8_lossy(&bytes).into_owned(), complete))
}

/// Reads a project file that must be valid UTF-8 (a cut at the read limit
/// may split the last character; that tail is dropped). `None` when it
/// cannot be read (see `open_in_project`).
fn strict_text(directory: &Path, name: &str) -> Option<String> {
    let mut bytes = Vec::new();
    open_in_project(directory, name)
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

    /// Claude Code's files, as its backend names them.
    fn files() -> AgentFiles {
        use crate::runner::backend::Backend;
        crate::runner::backends::claude::Claude.project_files()
    }

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
        let (health, scan) = survey(tmp.path(), &files());
        assert!(matches!(health, Health::Ok));
        assert_eq!(scan.mcp_servers, ["postgres", "sentry", "redis"]);
        assert_eq!(
            scan.stacks,
            ["Docker", "Docker Compose", "Python", "Node.js"]
        );
        assert_eq!(scan.dbs, ["Prisma", "migrations"]);
        assert!(scan.has_mcp_config && !scan.has_instructions && !scan.has_readme);
    }

    #[test]
    fn malformed_mcp_files_are_skipped() {
        let tmp = project(&[
            (".mcp.json", "{not json"),
            (".claude/settings.local.json", r#"{"mcpServers": ["a"]}"#),
        ]);
        assert!(mcp_servers(tmp.path(), &files()).is_empty());
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
            auto_description(tmp.path(), &files()),
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
            auto_description(tmp.path(), &files()),
            "This line is longer than twenty."
        );
        let empty = tempfile::tempdir().unwrap();
        let name = empty
            .path()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert_eq!(
            auto_description(empty.path(), &files()),
            format!("Agent in {name}")
        );
    }

    #[test]
    fn undecodable_files_are_skipped_for_descriptions() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("CLAUDE.md"), b"caf\xff is broken\n").unwrap();
        assert!(auto_description(tmp.path(), &files()).starts_with("Agent in "));
    }

    #[test]
    fn previews_cut_by_lines_and_by_characters() {
        let tmp = project(&[("CLAUDE.md", "one\r\ntwo\rthree\nfour\n")]);
        let file = "CLAUDE.md";
        assert_eq!(
            preview(tmp.path(), file, 2),
            Preview {
                text: "one\ntwo".into(),
                truncated: true
            }
        );
        assert_eq!(
            preview(tmp.path(), file, 10),
            Preview {
                text: "one\ntwo\nthree\nfour".into(),
                truncated: false
            }
        );
        fs::write(tmp.path().join("long.md"), "é".repeat(500)).unwrap();
        let p = preview(tmp.path(), "long.md", 1);
        assert_eq!(p.text.chars().count(), 200);
        assert!(p.truncated);
        assert_eq!(
            preview(tmp.path(), "missing.md", 5),
            Preview {
                text: String::new(),
                truncated: false
            }
        );
    }

    #[test]
    fn files_resolving_outside_the_project_are_never_read() {
        let outside = project(&[
            ("secret.md", "SECRET line that is long enough\n"),
            ("package.json", r#"{"description": "SECRET package"}"#),
        ]);
        let tmp = project(&[("docs/guide.md", "Inside line that is long enough\n")]);
        let link = |target: &Path, name: &str| {
            std::os::unix::fs::symlink(target, tmp.path().join(name)).unwrap();
        };
        link(&outside.path().join("secret.md"), "CLAUDE.md");
        link(Path::new("docs/guide.md"), "README.md");
        link(outside.path(), "shared");
        link(&outside.path().join("package.json"), "package.json");
        assert_eq!(
            preview(tmp.path(), "CLAUDE.md", 5).text,
            "CLAUDE.md is a symlink leading outside the project; not shown"
        );
        assert_eq!(
            preview(tmp.path(), "shared/secret.md", 5).text,
            "shared/secret.md is a symlink leading outside the project; not shown"
        );
        assert_eq!(
            preview(tmp.path(), "README.md", 5).text,
            "Inside line that is long enough"
        );
        // The description skips CLAUDE.md and the outside package.json's
        // description, and falls back to the README; the linked
        // package.json still marks the stack (only its name is looked at).
        assert_eq!(
            auto_description(tmp.path(), &files()),
            "Inside line that is long enough | Stack: Node.js"
        );
    }

    #[test]
    fn a_fifo_is_not_waited_on() {
        let tmp = project(&[]);
        let fifo = tmp.path().join("CLAUDE.md");
        let path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: mkfifo(3) with a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
        assert_eq!(preview(tmp.path(), "CLAUDE.md", 5).text, "");
        assert!(auto_description(tmp.path(), &files()).starts_with("Agent in "));
    }
}
