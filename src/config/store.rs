//! Reading and writing `agents.yaml`. Loading never writes; a missing file is
//! the default config. Saving is atomic and private (see `state::atomic`).
//! A mutation is always "lock, reload, change, save, unlock" under the
//! cross-process `agents.yaml.lock`, so two writers — this tool's CLI, its
//! server, or the Python original — never lose each other's changes.

use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::decode::{SchemaError, decode_config};
use super::encode::encode_config;
use super::paths::Paths;
use super::schema::Config;
use super::yaml::{self, SyntaxError};
use crate::state::atomic;
use crate::state::flock::{self, LockError};

/// A config file bigger than this is refused rather than parsed: a real one
/// is a few kilobytes, and the limit bounds memory for a hostile file.
pub const MAX_CONFIG_BYTES: u64 = 16 * 1024 * 1024;

#[derive(Debug)]
pub enum LoadError {
    Read { path: PathBuf, source: io::Error },
    TooLarge { path: PathBuf, bytes: u64 },
    NotUtf8 { path: PathBuf, valid_up_to: usize },
    Yaml { path: PathBuf, source: SyntaxError },
    Schema { path: PathBuf, source: SchemaError },
}

impl LoadError {
    pub fn path(&self) -> &Path {
        match self {
            LoadError::Read { path, .. }
            | LoadError::TooLarge { path, .. }
            | LoadError::NotUtf8 { path, .. }
            | LoadError::Yaml { path, .. }
            | LoadError::Schema { path, .. } => path,
        }
    }

    /// What the user should do about it.
    pub fn remedy(&self) -> &'static str {
        match self {
            LoadError::Read { .. } => {
                "check that your user can read the file and enter every directory above it"
            }
            LoadError::TooLarge { .. } => "a config is a few kilobytes; restore a backup",
            LoadError::NotUtf8 { .. } => "re-save the file as UTF-8",
            LoadError::Yaml { .. } | LoadError::Schema { .. } => {
                "fix that spot in the file (or restore a backup), then retry"
            }
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path().display();
        match self {
            LoadError::Read { source, .. } => {
                write!(f, "config at {path} could not be read: {source}")
            }
            LoadError::TooLarge { bytes, .. } => write!(
                f,
                "config at {path} is {bytes} bytes, over the {MAX_CONFIG_BYTES}-byte limit"
            ),
            LoadError::NotUtf8 { valid_up_to, .. } => write!(
                f,
                "config at {path} is not valid UTF-8 (first bad byte at offset {valid_up_to})"
            ),
            LoadError::Yaml { source, .. } => {
                write!(f, "config at {path} is not valid YAML: {source}")
            }
            LoadError::Schema { source, .. } => write!(f, "config at {path} is invalid: {source}"),
        }
    }
}

impl std::error::Error for LoadError {}

#[derive(Debug)]
pub enum SaveError {
    Render { path: PathBuf, message: String },
    Write { path: PathBuf, source: io::Error },
}

impl fmt::Display for SaveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SaveError::Render { path, message } => write!(
                f,
                "could not render the config for {} as YAML: {message}; nothing was changed",
                path.display()
            ),
            SaveError::Write { path, source } => write!(
                f,
                "could not write {}: {source}; nothing was changed, the previous config is intact",
                path.display()
            ),
        }
    }
}

impl std::error::Error for SaveError {}

/// Why a mutation did not happen. `Rejected` carries the caller's own
/// reason (agent exists, not found, …); the others are storage failures.
#[derive(Debug)]
pub enum MutateError<E> {
    Lock(LockError),
    Load(LoadError),
    Save(SaveError),
    Rejected(E),
}

impl<E: fmt::Display> fmt::Display for MutateError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MutateError::Lock(err) => write!(f, "config is locked: {err}"),
            MutateError::Load(err) => err.fmt(f),
            MutateError::Save(err) => err.fmt(f),
            MutateError::Rejected(err) => err.fmt(f),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for MutateError<E> {}

/// Loads the config at `path`; a missing file is the default config.
pub fn load(path: &Path) -> Result<Config, LoadError> {
    let Some(bytes) = read_bounded(path)? else {
        return Ok(Config::default());
    };
    parse(path, &bytes)
}

/// Parses config bytes read from `path` (the path is only for messages).
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Config, LoadError> {
    let text = std::str::from_utf8(bytes).map_err(|err| LoadError::NotUtf8 {
        path: path.to_path_buf(),
        valid_up_to: err.valid_up_to(),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let doc = yaml::parse(text).map_err(|source| LoadError::Yaml {
        path: path.to_path_buf(),
        source,
    })?;
    decode_config(doc).map_err(|source| LoadError::Schema {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads the file, or `None` when it does not exist.
fn read_bounded(path: &Path) -> Result<Option<Vec<u8>>, LoadError> {
    let read_error = |source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = match fs::File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(read_error(err)),
    };
    let mut bytes = Vec::new();
    file.take(MAX_CONFIG_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_CONFIG_BYTES {
        return Err(LoadError::TooLarge {
            path: path.to_path_buf(),
            bytes: fs::metadata(path).map_or(bytes.len() as u64, |m| m.len()),
        });
    }
    Ok(Some(bytes))
}

/// Renders the config as YAML text.
pub fn render(path: &Path, config: &Config) -> Result<String, SaveError> {
    yaml::render(&encode_config(config)).map_err(|err| SaveError::Render {
        path: path.to_path_buf(),
        message: err.to_string(),
    })
}

/// Writes the config atomically (0600, symlink kept).
pub fn save(path: &Path, config: &Config) -> Result<(), SaveError> {
    let text = render(path, config)?;
    atomic::write_private(path, text.as_bytes()).map_err(|source| SaveError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Applies `change` to a freshly loaded config while holding the config
/// lock, and saves the result if `change` succeeds.
pub fn mutate<T, E>(
    paths: &Paths,
    change: impl FnOnce(&mut Config) -> Result<T, E>,
) -> Result<T, MutateError<E>> {
    let _lock =
        flock::lock_exclusive(&paths.config_lock, flock::lock_wait()).map_err(MutateError::Lock)?;
    let mut config = load(&paths.config).map_err(MutateError::Load)?;
    let outcome = change(&mut config).map_err(MutateError::Rejected)?;
    save(&paths.config, &config).map_err(MutateError::Save)?;
    Ok(outcome)
}
